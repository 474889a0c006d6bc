"""Lion and Lion-K: peer parity (lucidrains/lion-pytorch) and the constraint claims T1-T4 of
Chen, Liu, Liang, Liu (ICLR 2024) (closed forms and cvxpy solutions of the constrained problems)."""

import math

import cvxpy as cp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)

import optim.nn as onn


# ----------------------------------------------------------------------------- peer parity (check A)
def _peer_setup():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.Tanh(), torch.nn.Linear(64, 10))
    X = torch.randn(256, 32, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (256,), generator=torch.Generator().manual_seed(2))
    return model, X, y


def _train(model, opt, X, y, steps=200, sign=1.0):
    for i in range(steps):
        rows = slice((16 * i) % 256, (16 * i) % 256 + 16)
        opt.zero_grad()
        loss = sign * torch.nn.functional.cross_entropy(model(X[rows]), y[rows])
        loss.backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def _groups(model, two_groups):
    if not two_groups:
        return model.parameters()
    weights = [p for p in model.parameters() if p.ndim == 2]
    biases = [p for p in model.parameters() if p.ndim == 1]
    return [{"params": weights}, {"params": biases, "weight_decay": 0.0, "lr": 2e-3}]


@pytest.mark.parametrize("foreach, two_groups", [(False, False), (True, True)])
def test_lion_bit_identical_to_lion_pytorch(foreach, two_groups):
    from lion_pytorch import Lion as PeerLion

    model, X, y = _peer_setup()
    peer = _train(model, PeerLion(_groups(model, two_groups), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1), X, y)
    model, X, y = _peer_setup()
    ours = _train(model, onn.Lion(_groups(model, two_groups), lr=1e-3, weight_decay=0.1, foreach=foreach), X, y)
    for a, b in zip(peer, ours, strict=False):
        assert torch.equal(a, b)


def test_maximize_on_negated_loss_equals_minimizing():
    from lion_pytorch import Lion as PeerLion

    model, X, y = _peer_setup()
    peer = _train(model, PeerLion(model.parameters(), lr=1e-3, weight_decay=0.1), X, y, steps=50)
    model, X, y = _peer_setup()
    ours = _train(
        model, onn.Lion(model.parameters(), lr=1e-3, weight_decay=0.1, maximize=True), X, y, steps=50, sign=-1.0
    )
    for a, b in zip(peer, ours, strict=False):
        assert torch.equal(a, b)


def test_lion_k_sign_is_lion_bit_for_bit():
    model, X, y = _peer_setup()
    a = _train(model, onn.Lion(model.parameters(), lr=1e-3, weight_decay=0.1), X, y, steps=50)
    model, X, y = _peer_setup()
    b = _train(model, onn.LionK(model.parameters(), lr=1e-3, weight_decay=0.1, K="sign"), X, y, steps=50)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=False))


# ----------------------------------------------------------------------------- the K table
@pytest.mark.parametrize(
    "name, options, expected",
    [
        ("sign", None, lambda v: np.sign(v)),
        ("l2", None, lambda v: v / np.linalg.norm(v)),
        ("lp_norm", {"p": 1.5}, lambda v: np.sign(v) * np.abs(v) ** 0.5 / np.linalg.norm(v, 1.5) ** 0.5),
        ("lp_power", {"p": 1.5}, lambda v: np.sign(v) * np.abs(v) ** 0.5),
        ("quadratic", None, lambda v: v),
        ("clip", None, lambda v: np.clip(v, -1, 1)),
        ("deadzone", {"threshold": 0.5}, lambda v: np.sign(v) * (np.abs(v) > 0.5)),
        ("softsign", {"delta": 0.3}, lambda v: v / np.sqrt(v**2 + 0.09)),
    ],
)
def test_k_directions_are_the_gradients_of_k(name, options, expected):
    """One step from m = 0 with beta1 = 0 moves p by -lr grad_K(g); compare with numpy formulas."""
    g = np.array([0.3, -2.0, 0.0, 1.2, -0.7, 0.05])
    p = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor(g)
    onn.LionK([p], lr=1.0, betas=(0.0, 0.99), K=name, K_options=options).step()
    np.testing.assert_allclose(-p.detach().numpy(), expected(g), rtol=1e-13, atol=1e-15)


