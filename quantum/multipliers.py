"""Multiplier methods for slack-free Lagrangian QUBOs, as solvers under the common loop
(Sharma and Lau, "Cutting Slack", arXiv 2507.12159; spec ``qubo_lagrangian.md`` section 4).

Model: ``min f(x)`` s.t. ``g_j(x) <= 0`` (j in I) and ``g_j(x) = 0`` (j in E), ``x`` binary, and

    H(x; lam, rho) = f(x) + sum_j lam_j g_j(x) + (rho/2) sum_j g_j(x)^2,    theta(lam) = min_x H(x; lam, rho).

Each iteration calls the inner *oracle*: the QUBO ``H(.; lam, rho)`` goes to a sampler (pluggable:
``Exact``, ``SimulatedAnnealing``, ``ParallelTempering``, ``Tabu``, ``QAOA``, ``VQE``, or any
dimod sampler); its best sample ``x^`` gives the dual estimate ``theta^ = H(x^)``, the subgradient
``s = g(x^)``, and, after ``problem.repair`` of the best samples, the incumbent ``UB``. Multipliers
are projected by ``Pi``: ``lam_I >= 0``, ``lam_E`` free.

=========================  ===========================================================================
method                     update
=========================  ===========================================================================
``subgradient``            ``lam+ = Pi(lam + t_k s)``; ``step`` "diminishing" ``t0/sqrt(k+1)`` (default),
                           "constant", "harmonic" ``t0/(k+1)``, or "polyak" ``eta (UB - theta^)/||s||^2``
                           (eta0 = 2, halved after 20 iterations without a better dual value, >= 1e-6;
                           the spec says 5 and 1e-3, which stalled at 1 % on mknap1-1)
``stochastic-subgradient`` the same with ``s`` from one sample drawn with probability proportional to
                           its count (or on a random half of the rows); returns the average of the
                           second half of the multipliers, evaluated at the end
``dual-averaging``         ``S += s``; ``lam+ = Pi(lam0 + S / (gamma sqrt(k+1)))``, ``gamma = 1/(3 t0)``
                           (Nesterov, "Primal-dual subgradient methods", Math. Program. 2009)
``cutting-plane``          Kelley: ``lam+ = argmax_{z, lam in box} z`` s.t. ``z <= theta^_i + s_i.(lam - lam_i)``
                           (HiGHS LP; at most 100 cuts, oldest non-binding dropped)
``bundle``                 proximal bundle: ``max z - ||lam - c||^2/(2t)`` over the cuts (cvxpy QP);
                           serious step when the gain is >= 0.1 of the predicted one (``t`` doubles),
                           null step otherwise (``t`` halves); ``t`` in ``[t0/100, 100 t0]``
``augmented-lagrangian``   ``lam+ = Pi(lam + rho g(x^))``; ``rho`` doubles when the violation did not
                           fall below a quarter of the previous one (``rho <= 1e3 rho0``); the QUBO
                           keeps the untruncated square (= unbalanced penalisation), not the
                           textbook ``max(0, lam/rho + g)^2`` that is not quadratic in ``x``
=========================  ===========================================================================

Defaults (spec section 4, [R]): ``t0 = max(0.1 F / m, (UB_0 - theta^_0) / ||s_0||^2)`` with
``F = sum |l_i| + sum |U_ij|`` the objective scale and ``m`` the number of rows: the spec's
``0.1 F / m`` is raised to the Polyak step at ``lam0`` when that is larger (with the spec's value
alone the diminishing rule ended 7.6 % above the LP bound on pet2 after 300 iterations, because
the optimal multipliers there are ~50 t0); ``rho0 = 0.05 F / m`` for the augmented Lagrangian;
``lam0 = 0`` (0.5 per edge in the MIS product form). No stall rule ("10 iterations without
improvement") is applied: runs end on ``tol``, ``max_iter``, ``budget`` or ``time_limit``.

Cost of an iteration: ``repair`` is a function of the bitstring (spec section 6), so a sample
that was already repaired in this run is not repaired again (re-offering it cannot change the
incumbent; up to ``REPAIR_MEMORY`` distinct samples are remembered). With the exact oracle the
diminishing-step methods oscillate among few samples, so long runs then cost ~45 us an iteration
on the MDKP files when the loop's ``check_every`` (e.g. 100) skips the history between checks;
that is what lets them reach 1e-3 of the LP bound in their 12000-iteration budget (tests).

The dual value is a certified bound only with an exact oracle (``Exact``); with a heuristic
sampler ``theta^`` can overestimate ``theta`` and cutting-plane/bundle cuts can be invalid, so
the best feasible point is tracked separately. ``optimality`` is the certified relative duality
gap ``(UB - theta_best) / max(1, |UB|)`` (cutting plane and bundle also accept their own
certificate, the master's predicted increase) with an exact oracle; with a heuristic sampler it is
``problem.optimality`` of the incumbent (the gap to the known optimum) when the optimum is known,
and the absolute value of the uncertified duality gap otherwise. The history records
``dual_bound``, ``dual_value``, ``best_feasible``, ``gap`` (relative, to the known optimum),
``best_raw_feasible`` (best sample that was feasible before repair), ``qubits``, ``feasible_rate``
(raw samples), ``step``, ``rho`` and the multipliers' norm; ``Result`` adds ``dual_bound``,
``multipliers``, ``rho``, ``certified``, ``qubits``, ``feasible`` and ``best_raw`` (NaN if no raw
sample was feasible).
"""

