"""The one solver loop every numpy-side family shares (in the style of jaxopt's ``IterativeSolver``).

A solver is a small object of hyper-parameters with two methods of its own::

    state = solver.init(problem, x0)      # explicit state: iterate, estimators, rng
    state = solver.step(problem, state)   # one iteration

and ``Solver.solve`` supplies the rest: capability checks, the stopping rules, the history, a tqdm
progress bar, and the NaN/inf guard that ends a run with status ``"diverged"`` and the last finite
iterate.

Two numbers are kept apart (see ``docs/conventions.md``):

* the **stopping error** ``Solver.optimality(problem, state)`` (default ``problem.optimality(x)``):
  what the solver knows from its own iterate and the problem's own data (a KKT or prox-gradient
  residual, a fixed-point residual, a certified gap). The run ends ``"converged"`` when it is
  ``<= tol``; the solver's ``error_name`` says in words what it is.
* **reporting columns** ``Solver.report(problem, state)`` (default ``problem.report(x)`` when the
  problem has one): quantities that need outside knowledge (the gap to a reference optimum, the error
  against a known truth, a test metric). They are recorded in the history and the last values are in
  ``result.report``; a run stops on them only when the caller passes ``target``.

Stopping rules, in the order they are tested: ``tol`` on the stopping error (status
``"converged"``), the caller's ``target`` (``"target"``), ``max_iter``, an oracle ``budget`` in the
problem's ``work_unit``, ``time_limit``, and the ``callback`` (``"callback"``).

Stopping errors, objectives and reporting columns for the history are evaluated with the problem's
counter paused (the papers do not charge them) and their time is excluded from the run's clock.
Coordinate and stochastic methods set ``check_every`` so that evaluating the stopping error, an
O(whole problem) computation, does not swamp their O(block) steps.
"""

from __future__ import annotations

import abc
import inspect
import math
import time
import types

import numpy as np

from problems.base import Capability, Smooth, require
from problems.validation import as_generator, as_int, as_real, as_vector

from .result import History, Result


class State(types.SimpleNamespace):
    """Mutable bag of a run's state; ``x`` is the iterate reported to the user."""


