"""Greedy single-coordinate BCD on sparse binary logistic regression, with the gradient kept current
through the linear predictor.

For f(x) = w sum_i log(1 + exp(-y_i z_i)) + (l2/2) ||x||^2 with z = A x, a step x_j += d changes z only on
the rows where column j is nonzero, and the gradient g = w A^T s(z) + l2 x (s_i = -y_i sigma(-y_i z_i))
only through those rows: g += w sum_{i: a_ij != 0} (s_i^new - s_i^old) a^i + l2 d e_j. On a sparse A this
costs the same as one sparse Gram column, far less than the O(nnz(A)) full gradient a greedy rule
would otherwise pay per iteration. Selection and update as in ``kernels`` (variable blocks, tau = 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit

from .kernels import RULE_CODES, TINY, argmax_score, csc_csr_arrays


@njit(cache=True)
def _dloss(y, z):
    """-y sigma(-y z), computed without overflow."""
    t = -y * z
    if t >= 0:
        s = 1.0 / (1.0 + math.exp(-t))
    else:
        e = math.exp(t)
        s = e / (1.0 + e)
    return -y * s


@njit(cache=True)
def glm_run(
    n_iter, x, g, Z, dZ, y, w, l2, L, r, rule, l1, prox,
    csc_ptr, csc_idx, csc_val, csr_ptr, csr_idx, csr_val,
    track, support, has_ref, ref, info, block,
):  # fmt: skip
    """``n_iter`` greedy coordinate steps in place (x, g, Z, dZ); ``info`` as in ``kernels.greedy_run``."""
    for _ in range(n_iter):
        j = argmax_score(rule, g, x, L, r, l1, False)
        block[0] = j
        lb = max(L[j], TINY)
        xj, gj = x[j], g[j]
        if prox:
            zz = xj - gj / lb
            a = abs(zz) - l1 / lb
            d = ((a if zz > 0 else -a) if (a > 0.0 and zz != 0.0) else 0.0) - xj if l1 > 0 else zz - xj
        else:
            d = -gj / lb
        info[0] += 1
        info[5] = 1
        info[6] += 1
        if d == 0.0:
            continue
        was = xj != 0.0
        x[j] = xj + d
        if track:
            now = x[j] != 0.0
            if now != was:
                info[1] = info[0]
                if has_ref:
                    info[3] += (1 if now != ref[j] else 0) - (1 if was != ref[j] else 0)
                support[j] = now
            if has_ref and info[2] < 0 and info[3] == 0:
                info[2] = info[0]
        for t in range(csc_ptr[j], csc_ptr[j + 1]):
            i = csc_idx[t]
            Z[i] += csc_val[t] * d
            new = _dloss(y[i], Z[i])
            delta = w * (new - dZ[i])
            dZ[i] = new
            for u in range(csr_ptr[i], csr_ptr[i + 1]):
                g[csr_idx[u]] += delta * csr_val[u]
        g[j] += l2 * d
    info[4] = -1
    return n_iter


def glm_eligible(selection: str, update: str, partition: str, tau: int, bp: Any) -> bool:
    """Sparse binary logistic regression, variable single coordinates, a greedy rule in ``RULE_CODES``."""
    model = getattr(bp, "model", None)
    return (
        selection in RULE_CODES
        and update in ("gradient", "prox_gradient")
        and partition == "vb"
        and tau == 1
        and model is not None
        and type(model).__name__ == "Logistic"
        and sp.issparse(getattr(bp, "A", None))
        and not bp.nonnegative
    )


class GLMEngine:
    """Linear predictor, loss derivative and gradient of one run (lives in the solver's state)."""

    def __init__(self, bp: Any, x: np.ndarray) -> None:
        self.bp = bp
        self.y = np.asarray(bp.model.y, dtype=float)
        csc, csr = sp.csc_matrix(bp.A), sp.csr_matrix(bp.A)
        self.arrays = csc_csr_arrays(csc, csr)
        self.columns_computed = 0
        self.block = np.zeros(1, dtype=np.int64)
        self.resync(x)

    def resync(self, x: np.ndarray) -> None:
        """Z, s(Z) and g recomputed exactly from x."""
        bp = self.bp
        self.Z = np.asarray(bp.A @ x, dtype=float).ravel()
        _, dZ = bp.model.loss_and_dloss(self.Z, need_value=False)
        self.dZ = np.asarray(dZ, dtype=float)
        self.g = bp.w * np.asarray(bp.A.T @ self.dZ).ravel() + bp.l2 * x

    def value(self, x: np.ndarray) -> float:
        """f(x) from the linear predictor, O(m + n)."""
        loss = float(np.logaddexp(0.0, -self.y * self.Z).sum())
        return self.bp.w * loss + 0.5 * self.bp.l2 * float(x @ x)

    def run(self, n_iter: int, x: np.ndarray, st: Any, rule: str, prox: bool, norm2: bool) -> int:
        bp = self.bp
        r = st.rowsums if st.rowsums is not None else st.L
        return glm_run(
            n_iter, x, self.g, self.Z, self.dZ, self.y, float(bp.w), float(bp.l2), st.L, r, RULE_CODES[rule],
            float(bp.l1), prox, *self.arrays, st.track, st.support_u8, st.has_ref, st.ref_u8, st.info, self.block,
        )  # fmt: skip