from __future__ import annotations

import math

import numpy as np

from optim.base import Solver, State
from optim.result import STATUS_MESSAGES, Result
from problems.binary import ConstrainedBinary
from problems.validation import as_choice, as_int, as_real

from .encodings import LagrangianModel
from .samplers import QAOA, VQE, Exact, ParallelTempering, SimulatedAnnealing, Tabu
from .samplers.base import Sampler, SampleSet

REPAIR_MEMORY = 1 << 16  # distinct samples remembered as already repaired (per run)

SAMPLERS = {
    "exact": Exact,
    "simulated-annealing": SimulatedAnnealing,
    "parallel-tempering": ParallelTempering,
    "tabu": Tabu,
    "qaoa": QAOA,
    "vqe": VQE,
}


def _as_sampler(sampler):
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
    """Base class of the multiplier methods (see the module docstring).

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
        sampler=None,
        sampler_options=None,
        rho=0.0,
        multipliers=None,
        relaxation="auto",
        t0=None,
        repair_top=10,
        **options,
    ):
        options.setdefault("tol", self.default_tol)
        super().__init__(**options)
        self.sampler = _as_sampler(sampler)
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
    def _sampler_for(self, state):
        if self.sampler is not None:
            return self.sampler
        separable = (
            state.model.f_upper.nnz == 0
            and (state.rho == 0 or state.model.rho_upper.nnz == 0)
            and state.model.relaxation == "linear"
        )
        return Exact() if separable or state.model.n <= 16 else SimulatedAnnealing()

    def oracle(self, problem, state, lam) -> dict:
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
        if qubo.quadratic.nnz == 0:
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

    def _offer(self, problem, state, x, cost, feasible) -> None:
        if feasible:
            if cost < state.ub - 1e-12 or not state.has_feasible:
                state.ub, state.x_best, state.has_feasible = float(cost), np.array(x, dtype=np.int8), True
        elif not state.has_feasible:
            cons_v = problem.optimality(x)
            if state.x_best is None or cons_v < state.infeasibility:
                state.x_best, state.infeasibility = np.array(x, dtype=np.int8), cons_v

    def _observe(self, problem, state, lam) -> dict:
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
    def default_rho(self, model) -> float:
        return 0.0

    def init(self, problem, x0=None):
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

    def setup(self, problem, state) -> None:
        """Method-specific initialisation after the first oracle call."""

    def project(self, state, lam) -> np.ndarray:
        return np.where(state.model.is_inequality, np.maximum(lam, 0.0), lam)

    # ------------------------------------------------------------------ stopping error
    def certified_gap(self, state) -> float:
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

    def dual_residual(self, state) -> float:
        """The method's own dual-convergence measure (cutting plane and bundle: the model's predicted
        increase, meaningful with an exact oracle); ``inf`` when the method has none."""
        return state.certificate if state.exact_oracle else math.inf

    def _errors(self, problem, state) -> dict:
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

    def optimality(self, problem, state) -> float:
        """Certified primal-dual gap; the method's dual residual when smaller (dual converged);
        without a bound the uncertified gap estimate ``|UB - theta^_best|``; without a feasible
        point the incumbent's scaled violation (plus 1, so that it never reads as converged)."""
        err = self._errors(problem, state)
        return err["value"] + (1.0 if err["kind"] == "infeasibility" else 0.0)

    def is_finite(self, state) -> bool:
        return bool(np.all(np.isfinite(state.lam)))

    def _in_sense(self, problem, value: float) -> float:
        """A minimisation-form value in the problem's own sense (NaN stays NaN)."""
        return -value if problem.sense == "max" else value

    def dual_bound(self, problem, state) -> float:
        """The best valid bound in the problem's own sense (upper for max, lower for min), NaN if none."""
        return self._in_sense(problem, state.lower) if state.certified else math.nan

    def report(self, problem, state) -> dict:
        """Reporting column ``gap``: best feasible value against the known optimum (NaN if unknown)."""
        if not state.has_feasible:
            return {"gap": math.nan}
        return {"gap": problem.gap(self._in_sense(problem, state.ub))}

    def extra_history(self, problem, state) -> dict:
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

    def _message(self, problem, state, status) -> str:
        err = self._errors(problem, state)
        gap = err.get("gap", math.nan)
        gap_text = f"certified primal-dual gap {gap:.3g}" if not math.isnan(gap) else "no valid bound"
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
            return f"{STATUS_MESSAGES[status]}; no feasible point found"
        extra = gap_text if err["kind"] != "estimate" else "no valid bound (heuristic sampler)"
        return f"{STATUS_MESSAGES[status]}; {extra}"

    def make_result(self, problem, state, *, status, nit, clock, values, history) -> Result:
        if not state.has_feasible and status != "diverged":
            status = "infeasible"
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


