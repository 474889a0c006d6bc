"""A torch optimizer as BSVRB's upper step on the top-K NDCG problem, and libauc's K-SONG loss as a live peer.

Checks: plain SGD through the hook equals the built-in step x - eta z; Adam's first step is the closed form
x - lr z / (|z| + eps) (plus weight decay); a factory equals the named optimizer; runs repeat with a seed; Adam
raises held-out NDCG@10 over the untrained model on a MovieLens-100k subset; bad options fail clearly. Against
libauc (where it installs): its K-SONG lower-level updates of u and lambda equal a gradient step on our g_q, and
the gradient of its "theo" K-SONG loss equals our exact implicit hypergradient of the users' upper objective."""

import numpy as np
import pytest
import torch
from bilevel_fixtures import have_movielens, one_thread  # noqa: F401  (autouse fixture)

from optim import solve
from optim.registry import make_solver
from problems.bilevel import QuadraticBilevel, TopKNDCG


def synthetic(m=4, n_items=30, n_pos=6, seed=0, **kw) -> TopKNDCG:
    rng = np.random.default_rng(seed)
    items = np.stack([rng.choice(n_items, n_pos, replace=False) for _ in range(m)])
    ratings = rng.integers(1, 6, size=items.shape).astype(float)
    kw = {"k": 3, "embed_dim": 3, "init_scale": 0.5, "seed": seed, **kw}
    return TopKNDCG(items, ratings, n_items, **kw)


RUN = dict(blocks_per_iter=2, batch_size=8, upper_batch_size=4, seed=3, verbose=False)


@pytest.mark.parametrize("version", [1, 2])
def test_plain_sgd_through_the_hook_equals_the_built_in_step(version):
    p = synthetic()
    a = make_solver("bsvrb-v1" if version == 1 else "bsvrb-v2", max_iter=15, upper_step=0.05, **RUN).solve(p)
    b = make_solver(f"bsvrb-v{version}", max_iter=15, upper_step=0.05, upper_optimizer="sgd", **RUN).solve(p)
    assert not np.array_equal(a.x, p.initial_point())
    np.testing.assert_allclose(b.x, a.x, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_first_step_is_the_closed_form(wd):
    p = synthetic()
    solver = make_solver(
        "bsvrb-v2", upper_optimizer="adam", upper_optimizer_options={"lr": 0.01, "weight_decay": wd}, **RUN
    )
    st = solver.init(p)
    x0 = st.x.copy()
    st = solver.step(p, st)
    g = st.z + wd * x0  # torch's Adam adds weight_decay * x to the gradient
    # first Adam step: m_hat = g, v_hat = g^2, x1 = x0 - lr g / (|g| + eps)
    np.testing.assert_allclose(st.x, x0 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(st.x_prev, x0)


def test_factory_equals_named_optimizer_and_runs_repeat():
    p = synthetic()
    opts = dict(max_iter=12, **RUN)
    named = solve(
        p, "bsvrb-v2", upper_optimizer="adam", upper_optimizer_options={"lr": 1e-2, "betas": (0.8, 0.99)}, **opts
    )
    again = solve(
        p, "bsvrb-v2", upper_optimizer="adam", upper_optimizer_options={"lr": 1e-2, "betas": (0.8, 0.99)}, **opts
    )
    fac = solve(p, "bsvrb-v2", upper_optimizer=lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.8, 0.99)), **opts)
    np.testing.assert_array_equal(named.x, again.x)
    np.testing.assert_allclose(fac.x, named.x, rtol=1e-12, atol=1e-15)
    other = solve(p, "bsvrb-v2", upper_optimizer="adam", upper_optimizer_options={"lr": 1e-2}, **{**opts, "seed": 4})
    assert not np.array_equal(other.x, named.x)
    # the lower iterates and x_0 of the caller are untouched; bsgd and the ablation accept the option too
    assert np.array_equal(p.initial_point(), p.x0)
    assert np.all(np.isfinite(solve(p, "bsgd", upper_optimizer="adam", **opts).x))


