"""One prunable layer: ``LayerPruning`` and the exact block objectives of iterative CBS.

A layer has weights ``W in R^{m x n}`` (rows = outputs, ``torch.nn.Linear`` layout), calibration inputs
``X in R^{N x n}`` (rows are samples/tokens) and Gram matrix ``G = X^T X``. A mask keeps or removes each
weight; ``x_t = 1`` means weight ``t = r n + c`` is pruned (the convention of Rosenberg et al., 2024).

Mask-only reconstruction error of row ``r`` (exact, no Taylor error)::

    f_r(x_r) = || X (w0_r * x_r) ||^2 = (w0_r * x_r)^T G (w0_r * x_r).

``reconstruction_terms`` restricts the sum over rows to a block ``B`` of weights with everything outside
``B`` held fixed; ``taylor_terms`` builds the second-order model of a loss (gradient ``g``, Hessian or
empirical Fisher ``H``) of Rosenberg et al. (2024), with gradient damping ``alpha`` and ridge ``lambda``.
Both return ``BlockTerms(linear, quadratic, offset, k)``: ``E(x) = offset + linear @ x + sum_{i<j}
quadratic_ij x_i x_j`` to be minimised subject to ``sum(x) = k``. See ``docs/pruning.md``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from problems.base import Problem
from problems.validation import as_choice, as_matrix, as_real

GRANULARITIES = ("row", "layer")
OBJECTIVES = ("reconstruction", "taylor")


class BlockTerms(NamedTuple):
    """A cardinality-constrained QUBO: minimise ``offset + linear @ x + x^T triu(quadratic, 1) x`` s.t. sum x = k."""

    linear: np.ndarray
    quadratic: np.ndarray
    offset: float
    k: int


def as_density(density) -> float:
    """Kept fraction ``d`` in (0, 1]."""
    return as_real(density, "density", low=0.0, high=1.0, low_open=True)


def pruned_count(size: int, density: float) -> int:
    """Pruned weights of a ranking group of ``size`` weights: ``floor(size (1 - d) + 1e-9)``.

    One rule for every method, so methods compare at identical kept counts (the ``1e-9`` guards
    against ``100 * (1 - 0.9) = 9.999...``)."""
    return int(math.floor(size * (1.0 - density) + 1e-9))


def check_block(block, state_size: int) -> np.ndarray:
    """``block`` as distinct int64 flat indices into a layer of ``state_size`` weights."""
    idx = np.asarray(block)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError("block must be a non-empty 1-D array of integer flat indices")
    idx = idx.astype(np.int64)
    if idx.min() < 0 or idx.max() >= state_size:
        raise ValueError(f"block indices must lie in [0, {state_size}), got {idx.min()}..{idx.max()}")
    if np.unique(idx).size != idx.size:
        raise ValueError("block indices must be distinct")
    return idx


def reconstruction_terms(
    w0: np.ndarray, gram: np.ndarray, pruned: np.ndarray, block: np.ndarray, with_offset: bool = True
) -> BlockTerms:
    """Exact block QUBO of the layer's mask-only reconstruction error (H = 2G, rows independent)::

    Q_ab = 2 [r_a = r_b] w0_a G[c_a, c_b] w0_b,
    q_a  = w0_a^2 G[c_a, c_a] + 2 w0_a sum_{j: (r_a, j) pruned outside B} G[c_a, j] w0_{r_a j},
    c0   = sum_r (w0_r * p_r)^T G (w0_r * p_r) over the pruned weights p outside B.

    ``E(x)`` equals the total reconstruction error of the layer for block values ``x``. Cost O(b n + b^2)
    (plus O(rows of B x n^2) for ``c0``, skipped when ``with_offset`` is False: it does not depend on x).
    ``k`` is the number of currently pruned weights in the block."""
    m, n = w0.shape
    flat = pruned.reshape(-1)
    rows, cols = np.divmod(block, n)
    urows, inv = np.unique(rows, return_inverse=True)
    outside = w0[urows] * flat.reshape(m, n)[urows]  # pruned weights of the block's rows ...
    outside[inv, cols] = 0.0  # ... outside the block
    wb = w0[rows, cols]
    linear = wb**2 * gram[cols, cols] + 2.0 * wb * np.einsum("bn,bn->b", gram[cols], outside[inv])
    same_row = rows[:, None] == rows[None, :]
    quad = 2.0 * same_row * np.outer(wb, wb) * gram[np.ix_(cols, cols)]
    offset = 0.0
    if with_offset:
        full = w0 * flat.reshape(m, n)
        full[urows] = outside
        offset = float(np.sum((full @ gram) * full))
    k = int(flat[block].sum())
    return BlockTerms(linear, np.triu(quad, 1), offset, k)


def taylor_terms(w0_b, delta_b, grad_b, hess_bb, alpha: float, ridge: float, k: int) -> BlockTerms:
    """Block QUBO of the predicted loss change ``alpha g^T d + d^T H d / 2 + ridge ||d||^2`` for the
    step ``d = -(w0 * x) - Delta`` (new block values ``w0 * (1 - x)``; ``Delta = w - w0`` now)::

    q_i  = H_ii w0_i^2 / 2 + w0_i (H Delta)_i - alpha g_i w0_i + ridge w0_i (2 Delta_i + w0_i),
    Q_ij = w0_i H_ij w0_j (i < j),
    c0   = Delta^T H Delta / 2 - alpha g^T Delta + ridge ||Delta||^2.
    """
    w0_b, delta_b, grad_b = (np.asarray(a, dtype=np.float64) for a in (w0_b, delta_b, grad_b))
    H = np.asarray(hess_bb, dtype=np.float64)
    H = (H + H.T) / 2.0
    h_delta = H @ delta_b
    linear = 0.5 * np.diag(H) * w0_b**2 + w0_b * h_delta - alpha * grad_b * w0_b + ridge * w0_b * (2 * delta_b + w0_b)
    quad = np.triu(w0_b[:, None] * H * w0_b[None, :], 1)  # w0_i H_ij w0_j for i < j
    offset = 0.5 * delta_b @ h_delta - alpha * grad_b @ delta_b + ridge * delta_b @ delta_b
    return BlockTerms(linear, quad, float(offset), int(k))


class LayerPruning(Problem):
    """Prune one layer ``weight`` (m x n) to ``density`` with calibration ``inputs`` (N x n).

    ``grads`` (optional, N x m x n or N x m*n) are per-sample loss gradients at the dense weights for the
    ``"taylor"`` objective (empirical Fisher ``H = grads^T grads / N``, ``g`` their mean); without
    ``inputs`` the Gram matrix is the identity (reconstruction error = squared magnitude of pruned
    weights). ``granularity`` is the ranking group of the initial mask ("row" or "layer").

    The iterate of a solver is the flat keep mask (1 = kept); ``objective(x)`` is the relative
    reconstruction error of that mask and ``optimality(x)`` the largest decrease of the reconstruction
    error any single within-row swap (prune one kept weight, revive one pruned weight) could achieve,
    relative to ``||X W0^T||^2``: zero exactly at a swap-local optimum. Work unit: block solves.
    """

    work_unit = "block"

    def __init__(self, weight, inputs=None, grads=None, *, density=0.5, granularity="row", name="layer"):
        super().__init__()
        self.weight = as_matrix(weight, "weight", allow_sparse=False)
        self.weight.flags.writeable = False
        m, n = self.weight.shape
        if inputs is not None:
            inputs = as_matrix(inputs, "inputs", allow_sparse=False)
            if inputs.shape[1] != n:
                raise ValueError(f"inputs must have {n} columns (the layer's inputs), got shape {inputs.shape}")
        self.inputs = inputs
        if grads is not None:
            g = np.asarray(grads, dtype=np.float64)
            if g.ndim not in (2, 3) or g.shape[0] == 0 or g[0].size != m * n:
                raise ValueError(f"grads must have shape (N, {m}, {n}) or (N, {m * n}), got {g.shape}")
            if not np.all(np.isfinite(g)):
                raise ValueError("grads contains NaN or infinite entries")
            grads = g.reshape(g.shape[0], m * n).copy()
        self.grads = grads
        self.density = as_density(density)
        self.granularity = as_choice(granularity, "granularity", GRANULARITIES)
        self.name = name
        self._gram = None

    # ------------------------------------------------------------------ data
    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape

    @property
    def dim(self) -> int:
        return self.weight.size

    @property
    def layers(self) -> list[str]:
        return [self.name]

    def gram(self) -> np.ndarray:
        """``G = X^T X`` (n x n, float64; the identity without inputs). Computed once."""
        if self._gram is None:
            n = self.weight.shape[1]
            self._gram = np.eye(n) if self.inputs is None else self.inputs.T @ self.inputs
            self._gram.flags.writeable = False
        return self._gram

    def initial_point(self) -> np.ndarray:
        return np.ones(self.dim)

    def recon_error(self, mask_or_weights, relative: bool = True) -> float:
        """``||X (W0 - W)^T||_F^2`` (divided by ``||X W0^T||_F^2`` when ``relative``).

        A 0/1 array of the layer's shape (or flat) is a keep mask (``W = W0 * mask``); anything else is
        the new weight matrix (after a weight update, e.g. SparseGPT)."""
        a = np.asarray(mask_or_weights, dtype=np.float64)
        if a.size != self.dim:
            raise ValueError(f"mask_or_weights must have {self.dim} entries, got {a.size}")
        a = a.reshape(self.weight.shape)
        w = self.weight * a if np.all((a == 0) | (a == 1)) else a
        return _recon(self.weight, w, self.gram(), relative)

    # ------------------------------------------------------------------ block objectives
    def block_qubo(self, block, state, objective="reconstruction", alpha=1.0, ridge=0.0) -> BlockTerms:
        """Block QUBO for the flat indices ``block`` given ``state`` (flat prune indicator, 1 = pruned).

        ``"reconstruction"``: exact layer error (``alpha``/``ridge`` must be 1/0). ``"taylor"``: the
        quadratic model of the loss from ``grads`` (gradients at the dense weights, so ``g`` is the mean
        gradient and ``Delta = -w0`` on pruned entries)."""
        objective = as_choice(objective, "objective", OBJECTIVES)
        alpha, ridge = as_real(alpha, "alpha"), as_real(ridge, "ridge", low=0.0)
        state = np.asarray(state).reshape(-1)
        if state.size != self.dim or not np.all((state == 0) | (state == 1)):
            raise ValueError(f"state must be a 0/1 prune indicator with {self.dim} entries")
        idx = check_block(block, self.dim)
        if objective == "reconstruction":
            if alpha != 1.0 or ridge != 0.0:
                raise ValueError("the reconstruction objective is exact: use alpha=1 and ridge=0")
            return reconstruction_terms(self.weight, self.gram(), state, idx)
        if self.grads is None:
            raise ValueError("the taylor objective needs per-sample grads; pass grads= to LayerPruning")
        gs = self.grads[:, idx]
        w0 = self.weight.reshape(-1)[idx]
        delta = -w0 * state[idx]
        return taylor_terms(w0, delta, gs.mean(0), gs.T @ gs / gs.shape[0], alpha, ridge, int(state[idx].sum()))

    # ------------------------------------------------------------------ loop oracles
    def objective(self, x) -> float:
        return self.recon_error(np.asarray(x).reshape(self.weight.shape))

    def optimality(self, x) -> float:
        keep = np.asarray(x, dtype=np.float64).reshape(self.weight.shape)
        return swap_gap(self.weight, keep, self.gram()) / max(_dense_energy(self.weight, self.gram()), 1e-300)


def _dense_energy(w0, gram) -> float:
    return float(np.sum((w0 @ gram) * w0))


def _recon(w0, w, gram, relative) -> float:
    d = w0 - w
    err = float(np.sum((d @ gram) * d))
    return err / max(_dense_energy(w0, gram), 1e-300) if relative else err


def swap_gap(w0: np.ndarray, keep: np.ndarray, gram: np.ndarray, scope: str = "row") -> float:
    """Largest decrease of ``sum_r (w0_r * p_r)^T G (w0_r * p_r)`` by one swap (0 if none).

    ``scope="row"``: swaps within a row (the kept count of every row stays). Reviving pruned ``a`` and
    pruning kept ``b`` in row r changes the error by
    ``-(2 f_a - G_aa w0_a^2) + (2 f_b + G_bb w0_b^2) - 2 w0_a G_ab w0_b``, ``f = G (w0_r * p_r) * w0_r``.
    O(m n^2) in a compiled loop, no temporaries. ``scope="layer"``: any swap in the layer (only the
    layer's kept count stays); rows are independent, so a swap across rows r != s changes the error by
    ``-(2 f_a - G_aa w0_a^2) + (2 f_b + G_bb w0_b^2)``, maximised in O(m n) from per-row extremes."""
    from ._swapgap import swap_gap_rows

    scope = as_choice(scope, "scope", GRANULARITIES)
    w0 = np.ascontiguousarray(w0, dtype=np.float64)
    pruned = np.ascontiguousarray(np.asarray(keep).reshape(w0.shape) == 0)
    field = ((w0 * pruned) @ gram) * w0
    best = float(swap_gap_rows(w0, pruned, np.ascontiguousarray(gram, dtype=np.float64), field))
    if scope == "row" or w0.shape[0] < 2:
        return best
    own = np.diag(gram) * w0 * w0
    leave = np.where(pruned, 2.0 * field - own, -np.inf).max(axis=1)  # best revival per row
    join = np.where(pruned, np.inf, 2.0 * field + own).min(axis=1)  # cheapest new pruning per row
    i, j = int(np.argmax(leave)), int(np.argmin(join))
    if i != j:
        cross = leave[i] - join[j]
    else:  # the best pair lies in one row: pair it with the runner-up of the other side
        cross = max(leave[i] - np.partition(join, 1)[1], np.partition(leave, -2)[-2] - join[j])
    return max(best, float(cross)) if np.isfinite(cross) else best
