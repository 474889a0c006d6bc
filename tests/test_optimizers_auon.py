"""AuON / Hybrid-AuON: the transform against a float64 numpy evaluation of the paper's formulas,
scale invariance, the brake bounds of the AuON paper, Newton-Schulz against
torch.optim.Muon's, and the official code's (scale-dependent) variant."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)

import optim.nn as onn


def _numpy_auon(G, eps_norm=1e-7, eps_rms=1e-8):
    X = G / (np.linalg.norm(G) + eps_norm)
    r = np.sqrt(np.mean(np.cosh(X) ** 2))
    return X / (r + eps_rms)


def _numpy_ns(G, steps, a=3.4445, b=-4.7750, c=2.0315):
    tall = G.shape[0] > G.shape[1]
    X = G.T if tall else G
    X = X / (np.linalg.norm(X) + 1e-7)
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if tall else X


def _one_step(opt_cls, shape, grads, lr=0.1, dtype=torch.float32, **kw):
    """Parameter displacements / lr over the given gradient sequence (a fresh zero parameter)."""
    p = torch.zeros(shape, dtype=dtype, requires_grad=True)
    opt = opt_cls([p], lr=lr, **kw)
    moves = []
    for g in grads:
        before = p.detach().clone()
        p.grad = torch.as_tensor(g, dtype=dtype)
        opt.step()
        moves.append(((before - p.detach()) / lr).double().numpy())
    return moves


def _nesterov_sequence(grads, beta=0.95):
    buf, out = np.zeros_like(grads[0]), []
    for g in grads:
        buf = beta * buf + (1 - beta) * g
        out.append(beta * buf + (1 - beta) * g)
    return out


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (8, 8), (128, 16)])
def test_auon_update_equals_float64_transform(shape):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3) for _ in range(4)]
    s = math.sqrt(max(1.0, shape[0] / shape[1]))
    moves = _one_step(onn.AuON, shape, grads)
    for move, G in zip(moves, _nesterov_sequence(grads), strict=False):
        np.testing.assert_allclose(move, s * _numpy_auon(G), atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(64, 32), (24, 48)])
@pytest.mark.parametrize("ns_steps", [1, 5])
def test_hybrid_update_equals_float64_ns_and_brake(shape, ns_steps):
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal(shape) for _ in range(3)]
    s = math.sqrt(max(1.0, shape[0] / shape[1]))
    moves = _one_step(onn.HybridAuON, shape, grads, dtype=torch.float64, ns_steps=ns_steps)
    for move, G in zip(moves, _nesterov_sequence(grads), strict=False):
        X = _numpy_ns(G, ns_steps)
        U = X / (np.sqrt(np.mean(np.cosh(X) ** 2)) + 1e-8)
        np.testing.assert_allclose(move, s * U, atol=1e-12, rtol=0)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(2, 40), cols=st.integers(2, 40), log_scale=st.floats(0, 3), seed=st.integers(0, 999))
def test_auon_is_scale_invariant_in_the_gradient(rows, cols, log_scale, seed):
    """U(cG) == U(G) up to the eps of the normalisation (1e-7 / ||G||, tiny for these G)."""
    rng = np.random.default_rng(seed)
    grads = [10 * rng.standard_normal((rows, cols)) for _ in range(3)]
    c = 10.0**log_scale
    base = _one_step(onn.AuON, (rows, cols), grads, dtype=torch.float64)
    scaled = _one_step(onn.AuON, (rows, cols), [c * g for g in grads], dtype=torch.float64)
    for u, v in zip(base, scaled, strict=False):
        np.testing.assert_allclose(u, v, atol=1e-6 * max(1.0, np.abs(u).max()))


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 30), cols=st.integers(1, 30), spike=st.floats(0, 1e4), seed=st.integers(0, 999))
def test_brake_bounds(rows, cols, spike, seed):
    """||U||_F = 1/r with cosh(1/sqrt(N)) <= r <= sqrt((N - 1 + cosh(1)^2)/N), so ||U||_F <= 1."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((rows, cols))
    G[0, 0] += spike
    U = onn.auon_transform(torch.tensor(G)).numpy()
    N = rows * cols
    norm_u = np.linalg.norm(U)
    assert norm_u <= 1.0 + 1e-12
    assert norm_u >= 1 / math.sqrt((N - 1 + math.cosh(1) ** 2) / N) - 1e-6  # slack: the 1e-7 eps
    assert norm_u <= 1 / math.cosh(1 / math.sqrt(N)) + 1e-6


def test_one_newton_schulz_step_bounds_singular_values_by_the_polynomial_maximum():
    a, b, c = onn.auon.NS_COEFFICIENTS
    s = np.linspace(0, 1, 100001)
    bound = np.max(a * s + b * s**3 + c * s**5)
    assert 1.19 < bound < 1.21
    G = torch.randn(64, 200, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sv = torch.linalg.svdvals(onn.newton_schulz(G, 1))
    assert float(sv.max()) <= bound + 1e-12


def test_newton_schulz_matches_torch_muon_and_lands_near_the_polar_factor():
    from torch.optim._muon import _zeropower_via_newtonschulz

    G = torch.randn(256, 512, generator=torch.Generator().manual_seed(0))
    ours = onn.newton_schulz(G, 5, dtype=torch.bfloat16)
    theirs = _zeropower_via_newtonschulz(G, onn.auon.NS_COEFFICIENTS, 5, 1e-7)
    assert float((ours.float() - theirs.float()).abs().max()) <= 2e-2
    sv = torch.linalg.svdvals(ours.float())
    assert 0.6 <= float(sv.min()) and float(sv.max()) <= 1.25


def test_code_head_variant_is_scale_dependent_nesterov_sgd():
    """ryyzn9/AuON's current class: update = G / r_gamma with r_gamma ~ 1 for a large matrix."""
    rng = np.random.default_rng(4)
    g = rng.standard_normal((512, 512))
    (move,) = _one_step(onn.AuON, g.shape, [g], dtype=torch.float64, variant="code_head", gamma=1.5)
    (G,) = _nesterov_sequence([g])
    X = 1.5 * G / (np.linalg.norm(G) + 1e-7)
    np.testing.assert_allclose(move, G / (np.sqrt(np.mean(np.cosh(X) ** 2)) + 1e-8), rtol=1e-12)
    assert 0.9998 < np.linalg.norm(move) / np.linalg.norm(G) < 1.0


def test_auon_step_is_linear_time_no_matmul():
    """A 512 x 512 AuON step costs a few elementwise passes, far below one Newton-Schulz step."""
    import time

    p = torch.zeros(512, 512, requires_grad=True)
    p.grad = torch.randn(512, 512)
    auon, hybrid = onn.AuON([p]), onn.HybridAuON([p])
    auon.step(), hybrid.step()

    def cpu_time(opt):
        t = time.thread_time()
        opt.step()
        return time.thread_time() - t

    assert min(cpu_time(auon) for _ in range(3)) < min(cpu_time(hybrid) for _ in range(3))
