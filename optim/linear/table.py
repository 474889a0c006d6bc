"""Cost tables: the iteration count of every (instance, omega) pair of a sequence, computed once.

When the instances do not depend on the learner's actions the cost is a deterministic function of
(instance, omega), so a T x |grid| table replays any number of learner runs by lookup.
For the heat sequence the state is advanced with exact solves; learners that feed back their own
1e-8-accurate solutions see the same instances up to that accuracy (the official oracles do the same).

``cost_table(sequence, grid, extras)`` builds a ``CostTable``; ``optim.solve(table, method=...)``
replays a tuner on it (``optim.linear.online``). Extras: ``"young"`` (Young's omega per instance from
the Jacobi spectral radius, and its cost) and ``"cg"`` (plain CG's count).
"""

from __future__ import annotations

import numpy as np

from problems.base import Problem
from problems.fingerprints import sequence_fingerprint
from problems.linear_systems import ShiftedSequence
from problems.validation import as_choice

from . import kernels
from .policies import as_grid
from .solvers import CSRSystem, pcg_solve, rho_jacobi, sor_solve, ssor_preconditioner, young_omega

EXTRAS = ("young", "cg")


class CostTable(Problem):
    """Iteration counts ``costs[t, j]`` of instance t at ``grid[j]``, with the contexts, for replays.

    ``extras[name] = (omegas or None, costs)``: per-instance columns at off-grid omegas (Young's) or
    without omega (plain CG). ``work`` counts replayed iterations like a live run would.
    ``fingerprint``: the ``sequence_fingerprint`` of the sequence the counts belong to (``cost_table``
    records it); a live run given this table for regret checks it against its own sequence.
    """

    work_unit = "iterations"

    def __init__(
        self,
        costs,
        grid,
        contexts,
        method,
        name="cost-table",
        extras=None,
        max_iter=10_000,
        interval=None,
        fingerprint: str | None = None,
    ):
        super().__init__()
        raw = np.asarray(costs)
        if not np.issubdtype(raw.dtype, np.number) or np.any(raw < 0) or np.any(raw != np.round(raw)):
            raise ValueError("costs must hold non-negative integer iteration counts")
        self.costs = raw.astype(np.int64)
        self.grid = as_grid(grid)
        if self.costs.ndim != 2 or self.costs.shape[1] != self.grid.size:
            raise ValueError(f"costs must be a (T, {self.grid.size}) array, got shape {self.costs.shape}")
        self.contexts = np.asarray(contexts, dtype=float)
        self.T = self.costs.shape[0]
        if self.contexts.shape != (self.T,):
            raise ValueError(f"contexts must have length T={self.T}, got shape {self.contexts.shape}")
        self.method = method
        self.name = name
        self.extras = dict(extras or {})
        self.max_iter = max_iter
        self.interval = interval
        self.fingerprint = fingerprint

    def check_sequence(self, sequence) -> None:
        """``ValueError`` unless this table was built from ``sequence`` (same instances and stopping
        rule, by ``sequence_fingerprint``): equal ``T`` and grid alone do not make the counts its."""
        if self.fingerprint is None:
            raise ValueError(
                "table records no sequence fingerprint, so its counts cannot be matched to this sequence; "
                "build it with optim.linear.cost_table(sequence) (or pass fingerprint=sequence_fingerprint(sequence))"
            )
        if self.fingerprint != sequence_fingerprint(sequence):
            raise ValueError(
                f"table was built from another sequence than {getattr(sequence, 'name', type(sequence).__name__)!r} "
                "(its systems, starts, contexts, method, rtol or max_iter differ); build it with "
                "optim.linear.cost_table(sequence)"
            )

    def context_interval(self) -> tuple[float, float]:
        """The sequence's context interval if it had one, else [min, max] of the contexts."""
        if self.interval is not None:
            return self.interval
        return float(self.contexts.min()), float(self.contexts.max())

    def table(self, grid=None) -> CostTable:
        if grid is not None and not np.array_equal(as_grid(grid), self.grid):
            raise ValueError("this cost table was built on another grid; build one for the new grid")
        return self

    def optimality(self, x) -> float:
        return float("nan")

    def totals(self) -> np.ndarray:
        """Total iterations of every fixed omega of the grid."""
        return self.costs.sum(axis=0)

    def best_fixed(self):
        """``(omega, total)`` of the best fixed grid omega in hindsight (first on ties)."""
        totals = self.totals()
        j = int(np.argmin(totals))
        return float(self.grid[j]), int(totals[j])

    def instance_optimal_total(self) -> int:
        """Total of the per-instance best grid omega (an oracle)."""
        return int(self.costs.min(axis=1).sum())

    def capped(self) -> int:
        """Number of table entries whose solve hit the iteration cap."""
        return int((self.costs >= self.max_iter).sum())

    def column(self, omega) -> int:
        j = np.flatnonzero(np.abs(self.grid - float(omega)) <= 1e-12)
        if j.size == 0:
            raise ValueError(f"omega={omega!r} is not on this cost table's grid {self.grid.tolist()}")
        return int(j[0])


