"""Top-K NDCG optimisation for recommendation as a multi-block bilevel problem (K-SONG).

Blocks are users q = 1..m. Every user has P training positives j (items x_j with ratings r_j, gains
G_j = 2^r_j - 1) and is ranked against the N items S of the instance. A small NeuMF-style model with
parameters w = x (the upper variable) scores items, h_q(i) = a . (p_q * e_i) + c . tanh(W [p'_q; e'_i] + b).

The lower variable of user q is y_q = (u_q1 .. u_qP, lam_q) and its lower objective (Qiu, Hu, Zhong,
Zhang and Yang, ICML 2022, the K-SONG formulation; used by Hu et al., ICML 2023, Section 5.2)

    g_q(w, y) = 1/2 sum_j (u_j - g_qj(w))^2 + (K + eps)/N lam + tau2/2 lam^2 + tau1 E_i softplus((h_q(i) - lam)/tau1),
    g_qj(w) = E_i l(h_q(i) - h_q(x_j)),   l(d) = (d + c)_+^2        (expectations over items i uniform in S)

is strongly convex in y (modulus min(1, tau2)): u_j* = g_qj(w) is the surrogate rank of x_j divided by N
and lam* a smoothed top-K threshold of the user's scores. A lower minibatch is a set of items of S.
The upper objective (a minibatch is a set of the user's positives) is a constant minus the smoothed
top-K DCG of the positives, normalised by Z_q, the ideal DCG@K of the training positives:

    f_q(w, y) = (1/Z_q) sum_j G_j [1 - sigmoid((h_q(x_j) - lam)/tau1) / log2(1 + N max(u_j, 1/N))]  >= 0.

(The constant keeps f_q non-negative, so the upper value the solvers report is a loss.)
Oracles: torch float64 autograd, one vectorised call over
the sampled blocks (``torch.func.vmap``); grad^2_yy g is diagonal, so ``hess_yy_g`` is cheap.
"""

from __future__ import annotations

import numpy as np

from ..validation import as_generator, as_int, as_matrix, as_real
from .base import BilevelProblem


def _dcg_rows(scores: np.ndarray, gains: np.ndarray, k: int, ignore_ties: bool) -> np.ndarray:
    """DCG@k of every row; tied scores share the mean gain of their group (as scikit-learn does)."""
    n = scores.shape[1]
    disc = 1.0 / np.log2(np.arange(n) + 2.0)
    disc[k:] = 0.0
    out = np.empty(scores.shape[0])
    for r in range(scores.shape[0]):
        order = np.argsort(-scores[r], kind="stable")
        if ignore_ties:
            out[r] = gains[r, order] @ disc
            continue
        s = scores[r, order]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        sizes = np.diff(np.r_[starts, n])
        mean_gain = np.add.reduceat(gains[r, order], starts) / sizes
        out[r] = mean_gain @ np.add.reduceat(disc, starts)
    return out


def ndcg_per_query(scores, relevance, k: int, ignore_ties: bool = False) -> np.ndarray:
    """NDCG@k of every row with gains 2^relevance - 1 and discounts 1/log2(rank + 1); 0 where no gain."""
    S = np.atleast_2d(np.asarray(scores, dtype=float))
    if S.ndim != 2 or np.any(np.isnan(S)) or np.any(S == np.inf):
        raise ValueError(f"scores must be a 1-D or 2-D array without NaN or +inf, got shape {S.shape}")
    R = as_matrix(np.atleast_2d(np.asarray(relevance, dtype=float)), "relevance")
    if S.shape != R.shape:
        raise ValueError(f"scores and relevance must have the same shape, got {S.shape} and {R.shape}")
    if np.any(R < 0):
        raise ValueError("relevance must be non-negative")
    k = as_int(k, "k", low=1)
    G = 2.0**R - 1.0
    dcg = _dcg_rows(S, G, k, ignore_ties)
    ideal = _dcg_rows(G, G, k, True)
    safe = np.where(ideal > 0, ideal, 1.0)
    return np.where(ideal > 0, dcg / safe, 0.0)