def test_released_script_direction():
    from optim.bilevel import BSVRBv2

    seen = []

    class Recording(BSVRBv2):
        def upper_update(self, st, g_new, g_old):
            seen.append((g_new.copy(), g_old.copy()))
            super().upper_update(st, g_new, g_old)

    p = synthetic()
    solver = Recording(upper_correction=0.01, upper_optimizer="adam", **RUN)
    st = solver.init(p)
    for _ in range(3):
        st = solver.step(p, st)
    g_new, g_old = seen[-1]
    np.testing.assert_allclose(st.z, g_new - 0.01 * g_old, rtol=1e-14, atol=1e-16)
    assert np.linalg.norm(g_old) > 0
    with pytest.raises(ValueError, match="upper_correction"):
        make_solver("bsvrb-v2", upper_correction=-1.0)
    with pytest.raises(ValueError, match="upper_correction"):
        make_solver("bsvrb-ma", upper_correction=0.01)


@pytest.mark.skipif(not have_movielens(), reason="MovieLens-100k parquet absent (python3 benchmarks/fetch_data.py)")
def test_adam_upper_step_improves_held_out_ndcg():
    p = TopKNDCG.movielens(n_users=20, n_items=80, seed=0)
    before = p.report(p.initial_point())["test_ndcg@10"]
    res = solve(p, "bsvrb-v2", max_iter=100, seed=0, upper_optimizer="adam", upper_optimizer_options={"lr": 1e-3})
    assert res.status == "max_iter" and np.all(np.isfinite(res.x))
    after = p.report(res.x)["test_ndcg@10"]
    assert after > before + 0.05, (before, after)


def test_bad_upper_optimizer_options():
    p, small = synthetic(), dict(batch_size=8, upper_batch_size=4, max_iter=1, verbose=False)
    with pytest.raises(ValueError, match="upper_optimizer"):
        make_solver("bsvrb-v2", upper_optimizer="adamw")
    with pytest.raises(TypeError, match="upper_optimizer"):
        make_solver("bsvrb-v2", upper_optimizer=3)
    with pytest.raises(ValueError, match="upper_optimizer_options needs"):
        make_solver("bsvrb-v2", upper_optimizer_options={"lr": 1.0})
    with pytest.raises(TypeError, match="upper_optimizer_options"):
        make_solver("bsvrb-v2", upper_optimizer="adam", upper_optimizer_options=[1])
    with pytest.raises(ValueError, match="upper_optimizer_options"):
        solve(p, "bsvrb-v2", upper_optimizer="adam", upper_optimizer_options={"momentum": 0.9}, **small)
    with pytest.raises(ValueError, match="upper_optimizer_options"):
        solve(p, "bsvrb-v2", upper_optimizer="sgd", upper_optimizer_options={"lr": -1.0}, **small)
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        solve(p, "bsvrb-v2", upper_optimizer=lambda ps: object(), **small)
    q = QuadraticBilevel(m=3, dim_x=2, dim_y=2, seed=0)
    with pytest.raises(TypeError, match="torch model"):
        solve(q, "bsvrb-v2", upper_optimizer="adam", max_iter=1, batch_size=None)


# ---------------------------------------------------------------------------------------- libauc peer
def _libauc_batch(p, users):
    """libauc's layout: every user ranks all N items, its P positives first."""
    cand = np.stack([np.r_[p.items[q], np.setdiff1d(np.arange(p.N), p.items[q])] for q in users])
    n_pairs = len(users) * p.P
    return cand, {
        "rating": torch.as_tensor(np.hstack([p.ratings[users], np.zeros((len(users), p.N - p.P))])),
        "user_id": torch.as_tensor(users),
        "num_pos_items": torch.full((len(users),), float(p.P)),
        "ideal_dcg": torch.as_tensor(p.Z[users]),
        "user_item_id": torch.as_tensor(
            np.hstack([np.arange(n_pairs).reshape(len(users), p.P), np.zeros((len(users), p.N - p.P), int)])
        ),
    }


