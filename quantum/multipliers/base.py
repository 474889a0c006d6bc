"""The shared machinery of the multiplier methods: the sampled oracle, the incumbent, the bound.

Each iteration samples ``H(.; lam, rho)`` with the inner sampler; its best sample ``x^`` gives the
dual estimate ``theta^ = H(x^)`` and the subgradient ``s = g(x^)``, and ``problem.repair`` of the
best samples gives the incumbent ``UB``. A bound ``LB`` is kept only from an exact minimum of a
Lagrangian: the ``Exact`` sampler, or the closed form of a separable QUBO (see ``docs/qubo.md``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optim.base import Solver, State
from optim.result import STATUS_MESSAGES, Result
from problems.binary import ConstrainedBinary
from problems.validation import as_choice, as_int, as_real

from ..encodings import LagrangianModel
from ..samplers import QAOA, VQE, Exact, ParallelTempering, SimulatedAnnealing, Tabu
from ..samplers.base import Sampler, SampleSet

REPAIR_MEMORY = 1 << 16  # distinct samples remembered as already repaired (per run)

SAMPLERS: dict[str, Any] = {
    "exact": Exact,
    "simulated-annealing": SimulatedAnnealing,
    "parallel-tempering": ParallelTempering,
    "tabu": Tabu,
    "qaoa": QAOA,
    "vqe": VQE,
}


def as_sampler(sampler: Any) -> Any:
    """A sampler from an instance, a name, a dimod sampler or None (automatic choice)."""
    if sampler is None or isinstance(sampler, Sampler):
        return sampler
    if isinstance(sampler, str):
        return SAMPLERS[as_choice(sampler, "sampler", sorted(SAMPLERS))]()
    if hasattr(sampler, "sample"):
        return sampler  # a dimod sampler
    raise TypeError(
        f"sampler must be a quantum sampler, a dimod sampler or one of {sorted(SAMPLERS)}, got {type(sampler).__name__}"
    )


class MultiplierMethod(Solver):
    """Base class of the multiplier methods (the method table is in ``quantum.multipliers``).

    Parameters
    ----------
    sampler : inner oracle: a sampler instance, a name (``"exact"``, ``"simulated-annealing"``, ...)
        or None for automatic (``Exact`` when the QUBO is separable or has <= 16 bits,
        ``SimulatedAnnealing`` otherwise)
    sampler_options : keyword arguments of every ``sampler.sample`` call (``num_reads``, ``num_sweeps``...);
        heuristic samplers get ``num_reads=32`` unless told otherwise
    rho : weight of the squared violations (0: plain Lagrangian)
    multipliers : starting multipliers (scalar or one per row)
    relaxation : "auto", "linear" or "product" (see ``LagrangianModel``)
    t0 : base step (default ``0.1 F / m``)
    repair_top : how many of the best distinct samples are repaired per oracle call
    """

    requires = (ConstrainedBinary,)
    error_name = (
        "certified primal-dual gap (UB - LB) / max(1, |UB|) (with a heuristic sampler and no bound: "
        "the uncertified estimate |UB - theta^| / max(1, |UB|))"
    )
    default_max_iter = 50
    default_tol = 1e-6

    def __init__(
        self,
        sampler: Any = None,
        sampler_options: dict | None = None,
        rho: float | None = 0.0,
        multipliers: Any = None,
        relaxation: str = "auto",
        t0: float | None = None,
        repair_top: int = 10,
        **options: Any,
    ) -> None:
        options.setdefault("tol", self.default_tol)
        super().__init__(**options)
        self.sampler = as_sampler(sampler)
        if sampler_options is not None and not isinstance(sampler_options, dict):
            raise TypeError(f"sampler_options must be a dict, got {type(sampler_options).__name__}")
        self.sampler_options = dict(sampler_options or {})
        if isinstance(self.sampler, Sampler) or self.sampler is None:
            choices = [self.sampler] if self.sampler is not None else [Exact(), SimulatedAnnealing()]
            known = {"num_reads"}.union(*(c.parameters for c in choices))
            bad = [k for k in self.sampler_options if k not in known]
            if bad:
                raise ValueError(
                    f"sampler_options has no parameter {bad[0]!r}; the sampler takes {', '.join(sorted(known))}"
                )
        self.rho0 = None if rho is None else as_real(rho, "rho", low=0.0)
        self.multipliers0 = multipliers
        self.relaxation = as_choice(relaxation, "relaxation", ["auto", "linear", "product"])
        self.t0 = None if t0 is None else as_real(t0, "t0", low=0.0, low_open=True)
        self.repair_top = as_int(repair_top, "repair_top", low=0)

    # ------------------------------------------------------------------ the oracle
    def _sampler_for(self, state: State) -> Any:
        if self.sampler is not None:
            return self.sampler
        separable = (
            state.model.f_upper.nnz == 0
            and (state.rho == 0 or state.model.rho_upper.nnz == 0)
            and state.model.relaxation == "linear"
        )
        return Exact() if separable or state.model.n <= 16 else SimulatedAnnealing()

    def oracle(self, problem: Any, state: State, lam: np.ndarray) -> dict:
        """Sample ``H(.; lam, rho)``; update the incumbent (repairing the best ``repair_top`` samples not
        repaired before in this run) and the certified bound; return ``x^``, ``theta^``, ``s``, samples."""
        model = state.model
        qubo = model.qubo(lam, state.rho)
        sampler = self._sampler_for(state)
        options = dict(self.sampler_options)
        if self.sampler is None:  # automatic choice: pass it only the options it takes
            options = {k: v for k, v in options.items() if k == "num_reads" or k in sampler.parameters}
        if not isinstance(sampler, Exact):
            options.setdefault("num_reads", 32)
        if isinstance(sampler, Sampler):
            ss = sampler.sample(qubo, seed=state.rng, **options)
        else:  # dimod sampler
            ds = sampler.sample(qubo.to_dimod(), seed=int(state.rng.integers(2**31)), **options)
            rec = ds.record
            order = [ds.variables.index(v) for v in range(qubo.num_variables)]
            ss = SampleSet(rec.sample[:, order], qubo.energies(rec.sample[:, order]), rec.num_occurrences)
        problem.counts.add("qubo_solves")
        # a bound needs the exact minimum of H: from the exact sampler, or in closed form when separable
        if qubo.num_interactions == 0:  # non-zero couplings: stored zeros do not couple anything
            exact_min = qubo.offset + float(np.minimum(qubo.linear, 0.0).sum())
        elif isinstance(sampler, Exact):
            exact_min = float(ss.energies[0])
        else:
            exact_min = None
        if exact_min is not None:
            state.lower = max(state.lower, exact_min - model.bound_offset(state.rho))
        if state.rho > 0 and model.plain_is_separable:  # the plain Lagrangian at lam: a bound in closed form
            plain = model.qubo(lam, 0.0)
            state.lower = max(state.lower, plain.offset + float(np.minimum(plain.linear, 0.0).sum()))
        X = ss.samples[:, : model.n]
        G = model.violations(X)
        tol = 1e-9
        feasible = np.where(model.is_inequality, G <= tol, np.abs(G) <= tol).all(axis=1)
        costs = model.costs(X)
        state.feasible_rate = float(ss.num_occurrences[feasible].sum() / ss.num_occurrences.sum())
        for k in np.flatnonzero(feasible):
            state.raw_ub = min(state.raw_ub, float(costs[k]))
            self._offer(problem, state, X[k], costs[k], True)
        for x in X[: self.repair_top]:
            key = np.asarray(x, dtype=np.int8).tobytes()
            if key in state.repaired:  # repair is a function of x: offering it again changes nothing
                continue
            if len(state.repaired) < REPAIR_MEMORY:
                state.repaired.add(key)
            xr = problem.repair(x)
            ok = problem.is_feasible(xr)
            self._offer(problem, state, xr, problem.cost(xr) if ok else None, ok)
        if state.x_best is None:
            self._offer(problem, state, X[0], None, False)
        state.exact_oracle = exact_min is not None
        state.certified = math.isfinite(state.lower)
        return {"x": X[0], "theta": float(ss.energies[0]), "s": G[0], "samples": ss, "violations": G}

    def _offer(self, problem: Any, state: State, x: np.ndarray, cost: float | None, feasible: bool) -> None:
        if feasible:
            if cost < state.ub - 1e-12 or not state.has_feasible:
                state.ub, state.x_best, state.has_feasible = float(cost or 0.0), np.array(x, dtype=np.int8), True
        elif not state.has_feasible:
            cons_v = problem.optimality(x)
            if state.x_best is None or cons_v < state.infeasibility:
                state.x_best, state.infeasibility = np.array(x, dtype=np.int8), cons_v

    def _observe(self, problem: Any, state: State, lam: np.ndarray) -> dict:
        """Oracle at ``lam`` plus the dual bookkeeping; returns the oracle's output."""
        out = self.oracle(problem, state, lam)
        state.theta = out["theta"]
        state.s = out["s"]
        if out["theta"] > state.theta_best:
            state.theta_best = out["theta"]
            state.lam_best = np.array(lam)
            state.stall = 0
        else:
            state.stall += 1
        state.x = state.x_best
        return out

    # ------------------------------------------------------------------ loop hooks
    def default_rho(self, model: LagrangianModel) -> float:
        """The squared-penalty weight when ``rho`` is not given (0: plain Lagrangian)."""
        return 0.0

    def init(self, problem: Any, x0: Any = None) -> State:
        """Build the Lagrangian model, call the oracle at the starting multipliers, set the step scale."""
        model = LagrangianModel(problem, self.relaxation)
        rng = self.new_rng()
        if self.multipliers0 is None:
            lam = model.multipliers(0.5 if model.relaxation == "product" else 0.0)
        else:
            lam = model.multipliers(self.multipliers0)
        rho = self.default_rho(model) if self.rho0 is None else self.rho0
        scale = model.objective_scale if model.objective_scale > 0 else float(model.n)
        t0 = self.t0 if self.t0 is not None else 0.1 * scale / max(model.m, 1)
        state = State(
            model=model,
            rng=rng,
            lam=lam,
            lam0=lam.copy(),
            rho=rho,
            t0=t0,
            k=0,
            step_size=math.nan,
            theta=-math.inf,
            theta_best=-math.inf,
            lam_best=lam.copy(),
            stall=0,
            ub=math.inf,
            lower=-math.inf,
            x_best=None,
            has_feasible=False,
            raw_ub=math.inf,
            infeasibility=math.inf,
            feasible_rate=0.0,
            certified=False,
            exact_oracle=False,
            certificate=math.inf,
            x=None,
            repaired=set(),
        )
        self._observe(problem, state, lam)
        if self.t0 is None and state.has_feasible and np.any(state.s):
            # a Polyak step at lam0 sets the scale when it is larger than 0.1 F / m
            state.t0 = max(t0, (state.ub - state.theta) / float(state.s @ state.s))
        self.setup(problem, state)
        return state

    def setup(self, problem: Any, state: State) -> None:
        """Method-specific initialisation after the first oracle call."""

    def project(self, state: State, lam: np.ndarray) -> np.ndarray:
        """``Pi``: inequality multipliers onto ``lam >= 0``, equality multipliers free."""
        return np.where(state.model.is_inequality, np.maximum(lam, 0.0), lam)

    # ------------------------------------------------------------------ stopping error
    def certified_gap(self, state: State) -> float:
        """``(UB - LB) / max(1, |UB|)`` from the best feasible cost and the best valid bound (NaN if
        either is missing). A negative value means an invalid bound: it raises, never clamped."""
        if not (state.has_feasible and state.certified):
            return math.nan
        gap = (state.ub - state.lower) / max(1.0, abs(state.ub))
        if gap < -1e-9:
            raise RuntimeError(
                f"{self.name}: the bound {state.lower:.10g} exceeds the feasible cost {state.ub:.10g} "
                f"(minimisation form); the bound is invalid"
            )
        return gap

    def dual_residual(self, state: State) -> float:
        """The method's own dual-convergence measure (cutting plane and bundle: the model's predicted
        increase, meaningful with an exact oracle); ``inf`` when the method has none."""
        return state.certificate if state.exact_oracle else math.inf

    def _errors(self, problem: Any, state: State) -> dict:
        if not state.has_feasible:
            return {"kind": "infeasibility", "value": float(problem.optimality(state.x))}
        gap = self.certified_gap(state)
        if not math.isnan(gap):
            dual = self.dual_residual(state)
            if dual < gap:
                return {"kind": "dual", "value": dual, "gap": gap}
            return {"kind": "gap", "value": gap, "gap": gap}
        estimate = abs(state.ub - state.theta_best) / max(1.0, abs(state.ub))
        return {"kind": "estimate", "value": estimate}

    def optimality(self, problem: Any, state: State) -> float:
        """Certified primal-dual gap; the method's dual residual when smaller (dual converged);
        without a bound the uncertified gap estimate ``|UB - theta^_best|``; without a feasible
        point the incumbent's scaled violation (plus 1, so that it never reads as converged)."""
        err = self._errors(problem, state)
        return err["value"] + (1.0 if err["kind"] == "infeasibility" else 0.0)

    def is_finite(self, state: State) -> bool:
        return bool(np.all(np.isfinite(state.lam)))

    def _in_sense(self, problem: Any, value: float) -> float:
        """A minimisation-form value in the problem's own sense (NaN stays NaN)."""
        return -value if problem.sense == "max" else value

    def dual_bound(self, problem: Any, state: State) -> float:
        """The best valid bound in the problem's own sense (upper for max, lower for min), NaN if none."""
        return self._in_sense(problem, state.lower) if state.certified else math.nan

    def report(self, problem: Any, state: State) -> dict:
        """Reporting column ``gap``: best feasible value against the known optimum (NaN if unknown)."""
        if not state.has_feasible:
            return {"gap": math.nan}
        return {"gap": problem.gap(self._in_sense(problem, state.ub))}

    def extra_history(self, problem: Any, state: State) -> dict:
        best = self._in_sense(problem, state.ub) if state.has_feasible else math.nan
        raw = self._in_sense(problem, state.raw_ub) if math.isfinite(state.raw_ub) else math.nan
        out = {
            "dual_bound": self.dual_bound(problem, state),
            "dual_value": self._in_sense(problem, state.theta),
            "best_feasible": best,
            "best_raw_feasible": raw,
            "certified_gap": self.certified_gap(state),
            "qubits": state.model.n,
            "feasible_rate": state.feasible_rate,
            "step": state.step_size,
            "rho": state.rho,
            "multiplier_norm": float(np.linalg.norm(state.lam)),
        }
        if not hasattr(Solver, "report"):  # before the loop records reporting columns itself
            out.update(self.report(problem, state))
        return out

    def _message(self, problem: Any, state: State, status: str) -> str:
        err = self._errors(problem, state)
        gap = err.get("gap", math.nan)
        gap_text = f"certified primal-dual gap {gap:.3g}" if not math.isnan(gap) else "no valid bound"
        if status == "dual_converged":
            return (
                f"dual converged: {self.name} model's predicted increase {err['value']:.3g} <= tol "
                f"{self.tol:g}; {gap_text} (relative; {100 * gap:.3g} %): not certified optimal"
            )
        if status == "converged":
            if err["kind"] == "gap":
                return f"converged: certified primal-dual gap {err['value']:.3g} <= tol {self.tol:g}"
            if err["kind"] == "dual":
                return (
                    f"dual converged: {self.name} model's predicted increase {err['value']:.3g} <= tol "
                    f"{self.tol:g}; {gap_text} (relative; {100 * gap:.3g} %)"
                )
            return (
                f"converged: uncertified duality-gap estimate {err['value']:.3g} <= tol {self.tol:g} "
                f"(heuristic sampler: no valid bound)"
            )
        if err["kind"] == "infeasibility":
            return f"{STATUS_MESSAGES.get(status, status)}; the incumbent's violation is {err['value']:.3g}"
        extra = gap_text if err["kind"] != "estimate" else "no valid bound (heuristic sampler)"
        return f"{STATUS_MESSAGES.get(status, status)}; {extra}"

    def make_result(
        self, problem: Any, state: State, *, status: str, nit: int, clock: Any, values: dict, history: Any
    ) -> Result:
        if not state.has_feasible and status != "diverged":
            status = "infeasible"
        elif status == "converged" and self._errors(problem, state)["kind"] == "dual":
            status = "dual_converged"  # the multipliers settled; the answer is not certified optimal
        res = super().make_result(problem, state, status=status, nit=nit, clock=clock, values=values, history=history)
        res.update(
            message=self._message(problem, state, status),
            dual_bound=self.dual_bound(problem, state),
            dual_estimate=self._in_sense(problem, state.theta_best),
            certified_gap=self.certified_gap(state),
            multipliers=state.lam_best.copy(),
            rho=state.rho,
            certified=state.certified,
            qubits=state.model.n,
            feasible=state.has_feasible,
            best_raw=self._in_sense(problem, state.raw_ub) if math.isfinite(state.raw_ub) else math.nan,
        )
        res.setdefault("report", self.report(problem, state))
        return res
