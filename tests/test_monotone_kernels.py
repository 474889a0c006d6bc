"""The compiled kernels of the stochastic monotone methods: the same draws from the same Generator as a
plain per-step numpy loop, hence the same iterates, against (1) the solvers' numpy path and (2) a
reference written here, step by step, with numpy's own draws (rng.integers, rng.random, rng.choice)
and a sort-based simplex projection; and the warm-started simplex threshold against the sort."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optim
from optim.monotone.kernels import _threshold, add_rows, choice_without_replacement, full_operator_into
from problems.monotone import MatrixGame
from problems.resolvents import project_simplex


def sort_projection(v, radius=1.0):
    """Held, Wolfe and Crowder's projection: sort, cumulative sums, the last index that stays positive."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - radius
    rho = np.nonzero(u * np.arange(1, v.size + 1) > css)[0]
    rho = rho[-1] if rho.size else 0
    return np.maximum(v - css[rho] / (rho + 1.0), 0.0)


# ---------------------------------------------------------------------- the step-by-step reference
class Reference:
    """The game's F, components and resolvent in plain numpy (independent of ``problems.monotone``)."""

    def __init__(self, game):
        self.A = game.A
        self.rows, self.q = game.A.shape
        self.N = max(game.A.shape)

    def F(self, z):
        return np.concatenate([self.A.T @ z[self.q :], -(self.A @ z[: self.q])])

    def diff(self, idx, dz, weight):
        """sum over idx of weight (F_i(z) - F_i(z')) for dz = z - z'."""
        out = np.zeros(dz.size)
        for i in idx:
            if i < self.rows:
                out[: self.q] += weight * self.N * dz[self.q + i] * self.A[i]
            if i < self.q:
                out[self.q :] -= weight * self.N * dz[i] * self.A[:, i]
        return out

    def J(self, v):
        return np.concatenate([sort_projection(v[: self.q]), sort_projection(v[self.q :])])


def ref_vr_eg(game, z0, tau, p, seed, steps):
    r, rng = Reference(game), np.random.default_rng(seed)
    x, w = z0.copy(), z0.copy()
    Fw = r.F(w)
    for _ in range(steps):
        xbar = (1 - p) * x + p * w
        y = r.J(xbar - tau * Fw)
        i = rng.integers(r.N)
        x = r.J(xbar - tau * (Fw + r.diff([i], y - w, 1.0)))
        if rng.random() < p:
            w, Fw = x.copy(), r.F(x)
    return x


def ref_forb(r, rng, u, steps, gamma, p, scale=1.0, anchored=False, snapshot="iterate"):
    """VR-FoRB on Phi(v) = scale F(v) (+ v - u when anchored), started at v = w = w_old = u."""
    v, w, w_old = u.copy(), u.copy(), u.copy()
    Phi_w = scale * r.F(u)
    for _ in range(steps):
        i = rng.integers(r.N)
        d = Phi_w + scale * r.diff([i], v - w_old, 1.0) + ((v - w_old) if anchored else 0.0)
        arg = (1 - p) * v + p * w - gamma * d
        w_old, v = w, r.J(arg)
        if rng.random() < p:
            w = v.copy() if snapshot == "iterate" else u.copy()
            Phi_w = scale * r.F(w) + ((w - u) if anchored else 0.0)
    return v


def ref_vr_halpern(game, z0, step, seed, steps, schedule="official"):
    r, rng = Reference(game), np.random.default_rng(seed)
    b = math.isqrt(r.N)
    x, x_prev, est = z0.copy(), z0.copy(), None
    for k in range(steps):
        pk = 1.0 if k <= 1 else (4 / (k + 4) if k - 1 <= math.sqrt(r.N) else 4 / (math.sqrt(r.N) + 5))
        if pk >= 1 or rng.random() < pk:
            est = r.F(x)
        else:
            idx = rng.choice(r.N, b, replace=False) if b > 1 else [rng.integers(r.N)]
            est = est + r.diff(idx, x - x_prev, 1.0 / b)
        x_prev = x
        if schedule == "official":
            lam = 2 / (k + 4)
            x = r.J(lam * z0 + (1 - lam) * x - step * est)
        else:
            lam = 1 / (k + 2)
            x = lam * z0 + (1 - lam) * r.J(x - step * est)
    return x


def ref_inexact_halpern(game, z0, eta, gamma, p, seed, outer, inner_scale, snapshot):
    r, rng = Reference(game), np.random.default_rng(seed)
    x = z0.copy()
    for k in range(outer):
        steps = max(1, int(inner_scale * r.N * np.log(k + 2)))
        v = ref_forb(r, rng, x, steps, gamma, p, scale=eta, anchored=True, snapshot=snapshot)
        x = z0 / (k + 2) + (1 - 1 / (k + 2)) * v
    return x


@pytest.fixture(scope="module")
def games():
    return [MatrixGame.random(23, 31, seed=2), MatrixGame.random(40, 17, seed=3), MatrixGame.policeman_burglar(30)]