def _predictions(p, w, users, cand):
    return torch.stack([p._score(w, torch.tensor([q]), torch.as_tensor(cand[r])) for r, q in enumerate(users)])


def test_ksong_lower_updates_equal_libauc():
    losses = pytest.importorskip("libauc.losses", reason="libauc is not installed (optional peer)")
    p, rng = synthetic(eps=0.0, tau1=0.05, tau2=0.01), np.random.default_rng(1)
    users = np.array([0, 2, 3])
    x = p.initial_point()
    Y = np.column_stack([rng.uniform(0.1, 2.0, (3, p.P)), rng.normal(0.0, 0.3, 3)])
    g0, eta0 = 0.3, 0.2
    peer = losses.NDCGLoss(N=3 * p.P, num_user=p.m, num_item=p.N, num_pos=p.P, gamma0=g0, eta0=eta0, topk=p.k,
                           tau_1=p.tau1, tau_2=p.tau2, device=torch.device("cpu"))  # fmt: skip
    peer.u = torch.as_tensor(Y[:, :-1].reshape(-1).copy())  # float64 state (libauc's default is float32)
    peer.s_q = torch.zeros(p.m + 1, dtype=torch.float64)
    peer.lambda_q = torch.zeros(p.m + 1, dtype=torch.float64)
    peer.lambda_q[users] = torch.as_tensor(Y[:, -1])
    cand, batch = _libauc_batch(p, users)
    with torch.no_grad():
        peer(_predictions(p, torch.as_tensor(x), users, cand), batch)
    # libauc: u <- (1 - gamma0) u + gamma0 g_hat, lambda <- lambda - eta0 grad_lambda; ours: a step on g_q
    grad = p.grad_y_g(users, x, Y, None)
    np.testing.assert_allclose(peer.u.numpy().reshape(3, p.P), Y[:, :-1] - g0 * grad[:, :-1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(peer.lambda_q[users].numpy(), Y[:, -1] - eta0 * grad[:, -1], rtol=1e-12, atol=1e-14)


def test_ksong_theo_gradient_equals_our_exact_hypergradient():
    losses = pytest.importorskip("libauc.losses", reason="libauc is not installed (optional peer)")
    # libauc's psi'(d) is sigmoid'(alpha d) without the factor alpha: equal to ours at tau1 = alpha = 1
    p = synthetic(eps=0.0, tau1=1.0, tau2=0.01)
    users, x = np.arange(p.m), p.initial_point()
    Ystar = p.exact_lower(x)
    peer = losses.NDCGLoss(N=p.m * p.P, num_user=p.m, num_item=p.N, num_pos=p.P, gamma0=1.0, gamma1=1.0, eta0=0.0,
                           topk=p.k, topk_version="theo", tau_1=1.0, tau_2=p.tau2, sigmoid_alpha=1.0,
                           device=torch.device("cpu"))  # fmt: skip
    peer.u = torch.zeros(p.m * p.P, dtype=torch.float64)
    peer.s_q = torch.zeros(p.m + 1, dtype=torch.float64)
    peer.lambda_q = torch.zeros(p.m + 1, dtype=torch.float64)
    peer.lambda_q[users] = torch.as_tensor(Ystar[:, -1])
    cand, batch = _libauc_batch(p, users)
    w = torch.as_tensor(x).clone().requires_grad_(True)
    peer(_predictions(p, w, users, cand), batch).backward()
    # ours: Phi_q = grad_x f_q - grad^2_xy g_q [grad^2_yy g_q]^{-1} grad_y f_q at the exact lower solution
    v = p.grad_y_f(users, x, Ystar, None) / np.diagonal(p.hess_yy_g(users, x, Ystar, None), axis1=1, axis2=2)
    phi = p.grad_x_f(users, x, Ystar, None) - p.jvp_xy_g(users, x, Ystar, v, None)
    ref = phi.mean(axis=0)
    np.testing.assert_allclose(w.grad.numpy(), ref, rtol=1e-6, atol=1e-7 * np.abs(ref).max())