# ====================================================================== M1, M2, M3
class Subgradient(MultiplierMethod):
    """Projected subgradient ascent on the dual (dual ascent): ``lam+ = Pi(lam + t_k s)``.

    Example
    -------
    >>> import optim, problems
    >>> p = problems.MDKP.from_file(problems.instance_path("mdkp", "pet2.dat"))
    >>> r = optim.solve(p, method="subgradient", sampler="exact", step="polyak", max_iter=300, verbose=False)
    >>> abs(r.dual_bound - p.lp_bound()) / p.lp_bound() < 1e-3
    True
    """

    name = "subgradient"
    default_max_iter = 200

    def __init__(self, step="diminishing", eta=2.0, patience=20, eta_min=1e-6, **options):
        super().__init__(**options)
        self.step_rule = as_choice(step, "step", ["diminishing", "constant", "harmonic", "polyak"])
        self.eta0 = as_real(eta, "eta", low=0.0, high=2.0, low_open=True)
        self.patience = as_int(patience, "patience", low=1)
        self.eta_min = as_real(eta_min, "eta_min", low=0.0, low_open=True)

    def setup(self, problem, state):
        state.eta, state.eta_stall = self.eta0, 0

    def step_size(self, state, s) -> float:
        k, t0 = state.k, state.t0
        if self.step_rule == "polyak" and state.has_feasible:
            if state.stall == 0:
                state.eta_stall = 0
            else:
                state.eta_stall += 1
                if state.eta_stall >= self.patience:
                    state.eta, state.eta_stall = max(state.eta / 2.0, self.eta_min), 0
            return state.eta * max(state.ub - state.theta, 0.0) / max(float(s @ s), 1e-300)
        if self.step_rule == "constant":
            return t0
        if self.step_rule == "harmonic":
            return t0 / (k + 1)
        return t0 / math.sqrt(k + 1)

    def direction(self, problem, state) -> np.ndarray:
        return state.s

    def step(self, problem, state):
        s = self.direction(problem, state)
        t = self.step_size(state, s)
        state.step_size = t
        state.lam = self.project(state, state.lam + t * s)
        state.k += 1
        self._observe(problem, state, state.lam)
        return state