def iterates(game, method, compiled, iterations, **options):
    solver = optim.registry.make_solver(method, seed=11, compiled=compiled, tol=0.0, **options)
    game.counts.reset()
    state = solver.init(game, None)
    xs = []
    for _ in range(iterations):
        state = solver.step(game, state)
        xs.append(np.array(state.x, copy=True))
    return np.array(xs), game.counts["component"]


def test_compiled_kernels_give_the_iterates_of_the_step_by_step_reference(games):
    """Same draws in the same order as a plain per-step loop with numpy's own Generator calls."""
    for game in games:
        n, fro = game.n, game.frobenius
        z0 = np.r_[np.full(game.cols, 1 / game.cols), np.full(game.rows, 1 / game.rows)]  # the default start
        tau, gamma = 3 / (math.sqrt(n) * fro), 2 / (math.sqrt(n) * fro)
        xs, _ = iterates(game, "vr-eg", True, 3, step=tau, probability=0.1, block_steps=n)
        np.testing.assert_allclose(xs[-1], ref_vr_eg(game, z0, tau, 0.1, 11, 3 * n), rtol=0, atol=1e-12)
        xs, _ = iterates(game, "vr-forb", True, 3, step=gamma, probability=0.1, block_steps=n)
        ref = ref_forb(Reference(game), np.random.default_rng(11), z0, 3 * n, gamma, 0.1)
        np.testing.assert_allclose(xs[-1], ref, rtol=0, atol=1e-12)
        # 40 steps, and on the policeman-burglar game 280 (the kernel's draws, 256 steps at a time, run out);
        # on the random games, where VR-Halpern has no guarantee, rounding differences grow ~10x every 20 steps
        block = 70 if game.name.startswith("pb") else 10
        for schedule in ("official", "classical"):
            xs, _ = iterates(game, "vr-halpern", True, 4, step=2 / fro, schedule=schedule, block_steps=block)
            ref = ref_vr_halpern(game, z0, 2 / fro, 11, 4 * block, schedule)
            np.testing.assert_allclose(xs[-1], ref, rtol=0, atol=1e-12)
        eta, inner = 1.0 / fro, 0.3 / (math.sqrt(n) * fro)
        for snapshot, p in (("iterate", 0.1), ("anchor", 0.2)):
            options = {"step": eta, "inner_step": inner, "probability": p, "inner_scale": 1.0, "snapshot": snapshot}
            xs, _ = iterates(game, "inexact-halpern", True, 3, **options)
            ref = ref_inexact_halpern(game, z0, eta, inner, p, 11, 3, 1.0, snapshot)
            np.testing.assert_allclose(xs[-1], ref, rtol=0, atol=1e-12)
            assert not np.allclose(xs[-1], z0)  # the runs moved


def test_loopless_draws_kept_across_chunks_give_the_reference_iterates(games, monkeypatch):
    """Draws generated ahead 10 steps at a time (not a multiple of the runs' lengths, so rows are left over and
    carried into the next chunk): still the reference's iterates."""
    from optim.monotone import variance_reduced

    monkeypatch.setattr(variance_reduced, "DRAW_CHUNK", 10)
    game = games[2]
    n, fro = game.n, game.frobenius
    z0 = np.r_[np.full(game.cols, 1 / game.cols), np.full(game.rows, 1 / game.rows)]
    gamma = 2 / (math.sqrt(n) * fro)
    xs, _ = iterates(game, "vr-forb", True, 4, step=gamma, probability=0.1, block_steps=7)
    ref = ref_forb(Reference(game), np.random.default_rng(11), z0, 28, gamma, 0.1)
    np.testing.assert_allclose(xs[-1], ref, rtol=0, atol=1e-12)
    eta, inner = 1.0 / fro, 0.3 / (math.sqrt(n) * fro)
    options = {"step": eta, "inner_step": inner, "probability": 0.1, "inner_scale": 0.2, "snapshot": "iterate"}
    xs, _ = iterates(game, "inexact-halpern", True, 4, **options)
    ref = ref_inexact_halpern(game, z0, eta, inner, 0.1, 11, 4, 0.2, "iterate")
    np.testing.assert_allclose(xs[-1], ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "method, options",
    [
        ("vr-eg", {"probability": 0.1}),
        ("vr-forb", {"probability": 0.1}),
        ("vr-halpern", {}),
        ("vr-halpern", {"schedule": "classical"}),
        ("inexact-halpern", {"inner_scale": 2.0}),
        ("inexact-halpern", {"snapshot": "anchor", "probability": 0.2}),
    ],
)
def test_compiled_kernels_give_the_numpy_iterates_and_counts(games, method, options):
    fro = games[0].frobenius
    for game in games:
        steps = {
            "vr-eg": 3 / (math.sqrt(game.n) * fro),
            "vr-forb": 2 / (math.sqrt(game.n) * fro),
            "vr-halpern": 2 / fro,
        }
        if method in steps:
            options = {"step": steps[method], **options}
        fast, fast_count = iterates(game, method, True, 6, **options)
        ref, ref_count = iterates(game, method, False, 6, **options)
        assert fast_count == ref_count
        np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)  # same draws, same branches
        assert not np.allclose(fast[0], fast[-1])  # the runs moved


