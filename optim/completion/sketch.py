"""Sketch-preconditioned least squares (Rokhlin and Tygert 2008; Avron, Maymounkov and Toledo 2010,
"Blendenpik"; the solver that Gu, Song, Yin and Zhang 2023 plug into alternating minimization).

For a tall ``A`` (L x k) and ``b``: draw a sketch ``S`` (s x L, s ~ 4k), factor ``S A = Q R``, start
from the sketch-and-solve point ``x0 = R^{-1} Q^T S b`` and run CG on the normal equations of the
preconditioned problem ``min_z ||A R^{-1} z - b||`` (CGLS). With ``r = b - A x`` and the preconditioned
normal residual ``g = R^{-T} A^T r``, the iteration stops when

    ||g|| <= 0.5 sqrt(tol) ||r||        (so ||A x - b||^2 <= (1 + ~tol) min ||A x - b||^2),

a test relative to the *current* residual: inside alternating minimization the injected error then
shrinks with the residual, which keeps the geometric rate (the robust analysis of Gu et al.).
``inner_iters`` fixes the number of CG steps instead. Sketches: ``"srht"`` (random signs, orthonormal
DCT-II along the rows, s rows sampled without replacement, scaled by sqrt(L/s)), ``"countsketch"``
(each row to one of s buckets with a random sign) and ``"gaussian"`` (for tests). Systems with
``L <= max(s, 2k)`` are solved exactly (sketching cannot help); a numerically rank-deficient sketch
(``min |R_ii| < 1e-12 max |R_ii|``) falls back to ``numpy.linalg.lstsq``.

All outputs of one half-step are solved together (``solve_sketched``): padded ``(G, L_max, k)`` arrays
for the DCT, sparse bucket sums for CountSketch, stacked QR, and CG with one step length per system.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.fft
import scipy.sparse as sp

from problems.validation import as_choice, as_generator, as_int, as_matrix, as_real, as_vector

from .sides import Side, solve_exact

SKETCHES = ("srht", "countsketch", "gaussian")
_PAD_FLOATS = 20_000_000


def sketch_size(k: int, s: int | None, oversample: float) -> int:
    return int(s) if s is not None else int(math.ceil(oversample * k))


def _sketch_group(side: Side, F, groups, s, kind, rng):
    """``S A`` (G, s, k) and ``S b`` (G, s) for the outputs ``groups`` (each with L_j > s)."""
    sub = side.subset(groups)
    G, k = len(groups), F.shape[1]
    counts = sub.counts
    Fe = F[sub.other]
    if kind == "countsketch":
        nnz = len(sub.vals)
        bucket = rng.integers(0, s, size=nnz)
        sign = rng.choice(np.array([-1.0, 1.0]), size=nnz)
        S = sp.csr_matrix((sign, (sub.out * s + bucket, np.arange(nnz))), shape=(G * s, nnz))
        return (S @ Fe).reshape(G, s, k), (S @ sub.vals).reshape(G, s)
    lmax = int(counts.max())
    if kind == "srht":  # zero rows change nothing; a length with small prime factors makes the DCT fast
        lmax = scipy.fft.next_fast_len(lmax, real=True)
    pos = np.arange(len(sub.vals)) - np.repeat(sub.indptr[:-1], counts)
    A = np.zeros((G, k, lmax))  # transform axis last (contiguous)
    b = np.zeros((G, lmax))
    A[sub.out, :, pos] = Fe
    b[sub.out, pos] = sub.vals
    if kind == "gaussian":
        S = rng.standard_normal((G, s, lmax)) / math.sqrt(s)
        return np.einsum("gsl,gkl->gsk", S, A), np.einsum("gsl,gl->gs", S, b)
    sign = rng.choice(np.array([-1.0, 1.0]), size=(G, lmax))
    A *= sign[:, None, :]
    b *= sign
    A = scipy.fft.dct(A, type=2, norm="ortho", axis=-1, overwrite_x=True)
    b = scipy.fft.dct(b, type=2, norm="ortho", axis=-1, overwrite_x=True)
    rows = np.argsort(rng.random((G, lmax)), axis=1)[:, :s]
    scale = math.sqrt(lmax / s)
    SA = np.take_along_axis(A, rows[:, None, :], axis=2).transpose(0, 2, 1) * scale
    Sb = np.take_along_axis(b, rows, axis=1) * scale
    return SA, Sb


def _cgls(sub: Side, F, SA, Sb, tol, maxiter, fixed):
    """Preconditioned CGLS for every system of ``sub``; returns (X, iterations, rank-deficient mask)."""
    G, k = SA.shape[0], F.shape[1]
    Q, R = np.linalg.qr(SA)
    diag = np.abs(np.diagonal(R, axis1=1, axis2=2))
    deficient = diag.min(axis=1) < 1e-12 * diag.max(axis=1)
    R[deficient] = np.eye(k)
    Rinv = np.linalg.inv(R)
    out, Fe = sub.out, F[sub.other]
    W = sub.summing(0, G)

    def apply(z):  # A R^{-1} z, one value per entry
        y = np.einsum("gij,gj->gi", Rinv, z)
        return np.einsum("ij,ij->i", Fe, y[out])

    def apply_t(r):  # R^{-T} A^T r, one k-vector per system
        return np.einsum("gji,gj->gi", Rinv, W @ (Fe * r[:, None]))

    z = np.einsum("gsk,gs->gk", Q, Sb)
    r = sub.vals - apply(z)
    g = apply_t(r)
    p = g.copy()
    gamma = np.sum(g * g, axis=1)
    bnorm = np.sqrt(W @ sub.vals**2)
    active = ~deficient
    it = 0
    for it in range(1, maxiter + 1):
        rnorm = np.sqrt(W @ r**2)
        gnorm = np.sqrt(gamma)
        stop = gnorm <= 1e-14 * bnorm
        if not fixed:
            stop |= gnorm <= 0.5 * math.sqrt(tol) * rnorm
        active &= ~stop
        if not active.any():
            it -= 1
            break
        q = apply(p)
        qq = W @ q**2
        alpha = np.where(active & (qq > 0), gamma / np.where(qq > 0, qq, 1.0), 0.0)
        z += alpha[:, None] * p
        r -= alpha[out] * q
        g = apply_t(r)
        gamma_new = np.sum(g * g, axis=1)
        beta = np.where(gamma > 0, gamma_new / np.where(gamma > 0, gamma, 1.0), 0.0)
        p = g + beta[:, None] * p
        gamma = gamma_new
    return np.einsum("gij,gj->gi", Rinv, z), it, deficient


def solve_sketched(
    side: Side,
    F: np.ndarray,
    *,
    sketch: str = "srht",
    s: int | None = None,
    oversample: float = 4.0,
    tol: float = 1e-6,
    inner_iters: int | None = None,
    maxiter: int | None = None,
    rng=None,
) -> tuple[np.ndarray, dict]:
    """Approximately solve every output's least-squares problem of a half-step (see the module doc).

    Returns ``(X, info)`` with ``info``: ``inner`` (CG iterations of the last chunk, max), ``exact``
    (outputs solved exactly because L_j <= max(s, 2k)), ``fallback`` (rank-deficient sketches solved
    by lstsq), ``under`` (indices of under-determined outputs).
    """
    rng = as_generator(rng)
    k = F.shape[1]
    s = sketch_size(k, s, oversample)
    if maxiter is None:  # CG contracts by <= 1/2 per step once cond(A R^-1) <= 3; never more than 2k + 10
        maxiter = min(2 * k + 10, int(math.ceil(math.log(1 / max(tol, 1e-16)) / math.log(2))) + 2)
    fixed = inner_iters is not None
    iters = inner_iters if fixed else maxiter
    counts = side.counts
    X = np.zeros((side.n_out, k))
    short = np.flatnonzero((counts > 0) & (counts <= max(s, 2 * k)))
    long_ = np.flatnonzero(counts > max(s, 2 * k))
    info: dict[str, Any] = {"inner": 0, "exact": int(short.size), "fallback": 0, "under": np.flatnonzero(counts == 0)}
    if short.size:
        Xs, under = solve_exact(side.subset(short), F)
        X[short] = Xs
        info["under"] = np.sort(np.concatenate([info["under"], short[under]]))
    if long_.size:
        lmax = int(counts[long_].max())
        per = max(1, _PAD_FLOATS // max(1, lmax * max(k, s)))
        for start in range(0, long_.size, per):
            groups = long_[start : start + per]
            SA, Sb = _sketch_group(side, F, groups, s, sketch, rng)
            sub = side.subset(groups)
            Xg, used, deficient = _cgls(sub, F, SA, Sb, tol, iters, fixed)
            for g in np.flatnonzero(deficient):
                a, b = sub.indptr[g], sub.indptr[g + 1]
                Xg[g] = np.linalg.lstsq(F[sub.other[a:b]], sub.vals[a:b], rcond=None)[0]
            X[groups] = Xg
            info["inner"] = max(info["inner"], used)
            info["fallback"] += int(deficient.sum())
    return X, info


def sketch_lstsq(
    A,
    b,
    *,
    sketch: str = "srht",
    s: int | None = None,
    oversample: float = 4.0,
    tol: float = 1e-6,
    inner_iters: int | None = None,
    maxiter: int | None = None,
    seed=None,
    return_info: bool = False,
):
    """``argmin_x ||A x - b||_2`` by sketch-preconditioned CG (see the module docstring).

    Parameters
    ----------
    A : (L, k) array, b : (L,) array
    sketch : "srht" (default), "countsketch" or "gaussian"
    s : sketch rows (default ``ceil(oversample k)``, oversample 4)
    tol : target residual excess ``||A x - b||^2 / min ||A x - b||^2 - 1`` (relative to the current residual)
    inner_iters : a fixed number of CG steps instead of the tolerance test
    seed : int or Generator (same seed, same output bit for bit)
    return_info : also return a dict (``inner`` CG steps, ``exact``/``fallback`` flags)

    Example
    -------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((500, 10)); b = A @ np.ones(10)
    >>> bool(np.allclose(sketch_lstsq(A, b, seed=0), 1.0))
    True
    """
    A = as_matrix(A, "A", allow_sparse=False)
    b = as_vector(b, "b", size=A.shape[0])
    sketch = as_choice(sketch, "sketch", SKETCHES)
    L, k = A.shape
    if L < 1 or k < 1:
        raise ValueError(f"A must be non-empty, got shape {A.shape}")
    if s is not None:
        s = as_int(s, "s", low=k)  # a sketch with fewer rows than A has columns cannot precondition it
    as_real(oversample, "oversample", low=1.0)
    tol = as_real(tol, "tol", low=0.0)
    if inner_iters is not None:
        inner_iters = as_int(inner_iters, "inner_iters", low=0)
    side = Side(np.array([0, L]), np.arange(L), b)
    if L <= max(sketch_size(k, s, oversample), 2 * k):
        x = np.linalg.lstsq(A, b, rcond=None)[0]
        info = {"inner": 0, "exact": 1, "fallback": 0}
    else:
        X, info = solve_sketched(
            side,
            A,
            sketch=sketch,
            s=s,
            oversample=oversample,
            tol=tol,
            inner_iters=inner_iters,
            maxiter=maxiter,
            rng=as_generator(seed),
        )
        x = X[0]
        info.pop("under", None)
    return (x, info) if return_info else x


def preconditioned_cond(A, *, sketch: str = "srht", s: int | None = None, oversample: float = 4.0, seed=None) -> float:
    """``cond(A R^{-1})`` with ``S A = Q R`` for one draw of the sketch (a diagnostic of its quality)."""
    A = as_matrix(A, "A", allow_sparse=False)
    L, k = A.shape
    s = sketch_size(k, s, oversample)
    side = Side(np.array([0, L]), np.arange(L), np.zeros(L))
    SA, _ = _sketch_group(side, A, np.array([0]), s, as_choice(sketch, "sketch", SKETCHES), as_generator(seed))
    R = np.linalg.qr(SA[0])[1]
    return float(np.linalg.cond(np.linalg.solve(R.T, A.T).T))
