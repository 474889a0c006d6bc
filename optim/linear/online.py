"""Online tuning of omega over a sequence of linear systems, under the common solver loop.

One iteration of the loop is one instance: the tuner picks ``omega_t`` (seeing only the context),
the instance is solved with the sequence's method (SOR or SSOR-CG), the tuner is told the iteration
count. ``optim.solve(sequence, method="tsallis-inf", seed=0)`` returns a ``Result`` whose

* ``x`` is ``[omega]`` of the last instance, ``policy`` the learner with its final state,
* ``fun`` the total iterations, ``nit`` the instances solved; the status is "max_iter" with the
  message "sequence exhausted: ..." once every instance is solved (an online pass has no stopping
  error, so ``optimality`` is NaN and ``tol`` is not tested),
* ``history`` has per instance (row 0 is the start): ``omega``, ``iterations``, ``cumulative``
  (iterations so far), ``capped`` (1 if the solve hit the cap), ``context``, ``solve_time`` (solver
  seconds so far; the rest of ``time`` is the learner), and, when a cost table of the sequence is
  known (``table=``, or a replayed ``CostTable``), the reporting column ``regret`` (cumulative minus
  the best fixed grid omega's cumulative on the same prefix).

The problem is a live ``LinearSystemSequence`` (solves run here; a solution is sent back to the
sequence, which the heat equation uses as its next state) or a ``CostTable`` (replay by lookup).
A solve that overflows costs the cap ``max_iter`` (it produced no solution). See ``docs/sor.md``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from problems.base import Capability
from problems.linear_systems import LinearSystemSequence
from problems.validation import as_choice, as_int, as_interval

from ..base import Solver, State
from .policies import (
    BinnedTsallisINFPolicy,
    ChebCBPolicy,
    FixedPolicy,
    TsallisINFPolicy,
    as_grid,
    golden_section_omega,
)
from .solvers import CSRSystem, check_omega, rho_jacobi, young_omega
from .table import CostTable, charged_iterations, cost_table, solve_instance

OnlineCosts = Capability(
    "LinearSystemSequence or CostTable", ("T", "grid", "method"), "a sequence of linear systems (or its cost table)"
)


# ----------------------------------------------------------------------------- episodes
class _LiveEpisode:
    """Walks a live sequence: the current instance, solves that advance, trial solves that do not."""

    def __init__(self, sequence):
        self.seq = sequence
        self.gen = sequence.instances()
        self.t = 0
        self._load(next(self.gen))

    def _load(self, inst):
        A, self.b, self.x0, self.context = inst
        self.system = CSRSystem.trusted(A, np.ascontiguousarray(A.diagonal()))

    @property
    def done(self) -> bool:
        return self.t >= self.seq.T

    def cost(self, omega):
        res = solve_instance(self.seq, self.system, self.b, self.x0, omega)
        k = charged_iterations(res, self.seq.max_iter)
        self.seq.counts.add("iterations", k)
        self.t += 1
        try:
            self._load(self.gen.send(res.x))
        except StopIteration:
            pass
        return k

    def trial(self, omega) -> int:
        k = charged_iterations(solve_instance(self.seq, self.system, self.b, self.x0, omega), self.seq.max_iter)
        self.seq.counts.add("oracle_iterations", k)
        return k

    def young(self) -> float:
        radius = getattr(self.seq, "jacobi_radius", None)  # a sequence's cheaper exact formula
        return young_omega(radius(self.context) if radius is not None else rho_jacobi(self.system))


class _TableEpisode:
    """Walks a ``CostTable``: the same interface, by lookup."""

    def __init__(self, table: CostTable):
        self.table, self.t = table, 0

    @property
    def done(self) -> bool:
        return self.t >= self.table.T

    @property
    def context(self):
        return float(self.table.contexts[self.t])

    def _lookup(self, omega) -> int:
        t = self.t
        if omega is None:
            if "cg" not in self.table.extras:
                raise ValueError("this cost table has no plain-CG column; build it with extras=('cg',)")
            return int(self.table.extras["cg"][1][t])
        if "young" in self.table.extras and abs(self.table.extras["young"][0][t] - omega) <= 1e-12:
            return int(self.table.extras["young"][1][t])
        return int(self.table.costs[t, self.table.column(omega)])

    def cost(self, omega) -> int:
        k = self._lookup(omega)
        self.table.counts.add("iterations", k)
        self.t += 1
        return k

    def trial(self, omega) -> int:
        k = self._lookup(omega)
        self.table.counts.add("oracle_iterations", k)
        return k

    def young(self) -> float:
        if "young" not in self.table.extras:
            raise ValueError("this cost table has no Young column; build it with extras=('young',)")
        return float(self.table.extras["young"][0][self.t])


# ----------------------------------------------------------------------------- the loop
class OnlineTuner(Solver):
    """Base: one iteration = one instance; subclasses build the policy in ``make_policy``.

    An online pass has no stopping error (nothing converges: each instance is solved once), so
    ``tol`` is not tested and ``optimality`` is NaN. The run ends when the sequence is exhausted
    (status ``"max_iter"``, message ``"sequence exhausted: ..."``), at ``max_iter`` instances if the
    caller caps it, or on a ``budget``/``time_limit``/``target``/callback.

    ``table``: a ``CostTable`` of the same sequence (checked by fingerprint) and grid
    (``cost_table(sequence)``), built once by
    the caller and passed to any number of runs; with it the history reports ``regret`` (a reporting
    column: cumulative iterations minus the best fixed grid omega's on the same prefix, hindsight
    knowledge) and ``best-fixed-omega`` needs no solves of its own. Replaying a ``CostTable`` uses the
    table itself. Nothing is cached on the caller's sequence or table.
    """

    name = "online-tuner"
    error_name = "none (an online pass over a sequence has no stopping error)"
    has_stopping_error = False
    plot_kind = "online"
    requires = (OnlineCosts,)
    default_max_iter = 10**9  # the sequence's length ends the run

    def __init__(self, grid=None, table=None, **options):
        super().__init__(**options)
        self.grid = None if grid is None else as_grid(grid)
        if table is not None and not isinstance(table, CostTable):
            raise TypeError(f"table must be an optim.linear.CostTable (from cost_table), got {type(table).__name__}")
        self.table = table

    def iteration_cap(self, problem, state: State) -> int:
        return min(self.max_iter, int(problem.T))

    def check(self, problem) -> None:
        super().check(problem)
        if not (isinstance(problem, CostTable) or LinearSystemSequence.satisfied_by(problem)):
            raise TypeError(
                f"{type(self).__name__} needs a LinearSystemSequence or a CostTable, got {type(problem).__name__}"
            )

    def grid_for(self, problem) -> np.ndarray:
        return problem.grid if self.grid is None else self.grid

    def known_table(self, problem, grid) -> CostTable | None:
        """The cost table for regret: the replayed table itself, or the caller's ``table`` when it
        was built from this sequence (``CostTable.check_sequence``) on the run's grid (``ValueError``
        otherwise)."""
        if isinstance(problem, CostTable):
            return problem if np.array_equal(problem.grid, grid) else None
        table = self.table
        if table is None:
            return None
        if table.T != problem.T or not np.array_equal(table.grid, grid):
            raise ValueError(
                f"table does not match this run: it has T={table.T} and grid {table.grid.tolist()}, "
                f"the run has T={problem.T} and grid {np.asarray(grid).tolist()}"
            )
        table.check_sequence(problem)
        return table

    def make_policy(self, problem, grid, rng, table):  # pragma: no cover - interface
        raise NotImplementedError

    def init(self, problem, x0=None):
        if x0 is not None:
            raise ValueError("online tuners take no x0 (each instance brings its own start)")
        grid = self.grid_for(problem)
        episode = _TableEpisode(problem) if isinstance(problem, CostTable) else _LiveEpisode(problem)
        table = self.known_table(problem, grid)
        policy = self.make_policy(problem, grid, self.new_rng(), table)
        return State(
            x=np.array([1.0]),
            grid=grid,
            episode=episode,
            policy=policy,
            table=table,
            cum_table=np.zeros(grid.size),
            omega=math.nan,
            iterations=0,
            cumulative=0,
            capped=0,
            context=math.nan,
            solve_time=0.0,
        )

    def choose(self, state) -> float:
        return state.policy.predict(state.episode.context)

    def step(self, problem, state):
        ep = state.episode
        state.context = ep.context if ep.context is not None else math.nan
        omega = self.choose(state)
        t = ep.t
        start = time.perf_counter()
        k = ep.cost(omega)
        state.solve_time += time.perf_counter() - start
        state.policy.update(k)
        state.omega = math.nan if omega is None else float(omega)
        state.x = np.array([1.0 if omega is None else float(omega)])
        state.iterations, state.cumulative = k, state.cumulative + k
        state.capped = int(k >= problem.max_iter)
        if state.table is not None:
            state.cum_table += state.table.costs[t]
        return state

    def objective(self, problem, state) -> float:
        return float(state.cumulative)

    def report(self, problem, state) -> dict:
        if state.table is None:
            return {}
        return {"regret": float(state.cumulative - state.cum_table.min())}

    def extra_history(self, problem, state) -> dict:
        return {
            "omega": state.omega,
            "iterations": state.iterations,
            "cumulative": state.cumulative,
            "capped": state.capped,
            "context": state.context,
            "solve_time": state.solve_time,
        }

    def make_result(self, problem, state, **kwargs):
        result = super().make_result(problem, state, **kwargs)
        result["policy"] = state.policy
        result["total_iterations"] = int(state.cumulative)
        if result.status == "max_iter" and state.episode.done:
            result["message"] = (
                f"sequence exhausted: all {problem.T} instances solved, {int(state.cumulative)} solver "
                "iterations in total (an online pass has no stopping error)"
            )
        return result


def _context_interval(problem, interval):
    """The learner's context interval: given, else the sequence's own, else [min, max] of contexts."""
    if interval is not None:
        return as_interval(interval, "interval")
    if hasattr(problem, "context_interval"):
        a, b = problem.context_interval()
    else:
        c = np.asarray(problem.contexts, dtype=float)
        a, b = float(c.min()), float(c.max())
    if not a < b:
        raise ValueError(f"the context interval must have a < b, got ({a}, {b}); pass interval=(a, b)")
    return a, b


# ----------------------------------------------------------------------------- the tuners
class TsallisINF(OnlineTuner):
    """Tsallis-INF bandit over the omega grid (Khodak et al. 2024, Sec. 3; ``docs/sor.md``).

    ``variant="final"`` (official final code, default) or ``"v1"`` (arXiv v1: fixed
    ``eta = 1/sqrt(T)``, loss ``(cost - 1)/100``, grid ``linspace(1, 1.9, floor((2T)^(1/3)))``);
    ``newton_init="safe"`` (the corrected normaliser, default) or ``"code"`` (the official x = -1,
    20 Newton steps). See ``optim.linear.policies.TsallisINFPolicy`` for the update.
    """

    name = "tsallis-inf"

    def __init__(self, variant="final", newton_init="safe", **options):
        super().__init__(**options)
        self.variant = as_choice(variant, "variant", ("final", "v1"))
        self.newton_init = as_choice(newton_init, "newton_init", ("safe", "code"))

    def grid_for(self, problem):
        if self.grid is None and self.variant == "v1":
            return np.round(np.linspace(1.0, 1.9, int(math.floor((2 * problem.T) ** (1 / 3)))), 10)
        return super().grid_for(problem)

    def make_policy(self, problem, grid, rng, table):
        return TsallisINFPolicy(grid, rng, variant=self.variant, newton_init=self.newton_init, horizon=problem.T)


class ContextualTsallisINF(TsallisINF):
    """Tsallis-INF-CB: one Tsallis-INF per context bin (``docs/sor.md``).

    ``bins`` equal bins of ``interval`` (default the sequence's context interval); the paper used
    5 bins on [-0.15, 0.65] for the shifted Laplacian and 6 for the heat equation."""

    name = "tsallis-inf-cb"

    def __init__(self, bins=5, interval=None, **options):
        super().__init__(**options)
        self.bins = as_int(bins, "bins", low=1)
        self.interval = interval

    def make_policy(self, problem, grid, rng, table):
        return BinnedTsallisINFPolicy(
            grid,
            rng,
            _context_interval(problem, self.interval),
            bins=self.bins,
            variant=self.variant,
            newton_init=self.newton_init,
            horizon=problem.T,
        )


class ChebCB(OnlineTuner):
    """ChebCB contextual bandit over the omega grid (Khodak et al. 2024, final official code; ``docs/sor.md``).

    Inverse-gap weighting over per-arm Chebyshev regressions of cost on the context; ``m`` basis
    functions (degrees 0..m-1), context ``interval`` (default the sequence's context interval),
    ``lipschitz_from`` "preallocated" (code semantics) or "observed"."""

    name = "chebcb"

    def __init__(self, m=6, interval=None, lipschitz_from="preallocated", **options):
        super().__init__(**options)
        self.m = as_int(m, "m", low=1)
        self.interval = interval
        self.lipschitz_from = as_choice(lipschitz_from, "lipschitz_from", ("preallocated", "observed"))

    def make_policy(self, problem, grid, rng, table):
        return ChebCBPolicy(
            grid,
            rng,
            problem.T,
            _context_interval(problem, self.interval),
            m=self.m,
            lipschitz_from=self.lipschitz_from,
        )


# ----------------------------------------------------------------------------- baselines
class FixedOmega(OnlineTuner):
    """The same omega on every instance (omega = 1: Gauss-Seidel, the untuned default)."""

    name = "fixed-omega"

    def __init__(self, omega=1.0, **options):
        super().__init__(**options)
        self.omega = check_omega(omega)

    def make_policy(self, problem, grid, rng, table):
        return FixedPolicy(self.omega)


class BestFixedOmega(OnlineTuner):
    """The best fixed grid omega in hindsight (an oracle; builds the cost table on a live sequence)."""

    name = "best-fixed-omega"

    def make_policy(self, problem, grid, rng, table):
        if table is None:  # a live sequence and no table from the caller: solve every (instance, omega)
            table = cost_table(problem, grid)
        return FixedPolicy(table.best_fixed()[0])


class InstanceOptimalOmega(OnlineTuner):
    """Per-instance optimal omega (an oracle) by rule "grid", "young" or "golden":

    * "grid": the grid omega with the fewest iterations on this instance;
    * "young": Young's ``omega* = 2/(1 + sqrt(1 - beta_t^2))`` from the Jacobi spectral radius
      (exact for consistently ordered matrices such as the 5-point Laplacian in natural order; a
      heuristic elsewhere);
    * "golden": the heat experiment's search: the 5 omegas {1.0, 1.3, 1.5, 1.75, 1.95}, then
      golden-section steps (ratio (sqrt 5 - 1)/2) on the bracket around the best, 12 solves in all;
      the midpoint of the smallest and largest omega attaining the minimum count.

    Trial solves are counted as ``oracle_iterations``, the chosen solve as ``iterations``.
    """

    name = "instance-optimal-omega"
    RULES = ("grid", "young", "golden")

    def __init__(self, rule="grid", **options):
        super().__init__(**options)
        self.rule = as_choice(rule, "rule", self.RULES)

    def make_policy(self, problem, grid, rng, table):
        return FixedPolicy(math.nan)  # nothing is learned; ``choose`` is the oracle

    def choose(self, state):
        ep = state.episode
        if self.rule == "young":
            return ep.young()
        if self.rule == "grid":
            costs = [ep.trial(w) for w in state.grid]
            return float(state.grid[int(np.argmin(costs))])
        return golden_section_omega(ep.trial)


class YoungOmega(InstanceOptimalOmega):
    """Young's omega per instance (``rule="young"`` of ``InstanceOptimalOmega``)."""

    name = "young-omega"

    def __init__(self, **options):
        super().__init__(rule="young", **options)


class PlainCG(OnlineTuner):
    """Unpreconditioned CG on every instance (the "vanilla CG" baseline; no omega)."""

    name = "plain-cg"

    def make_policy(self, problem, grid, rng, table):
        return FixedPolicy(math.nan)

    def choose(self, state):
        return None
