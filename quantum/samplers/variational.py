"""Statevector QAOA, VQE and CVaR-VQE (numpy statevectors).

Conventions: basis index ``k = sum_i x_i 2^i`` (qubit 0 least significant), bit 1 <-> Z = -1, so
the cost operator is diagonal with entries ``E(x)`` (``exact.all_energies``).

* QAOA (Farhi, Goldstone, Gutmann 2014): ``|psi> = prod_l exp(-i b_l sum_q X_q) exp(-i g_l C) |+>^n``;
  the mixer applies ``[[cos b, -i sin b], [-i sin b, cos b]]`` to every qubit axis.
* VQE with the EfficientSU2 ansatz used by the comparative study of quantum optimization techniques
  (arXiv 2503.12121): ``reps`` layers of RY and RZ on every qubit
  followed by circular CX entanglement (CX(n-1, 0), then CX(q, q+1)), and a final RY, RZ layer:
  ``2 n (reps + 1)`` parameters; ``RY(t) = exp(-i t Y / 2)``, ``RZ(t) = exp(-i t Z / 2)``.
* CVaR_alpha (Barkoutsos et al., Quantum 4, 256, 2020): the mean energy of the lowest
  ``alpha`` fraction of the probability mass, the boundary state counted fractionally; alpha = 1
  is the plain expectation.

Parameters are optimised by COBYLA (``maxiter`` evaluations, ``rhobeg``; the comparative study used 200 and 0.4)
on exact expectations; ``num_reads`` shots are then drawn from the final state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize

from problems.validation import as_int, as_real

from .base import Sampler, SampleSet
from .exact import all_energies, index_bits

MAX_QUBITS = 20


def _apply_1q(psi: np.ndarray, n: int, q: int, gate: np.ndarray) -> np.ndarray:
    view = psi.reshape(-1, 2, 2**q)
    a, b = view[:, 0, :], view[:, 1, :]
    out = np.empty_like(view)
    out[:, 0, :] = gate[0, 0] * a + gate[0, 1] * b
    out[:, 1, :] = gate[1, 0] * a + gate[1, 1] * b
    return out.reshape(-1)


def cvar(energies_sorted: np.ndarray, probs_sorted: np.ndarray, alpha: float) -> float:
    """CVaR_alpha of a distribution given sorted energies and matching probabilities."""
    cum = np.cumsum(probs_sorted)
    k = int(np.searchsorted(cum, alpha - 1e-15))
    k = min(k, len(cum) - 1)
    below = cum[k - 1] if k else 0.0
    total = float(energies_sorted[:k] @ probs_sorted[:k]) + (alpha - below) * energies_sorted[k]
    return total / alpha


class _Variational(Sampler):
    """Shared parts: cost diagonal, optimisation loop, shot sampling."""

    def __init__(
        self, maxiter: int = 200, rhobeg: float = 0.4, cvar_alpha: float = 1.0, max_qubits: int = MAX_QUBITS
    ) -> None:
        self.maxiter = as_int(maxiter, "maxiter", low=0)
        self.rhobeg = as_real(rhobeg, "rhobeg", low=0.0, low_open=True)
        self.cvar_alpha = as_real(cvar_alpha, "cvar_alpha", low=0.0, high=1.0, low_open=True)
        self.max_qubits = as_int(max_qubits, "max_qubits", low=1, high=26)

    parameters = {
        "initial_params": "starting parameters (default: see the class)",
        "optimize": "optimise the parameters with COBYLA (default True)",
    }

    def num_params(self, n: int) -> int:
        """Number of circuit parameters on ``n`` qubits."""
        raise NotImplementedError

    def initial_params(self, E: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Starting parameters."""
        raise NotImplementedError

    def state(self, E: np.ndarray, params: np.ndarray) -> np.ndarray:
        """The statevector for the cost diagonal ``E`` and ``params``."""
        raise NotImplementedError

    def loss(self, E: np.ndarray, order: np.ndarray, params: np.ndarray) -> float:
        probs = np.abs(self.state(E, params)) ** 2
        if self.cvar_alpha >= 1.0:
            return float(probs @ E)
        return cvar(E[order], probs[order], self.cvar_alpha)

    def _sample(self, qubo, num_reads, rng, initial_params=None, optimize=True):
        n = qubo.num_variables
        if n > self.max_qubits:
            raise ValueError(f"{type(self).__name__} simulates at most max_qubits={self.max_qubits} qubits, got {n}")
        E = all_energies(qubo, self.max_qubits)
        order = np.argsort(E, kind="stable")
        params = self.initial_params(E, n, rng) if initial_params is None else np.array(initial_params, float)
        if params.shape != (self.num_params(n),):
            raise ValueError(f"initial_params must have {self.num_params(n)} entries, got shape {params.shape}")
        evals = 0
        if optimize and self.maxiter:
            res = minimize(
                lambda th: self.loss(E, order, th),
                params,
                method="COBYLA",
                options={"maxiter": self.maxiter, "rhobeg": self.rhobeg},
            )
            params, evals = res.x, int(res.nfev)
        probs = np.abs(self.state(E, params)) ** 2
        probs /= probs.sum()
        shots = rng.choice(len(E), size=num_reads, p=probs)
        idx, counts = np.unique(shots, return_counts=True)
        best = E.min()
        info = {
            "params": params,
            "expectation": float(probs @ E),
            "loss": self.loss(E, order, params),
            "prob_optimal": float(probs[np.isclose(E, best, rtol=0, atol=1e-9 * max(1.0, abs(best)))].sum()),
            "evaluations": evals,
        }
        return SampleSet(index_bits(idx, n), E[idx], counts, info=info)


