"""Hyper-parameter optimisation of sample weights over many temperature-scaled logistic models.

Upper variable x = p in R^{n_tr} (sample j has weight s(p_j), s the sigmoid); block i has a
temperature sigma_i and its own model y_i = w_i in R^{d+1} (bias first, rows a~_j = [1; a_j]):

    g_i(p, w) = (1/n_tr) sum_j s(p_j) l(b_j w^T a~_j / sigma_i) + lam/2 ||w||^2,   l(z) = log(1 + e^{-z}),
    f_i(p, w) = (1/n_val) sum_k l(b'_k w^T a~'_k / sigma_i).

With z_j = b_j w^T a~_j / sigma, the true derivatives used here are
grad_w g = mean s(p_j) l'(z_j) b_j a~_j / sigma + lam w, grad^2_ww g = mean s(p_j) l''(z_j) a~_j a~_j^T / sigma^2
+ lam I (l'' > 0: the Hessian is positive definite, unlike the sign-flipped one of the official code), and
(grad^2_pw g v)_j = (1/B) s'(p_j) l'(z_j) b_j (a~_j . v) / sigma on the rows j of the batch.
Lower samples are training rows shared by all blocks; upper samples are validation rows.
Exact y_i*(p) by Newton's method and grad F by the implicit formula (solve, no inverse).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import expit, log_expit

from ..validation import as_choice, as_int, as_real
from .base import BilevelProblem

DATA = Path(__file__).resolve().parent.parent / "data" / "a8a"


def _rows(X) -> np.ndarray:
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)
    return np.hstack([np.ones((X.shape[0], 1)), X])


def load_sigmas(path=None) -> np.ndarray:
    """The 100 temperatures of the paper's experiments (one float a line)."""
    path = DATA / "sigma_list_100.txt" if path is None else Path(path)
    values = []
    for no, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                value = float(line)
            except ValueError:
                raise ValueError(f"{path}:{no}: expected a number, got {line!r}") from None
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{path}:{no}: a temperature must be a finite positive number, got {line.strip()!r}")
            values.append(value)
    return np.array(values)