class Solver(abc.ABC):
    """Base class (abstract). Subclasses set ``name``, ``requires`` and ``error_name`` and implement
    ``init`` and ``step``.

    ``error_name`` names the stopping error in words (``"prox-gradient residual"``,
    ``"fixed-point residual ||x - T(x)||"``, ``"certified duality gap"``); the ``"converged"``
    message reads ``"converged: <error_name> <value> <= tol <tol>"``. Override ``optimality`` where
    the stopping error needs the solver's state (a dual gap, inner iterates) and ``report`` for
    solver-side reporting columns. Stopping on outside knowledge happens only through ``target``.
    The parameters below are common to every solver.

    Parameters
    ----------
    tol : stop with status ``"converged"`` when the stopping error is ``<= tol`` (default 1e-8)
    target : the caller's target: a float ``v`` means ``{"fun": v}``; a dict maps history columns
        (``"fun"``, ``"optimality"``, a reporting column such as ``"gap"``, or a solver column) to
        values; the run stops with status ``"target"`` once every named column is ``<=`` its value.
        A column the run does not record, or records only as NaN (``"optimality"`` of a solver
        without a stopping error, ``"fun"`` without an objective), is a ``ValueError`` at the start
    max_iter : iteration cap
    budget : oracle budget in the problem's ``work_unit`` (e.g. gradient evaluations, epochs)
    time_limit : seconds
    callback : ``callback(info)`` with ``info`` an intermediate ``Result``-like dict; returning
        True or raising ``StopIteration`` ends the run with status ``"callback"``
    seed : int, None or ``numpy.random.Generator`` for every random choice of the run
    verbose : True shows a progress bar at once, False never, None after 3 seconds
    check_every : evaluate optimality/record history every this many iterations
    """

    name: str = "solver"
    #: the stopping error in words, for the "converged" message
    error_name: str = "optimality measure"
    requires: tuple[Capability, ...] = (Smooth,)
    default_check_every: int = 1
    #: False for runs without a stopping error (an online pass over a sequence): ``tol`` is then not
    #: tested, ``optimality`` is recorded as NaN, and the run ends on its iteration cap or a target
    has_stopping_error: bool = True
    default_max_iter: int = 1000

    def __init__(
        self,
        *,
        tol=1e-8,
        max_iter=None,
        budget=None,
        time_limit=None,
        callback=None,
        seed=None,
        verbose=None,
        check_every=None,
        target=None,
    ):
        self.tol = as_real(tol, "tol", low=0.0)
        self.target = as_target(target)
        self.max_iter = as_int(self.default_max_iter if max_iter is None else max_iter, "max_iter", low=0)
        self.budget = None if budget is None else as_real(budget, "budget", low=0.0, low_open=True)
        self.time_limit = None if time_limit is None else as_real(time_limit, "time_limit", low=0.0, low_open=True)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        self.callback = callback
        as_generator(seed)  # validate now, not mid-run
        self.seed = seed
        if verbose not in (None, True, False):
            raise TypeError(f"verbose must be True, False or None, got {verbose!r}")
        self.verbose = verbose
        self.check_every = as_int(
            self.default_check_every if check_every is None else check_every, "check_every", low=1
        )

    # ------------------------------------------------------------------ to implement
    @abc.abstractmethod
    def init(self, problem, x0=None) -> State:  # pragma: no cover - interface
        """The state before the first iteration (validated ``x0`` or the problem's initial point)."""

    @abc.abstractmethod
    def step(self, problem, state: State) -> State:  # pragma: no cover - interface
        """One iteration: the next state."""

    # ------------------------------------------------------------------ hooks
    def iteration_cap(self, problem, state: State) -> int:
        """The number of iterations this run may take, known once ``init`` has built ``state``
        (``max_iter``; an online pass over ``T`` instances or a pruning plan of k steps also stops after
        the last one). Must not change the solver."""
        return self.max_iter

    def check(self, problem) -> None:
        """Raise ``TypeError`` if ``problem`` lacks a capability this solver needs."""
        require(problem, *self.requires, solver=f"{type(self).__name__} ({self.name!r})")

    @classmethod
    def accepts(cls, problem) -> bool:
        return all(cap.satisfied_by(problem) for cap in cls.requires)

    def initial_point(self, problem, x0):
        """A private float64 copy of ``x0`` (validated against ``problem.dim``), or the problem's default."""
        if x0 is None:
            return np.array(problem.initial_point(), dtype=float)
        return as_vector(x0, "x0", size=getattr(problem, "dim", None))

    def new_rng(self) -> np.random.Generator:
        return as_generator(self.seed)

    def optimality(self, problem, state: State) -> float:
        """The stopping measure; override to use quantities the state already holds."""
        return float(problem.optimality(state.x))

    def report(self, problem, state: State) -> dict:
        """Reporting columns (outside knowledge: gap to a reference, test metric); never used for stopping
        unless the caller names them in ``target``. Default: ``problem.report(state.x)`` if it exists."""
        fn = getattr(problem, "report", None)
        return dict(fn(state.x)) if callable(fn) else {}

    def objective(self, problem, state: State) -> float:
        fn = getattr(problem, "objective", None)
        return float(fn(state.x)) if fn is not None else math.nan

    def extra_history(self, problem, state: State) -> dict:
        """Solver-specific history columns (step sizes, multipliers, ...)."""
        return {}

    def is_finite(self, state: State) -> bool:
        return bool(np.all(np.isfinite(state.x)))

    def copy_iterate(self, x):
        return np.array(x, copy=True)

    # ------------------------------------------------------------------ the loop
    def solve(self, problem, x0=None) -> Result:
        """Run from ``x0`` until a stopping rule fires; returns a ``Result``. Resets ``problem.counts``."""
        self.check(problem)
        problem.counts.reset()
        history = History()
        clock = _Clock()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            state = self.init(problem, x0)
            cap = self.iteration_cap(problem, state)
            if not self.is_finite(state):
                raise ValueError("x0 must be finite")
            nit, status = 0, None
            good = self._evaluate(problem, state, clock)
            if good is None:
                raise ValueError("the stopping error or objective is not finite at x0")
            last_good = (self.copy_iterate(state.x), good)
            row = self._record(history, problem, state, nit, clock, good)
            self._check_target_columns(problem, row)
            bar = _progress(self, problem, cap)
            try:
                while status is None:
                    status = self._stop_reason(problem, nit, clock, row, cap)
                    if status is not None:
                        break
                    state = self.step(problem, state)
                    nit += 1
                    if (
                        nit % self.check_every
                        and nit < cap
                        and not self._out_of_budget(problem)
                        and not self._out_of_time(clock)
                    ):
                        continue  # a run never stops on an iterate it has not checked
                    finite = self.is_finite(state)
                    good = self._evaluate(problem, state, clock) if finite else None
                    if good is None:
                        status = "diverged"
                        break
                    last_good = (self.copy_iterate(state.x), good)
                    row = self._record(history, problem, state, nit, clock, good)
                    bar.update(nit - bar.n)
                    bar.set_postfix(optimality=f"{good['optimality']:.2e}", refresh=False)
                    if self._callback_stops(problem, state, nit, clock, row):
                        status = "callback"
            finally:
                bar.close()
        x, good = last_good
        if status == "diverged":
            state.x = x
        return self.make_result(problem, state, status=status, nit=nit, clock=clock, values=good, history=history)

    def make_result(self, problem, state, *, status, nit, clock, values, history) -> Result:
        counts = problem.counts.as_dict()
        counts["work"] = problem.work
        return Result(
            x=state.x,
            fun=values["fun"],
            optimality=values["optimality"],
            status=status,
            message=self.stop_message(status, {**history.last(), **values}),
            report={k: values[k] for k in values if k not in ("fun", "optimality")},
            nit=nit,
            counts=counts,
            time=clock.elapsed(),
            work_unit=getattr(problem, "work_unit", "work"),
            history=history.as_arrays(),
            method=self.name,
            problem=getattr(problem, "name", type(problem).__name__),
        )

    def stop_message(self, status: str | None, values: dict) -> str | None:
        """The ``Result.message`` for ``status``: what converged or which target was met (None: the
        status's standard sentence)."""
        if status == "converged":
            return f"converged: {self.error_name} {values['optimality']:.3g} <= tol {self.tol:.3g}"
        if status == "target" and self.target:
            met = ", ".join(f"{k} {_g(values.get(k, math.nan))} <= {_g(v)}" for k, v in self.target.items())
            return f"target reached: {met}"
        return None

    # ------------------------------------------------------------------ internals
    def _evaluate(self, problem, state, clock) -> dict | None:
        """Stopping error, objective and reporting columns (uncharged, off the clock); None if not finite."""
        with clock.paused(), problem.counts.paused():
            try:
                error = self.optimality(problem, state) if self.has_stopping_error else math.nan
                values = {"optimality": error, "fun": self.objective(problem, state)}
            except (FloatingPointError, OverflowError, ValueError):
                return None
            has_objective = hasattr(problem, "objective")
            if (self.has_stopping_error and not math.isfinite(values["optimality"])) or (
                has_objective and not math.isfinite(values["fun"])
            ):
                return None
            for key, value in self.report(problem, state).items():
                if key not in values:
                    values[key] = _number(value)
        return values

    def _record(self, history, problem, state, nit, clock, values) -> dict:
        with clock.paused(), problem.counts.paused():
            extra = self.extra_history(problem, state)
        row = {"nit": nit, "work": problem.work, "time": clock.elapsed(), **values, **extra}
        history.record(**row)
        return row

    def never_reported(self, problem) -> dict[str, str]:
        """Columns recorded for every run but NaN on every check of a run on ``problem``, with why:
        ``optimality`` without a stopping error, ``fun`` when neither the solver nor the problem has an
        objective. A target naming one could never be met."""
        out = {}
        if not self.has_stopping_error:
            out["optimality"] = f"{type(self).__name__} has no stopping error"
        if type(self).objective is Solver.objective and not hasattr(problem, "objective"):
            out["fun"] = f"{type(problem).__name__} has no objective(x)"
        return out

    def _check_target_columns(self, problem, row: dict) -> None:
        """``ValueError`` for a target column this run does not record (not in the first row) or
        records only as NaN (``never_reported``): such a target could never stop the run."""
        missing = [k for k in self.target if k not in row]
        if missing:
            raise ValueError(
                f"target names column {missing[0]!r}, which this run does not record; columns: {', '.join(sorted(row))}"
            )
        never = self.never_reported(problem)
        named = [k for k in self.target if k in never]
        if named:
            usable = ", ".join(sorted(k for k in row if k not in never))
            raise ValueError(
                f"target names column {named[0]!r}, which is NaN on every check of this run "
                f"({never[named[0]]}), so the target could never be met; columns with values: {usable}"
            )

    def _out_of_budget(self, problem) -> bool:
        return self.budget is not None and problem.work >= self.budget

    def _target_met(self, row: dict) -> bool:
        return bool(self.target) and all(_number(row.get(k, math.nan)) <= v for k, v in self.target.items())

    def _stop_reason(self, problem, nit, clock, values, cap) -> str | None:
        if self.has_stopping_error and values["optimality"] <= self.tol:
            return "converged"
        if self._target_met(values):
            return "target"
        if nit >= cap:
            return "max_iter"
        if self._out_of_budget(problem):
            return "budget"
        if self._out_of_time(clock):
            return "time_limit"
        return None

    def _out_of_time(self, clock) -> bool:
        return self.time_limit is not None and clock.elapsed() >= self.time_limit

    def _callback_stops(self, problem, state, nit, clock, values) -> bool:
        if self.callback is None:
            return False
        info = Result(
            x=state.x,
            nit=nit,
            status="max_iter",
            message="intermediate result",
            time=clock.elapsed(),
            **{k: v for k, v in values.items() if k not in ("nit", "time", "x", "status", "message", "success")},
        )
        try:
            return bool(self.callback(info))
        except StopIteration:
            return True

    @classmethod
    def option_names(cls) -> list[str]:
        """Every keyword the constructor accepts (its own and the common ones)."""
        names = set()
        for klass in cls.__mro__:
            init = vars(klass).get("__init__")
            if init is not None:
                sig = inspect.signature(init)
                names |= {
                    p.name
                    for p in sig.parameters.values()
                    if p.kind == p.KEYWORD_ONLY or (p.kind == p.POSITIONAL_OR_KEYWORD and p.name != "self")
                }
        return sorted(names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, tol={self.tol}, max_iter={self.max_iter})"


