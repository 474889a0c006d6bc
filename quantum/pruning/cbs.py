"""CBS-S, the selection step of the Combinatorial Brain Surgeon (Yu et al., 2022), one layer per step.

With the empirical Fisher ``F = U^T U / N`` of a layer (rows of ``U``: per-sample gradients at the dense
model), minimise ``Phi(P) = sum_{i,j in P} w_i F_ij w_j = || sum_{i in P} u_i ||^2 / N`` (``u_i = w_i *
grad_i``) over pruned sets ``P`` of the layer's pruned count. Swapping ``i`` out of ``P`` and ``j`` in
changes ``Phi`` by ``beta_j - alpha_i - gamma_ij`` with ``alpha_i = 2 w_i (F w_P)_i - F_ii w_i^2``,
``beta_j = 2 w_j (F w_P)_j + F_jj w_j^2`` and ``gamma_ij = 2 w_i F_ij w_j``. Each iteration sorts ``P``
by ``alpha`` (descending) and the complement by ``beta_j - gamma_{j, P[0]}`` (ascending), scans ``P``
with a window of ``rho`` complement positions, accepts the first swap that lowers ``Phi`` by at least
``eps * Phi_0`` and stops a scan after ``tau`` misses; all accepted swaps are applied together (only the
first when together they raise ``Phi``). The Fisher is kept factored (``N x p``), never ``p x p``.
"""

from __future__ import annotations

import numpy as np

from problems.pruning import LayerPruning
from problems.validation import as_int, as_real

from .oneshot import _OneShot, keep_lowest_pruned


class CBS(_OneShot):
    """CBS-S selection from a magnitude mask per layer; ``eps`` (relative to the initial ``Phi``),
    ``rho`` (window), ``tau`` (misses), ``max_swaps_iter`` (iterations per layer); layers whose per-sample
    gradients exceed ``max_gradient_entries`` numbers are refused (CBS needs them all at once)."""

    name = "cbs"

    def __init__(self, *, eps=1e-4, rho=10, tau=20, max_swaps_iter=100, max_gradient_entries=20_000_000, **common):
        super().__init__(**common)
        self.max_gradient_entries = as_int(max_gradient_entries, "max_gradient_entries", low=1)
        self.eps = as_real(eps, "eps", low=0.0)
        self.rho = as_int(rho, "rho", low=1)
        self.tau = as_int(tau, "tau", low=0)
        self.max_swaps_iter = as_int(max_swaps_iter, "max_swaps_iter", low=0)

    @classmethod
    def accepts(cls, problem) -> bool:
        """Layers with per-sample gradients (``grads=``), or networks trained on a classification loss."""
        if not super().accepts(problem):
            return False
        if isinstance(problem, LayerPruning):
            return problem.grads is not None
        return getattr(problem, "loss_name", None) == "cross_entropy"

    def setup(self, problem, state) -> None:
        if isinstance(problem, LayerPruning):
            if problem.grads is None:
                raise ValueError("cbs needs per-sample gradients: LayerPruning(grads=...) or a NetworkPruning")
            return
        for layer, w in state.net.w0.items():
            size = problem.calibration * w.size
            if size > self.max_gradient_entries:
                raise ValueError(
                    f"cbs keeps the per-sample gradients of layer {layer!r} ({size:,} numbers) in memory, more than "
                    f"max_gradient_entries={self.max_gradient_entries:,}; use icbs for large layers"
                )

    def _scaled_grads(self, problem, state, layer):
        w0 = state.net.w0[layer].reshape(-1)
        if isinstance(problem, LayerPruning):
            G = problem.grads
        else:
            batch = (problem.inputs[: problem.calibration], problem.targets[: problem.calibration])
            factors = problem.per_sample_factors(layer, None, batch)
            if factors is None:
                G = problem.per_sample_grads(layer, None, batch)
            else:
                A, D = factors
                G = np.einsum("sm,sn->smn", D, A).reshape(A.shape[0], -1)
        return G * w0[None, :]

    def prune_step(self, problem, state, layer) -> None:
        w0 = state.net.w0[layer]
        keep = keep_lowest_pruned(np.abs(w0), state.density, "layer")
        U = self._scaled_grads(problem, state, layer)
        pruned = keep.reshape(-1) == 0
        iters, phi0, phi = cbs_select(U, pruned, self.eps, self.rho, self.tau, self.max_swaps_iter)
        keep = (~pruned).reshape(w0.shape).astype(float)
        state.keep[layer], state.weights[layer] = keep, w0 * keep
        state.log.append({"layer": layer, "pruned": int(pruned.sum()), "iterations": iters, "phi0": phi0, "phi": phi})


def cbs_select(U, pruned, eps, rho, tau, max_iter):
    """CBS-S swaps in place on the boolean ``pruned``; returns (iterations, Phi before, Phi after)."""
    N = U.shape[0]
    UT = np.ascontiguousarray(U.T)  # rows = weights: cheap gathers
    d = np.einsum("ps,ps->p", UT, UT) / N

    def phi_of(p):
        v = UT[p].sum(0)
        return float(v @ v) / N, v

    phi, v = phi_of(pruned)
    phi0 = phi
    tol = eps * max(phi0, 1e-300)
    it = 0
    for _ in range(max_iter):
        c = UT @ v / N
        P, R = np.flatnonzero(pruned), np.flatnonzero(~pruned)
        if P.size == 0 or R.size == 0:
            break
        alpha, beta = 2 * c[P] - d[P], 2 * c[R] + d[R]
        P = P[np.argsort(-alpha, kind="stable")]
        alpha = np.sort(alpha, kind="stable")[::-1]
        g0 = 2 * (UT[R] @ UT[P[0]]) / N
        order = np.argsort(beta - g0, kind="stable")
        R, beta, g0 = R[order], beta[order], g0[order]
        # the best partner of the best pruned weight (the same numbers the scan's first test uses)
        if not beta[0] - alpha[0] - g0[0] <= -tol:
            break
        used, swaps, misses = np.zeros(R.size, dtype=bool), [], 0
        for i in range(P.size):
            lo, hi = max(0, i - rho), min(R.size, i + rho)
            window = np.arange(lo, hi)[~used[lo:hi]]
            if window.size:
                gam = g0[window] if i == 0 else 2 * (UT[R[window]] @ UT[P[i]]) / N
                change = beta[window] - alpha[i] - gam
                ok = np.flatnonzero(change <= -tol)
                if ok.size:
                    j = window[ok[0]]
                    used[j] = True
                    swaps.append((P[i], R[j]))
                    continue
            misses += 1
            if misses > tau:
                break
        if not swaps:  # no swap lowers Phi by eps Phi_0 (NaN data, rounding): keep the current mask
            break
        trial = pruned.copy()
        for a, b in swaps:
            trial[a], trial[b] = False, True
        new_phi, new_v = phi_of(trial)
        if new_phi >= phi:  # the swaps interfere: keep only the first (it alone lowers Phi)
            trial = pruned.copy()
            trial[swaps[0][0]], trial[swaps[0][1]] = False, True
            new_phi, new_v = phi_of(trial)
        pruned[:] = trial
        phi, v = new_phi, new_v
        it += 1
    return it, phi0, phi