@pytest.mark.parametrize("n, b", [(7, 3), (50, 7), (9, 9), (10_001, 100), (10_001, 300), (12_000, 12_000)])
def test_batches_are_numpy_choice_without_replacement(n, b):
    """Floyd's algorithm plus a shuffle, or the tail shuffle for large n (numpy switches at b > n // 50)."""
    ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
    taken, perm, swaps, out = np.zeros(n, np.bool_), np.arange(n), np.empty(n, np.int64), np.empty(b, np.int64)
    for _ in range(5):
        choice_without_replacement(ours, n, b, taken, perm, swaps, out)
        np.testing.assert_array_equal(out, theirs.choice(n, b, replace=False))
        assert ours.random() == theirs.random()  # the streams stay in step
    assert not taken.any() and np.array_equal(perm, np.arange(n))  # work arrays restored


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 13), st.integers(1, 13)),
    zeros=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    seed=st.integers(0, 2**16),
)
def test_full_operator_is_the_two_matrix_vector_products(shape, zeros, seed):
    """Dense, sparse x, sparse y, row counts not a multiple of four: F(z) = (A^T y, -A x) against numpy;
    a NaN in z reaches the output."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal(shape)
    rows, q = shape
    z = rng.random(q + rows)
    z[:q][rng.random(q) < zeros[0]] = 0.0
    z[q:][rng.random(rows) < zeros[1]] = 0.0
    out = np.full(q + rows, 7.0)
    full_operator_into(A, np.ascontiguousarray(A.T), z, q, out)
    expected = np.r_[A.T @ z[q:], -(A @ z[:q])]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-13 * (1 + np.abs(A).sum()))
    z[0] = np.nan
    full_operator_into(A, np.ascontiguousarray(A.T), z, q, out)
    assert np.isnan(out[q:]).all()


@pytest.mark.parametrize("m", range(10))
def test_add_rows_sums_the_chosen_rows(m):
    rng = np.random.default_rng(m)
    M, idx, coef = rng.standard_normal((12, 9)), rng.integers(0, 12, 10), rng.standard_normal(10)
    out = rng.standard_normal(9)
    expected = out + coef[:m] @ M[idx[:m]]
    add_rows(M, idx, coef, m, out)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------- the warm-started threshold
SPECIAL = [0.0, 1.0, -1.0, 0.5, 0.25, 1e-300, -1e-300, 5e-324, 1e-12, 1e100, -1e100, 3.0]
entries = st.one_of(st.floats(-1e6, 1e6), st.sampled_from(SPECIAL))
starts = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([math.nan, math.inf, -math.inf, 1e100, -1e100, 0.0]))


@settings(max_examples=150, deadline=None)
@given(v=st.lists(entries, min_size=1, max_size=30), tau0=starts, radius=st.sampled_from([1.0, 0.1, 7.5, 1e-8]))
def test_warm_started_threshold_gives_the_sorted_projection(v, tau0, radius):
    v = np.array(v)
    tau = _threshold(v, 0, v.size, radius, tau0)
    ours = np.maximum(v - tau, 0.0)
    scale = max(radius, np.abs(v).max())
    np.testing.assert_allclose(ours, sort_projection(v, radius), rtol=0, atol=1e-12 * scale * v.size)
    np.testing.assert_allclose(
        project_simplex(v, radius), sort_projection(v, radius), rtol=0, atol=1e-12 * scale * v.size
    )
    # a block inside a longer array, warm-started at the threshold just found: the same answer
    padded = np.r_[np.full(3, 7.0), v, np.full(2, -7.0)]
    np.testing.assert_allclose(
        np.maximum(v - _threshold(padded, 3, 3 + v.size, radius, tau), 0.0), ours, atol=1e-15 * scale
    )


def test_threshold_of_ties_and_of_non_finite_entries():
    v = np.r_[1.0, np.full(16, 0.012664598918425887), 0.01816726499811972, np.full(5, 1.0)]
    for tau0 in (math.nan, 0.0, 0.0126645989184259, 0.5, 10.0, -10.0):
        np.testing.assert_allclose(
            np.maximum(v - _threshold(v, 0, v.size, 1.0, tau0), 0), sort_projection(v), atol=1e-15
        )
    for bad in (math.nan, math.inf, -math.inf):
        assert math.isnan(_threshold(np.array([0.3, bad, 0.2]), 0, 3, 1.0, 0.0))
    big = np.full(4, 1e308)  # the sum overflows, the entries do not
    np.testing.assert_allclose(np.maximum(big - _threshold(big, 0, 4, 1.0, math.nan), 0), np.maximum(big - 1e308, 0))
