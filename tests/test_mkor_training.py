"""MKOR trains: on the digits MLP (lr 0.3, momentum 0.9, constant lr, inv_freq 10, float32, one thread,
full-train cross-entropy checked every 10 steps) MKOR(SGD-m) reaches CE < 0.05 in fewer steps than SGD-m
(median of 3 seeds). MKOR-H hands over to exactly its backbone. The registry runs mkor, mkor-h and kfac
like every other method."""

import copy
import statistics

import pytest
import torch
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)
from torch import nn

import optim
import problems
from optim.nn import MKOR, MKORH


@pytest.fixture(scope="module")
def digits():
    return problems.digits_mlp()


def _steps_to_target(problem, seed, make, target=0.05, budget=400):
    model = problem.model(seed)
    opt = make(model)
    X, y = problem.train_data.inputs, problem.train_data.targets
    batches = problem.batches(seed)
    for step in range(1, budget + 1):
        inputs, targets = next(batches)
        opt.zero_grad()
        nn.functional.cross_entropy(model(inputs), targets).backward()
        opt.step()
        if step % 10 == 0:
            with torch.no_grad():
                if float(nn.functional.cross_entropy(model(X), y)) < target:
                    return step
    return budget + 10


def test_mkor_reaches_the_target_in_fewer_steps_than_its_sgd_momentum_backbone(digits):
    sgd = [
        _steps_to_target(digits, s, lambda m: torch.optim.SGD(m.parameters(), lr=0.3, momentum=0.9)) for s in range(3)
    ]
    mkor = [_steps_to_target(digits, s, lambda m: MKOR(m, "sgd", lr=0.3, momentum=0.9, inv_freq=10)) for s in range(3)]
    assert statistics.median(mkor) < statistics.median(sgd) <= 400, (mkor, sgd)


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 4)).double()


def _loss(model, k):
    gen = torch.Generator().manual_seed(400 + k)
    X, y = torch.randn(16, 6, generator=gen, dtype=torch.float64), torch.randint(0, 4, (16,), generator=gen)
    return nn.functional.cross_entropy(model(X), y)


def test_mkor_h_after_its_switch_step_is_exactly_the_backbone():
    model = _mlp()
    opt = MKORH(model, "sgd", lr=0.1, momentum=0.9, inv_freq=1, switch="step", switch_step=5)
    for k in range(5):
        opt.zero_grad()
        _loss(model, k).backward()
        opt.step()
    assert not opt.switched
    twin = copy.deepcopy(model)
    plain = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    plain.load_state_dict(copy.deepcopy(opt.backbone.state_dict()))  # no shared momentum tensors
    for k in range(5, 12):
        for m, o in ((model, opt), (twin, plain)):
            o.zero_grad()
            _loss(m, k).backward()
            o.step()
    assert opt.switched_at == 5 and not model[0]._forward_hooks
    assert all("J_A" not in layer.stats for layer in opt.layers)  # factors freed
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)
    saved = opt.state_dict()
    again = MKORH(_mlp(), "sgd", lr=0.1, momentum=0.9, switch="step", switch_step=5)
    again.load_state_dict(saved)
    assert again.switched_at == 5 and not again.layers[0].module._forward_hooks


def test_mkor_h_automatic_rule_on_a_known_loss_sequence():
    """Windows of 2 steps with means 8, 4, 2, 1.99, 1.98: r = 0.5, 0.5, 0.005, 0.005 -> two windows
    below 0.1 x 0.5 in a row: the switch happens when window 4 closes, after 10 steps."""
    model = _mlp()
    opt = MKORH(model, "sgd", lr=0.0, window=2, ratio=0.1, patience=2)
    means = [8, 4, 2, 1.99, 1.98, 1.97, 1.96]
    for k in range(14):
        opt.zero_grad()
        _loss(model, k).backward()
        opt.observe_loss(means[k // 2])
        opt.step()
        if opt.switched:
            break
    assert opt.switched_at == 10
    silent = MKORH(_mlp(), "sgd", lr=0.0, window=2)
    with pytest.raises(RuntimeError, match="observe_loss"):
        for _ in range(2):
            silent.step()
    with pytest.raises(ValueError, match="switch_step"):
        MKORH(_mlp(), switch="step")


@pytest.mark.parametrize("method", ["mkor", "mkor-h", "kfac"])
def test_registered_second_order_methods_run_like_every_other(digits, method):
    result = optim.solve(digits, method=method, max_iter=60, seed=0, check_every=30)
    assert result.status == "max_iter" and result.nit == 60
    assert result.report["test_accuracy"] > 0.85
    assert result.optimality < digits.optimality(digits.initial_point())
    assert not any(m._forward_hooks for m in result.model.modules())  # hooks removed at the end


def test_second_order_methods_take_backbone_options_and_reject_bad_ones(digits):
    result = optim.solve(digits, method="mkor", backbone="adamw", lr=3e-3, max_iter=20, seed=0, check_every=20)
    assert result.nit == 20
    with pytest.raises(ValueError, match="inv_freq"):
        optim.solve(digits, method="mkor", inv_freq=0)
    with pytest.raises(ValueError, match="takes no option"):
        optim.solve(digits, method="kfac", inv_freq=3)
