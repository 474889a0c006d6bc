"""Torch items of the hardening round: problem-recommended hyper-parameters, NaN gradients surface in
Lion / sign-type Lion-K as in AdamW, tensor learning rates, the output layer of a Sequential, and a
stopping error the solver knows (gradient norm of the training loss) apart from held-out columns."""

import math

import pytest
import torch
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)

import optim
import optim.nn as onn
import problems
from optim.registry import make_solver


@pytest.fixture(scope="module")
def digits():
    return problems.digits_mlp()


def _step_with(opt_cls, grad, **kw):
    w = torch.nn.Parameter(torch.ones(4))
    opt = opt_cls([w], **kw)
    w.grad = grad.clone()
    opt.step()
    return w.detach()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    "make",
    [
        lambda ps: onn.Lion(ps, lr=0.1),
        lambda ps: onn.Lion(ps, lr=0.1, foreach=True),
        lambda ps: onn.LionK(ps, lr=0.1, K="sign"),
        lambda ps: onn.LionK(ps, lr=0.1, K="linf", foreach=True),
        lambda ps: onn.LionK(ps, lr=0.1, K="deadzone", K_options={"threshold": 0.1}),
    ],
)
def test_a_non_finite_gradient_surfaces_in_the_parameter_like_adamw(make, bad):
    grad = torch.tensor([1.0, bad, -2.0, 0.5])
    ours = _step_with(lambda ps, **kw: make(ps), grad)
    adamw = _step_with(torch.optim.AdamW, grad, lr=0.1)
    assert torch.isnan(adamw[1]) and torch.isfinite(adamw[[0, 2, 3]]).all()  # the behaviour to match
    assert torch.equal(torch.isfinite(ours), torch.isfinite(adamw))


@pytest.mark.parametrize(
    "make",
    [
        lambda ps, lr: onn.Lion(ps, lr=lr, weight_decay=0.1),
        lambda ps, lr: onn.LionK(ps, lr=lr, K="l2", weight_decay=0.1, foreach=True),
        lambda ps, lr: onn.AuON(ps, lr=lr, weight_decay=0.1),
        lambda ps, lr: torch.optim.AdamW(ps, lr=lr),  # torch.optim accepts a tensor lr too
    ],
)
def test_a_tensor_lr_is_accepted_and_equals_the_float(make):
    torch.manual_seed(0)
    w0, g = torch.randn(5, 3), torch.randn(5, 3)
    out = []
    for lr in (0.01, torch.tensor(0.01)):
        w = torch.nn.Parameter(w0.clone())
        opt = make([w], lr)
        for _ in range(3):
            w.grad = g.clone()
            opt.step()
        out.append(w.detach())
    assert torch.equal(out[0], out[1])
    with pytest.raises(ValueError, match="lr"):
        onn.Lion([torch.nn.Parameter(w0)], lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="lr"):
        onn.Lion([torch.nn.Parameter(w0)], lr=torch.tensor(-0.1))


def test_split_params_finds_the_output_layer_of_a_sequential_by_position():
    from problems.training_models import mlp

    model = mlp((6, 8, 8, 3))  # layers named "0", "2", "4": no name says "head"
    matrices, others = onn.split_params(model)
    assert [tuple(p.shape) for p in matrices] == [(8, 6), (8, 8)]
    assert any(p is model[4].weight for p in others)


def test_problems_recommend_hyper_parameters_and_registered_methods_use_them(digits):
    assert set(digits.recommended) >= {"lion", "adamw", "sgd", "muon", "auon"}
    assert set(problems.char_gpt(eval_size=32).recommended) >= {"lion", "adamw"}
    assert make_solver("lion").hyper_for(digits) == {**digits.recommended["lion"]}
    assert make_solver("lion", lr=5e-4).hyper_for(digits)["lr"] == 5e-4  # the caller wins
    with pytest.raises(TypeError, match="recommended"):
        problems.TrainingProblem(lambda: torch.nn.Linear(2, 2), ([[0.0, 1.0]], [0]), ([[0.0, 1.0]], [0]), recommended=1)


def test_lion_defaults_reach_097_test_accuracy_on_digits(digits):
    result = optim.solve(digits, method="lion", seed=0, check_every=100)
    assert result.report["test_accuracy"] >= 0.97


def test_the_stopping_error_is_the_training_gradient_norm_and_test_metrics_are_columns(digits):
    result = optim.solve(digits, method="adamw", max_iter=20, seed=0, check_every=10)
    solver = make_solver("adamw")
    assert solver.error_name == "norm of the training-loss gradient"
    # independent: one full-batch backward of the mean cross-entropy on all 1500 training images
    model = result.model
    model.zero_grad()
    X, y = digits.train_data.inputs, digits.train_data.targets
    torch.nn.functional.cross_entropy(model(X), y).backward()
    expected = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters())))
    assert result.optimality == pytest.approx(expected, rel=1e-4)
    assert result.report["test_loss"] == pytest.approx(digits.evaluate(model)["loss"], rel=1e-6)
    assert 0 <= result.report["test_accuracy"] <= 1
    assert result.history["test_loss"].shape == result.history["optimality"].shape


def test_muon_on_a_model_without_2d_hidden_matrices_refuses_clearly():
    with pytest.raises(ValueError, match="no hidden matrix"):
        optim.solve(problems.digits_cnn(), method="muon", max_iter=2)
