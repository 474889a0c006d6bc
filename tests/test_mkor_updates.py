"""MKOR's factor updates against closed forms: the paper form is the exact inverse of the EMA, the
code form is its own formula and stays in (0, 1]; the optimizer applies them only on collect steps,
keeps each layer's gradient norm, leaves excluded layers alone and equals its backbone with identity
factors."""

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)
from torch import nn

from optim.nn.mkor import MKOR, code_update, paper_update


def _spd(d, gen):
    M = torch.randn(d, d, generator=gen, dtype=torch.float64)
    return M @ M.T / d + 0.5 * torch.eye(d, dtype=torch.float64)


@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 12), gamma=st.floats(0.5, 0.99), seed=st.integers(0, 10_000))
def test_paper_form_is_the_inverse_of_the_ema(d, gamma, seed):
    gen = torch.Generator().manual_seed(seed)
    F = _spd(d, gen)
    v = torch.randn(d, generator=gen, dtype=torch.float64)
    got = paper_update(torch.linalg.inv(F), v, gamma)
    want = torch.linalg.inv(gamma * F + (1 - gamma) * torch.outer(v, v))
    assert float((got - want).abs().max()) <= 1e-10 * max(1.0, float(want.abs().max()))


@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_code_form_equals_its_formula(d, seed):
    gen = torch.Generator().manual_seed(seed)
    J = torch.linalg.inv(_spd(d, gen))
    v = torch.randn(d, generator=gen, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    want = torch.linalg.inv(torch.linalg.inv(0.95 * J + 0.05 * eye) + torch.outer(v, v))
    assert float((code_update(J, v) - want).abs().max()) <= 1e-10 * max(1.0, float(want.abs().max()))


def test_code_form_keeps_eigenvalues_in_0_1_over_500_updates():
    gen = torch.Generator().manual_seed(0)
    d = 40
    J = torch.eye(d, dtype=torch.float64)
    for k in range(500):
        v = (torch.randn(d, generator=gen, dtype=torch.float64) * (0.1 + 3 * (k % 7))).clamp(-100, 100)
        J = code_update(J, v)
        eig = torch.linalg.eigvalsh(0.5 * (J + J.T))
        assert float(eig.min()) > 0 and float(eig.max()) <= 1 + 1e-12


def _model(bias=True, inplace=False):
    torch.manual_seed(0)
    act = nn.ReLU(inplace=True) if inplace else nn.Tanh()
    return nn.Sequential(nn.Linear(6, 9, bias=bias), act, nn.Linear(9, 4, bias=bias)).double()


def _batch(k, n=16):
    gen = torch.Generator().manual_seed(100 + k)
    return torch.randn(n, 6, generator=gen, dtype=torch.float64), torch.randint(0, 4, (n,), generator=gen)


def _backward(model, k):
    X, y = _batch(k)
    loss = nn.functional.cross_entropy(model(X), y)
    loss.backward()
    return loss


class _Capture(torch.optim.SGD):
    """An SGD backbone that records the gradients it receives (what MKOR handed over)."""

    def step(self, closure=None):
        self.seen = [p.grad.clone() for g in self.param_groups for p in g["params"]]
        return super().step(closure)


@pytest.mark.parametrize("rescale", ["sum", "joint"])
def test_rescaling_keeps_each_layers_gradient_norm(rescale):
    model = _model()
    backbone = _Capture(model.parameters(), lr=0.05)
    opt = MKOR(model, backbone, inv_freq=1, rescale=rescale)
    for k in range(6):
        opt.zero_grad()
        _backward(model, k)
        raw = [p.grad.clone() for p in model.parameters()]
        opt.step()
        for i in (0, 2):  # weight and bias index pairs of each Linear
            w0, b0, w1, b1 = raw[i], raw[i + 1], backbone.seen[i], backbone.seen[i + 1]
            if rescale == "sum":
                before, after = w0.norm() + b0.norm(), w1.norm() + b1.norm()
            else:
                before, after = torch.sqrt(w0.norm() ** 2 + b0.norm() ** 2), torch.sqrt(w1.norm() ** 2 + b1.norm() ** 2)
            assert float(abs(after - before)) <= 1e-12 * float(before)
        if k >= 2:  # factors differ from I by now: the direction did change
            assert not torch.allclose(raw[0], backbone.seen[0])


def test_excluded_layers_are_bit_identical_and_factors_change_only_on_collect_steps():
    model = _model()
    backbone = _Capture(model.parameters(), lr=0.05)
    opt = MKOR(model, backbone, inv_freq=3, warmup_steps=2, exclude=["2"])
    assert [layer.name for layer in opt.layers] == ["0"]
    history = []
    for k in range(10):
        opt.zero_grad()
        _backward(model, k)
        raw = [p.grad.clone() for p in model.parameters()]
        before = opt.layers[0].stats["J_A"].clone()
        opt.step()
        assert torch.equal(backbone.seen[2], raw[2]) and torch.equal(backbone.seen[3], raw[3])
        history.append(not torch.equal(before, opt.layers[0].stats["J_A"]))
    # collect steps: t < 2 or t % 3 == 0 -> 0, 1, 3, 6, 9; the first round (t = 0) only initialises to I
    assert history == [False, True, False, True, False, False, True, False, False, True]


def test_identity_factors_equal_the_backbone_exactly():
    a, b = _model(), _model()
    opt_a = MKOR(a, "sgd", lr=0.05, momentum=0.9, inv_freq=10**6)  # one round at t = 0: J = I forever
    opt_b = torch.optim.SGD(b.parameters(), lr=0.05, momentum=0.9)
    for k in range(8):
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            _backward(model, k)
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_paper_variant_through_the_optimizer_matches_the_ema_inverse():
    model = _model()
    opt = MKOR(
        model,
        "sgd",
        lr=0.0,
        inv_freq=1,
        variant="paper",
        gamma=0.9,
        stabilizer="none",
        clamp=1e9,
        factor_dtype=torch.float64,
    )
    layer = opt.layers[1]
    F = torch.eye(layer.d_out, dtype=torch.float64)
    for k in range(5):
        opt.zero_grad()
        X, y = _batch(k)
        out = model[:2](X)
        logits = model[2](out)
        nn.functional.cross_entropy(logits, y).backward()
        p = torch.softmax(logits.detach(), 1) - nn.functional.one_hot(y, 4)  # per-sample dL_i/dlogits
        opt.step()
        if k >= 1:  # round 0 initialises
            g_bar = p.mean(0)
            F = 0.9 * F + 0.1 * torch.outer(g_bar, g_bar)
    np.testing.assert_allclose(layer.stats["J_G"].numpy(), torch.linalg.inv(F).numpy(), atol=1e-10)


def test_state_dict_round_trip_continues_bit_exactly():
    ref = _model()
    opt_ref = MKOR(ref, "adamw", lr=1e-2, inv_freq=2)
    for k in range(9):
        opt_ref.zero_grad()
        _backward(ref, k)
        opt_ref.step()
        if k == 4:
            saved_model = copy.deepcopy(ref.state_dict())
            saved = copy.deepcopy(opt_ref.state_dict())
    assert set(saved["state"]) == {"0", "2"} and saved["t"] == 5
    fresh = _model()
    fresh.load_state_dict(saved_model)
    opt = MKOR(fresh, "adamw", lr=1e-2, inv_freq=2)
    opt.load_state_dict(saved)
    for k in range(5, 9):
        opt.zero_grad()
        _backward(fresh, k)
        opt.step()
    for p, q in zip(ref.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(p, q)