def ndcg_at_k(scores, relevance, k: int, ignore_ties: bool = False) -> float:
    """Mean NDCG@k over queries (rows): DCG@k = sum_{rank <= k} (2^rel - 1)/log2(rank + 1) divided by the
    ideal DCG@k; ties in ``scores`` share their mean gain unless ``ignore_ties``; rows without gain count 0."""
    return float(np.mean(ndcg_per_query(scores, relevance, k, ignore_ties)))


class TopKNDCG(BilevelProblem):
    """Top-K NDCG surrogate of users' rankings with K-SONG lower levels (module docstring).

    Parameters: ``train_items`` (m, P) distinct item indices in [0, n_items) per row (the positives),
    ``train_ratings`` (m, P) > 0, ``n_items`` N, optional ``test_relevance`` (m, N) held-out ratings (0:
    not held out; zero on training positives) for ``report``; ``k`` the K of top-K; ``embed_dim`` the
    NeuMF width; ``tau1`` (softplus/sigmoid temperature), ``tau2`` (ridge of the threshold), ``eps``,
    ``margin`` c of the squared hinge; ``seed`` of the model's initial parameters N(0, init_scale^2).
    """

    shared_samples = False

    def __init__(
        self,
        train_items,
        train_ratings,
        n_items: int,
        test_relevance=None,
        k: int = 10,
        embed_dim: int = 8,
        tau1: float = 0.1,
        tau2: float = 0.01,
        eps: float = 0.01,
        margin: float = 1.0,
        init_scale: float = 0.1,
        seed=0,
        name: str = "topk-ndcg",
    ):
        super().__init__()
        self.N = as_int(n_items, "n_items", low=2)
        items = np.asarray(train_items)
        if items.ndim != 2 or not np.issubdtype(items.dtype, np.integer) or items.size == 0:
            raise ValueError(
                f"train_items must be a non-empty 2-D integer array (users x positives), got {items.shape}"
            )
        if items.min() < 0 or items.max() >= self.N:
            raise ValueError(f"train_items must lie in [0, n_items = {self.N})")
        if any(np.unique(row).size != row.size for row in items):
            raise ValueError("train_items must hold distinct items in every row")
        ratings = as_matrix(train_ratings, "train_ratings")
        if ratings.shape != items.shape or np.any(ratings <= 0):
            raise ValueError(f"train_ratings must be positive with the shape of train_items {items.shape}")
        self.items, self.ratings = items.astype(np.int64).copy(), ratings.copy()
        self.m, self.P = items.shape
        self.k = as_int(k, "k", low=1, high=self.N)
        self.e = as_int(embed_dim, "embed_dim", low=1)
        self.tau1 = as_real(tau1, "tau1", low=0.0, low_open=True)
        self.tau2 = as_real(tau2, "tau2", low=0.0, low_open=True)
        self.eps = as_real(eps, "eps", low=0.0)
        self.margin = as_real(margin, "margin", low=0.0, low_open=True)
        self.test = None
        if test_relevance is not None:
            T = as_matrix(test_relevance, "test_relevance")
            if T.shape != (self.m, self.N):
                raise ValueError(f"test_relevance must have shape ({self.m}, {self.N}), got {T.shape}")
            if np.any(T < 0) or np.any(T[np.arange(self.m)[:, None], self.items] != 0):
                raise ValueError("test_relevance must be non-negative and zero on each user's training positives")
            self.test = T.copy()
        e, m, N = self.e, self.m, self.N
        self.shapes = {"P": (m, e), "Q": (N, e), "Pm": (m, e), "Qm": (N, e), "W": (2 * e, e), "b": (e,)}
        self.shapes.update({"a": (e,), "c": (e,)})
        self.dim_x = int(sum(np.prod(s) for s in self.shapes.values()))
        self.dim_y = self.P + 1
        self.n_lower, self.n_upper = N, self.P
        self.mu_g = min(1.0, self.tau2)
        self.L_g = max(1.0, self.tau2 + 0.25 / self.tau1)
        gains = 2.0**self.ratings - 1.0
        top = np.sort(gains, axis=1)[:, ::-1][:, : self.k]
        self.Z = top @ (1.0 / np.log2(np.arange(top.shape[1]) + 2.0))
        self.gains = gains
        self.x0 = as_generator(seed).normal(0.0, as_real(init_scale, "init_scale", low=0.0), self.dim_x)
        self.name = name
        self._torch = None

    # ------------------------------------------------------------------ instance from MovieLens-100k
    @classmethod
    def movielens(
        cls, n_users: int = 50, n_items: int = 200, n_pos: int = 32, k: int = 10, seed=0, path=None, **options
    ) -> TopKNDCG:
        """A reproducible MovieLens-100k instance: the ``n_items`` most-rated movies, ``n_users`` users drawn
        (``seed``) among those with at least ``n_pos + 5`` ratings of them; per user ``n_pos`` random rated
        movies are training positives, the user's other ratings of these movies are held out for ``report``.
        ``path``: the MovieLens parquet file (see ``problems.movielens``); other options go to the constructor."""
        from ..movielens import load_movielens100k

        n_users, n_items = as_int(n_users, "n_users", low=1), as_int(n_items, "n_items", low=2, high=1682)
        n_pos = as_int(n_pos, "n_pos", low=1)
        rng = as_generator(seed)
        R = load_movielens100k(path)
        counts = np.bincount(R.item, minlength=1683)
        movies = np.argsort(-counts, kind="stable")[:n_items]
        col = np.full(counts.size, -1)
        col[movies] = np.arange(n_items)
        keep = col[R.item] >= 0
        users, cols, rates = R.user[keep], col[R.item[keep]], R.rating[keep]
        per_user = np.bincount(users, minlength=944)
        eligible = np.flatnonzero(per_user >= n_pos + 5)
        if n_users > eligible.size:
            raise ValueError(f"n_users must be <= {eligible.size} (users with >= n_pos + 5 ratings), got {n_users}")
        chosen = np.sort(rng.choice(eligible, n_users, replace=False))
        tr_items, tr_rates = np.empty((n_users, n_pos), dtype=np.int64), np.empty((n_users, n_pos))
        test = np.zeros((n_users, n_items))
        for q, u in enumerate(chosen):
            idx = np.flatnonzero(users == u)
            idx = idx[rng.permutation(idx.size)]
            tr_items[q], tr_rates[q] = cols[idx[:n_pos]], rates[idx[:n_pos]]
            test[q, cols[idx[n_pos:]]] = rates[idx[n_pos:]]
        options.setdefault("seed", rng)
        return cls(tr_items, tr_rates, n_items, test, k=k, name="ndcg-movielens", **options)

    # ------------------------------------------------------------------ the model (torch, float64)
    @property
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """The model's tensors in the order x stacks them (x is their flattened concatenation): P, Q (GMF user and
        item embeddings), Pm, Qm (MLP embeddings), W, b (hidden layer), a, c (output weights)."""
        return dict(self.shapes)

    def _unflatten(self, w):
        out, at = {}, 0
        for key, shape in self.shapes.items():
            size = int(np.prod(shape))
            out[key] = w[at : at + size].reshape(shape)
            at += size
        return out

    def _score(self, w, user, items):
        """h_user(items) for one user (``user`` a 1-element index tensor, ``items`` a 1-D index tensor)."""
        p = self._unflatten(w)
        import torch

        gmf = (p["P"][user] * p["Q"][items]) @ p["a"]
        pm = p["Pm"][user].expand(items.shape[0], self.e)  # (1, e) -> (n, e)
        hidden = torch.tanh(torch.cat([pm, p["Qm"][items]], dim=1) @ p["W"] + p["b"])
        return gmf + hidden @ p["c"]

    def scores(self, x) -> np.ndarray:
        """Scores of every item for every user, shape (m, N)."""
        t = self._t()
        w = t.as_tensor(np.asarray(x, dtype=float))
        allitems = t.arange(self.N)
        with t.no_grad():
            return np.stack([self._score(w, t.tensor([q]), allitems).numpy() for q in range(self.m)])

    def _t(self):
        if self._torch is None:
            import torch
            from torch.func import grad, vmap

            self._torch = torch
            self._grad, self._vmap = grad, vmap
        return self._torch

    # per-block scalar pieces (one user; vmapped over the sampled blocks)
    def _ghat(self, w, user, pos, items):
        """g_qj(w) estimated on ``items``, shape (P,)."""
        t = self._torch
        s_i, s_p = self._score(w, user, items), self._score(w, user, pos)
        return t.clamp(s_i[None, :] - s_p[:, None] + self.margin, min=0.0).pow(2).mean(dim=1)

    def _sig_mean(self, w, user, lam, items):
        return self._torch.sigmoid((self._score(w, user, items) - lam) / self.tau1).mean()

    def _g_block(self, w, y, user, pos, items):
        t = self._torch
        u, lam = y[:-1], y[-1]
        s_i = self._score(w, user, items)
        thr = (self.k + self.eps) / self.N * lam + 0.5 * self.tau2 * lam**2
        thr = thr + self.tau1 * t.nn.functional.softplus((s_i - lam) / self.tau1).mean()
        return 0.5 * (u - self._ghat(w, user, pos, items)).pow(2).sum() + thr

    def _f_block(self, w, y, user, pos, cols, gains, scale):
        t = self._torch
        u, lam = y[:-1].gather(0, cols), y[-1]
        rank = self.N * t.clamp(u, min=1.0 / self.N)
        psi = t.sigmoid((self._score(w, user, pos) - lam) / self.tau1)
        return scale * (gains * (1.0 - psi / t.log2(1.0 + rank))).sum()

    # ------------------------------------------------------------------ vectorised plumbing
    def _lower_args(self, blocks, batch):
        t = self._t()
        items = np.broadcast_to(np.arange(self.N), (len(blocks), self.N)) if batch is None else batch
        return t.as_tensor(blocks[:, None]), t.as_tensor(self.items[blocks]), t.as_tensor(np.ascontiguousarray(items))

    def _upper_args(self, blocks, batch):
        t = self._t()
        cols = np.broadcast_to(np.arange(self.P), (len(blocks), self.P)) if batch is None else batch
        pos = np.take_along_axis(self.items[blocks], cols, axis=1)
        gains = np.take_along_axis(self.gains[blocks], cols, axis=1)
        scale = self.P / cols.shape[1] / self.Z[blocks]
        args = (blocks[:, None], pos, np.ascontiguousarray(cols), gains, scale)
        return tuple(t.as_tensor(a) for a in args)

    def _tensors(self, x, Y, V=None):
        t = self._t()
        out = [t.as_tensor(np.asarray(x, dtype=float)), t.as_tensor(Y)]
        return out if V is None else [*out, t.as_tensor(V)]

    def _f(self, blocks, x, Y, batch):
        w, Yt = self._tensors(x, Y)
        f = self._vmap(self._f_block, in_dims=(None, 0, 0, 0, 0, 0, 0))
        with self._torch.no_grad():
            return f(w, Yt, *self._upper_args(blocks, batch)).numpy()

    def _g(self, blocks, x, Y, batch):
        w, Yt = self._tensors(x, Y)
        g = self._vmap(self._g_block, in_dims=(None, 0, 0, 0, 0))
        with self._torch.no_grad():
            return g(w, Yt, *self._lower_args(blocks, batch)).numpy()

    def _grad_x_f(self, blocks, x, Y, batch):
        w, Yt = self._tensors(x, Y)
        return self._vmap(self._grad(self._f_block, 0), in_dims=(None, 0, 0, 0, 0, 0, 0))(
            w, Yt, *self._upper_args(blocks, batch)
        ).numpy()

    def _grad_y_f(self, blocks, x, Y, batch):
        w, Yt = self._tensors(x, Y)
        return self._vmap(self._grad(self._f_block, 1), in_dims=(None, 0, 0, 0, 0, 0, 0))(
            w, Yt, *self._upper_args(blocks, batch)
        ).numpy()

    def _lower_stats(self, blocks, x, Y, batch):
        """(ghat (I, P), mean sigmoid (I,), mean sigmoid' / tau1 (I,)) on the lower batch."""
        w, Yt = self._tensors(x, Y)
        t = self._torch
        users, pos, items = self._lower_args(blocks, batch)

        def stats(user, p, its, lam):
            z = t.sigmoid((self._score(w, user, its) - lam) / self.tau1)
            return self._ghat(w, user, p, its), z.mean(), (z * (1.0 - z)).mean() / self.tau1

        with t.no_grad():
            gh, sm, curv = self._vmap(stats)(users, pos, items, Yt[:, -1])
        return gh.numpy(), sm.numpy(), curv.numpy()

    def _grad_y_g(self, blocks, x, Y, batch):
        gh, sm, _ = self._lower_stats(blocks, x, Y, batch)
        lam = Y[:, -1]
        return np.column_stack([Y[:, :-1] - gh, (self.k + self.eps) / self.N + self.tau2 * lam - sm])

    def _hess_diag(self, blocks, x, Y, batch):
        _, _, curv = self._lower_stats(blocks, x, Y, batch)
        return np.column_stack([np.ones((len(blocks), self.P)), self.tau2 + curv])

    def _hvp(self, blocks, x, Y, V, batch):
        return self._hess_diag(blocks, x, Y, batch) * V

    def _hess(self, blocks, x, Y, batch):
        d = self._hess_diag(blocks, x, Y, batch)
        return d[:, :, None] * np.eye(self.dim_y)

    def _jvp(self, blocks, x, Y, V, batch):
        w, Yt, Vt = self._tensors(x, Y, V)
        users, pos, items = self._lower_args(blocks, batch)

        def cross(w, y, v, user, p, its):
            return -(v[:-1] * self._ghat(w, user, p, its)).sum() - v[-1] * self._sig_mean(w, user, y[-1], its)

        return self._vmap(self._grad(cross), in_dims=(None, 0, 0, 0, 0, 0))(w, Yt, Vt, users, pos, items).numpy()

    # ------------------------------------------------------------------ defaults and reporting
    def initial_point(self) -> np.ndarray:
        """The seeded random initial model (a copy)."""
        return self.x0.copy()

    def initial_lower(self) -> np.ndarray:
        """u_j = 1 (the surrogate rank of a random model, scores near 0 give l(d) ~ c^2 = 1), lam = 0."""
        Y = np.ones((self.m, self.dim_y))
        Y[:, -1] = 0.0
        return Y

    def exact_lower(self, x) -> np.ndarray:
        """Lower iterates on the full item set: u_j = g_qj(w) exactly, lam by Newton on its strongly convex 1-D
        objective (a reference for tests and plots; not used by the solvers)."""
        blocks = np.arange(self.m)
        Y = self.initial_lower()
        with self.counts.paused():
            gh, _, _ = self._lower_stats(blocks, x, Y, None)
            Y[:, :-1] = gh
            for _ in range(100):
                step = self._grad_y_g(blocks, x, Y, None)[:, -1] / self._hess_diag(blocks, x, Y, None)[:, -1]
                Y[:, -1] -= step
                if np.max(np.abs(step)) < 1e-12:
                    break
        return Y

    def report(self, x) -> dict[str, float]:
        """NDCG@k on the held-out ratings (training positives excluded from the ranking)."""
        if self.test is None:
            return {}
        S = self.scores(x)
        S[np.arange(self.m)[:, None], self.items] = -np.inf
        return {f"test_ndcg@{self.k}": ndcg_at_k(S, self.test, self.k)}