def test_k_linf_and_nuclear_directions():
    v = np.array([[0.3, -2.0], [2.0, 0.1]])
    p = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor(v)
    onn.LionK([p], lr=1.0, betas=(0.0, 0.99), K="linf").step()  # tie at |2|: split evenly
    np.testing.assert_allclose(-p.detach().numpy(), [[0, -0.5], [0.5, 0]], atol=1e-15)
    q = torch.zeros(2, 2, dtype=torch.float64, requires_grad=True)
    q.grad = torch.tensor(v)
    onn.LionK([q], lr=1.0, betas=(0.0, 0.99), K="nuclear").step()
    u, _, wt = np.linalg.svd(v)
    np.testing.assert_allclose(-q.detach().numpy(), u @ wt, atol=1e-13)


def test_user_callable_k_uses_the_odd_extension():
    """A non-odd K follows the paper's convention x <- x + lr grad_K(-c) (momentum of -g): K = relu."""
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    onn.LionK([p], lr=1.0, betas=(0.0, 0.99), K=torch.relu).step()
    np.testing.assert_allclose(p.detach().numpy(), np.maximum(-np.array([1.0, -1.0, 2.0]), 0))


# ----------------------------------------------------------------------------- T1 - T4
def _least_squares(seed=0, m=40, n=20):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    x_true = 3 * rng.standard_normal(n)
    b = A @ x_true + 0.1 * rng.standard_normal(m)
    return A, b


def _run(opt_factory, A, b, x0, steps, lr0, schedule="cosine", check=None):
    At, bt = torch.tensor(A), torch.tensor(b)
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = opt_factory([x], lr0)
    prev = x.detach().clone()
    for t in range(steps):
        lr = lr0 * 0.5 * (1 + math.cos(math.pi * t / steps)) if schedule == "cosine" else lr0
        opt.param_groups[0]["lr"] = lr
        with torch.no_grad():
            x.grad = At.T @ (At @ x - bt)
        opt.step()
        if check is not None:
            check(prev, x.detach(), lr)
        prev = x.detach().clone()
    return x.detach().numpy()


@settings(max_examples=20, deadline=None)
@given(
    lr=st.floats(1e-3, 0.5),
    wd=st.floats(0.1, 2.0),
    scale=st.floats(0.0, 20.0),
    seed=st.integers(0, 100),
    kind=st.sampled_from(["lion", "l2", "auon"]),
)
def test_t1_constraint_set_is_invariant_and_attracting(lr, wd, scale, seed, kind):
    """T1: |x_{t+1}| <= (1 - lr wd)|x_t| + lr coordinate-wise (Lion), in l2 (Lion-l2) and in Frobenius
    norm with the shape factor (AuON); the excess over the radius shrinks by (1 - lr wd) per step."""
    lr = min(lr, 1.0 / wd)
    rng = np.random.default_rng(seed)
    shape = (6, 3)
    A = rng.standard_normal((10, 6))
    B = rng.standard_normal((10, 3))
    x = torch.tensor(scale * rng.standard_normal(shape), requires_grad=True)
    if kind == "lion":
        opt, norm, s = onn.Lion([x], lr=lr, weight_decay=wd), lambda v: v.abs().max(), 1.0
    elif kind == "l2":
        opt, norm, s = onn.LionK([x], lr=lr, weight_decay=wd, K="l2"), torch.linalg.vector_norm, 1.0
    else:
        opt, norm, s = onn.AuON([x], lr=lr, weight_decay=wd), torch.linalg.vector_norm, math.sqrt(2.0)
    radius = s / wd
    excess0 = max(float(norm(x.detach())) - radius, 0.0)
    for t in range(1, 41):
        before = x.detach().clone()
        with torch.no_grad():
            x.grad = torch.tensor(A.T @ (A @ x.detach().numpy() - B))
        opt.step()
        after = x.detach()
        if kind == "lion":
            assert torch.all(after.abs() <= (1 - lr * wd) * before.abs() + lr + 1e-12)
        else:
            assert float(norm(after)) <= (1 - lr * wd) * float(norm(before)) + lr * s + 1e-12
        assert max(float(norm(after)) - radius, 0.0) <= (1 - lr * wd) ** t * excess0 + 1e-12