class QAOA(_Variational):
    """QAOA with ``p`` layers: ``sample`` optimises ``(gammas, betas)`` then draws ``num_reads`` shots.

    ``expectation(qubo, gammas, betas)`` and ``statevector(...)`` evaluate fixed angles. The default
    start is a linear ramp ``g_l = (l + 1/2) / p * g0``, ``b_l = (1 - (l + 1/2) / p) * pi / 4`` with
    ``g0 = 0.5 / std(E)`` (an annealing-like path scaled to the spread of the energies).
    """

    def __init__(self, p: int = 1, **options: Any) -> None:
        super().__init__(**options)
        self.p = as_int(p, "p", low=1)

    def num_params(self, n: int) -> int:
        return 2 * self.p

    def initial_params(self, E: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        frac = (np.arange(self.p) + 0.5) / self.p
        g0 = 0.5 / max(float(np.std(E)), 1e-12)
        return np.r_[frac * g0, (1 - frac) * np.pi / 4]

    def state(self, E: np.ndarray, params: np.ndarray) -> np.ndarray:
        n = int(np.log2(len(E)))
        psi = np.full(len(E), 2 ** (-n / 2), dtype=complex)
        for g, b in zip(params[: self.p], params[self.p :], strict=False):
            psi = psi * np.exp(-1j * g * E)
            c, s = np.cos(b), -1j * np.sin(b)
            mixer = np.array([[c, s], [s, c]])
            for q in range(n):
                psi = _apply_1q(psi, n, q, mixer)
        return psi

    def statevector(self, qubo: Any, gammas: Any, betas: Any) -> np.ndarray:
        gammas, betas = np.atleast_1d(gammas).astype(float), np.atleast_1d(betas).astype(float)
        if len(gammas) != self.p or len(betas) != self.p:
            raise ValueError(f"gammas and betas must each have p={self.p} entries")
        return self.state(all_energies(qubo, self.max_qubits), np.r_[gammas, betas])

    def expectation(self, qubo: Any, gammas: Any, betas: Any) -> float:
        """``<psi(gammas, betas)| C |psi(gammas, betas)>`` with ``C`` the QUBO's energy."""
        E = all_energies(qubo, self.max_qubits)
        psi = self.statevector(qubo, gammas, betas)
        return float(np.abs(psi) ** 2 @ E)


class VQE(_Variational):
    """VQE (``cvar_alpha=1``) or CVaR-VQE (``cvar_alpha < 1``; the comparative study used 0.25) with the
    EfficientSU2 ansatz (``reps`` = 3 by default); random uniform start in ``[-pi, pi]``."""

    def __init__(self, reps: int = 3, **options: Any) -> None:
        super().__init__(**options)
        self.reps = as_int(reps, "reps", low=0)
        self._perm: dict[int, np.ndarray] = {}

    def num_params(self, n: int) -> int:
        return 2 * n * (self.reps + 1)

    def initial_params(self, E: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-np.pi, np.pi, self.num_params(n))

    def _entangler(self, n) -> np.ndarray:
        """Index map of the circular CX layer: ``psi_out = psi_in[perm]``."""
        if n not in self._perm:
            k = np.arange(2**n)
            perm = k.copy()
            pairs = ([(n - 1, 0)] if n > 2 else []) + [(q, q + 1) for q in range(n - 1)]
            for c, t in pairs:  # psi_new[k] = psi_old[k ^ (bit_c(k) << t)]; compose in order
                gate = k ^ (((k >> c) & 1) << t)
                perm = perm[gate]
            self._perm[n] = perm
        return self._perm[n]

    def state(self, E: np.ndarray, params: np.ndarray) -> np.ndarray:
        n = int(np.log2(len(E)))
        psi = np.zeros(len(E), dtype=complex)
        psi[0] = 1.0
        theta = np.asarray(params).reshape(self.reps + 1, 2, n)
        for layer in range(self.reps + 1):
            for q in range(n):
                t, f = theta[layer, 0, q] / 2, theta[layer, 1, q] / 2
                ry = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], dtype=complex)
                rz = np.diag([np.exp(-1j * f), np.exp(1j * f)])
                psi = _apply_1q(psi, n, q, rz @ ry)
            if layer < self.reps and n > 1:
                psi = psi[self._entangler(n)]
        return psi