def cost_table(sequence, grid=None, extras=(), verbose=False) -> CostTable:
    """Solve every instance of ``sequence`` at every omega of ``grid`` (default ``sequence.grid``)
    with the sequence's method; ``extras`` adds "young" and/or "cg" columns. The sequence is not
    modified; pass the table to online runs (``table=``) to report regret without solving again.
    A solve that overflows costs the cap ``sequence.max_iter``."""
    grid = as_grid(sequence.grid if grid is None else grid)
    extras = tuple(as_choice(e, "extras", EXTRAS) for e in extras)

    def charged(res) -> int:
        return charged_iterations(res, sequence.max_iter)

    if sequence.method == "sor" and isinstance(sequence, ShiftedSequence):
        costs = _shifted_sor_costs(sequence, grid)
    else:
        costs = None
    cols: dict[str, tuple[list[float], list[int]]] = {e: ([], []) for e in extras}
    rows = []
    if costs is None or extras:
        for _t, (A, b, x0, c) in enumerate(sequence.instances()):
            system = CSRSystem.trusted(A, np.ascontiguousarray(A.diagonal()))
            if costs is None:
                rows.append([charged(solve_instance(sequence, system, b, x0, w)) for w in grid])
            if "young" in extras:
                radius = getattr(sequence, "jacobi_radius", None)
                w = young_omega(radius(c) if radius is not None else rho_jacobi(system))
                cols["young"][0].append(w)
                cols["young"][1].append(charged(solve_instance(sequence, system, b, x0, w)))
            if "cg" in extras:
                cols["cg"][0].append(np.nan)
                cols["cg"][1].append(charged(solve_instance(sequence, system, b, x0, None)))
    if costs is None:
        costs = np.array(rows, dtype=np.int64).reshape(sequence.T, grid.size)
    table = CostTable(
        costs,
        grid,
        sequence.contexts,
        sequence.method,
        name=sequence.name,
        extras={e: (np.array(o), np.array(k, dtype=np.int64)) for e, (o, k) in cols.items()},
        max_iter=sequence.max_iter,
        interval=sequence.context_interval() if hasattr(sequence, "context_interval") else None,
        fingerprint=sequence_fingerprint(sequence),
    )
    return table


def charged_iterations(result, cap: int) -> int:
    """The iterations a solve costs a learner: its count, or the cap ``cap`` if it diverged (it
    produced no solution, so it must not look cheaper than a capped solve)."""
    return int(cap) if result.status == "diverged" else int(result.nit)


def solve_instance(sequence, system: CSRSystem, b, x0, omega):
    """One solve of an instance with the sequence's method, stopping rule and cap (``omega=None``:
    plain CG); ``x0`` is not modified."""
    x = np.array(x0, dtype=float)
    if omega is None:
        return pcg_solve(system, b, x, None, sequence.rtol, sequence.max_iter, "cg")
    if sequence.method == "sor":
        return sor_solve(system, b, x, float(omega), sequence.rtol, sequence.max_iter)
    return pcg_solve(
        system, b, x, ssor_preconditioner(system, float(omega)), sequence.rtol, sequence.max_iter, "ssor-cg"
    )


def _shifted_sor_costs(sequence: ShiftedSequence, grid) -> np.ndarray:
    """The batched kernel: every (instance, omega) SOR count of a shifted family, in parallel."""
    A = sequence.A
    return kernels.sor_counts_shifted(
        A.indptr,
        A.indices,
        A.data,
        np.ascontiguousarray(A.diagonal()),
        np.ascontiguousarray(sequence.shifts, dtype=float),
        sequence.right_hand_sides(),
        np.ascontiguousarray(grid, dtype=float),
        sequence.rtol,
        sequence.max_iter,
    )


__all__ = ["CostTable", "charged_iterations", "cost_table", "sequence_fingerprint", "solve_instance"]