class HyperparameterLogistic(BilevelProblem):
    """Sample-weight logits p over m temperature-scaled logistic lower levels (module docstring).

    Parameters: ``X_train`` (n_tr, d), ``b_train`` (+-1), ``X_val``, ``b_val``, ``sigmas`` (m,) > 0,
    ``lam`` > 0 the ridge of g, optional ``X_test``, ``b_test`` for ``report``; ``exact``: whether
    solvers use the exact (Newton + implicit formula) ||grad F|| as stopping error (default: when
    m x n_train <= 20,000; otherwise runs have no stopping error and report the upper value as ``fun``).
    """

    shared_samples = True

    def __init__(
        self, X_train, b_train, X_val, b_val, sigmas, lam=1e-5, X_test=None, b_test=None, name="ho", exact=None
    ):
        super().__init__()
        self.Xt, self.Xv = _rows(X_train), _rows(X_val)
        self.bt, self.bv = np.asarray(b_train, dtype=float).copy(), np.asarray(b_val, dtype=float).copy()
        for arr, nm in ((self.Xt, "X_train"), (self.Xv, "X_val"), (self.bt, "b_train"), (self.bv, "b_val")):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{nm} contains NaN or infinite entries")
        if self.bt.shape != (self.Xt.shape[0],) or self.bv.shape != (self.Xv.shape[0],):
            raise ValueError("b_train and b_val must have one label per row of X_train and X_val")
        if not (np.all(np.abs(self.bt) == 1) and np.all(np.abs(self.bv) == 1)):
            raise ValueError("b_train and b_val must hold labels +1 and -1")
        self.sigmas = np.asarray(sigmas, dtype=float).copy()
        if self.sigmas.ndim != 1 or not np.all((self.sigmas > 0) & np.isfinite(self.sigmas)):
            raise ValueError("sigmas must be a 1-D array of finite positive temperatures")
        self.lam = as_real(lam, "lam", low=0.0, low_open=True)
        self.m, self.dim_x, self.dim_y = self.sigmas.size, self.Xt.shape[0], self.Xt.shape[1]
        self.n_lower, self.n_upper = self.Xt.shape[0], self.Xv.shape[0]
        self.mu_g = self.lam
        sq = np.max(np.sum(self.Xt**2, axis=1))
        self.L_g = float(0.25 * sq / self.sigmas.min() ** 2 + self.lam)
        self.test = None if X_test is None else (_rows(X_test), np.asarray(b_test, dtype=float))
        self.name = name
        # exact F / grad F need m Newton solves on the whole training set: on by default for small instances
        self.exact = self.m * self.n_lower <= 20_000 if exact is None else bool(exact)

    @property
    def has_exact(self) -> bool:
        return self.exact

    @classmethod
    def a8a(cls, split: str = "reduced", m: int | None = None, lam: float | None = None) -> HyperparameterLogistic:
        """The a8a instance. ``split="official"``: training rows 0..18,155 of the a8a training file,
        validation rows 13,616..18,155 (inside the training part, as the official code does), test file,
        m = 100, lam = 1e-5. ``split="reduced"``: training rows 0..1,999, validation rows 2,000..2,499
        (disjoint), m = 5, lam = 1e-2. Block i uses the i-th temperature of the bundled list."""
        from ..datasets import load_dataset

        split = as_choice(split, "split", ("official", "reduced"))
        A, b = load_dataset("a8a")
        sig = load_sigmas()
        if split == "official":
            m = 100 if m is None else as_int(m, "m", low=1, high=sig.size)
            lam = 1e-5 if lam is None else lam
            At, bt = load_dataset("a8a_test")
            return cls(A[:18156], b[:18156], A[13616:18156], b[13616:18156], sig[:m], lam, At, bt, "ho-a8a")
        m = 5 if m is None else as_int(m, "m", low=1, high=sig.size)
        lam = 1e-2 if lam is None else lam
        return cls(A[:2000], b[:2000], A[2000:2500], b[2000:2500], sig[:m], lam, name="ho-a8a-reduced")

    # ------------------------------------------------------------------ kernels
    def _batch(self, X, b, blocks, Y, batch):
        """Rows (I, B, d), labels (I, B), margins z (I, B) and 1/sigma (I, 1)."""
        inv = (1.0 / self.sigmas[blocks])[:, None]
        if batch is None:
            z = (Y @ X.T) * b * inv
            return np.broadcast_to(X, (len(blocks), *X.shape)), np.broadcast_to(b, z.shape), z, inv
        R, lab = X[batch], b[batch]
        return R, lab, np.matmul(R, Y[..., None])[..., 0] * lab * inv, inv

    def _weights(self, x, batch, n):
        return expit(x)[None, :] if batch is None else expit(x[batch])

    def _f(self, blocks, x, Y, batch):
        _, _, z, _ = self._batch(self.Xv, self.bv, blocks, Y, batch)
        return -np.mean(log_expit(z), axis=1)

    def _g(self, blocks, x, Y, batch):
        _, _, z, _ = self._batch(self.Xt, self.bt, blocks, Y, batch)
        s = self._weights(x, batch, self.n_lower)
        return -np.mean(s * log_expit(z), axis=1) + 0.5 * self.lam * np.sum(Y * Y, axis=1)

    def _grad_x_f(self, blocks, x, Y, batch):
        return np.zeros((len(blocks), self.dim_x))

    def _grad_y_f(self, blocks, x, Y, batch):
        R, lab, z, inv = self._batch(self.Xv, self.bv, blocks, Y, batch)
        coef = -expit(-z) * lab * inv
        return np.matmul(coef[:, None, :], R)[:, 0] / z.shape[1]

    def _grad_y_g(self, blocks, x, Y, batch):
        R, lab, z, inv = self._batch(self.Xt, self.bt, blocks, Y, batch)
        coef = -self._weights(x, batch, self.n_lower) * expit(-z) * lab * inv
        return np.matmul(coef[:, None, :], R)[:, 0] / z.shape[1] + self.lam * Y

    def _curv(self, x, z, inv, batch):
        return self._weights(x, batch, self.n_lower) * expit(z) * expit(-z) * inv**2

    def _hvp(self, blocks, x, Y, V, batch):
        R, _, z, inv = self._batch(self.Xt, self.bt, blocks, Y, batch)
        c = self._curv(x, z, inv, batch) * np.matmul(R, V[..., None])[..., 0]
        return np.matmul(c[:, None, :], R)[:, 0] / z.shape[1] + self.lam * V

    def _hess(self, blocks, x, Y, batch):
        R, _, z, inv = self._batch(self.Xt, self.bt, blocks, Y, batch)
        return self._weighted_gram(R, self._curv(x, z, inv, batch) / z.shape[1])

    def _weighted_gram(self, R, c):
        """R_i^T diag(c_i) R_i + lam I for every block (one batched product, ridge added on the diagonal)."""
        H = np.matmul(R.transpose(0, 2, 1), R * c[..., None])
        H.reshape(len(H), -1)[:, :: self.dim_y + 1] += self.lam
        return H

    def _hess_pair(self, blocks, x, Y, xp, Yp, batch, a, b):
        """a grad^2_yy g(x, Y) + b grad^2_yy g(xp, Yp) on one batch: the two curvature weightings are combined
        before the single Gram product (the rows R are shared)."""
        R, _, z, inv = self._batch(self.Xt, self.bt, blocks, Y, batch)
        if batch is None:
            zp = (Yp @ self.Xt.T) * self.bt * inv
        else:
            zp = np.matmul(R, Yp[..., None])[..., 0] * self.bt[batch] * inv
        c = (a * self._curv(x, z, inv, batch) + b * self._curv(xp, zp, inv, batch)) / z.shape[1]
        H = self._weighted_gram(R, c)
        if a + b != 1.0:
            H.reshape(len(H), -1)[:, :: self.dim_y + 1] += (a + b - 1.0) * self.lam
        return H

    def _jvp(self, blocks, x, Y, V, batch):
        R, lab, z, inv = self._batch(self.Xt, self.bt, blocks, Y, batch)
        sp = expit(x) * expit(-x)
        vals = -expit(-z) * lab * inv * np.matmul(R, V[..., None])[..., 0] / z.shape[1]
        if batch is None:
            return vals * sp[None, :]
        vals = vals * sp[batch]
        n, dx = len(blocks), self.dim_x
        flat = (np.arange(n)[:, None] * dx + batch).ravel()
        return np.bincount(flat, weights=vals.ravel(), minlength=n * dx).reshape(n, dx)

    # ------------------------------------------------------------------ exact quantities (Newton)
    def y_star(self, x, tol: float = 1e-14, max_iter: int = 100) -> np.ndarray:
        """Every block's exact minimiser w_i*(p) by damped-free Newton (g_i is strongly convex and smooth)."""
        blocks = np.arange(self.m)
        W = np.zeros((self.m, self.dim_y))
        with self.counts.paused():
            for _ in range(max_iter):
                step = np.linalg.solve(self._hess(blocks, x, W, None), self._grad_y_g(blocks, x, W, None)[..., None])
                W -= step[..., 0]
                if np.max(np.abs(step)) < tol:
                    break
        return W

    def F(self, x) -> float:
        """F(p) = (1/m) sum_i f_i(p, w_i*(p)) on the full validation data."""
        W = self.y_star(x)
        return float(np.mean(self._f(np.arange(self.m), x, W, None)))

    objective = F

    def hypergrad(self, x) -> np.ndarray:
        """grad F(p) = -(1/m) sum_i grad^2_pw g_i H_i^{-1} grad_w f_i at w_i*(p)."""
        b = np.arange(self.m)
        W = self.y_star(x)
        q = np.linalg.solve(self._hess(b, x, W, None), self._grad_y_f(b, x, W, None)[..., None])[..., 0]
        return -self._jvp(b, x, W, q, None).mean(axis=0)

    def test_value(self, Y) -> float:
        """Mean test loss of the block models Y (the official code's ``test_eval``)."""
        if self.test is None:
            return float("nan")
        X, b = self.test
        z = (Y @ X.T) * b / self.sigmas[:, None]
        return float(-np.mean(log_expit(z)))
