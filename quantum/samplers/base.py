"""The sampler contract (after dimod's): ``sampler.sample(qubo, num_reads=..., seed=..., **parameters)``
returns a ``SampleSet`` of distinct bitstrings sorted by energy, whose ``.first`` has ``.sample`` and
``.energy`` as in dimod (``.sample`` is a numpy 0/1 vector indexed by variable; ``to_dimod()`` gives
a real ``dimod.SampleSet``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np

from problems.validation import as_int, as_real

from ..qubo import QUBO


class Sample(NamedTuple):
    sample: np.ndarray
    energy: float
    num_occurrences: int


class SampleSet:
    """Distinct samples (rows of ``samples``, int8), their ``energies`` and ``num_occurrences``,
    sorted by energy (lowest first); ``info`` holds sampler-specific extras."""

    def __init__(self, samples: Any, energies: Any, num_occurrences: Any = None, info: dict | None = None) -> None:
        X = np.asarray(samples, dtype=np.int8)
        if X.ndim != 2:
            raise ValueError(f"samples must be 2-D (one row per sample), got shape {X.shape}")
        e = np.asarray(energies, dtype=float)
        counts = (
            np.ones(len(X), dtype=np.int64) if num_occurrences is None else np.asarray(num_occurrences, dtype=np.int64)
        )
        if len(X) > 1:
            uniq, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
            tot = np.bincount(inverse.ravel(), weights=counts, minlength=len(uniq)).astype(np.int64)
            X, e, counts = uniq, e[first], tot
            order = np.argsort(e, kind="stable")
            X, e, counts = X[order], e[order], counts[order]
        self.samples, self.energies, self.num_occurrences = X, e, counts
        self.info = dict(info or {})

    def __len__(self) -> int:
        return len(self.energies)

    def __iter__(self):
        for k in range(len(self)):
            yield Sample(self.samples[k], float(self.energies[k]), int(self.num_occurrences[k]))

    @property
    def first(self) -> Sample:
        """The lowest-energy sample."""
        if not len(self):
            raise ValueError("the sample set is empty")
        return Sample(self.samples[0], float(self.energies[0]), int(self.num_occurrences[0]))

    @property
    def num_reads(self) -> int:
        return int(self.num_occurrences.sum())

    def to_dimod(self) -> Any:
        """A ``dimod.SampleSet`` (BINARY, variables 0..n-1) with the same rows."""
        import dimod

        return dimod.SampleSet.from_samples(
            (self.samples, list(range(self.samples.shape[1]))),
            dimod.BINARY,
            self.energies,
            num_occurrences=self.num_occurrences,
        )

    def __repr__(self) -> str:
        best = f", lowest energy {self.energies[0]:.6g}" if len(self) else ""
        return f"SampleSet({len(self)} distinct of {self.num_reads} reads{best})"


class Sampler(ABC):
    """Base class: subclasses set ``parameters`` (name -> description) and implement ``_sample``."""

    parameters: dict[str, str] = {}

    def sample(self, qubo: Any, num_reads: int = 1, seed: Any = None, **parameters: Any) -> SampleSet:
        """Sample ``qubo`` (a ``QUBO`` or a ``dimod.BinaryQuadraticModel``)."""
        qubo = as_qubo(qubo)
        unknown = [k for k in parameters if k not in self.parameters]
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.sample takes no parameter {unknown[0]!r}; "
                f"parameters: num_reads, seed, {', '.join(self.parameters)}"
            )
        num_reads = as_int(num_reads, "num_reads", low=1)
        from problems.validation import as_generator

        return self._sample(qubo, num_reads, as_generator(seed), **parameters)

    @abstractmethod
    def _sample(self, qubo: QUBO, num_reads: int, rng: np.random.Generator, **parameters: Any) -> SampleSet:
        """Draw ``num_reads`` samples of a validated ``qubo`` with the generator ``rng``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def as_qubo(model: Any) -> QUBO:
    """A ``QUBO`` from a ``QUBO`` or a ``dimod.BinaryQuadraticModel``."""
    if isinstance(model, QUBO):
        return model
    if hasattr(model, "vartype") and hasattr(model, "quadratic"):
        return QUBO.from_dimod(model)
    raise TypeError(f"qubo must be a quantum.QUBO or a dimod.BinaryQuadraticModel, got {type(model).__name__}")