def as_target(target) -> dict[str, float]:
    """Validate the ``target`` option: None -> {}, a number ``v`` -> ``{"fun": v}``, a dict of column -> number."""
    if target is None:
        return {}
    if isinstance(target, dict):
        if not target:
            raise ValueError("target must name at least one column, got an empty dict")
        out = {}
        for key, value in target.items():
            if not isinstance(key, str):
                raise TypeError(f"target keys must be column names (str), got {key!r}")
            out[key] = as_real(value, f"target[{key!r}]")
        return out
    if isinstance(target, bool) or not isinstance(target, (int, float, np.integer, np.floating)):
        raise TypeError(f"target must be a number (a target objective) or a dict column -> value, got {target!r}")
    return {"fun": as_real(target, "target")}


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _g(value) -> str:
    return f"{value:.7g}" if isinstance(value, (int, float)) else str(value)


class _Clock:
    """Wall clock that can exclude bookkeeping (optimality evaluations) from a run's time."""

    def __init__(self):
        self._start = time.perf_counter()
        self._excluded = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self._start - self._excluded

    def paused(self):
        clock = self

        class _Pause:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                clock._excluded += time.perf_counter() - self.t
                return False

        return _Pause()


def _progress(solver, problem, cap):
    """A tqdm bar over iterations; without a meaningful cap (a run limited by its budget or time) it
    counts iterations without a total."""
    from tqdm import tqdm

    return tqdm(
        total=cap if cap < 10**8 else None,
        desc=f"{solver.name} on {getattr(problem, 'name', 'problem')}",
        disable=solver.verbose is False,
        delay=0 if solver.verbose else 3.0,
        leave=False,
    )