@pytest.mark.parametrize("beta1, beta2", [(0.9, 0.99), (0.0, 0.5), (0.95, 0.98)])
def test_t2_linear_objective_closed_form(beta1, beta2):
    """T2: f = c^T x gives x_t = -sign(c)/wd + (1 - lr wd)^t (x0 + sign(c)/wd) exactly."""
    rng = np.random.default_rng(3)
    c, x0 = rng.standard_normal(7), 4 * rng.standard_normal(7)
    lr, wd = 0.01, 1.0
    x = torch.tensor(x0, requires_grad=True)
    opt = onn.Lion([x], lr=lr, betas=(beta1, beta2), weight_decay=wd)
    for _ in range(500):
        x.grad = torch.tensor(c)
        opt.step()
    expected = -np.sign(c) / wd + (1 - lr * wd) ** 500 * (x0 + np.sign(c) / wd)
    np.testing.assert_allclose(x.detach().numpy(), expected, atol=1e-12)


def _cvx(A, b, constraint=None, ridge=0.0):
    x = cp.Variable(A.shape[1])
    objective = 0.5 * cp.sum_squares(A @ x - b) + (ridge / 2) * cp.sum_squares(x)
    prob = cp.Problem(cp.Minimize(objective), [constraint(x)] if constraint else [])
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return x.value


def test_t3_lion_solves_the_box_constrained_least_squares():
    """T3: Lion (lr-coupled decay wd = 1) converges to argmin 0.5||Ax - b||^2 s.t. ||x||_inf <= 1."""
    A, b = _least_squares()
    x_cvx = _cvx(A, b, lambda x: cp.norm(x, "inf") <= 1.0)
    assert np.sum(np.abs(x_cvx) > 1 - 1e-6) >= 10  # the box is active: a real constraint
    assert np.abs(np.linalg.lstsq(A, b, rcond=None)[0]).max() > 2

    def inside_box(prev, x, lr):
        assert float(x.abs().max()) <= 1.0 + 1e-12

    x = _run(lambda p, lr: onn.Lion(p, lr=lr, weight_decay=1.0), A, b, np.zeros(20), 20_000, 0.05, check=inside_box)
    assert np.abs(x - x_cvx).max() < 1e-6
    f = lambda z: 0.5 * np.sum((A @ z - b) ** 2)  # noqa: E731
    assert f(x) - f(x_cvx) < 1e-7


@pytest.mark.parametrize(
    "K, lr0, reference, tol",
    [
        ("l2", 0.05, "ball", 1e-4),
        ("quadratic", 0.01, "ridge", 1e-10),
        ("clip", 0.01, "ridge-box", 1e-7),
    ],
)
def test_t4_other_k_solve_their_problems(K, lr0, reference, tol):
    """T4: Lion-l2 -> l2 ball, quadratic K -> ridge (closed form), clip K -> ridge inside the box."""
    A, b = _least_squares()
    wd = 1.0
    if reference == "ball":
        x_ref = _cvx(A, b, lambda x: cp.norm(x, 2) <= 1 / wd)
    elif reference == "ridge":
        x_ref = np.linalg.solve(A.T @ A + wd * np.eye(20), A.T @ b)
    else:
        x_ref = _cvx(A, b, lambda x: cp.norm(x, "inf") <= 1 / wd, ridge=wd)
    steps = 20_000
    x = _run(lambda p, lr: onn.LionK(p, lr=lr, weight_decay=wd, K=K), A, b, np.zeros(20), steps, lr0)
    assert np.abs(x - x_ref).max() < tol


@pytest.mark.parametrize("foreach", [False, True])
def test_lion_matches_pytorch_optimizer_lion(foreach):
    from pytorch_optimizer import Lion as PeerLion

    model, X, y = _peer_setup()
    peer = _train(
        model,
        PeerLion(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1, foreach=foreach),
        X,
        y,
        steps=100,
    )
    model, X, y = _peer_setup()
    ours = _train(model, onn.Lion(model.parameters(), lr=1e-3, weight_decay=0.1, foreach=foreach), X, y, steps=100)
    for a, b in zip(peer, ours, strict=False):
        assert torch.allclose(a, b, atol=1e-6, rtol=0)