class StochasticSubgradient(Subgradient):
    """Stochastic subgradient: ``s`` from one sample drawn in proportion to its count
    (``noise="sample"``) or restricted to a random half of the rows (``noise="constraints"``);
    diminishing steps; the answer is the average of the second half of the multipliers."""

    name = "stochastic-subgradient"

    def __init__(self, noise="sample", **options):
        options.setdefault("step", "diminishing")
        super().__init__(**options)
        self.noise = as_choice(noise, "noise", ["sample", "constraints"])

    def setup(self, problem, state):
        super().setup(problem, state)
        state.lam_sum, state.lam_count = np.zeros_like(state.lam), 0

    def _observe(self, problem, state, lam):
        out = super()._observe(problem, state, lam)
        state.last = out
        return out

    def direction(self, problem, state):
        out = state.last
        if self.noise == "sample":
            counts = out["samples"].num_occurrences.astype(float)
            if len(counts) == 1:  # drawn with probability 1 (e.g. the exact oracle): no draw needed
                return out["violations"][0]
            k = state.rng.choice(len(counts), p=counts / counts.sum())
            return out["violations"][k]
        mask = np.zeros(state.model.m, bool)
        mask[state.rng.choice(state.model.m, size=math.ceil(state.model.m / 2), replace=False)] = True
        return np.where(mask, out["s"], 0.0)

    def step(self, problem, state):
        state = super().step(problem, state)
        if state.k >= self.max_iter / 2:
            state.lam_sum += state.lam
            state.lam_count += 1
        if state.k >= self.max_iter and state.lam_count:
            state.lam = state.lam_sum / state.lam_count
            self._observe(problem, state, state.lam)
        return state


class DualAveraging(Subgradient):
    """Nesterov's simple dual averaging: ``S += s``, ``lam+ = Pi(lam0 + S / (gamma sqrt(k+1)))``,
    ``gamma = 1 / (3 t0)`` by default."""

    name = "dual-averaging"

    def __init__(self, gamma=None, **options):
        super().__init__(**options)
        self.gamma = None if gamma is None else as_real(gamma, "gamma", low=0.0, low_open=True)

    def setup(self, problem, state):
        state.S = np.zeros_like(state.lam)
        state.gamma = self.gamma if self.gamma is not None else 1.0 / (3.0 * state.t0)

    def step(self, problem, state):
        state.S = state.S + state.s
        beta = state.gamma * math.sqrt(state.k + 1)
        state.step_size = 1.0 / beta
        state.lam = self.project(state, state.lam0 + state.S / beta)
        state.k += 1
        self._observe(problem, state, state.lam)
        return state


# ====================================================================== M4, M5
def _default_box(state, lam_max) -> float:
    if lam_max is not None:
        return lam_max
    model = state.model
    q = np.abs(model.f_linear)
    qmax = q.max() if q.size and q.max() > 0 else 1.0
    if model.f_upper.nnz:
        qmax = max(qmax, np.abs(model.f_upper.data).max())
    return 10.0 * qmax * float(model.scales.max())