def default_beta_range(qubo: QUBO) -> tuple[float, float]:
    """dwave-samplers' default ``(beta_hot, beta_cold)`` from the Ising form:
    ``beta_hot = ln 2 / (2 max_i (|h_i| + sum_j |J_ij|))`` and
    ``beta_cold = ln(N_min / 0.01) / (2 b_min)``, ``b_min`` the smallest nonzero ``|h_i|`` or ``|J_ij|``
    attached to a spin (minimised per spin, then over spins) and ``N_min`` the number of spins at it."""
    h, J, _ = qubo.to_ising()
    import scipy.sparse as sp

    Js = abs(sp.csr_matrix(J))
    Js = (Js + Js.T).tocsr()
    total = np.abs(h) + np.asarray(Js.sum(axis=1)).ravel()
    per_spin = np.where(np.abs(h) > 0, np.abs(h), np.inf)
    Js.eliminate_zeros()
    rows = np.flatnonzero(np.diff(Js.indptr))  # spins with a coupling: their smallest |J_ij|, vectorized
    if rows.size:
        per_spin[rows] = np.minimum(per_spin[rows], np.minimum.reduceat(Js.data, Js.indptr[rows]))
    hot = np.log(2.0) / (2.0 * total.max()) if total.size and total.max() > 0 else 1.0
    finite = per_spin[np.isfinite(per_spin)]
    if not finite.size:
        return hot, hot
    low = finite.min()
    cold = np.log(np.sum(finite == low) / 0.01) / (2.0 * low)
    return float(hot), float(cold)


def beta_schedule(qubo: QUBO, num_sweeps: int, beta_range: Any, schedule: str = "geometric") -> np.ndarray:
    """One beta per sweep between ``beta_range`` (default ``default_beta_range``)."""
    num_sweeps = as_int(num_sweeps, "num_sweeps", low=1)
    if beta_range is None:
        beta_range = default_beta_range(qubo)
    if len(beta_range) != 2:
        raise ValueError(f"beta_range must be a pair (beta_hot, beta_cold), got {beta_range!r}")
    lo = as_real(beta_range[0], "beta_range[0]", low=0.0, low_open=True)
    hi = as_real(beta_range[1], "beta_range[1]", low=0.0, low_open=True)
    if schedule == "geometric":
        return np.geomspace(lo, hi, num_sweeps)
    if schedule == "linear":
        return np.linspace(lo, hi, num_sweeps)
    raise ValueError(f"beta_schedule_type must be 'geometric' or 'linear', got {schedule!r}")


def initial_states(qubo: QUBO, num_reads: int, rng: np.random.Generator, states: Any) -> np.ndarray:
    """Uniformly random bitstrings, or the caller's ``initial_states`` (copied, validated)."""
    n = qubo.num_variables
    if states is None:
        return rng.integers(0, 2, size=(num_reads, n), dtype=np.int8)
    X = np.array(states, dtype=np.int8, copy=True)
    if X.ndim == 1:
        X = X[None, :]
    if X.shape[1] != n or not np.all((X == 0) | (X == 1)):
        raise ValueError(f"initial_states must be 0/1 rows of length {n}, got shape {X.shape}")
    if len(X) != num_reads:
        X = X[np.arange(num_reads) % len(X)]
    return X


def csr_arrays(qubo: QUBO) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr, indices, data, linear)`` of ``Q + Q^T`` and the linear part, as the numba kernels take them."""
    sym = qubo.symmetric_csr()
    return (
        sym.indptr.astype(np.int64),
        sym.indices.astype(np.int64),
        sym.data.astype(np.float64),
        np.ascontiguousarray(qubo.linear, dtype=np.float64),
    )


def rng_seeds(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` xorshift128+ states (two nonzero uint64 each) drawn from ``rng``."""
    s = rng.integers(1, 2**63 - 1, size=(count, 2), dtype=np.int64)
    return s.astype(np.uint64)
