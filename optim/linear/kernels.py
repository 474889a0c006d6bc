"""Compiled (numba) kernels over CSR rows: SOR sweeps, SSOR triangular solves, batched cost tables.

Every kernel walks the rows of a CSR matrix ``(indptr, indices, data)`` in natural order, so one
sweep costs one pass over the nonzeros, about one sparse mat-vec. ``diag`` holds ``a_ii``.
Compiled with ``cache=True``: the first call in a fresh environment compiles, later ones load.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def sor_sweep(indptr, indices, data, diag, b, x, omega):
    """One forward SOR sweep in place: for i = 1..n in order,
    x_i <- (1 - omega) x_i + omega (b_i - sum_{j != i} a_ij x_j) / a_ii  (new x_j for j < i).
    Returns ``||x||^2`` of the new iterate (for the rounding floor, at no extra pass)."""
    n = b.shape[0]
    xx = 0.0
    for i in range(n):
        s = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if j != i:
                s -= data[k] * x[j]
        x[i] = (1.0 - omega) * x[i] + omega * s / diag[i]
        xx += x[i] * x[i]
    return xx


@numba.njit(cache=True)
def residual_norm(indptr, indices, data, b, x):
    """||b - A x||_2."""
    n = b.shape[0]
    total = 0.0
    for i in range(n):
        s = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            s -= data[k] * x[indices[k]]
        total += s * s
    return np.sqrt(total)


#: status codes of ``sor_loop``; ``FLOOR`` is convergence by the absolute floor (see ``residual_floor``)
CAPPED, CONVERGED, DIVERGED, FLOOR = 0, 1, 2, 3
#: once the relative residual exceeds this, each sweep first saves the iterate (so that a run that
#: overflows can return its last finite iterate without a copy per sweep in ordinary runs)
GUARD = 1e8
#: machine epsilon of float64
EPS = 2.0**-52


@numba.njit(cache=True)
def floor_scale(indptr, data, b):
    """``(gamma, ||A||_F, ||b||)`` for ``residual_floor``: ``gamma = (m + 1) eps`` with ``m`` the most
    nonzeros in a row (the forward error factor of a computed residual entry)."""
    m = 0
    for i in range(indptr.shape[0] - 1):
        m = max(m, indptr[i + 1] - indptr[i])
    return (m + 1) * EPS, np.sqrt(np.sum(data * data)), np.sqrt(np.sum(b * b))


@numba.njit(cache=True)
def residual_floor(gamma, anrm, bnrm, xnrm):
    """``gamma (||b|| + ||A||_F ||x||)``: a bound on the rounding error of a computed ``||b - A x||``;
    a residual at or below it cannot be told from zero, so the solve has converged whatever the
    relative test says (without it a start at the exact solution would sweep until ``max_iter``)."""
    return gamma * (bnrm + anrm * xnrm)


@numba.njit(cache=True)
def sor_loop(indptr, indices, data, diag, b, x, omega, rtol, max_iter):
    """The official SOR iteration count (``docs/sor.md``): sweep, then the TRUE residual, stop when
    ||r_k|| / ||r_0|| < rtol (strict); at least one sweep -- unless ``||r_0||`` is already at the
    rounding floor (``residual_floor``; zero included): then 0 sweeps. A later residual at the floor
    also stops the run (status ``FLOOR``), which an ordinary run (rtol ||r_0|| above the floor) never meets.

    Returns ``(iterations, status, rel_res)`` with status ``CONVERGED``, ``FLOOR``, ``CAPPED`` (max_iter
    sweeps) or ``DIVERGED`` (NaN/inf appeared: ``x`` is then the last finite iterate, ``iterations`` its
    sweep count and ``rel_res`` its residual). ``rel_res`` is 0 when ``r_0 = 0``."""
    gamma, anrm, bnrm = floor_scale(indptr, data, b)
    nrm0 = residual_norm(indptr, indices, data, b, x)
    if nrm0 <= residual_floor(gamma, anrm, bnrm, np.sqrt(np.sum(x * x))):
        return 0, FLOOR, 1.0 if nrm0 > 0.0 else 0.0
    saved = x.copy()  # the start; refreshed before each sweep once the residual has grown past GUARD
    saved_k, saved_rel = 0, 1.0
    rel = 0.0
    for k in range(1, max_iter + 1):
        if rel > GUARD:
            saved[:] = x
            saved_k, saved_rel = k - 1, rel
        xx = sor_sweep(indptr, indices, data, diag, b, x, omega)
        nrm = residual_norm(indptr, indices, data, b, x)
        rel = nrm / nrm0
        if rel < rtol:
            return k, CONVERGED, rel
        if not np.isfinite(rel):
            x[:] = saved
            return saved_k, DIVERGED, saved_rel
        if nrm <= residual_floor(gamma, anrm, bnrm, np.sqrt(xx)):
            return k, FLOOR, rel
    return max_iter, CAPPED, rel


@numba.njit(cache=True, parallel=True)
def sor_counts_shifted(indptr, indices, data, diag, shifts, rhs, omegas, rtol, max_iter):
    """SOR iteration counts for every (instance t, omega_j) of a diagonally shifted family
    A_t = A + shifts[t] I, b_t = rhs[t], x0 = 0: the cost table (``optim.linear.table``), in parallel over t."""
    T = shifts.shape[0]
    d = omegas.shape[0]
    n = diag.shape[0]
    out = np.empty((T, d), dtype=np.int64)
    for t in numba.prange(T):
        # the shifted matrix's values: data with shifts[t] added on the diagonal entries
        vals = data.copy()
        dg = diag + shifts[t]
        for i in range(n):
            for k in range(indptr[i], indptr[i + 1]):
                if indices[k] == i:
                    vals[k] += shifts[t]
        b = rhs[t]
        for j in range(d):
            x = np.zeros(n)
            it, status, rel = sor_loop(indptr, indices, vals, dg, b, x, omegas[j], rtol, max_iter)
            out[t, j] = max_iter if status == DIVERGED else it  # a diverged solve costs the cap
    return out


@numba.njit(cache=True)
def lower_solve(indptr, indices, data, diag, r, omega, z):
    """z = (D + omega L)^{-1} r by forward substitution over the rows (entries j < i)."""
    n = r.shape[0]
    for i in range(n):
        s = r[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if j < i:
                s -= omega * data[k] * z[j]
        z[i] = s / diag[i]


@numba.njit(cache=True)
def upper_solve(indptr, indices, data, diag, r, omega, z):
    """z = (D + omega U)^{-1} r by backward substitution over the rows (entries j > i)."""
    n = r.shape[0]
    for i in range(n - 1, -1, -1):
        s = r[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if j > i:
                s -= omega * data[k] * z[j]
        z[i] = s / diag[i]


@numba.njit(cache=True)
def ssor_apply(indptr, indices, data, diag, r, omega, code_order, work, z):
    """z = M^{-1} r for the SSOR preconditioner (``docs/sor.md``).

    code order:     M = (D + wU) D^{-1} (D + wL) / (w(2-w)):  y = (D + wU)^{-1} r,
                    z = w(2-w) (D + wL)^{-1} D y;
    textbook order: M = (D + wL) D^{-1} (D + wU) / (w(2-w)):  y = (D + wL)^{-1} r,
                    z = w(2-w) (D + wU)^{-1} D y.
    """
    n = r.shape[0]
    scale = omega * (2.0 - omega)
    if code_order:
        upper_solve(indptr, indices, data, diag, r, omega, work)
    else:
        lower_solve(indptr, indices, data, diag, r, omega, work)
    for i in range(n):
        work[i] *= diag[i]
    if code_order:
        lower_solve(indptr, indices, data, diag, work, omega, z)
    else:
        upper_solve(indptr, indices, data, diag, work, omega, z)
    for i in range(n):
        z[i] *= scale