class CuttingPlane(MultiplierMethod):
    """Kelley's cutting-plane method on the dual; the master LP is solved by HiGHS (``linprog``).

    Box ``0 <= lam_I <= lam_max``, ``|lam_E| <= lam_max`` (default ``10 max|l_i| max_j s_j``);
    certificate: ``(z* - theta_best) / max(1, |theta_best|)``; at most ``max_cuts`` (100) cuts.
    """

    name = "cutting-plane"
    error_name = (
        "certified primal-dual gap (UB - LB) / max(1, |UB|), or the model's predicted dual increase when "
        "smaller (dual converged)"
    )
    default_max_iter = 100

    def __init__(self, lam_max=None, max_cuts=100, **options):
        super().__init__(**options)
        self.lam_max = None if lam_max is None else as_real(lam_max, "lam_max", low=0.0, low_open=True)
        self.max_cuts = as_int(max_cuts, "max_cuts", low=2)

    def setup(self, problem, state):
        state.box = _default_box(state, self.lam_max)
        state.cuts = [(state.lam.copy(), state.theta, state.s.copy())]

    def _master(self, state):
        from scipy.optimize import linprog

        m = state.model.m
        lam_i = np.array([c[0] for c in state.cuts])
        th = np.array([c[1] for c in state.cuts])
        S = np.array([c[2] for c in state.cuts])
        A = np.hstack([np.ones((len(th), 1)), -S])  # z - s_i.lam <= theta_i - s_i.lam_i
        b = th - np.einsum("ij,ij->i", S, lam_i)
        lo = np.where(state.model.is_inequality, 0.0, -state.box)
        bounds = [(None, None)] + [(lo[j], state.box) for j in range(m)]
        res = linprog(np.r_[-1.0, np.zeros(m)], A_ub=A, b_ub=b, bounds=bounds, method="highs")
        if res.status != 0:
            raise RuntimeError(f"cutting-plane master LP failed: {res.message}")
        return res.x[0], res.x[1:], np.abs(res.ineqlin.marginals) > 1e-12

    def step(self, problem, state):
        z, lam, binding = self._master(state)
        state.certificate = max(0.0, (z - state.theta_best) / max(1.0, abs(state.theta_best)))
        if len(state.cuts) >= self.max_cuts:
            drop = next((i for i, b in enumerate(binding) if not b), 0)
            state.cuts.pop(drop)
        state.step_size = float(np.linalg.norm(lam - state.lam))
        state.lam = lam
        state.k += 1
        self._observe(problem, state, lam)
        state.cuts.append((lam.copy(), state.theta, state.s.copy()))
        return state


class Bundle(MultiplierMethod):
    """Proximal bundle method: ``max_{z, lam} z - ||lam - c||^2 / (2t)`` over the cuts (cvxpy, Clarabel);
    serious step if ``theta(lam+) - theta(c) >= m_L delta`` (``m_L = 0.1``), else null step;
    certificate ``delta / (1 + |theta(c)|)`` with ``delta = z* - theta(c)``; at most 50 cuts, a cut
    whose QP multiplier stayed 0 for 5 rounds is dropped."""

    name = "bundle"
    error_name = (
        "certified primal-dual gap (UB - LB) / max(1, |UB|), or the model's predicted dual increase when "
        "smaller (dual converged)"
    )
    default_max_iter = 100

    def __init__(self, t=None, descent=0.1, max_cuts=50, **options):
        super().__init__(**options)
        self.t_init = None if t is None else as_real(t, "t", low=0.0, low_open=True)
        self.descent = as_real(descent, "descent", low=0.0, high=1.0, low_open=True, high_open=True)
        self.max_cuts = as_int(max_cuts, "max_cuts", low=2)

    def setup(self, problem, state):
        state.center, state.theta_center = state.lam.copy(), state.theta
        state.t = self.t_init if self.t_init is not None else state.t0
        state.t_min, state.t_max = state.t / 100.0, 100.0 * state.t
        state.cuts = [[state.lam.copy(), state.theta, state.s.copy(), 0]]

    def _master(self, state):
        import cvxpy as cp

        m = state.model.m
        lam, z = cp.Variable(m), cp.Variable()
        lam_i = np.array([c[0] for c in state.cuts])
        th = np.array([c[1] for c in state.cuts])
        S = np.array([c[2] for c in state.cuts])
        cuts = [z <= th - np.einsum("ij,ij->i", S, lam_i) + S @ lam]
        cons = cuts + ([lam[np.flatnonzero(state.model.is_inequality)] >= 0] if state.model.is_inequality.any() else [])
        prob = cp.Problem(cp.Maximize(z - cp.sum_squares(lam - state.center) / (2.0 * state.t)), cons)
        solver = "CLARABEL" if "CLARABEL" in cp.installed_solvers() else None
        prob.solve(solver=solver)
        if lam.value is None:
            raise RuntimeError(f"bundle master QP failed: {prob.status}")
        return float(z.value), self.project(state, np.asarray(lam.value)), np.abs(cuts[0].dual_value) > 1e-9

    def step(self, problem, state):
        z, lam, active = self._master(state)
        delta = max(0.0, z - state.theta_center)
        state.certificate = delta / (1.0 + abs(state.theta_center))
        for cut, a in zip(state.cuts, active, strict=False):
            cut[3] = 0 if a else cut[3] + 1
        state.cuts = [c for c in state.cuts if c[3] < 5]
        if len(state.cuts) >= self.max_cuts:
            state.cuts.pop(int(np.argmax([c[3] for c in state.cuts])))
        state.step_size = state.t
        state.lam = lam
        state.k += 1
        self._observe(problem, state, lam)
        state.cuts.append([lam.copy(), state.theta, state.s.copy(), 0])
        if state.theta - state.theta_center >= self.descent * delta:
            state.center, state.theta_center = lam.copy(), state.theta
            state.t = min(2.0 * state.t, state.t_max)
        else:
            state.t = max(state.t / 2.0, state.t_min)
        return state


# ====================================================================== M6
class AugmentedLagrangian(MultiplierMethod):
    """Method of multipliers on the QUBO-compatible augmented Lagrangian:
    ``lam+ = Pi(lam + rho g(x^))``, ``rho <- min(growth rho, 1e3 rho0)`` when the violation
    ``||max(g_I, 0)|| + ||g_E||`` did not fall below ``0.25`` of the previous one.
    Default inner sampler: ``SimulatedAnnealing`` (the QUBO is quadratic once ``rho > 0``)."""

    name = "augmented-lagrangian"

    def __init__(self, rho=None, growth=2.0, rho_max=None, **options):
        super().__init__(rho=rho, **options)
        self.growth = as_real(growth, "growth", low=1.0)
        self.rho_max = None if rho_max is None else as_real(rho_max, "rho_max", low=0.0, low_open=True)

    def default_rho(self, model) -> float:
        scale = model.objective_scale if model.objective_scale > 0 else float(model.n)
        return 0.05 * scale / max(model.m, 1)

    def setup(self, problem, state):
        state.rho_cap = self.rho_max if self.rho_max is not None else 1e3 * max(state.rho, 1e-12)
        state.v_prev = math.inf

    def _violation(self, state, g) -> float:
        ineq = state.model.is_inequality
        return float(np.linalg.norm(np.maximum(g[ineq], 0.0)) + np.linalg.norm(g[~ineq]))

    def step(self, problem, state):
        g = state.s
        state.step_size = state.rho
        state.lam = self.project(state, state.lam + state.rho * g)
        v = self._violation(state, g)
        if v > 0.25 * state.v_prev:
            state.rho = min(self.growth * state.rho, state.rho_cap)
        state.v_prev = v
        state.k += 1
        self._observe(problem, state, state.lam)
        return state
