"""The one solver loop every numpy-side family shares (in the style of jaxopt's ``IterativeSolver``).

A solver is a small object of hyper-parameters with two methods of its own::

    state = solver.init(problem, x0)      # explicit state: iterate, estimators, rng
    state = solver.step(problem, state)   # one iteration

and ``Solver.solve`` supplies the rest: capability checks, the stopping rules (``tol`` on the
problem's optimality measure, ``max_iter``, an oracle ``budget`` in the problem's ``work_unit``,
``time_limit``, ``callback``), the history, a tqdm progress bar, and the NaN/inf guard that ends a
run with status ``"diverged"`` and the last finite iterate.

Optimality and objective values for the history are evaluated with the problem's counter paused
(the papers do not charge them) and their time is excluded from the run's clock. Coordinate and
stochastic methods set ``check_every`` so that evaluating the optimality measure, an
O(whole problem) computation, does not swamp their O(block) steps.
"""

from __future__ import annotations

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


class Solver:
    """Base class. Subclasses set ``name`` and ``requires`` and implement ``init`` and ``step``.

    Parameters common to every solver
    ---------------------------------
    tol : stop when ``problem.optimality(x) <= tol`` (default 1e-8)
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
    requires: tuple[Capability, ...] = (Smooth,)
    default_check_every: int = 1
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
    ):
        self.tol = as_real(tol, "tol", low=0.0)
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
    def init(self, problem, x0=None) -> State:  # pragma: no cover - interface
        raise NotImplementedError

    def step(self, problem, state: State) -> State:  # pragma: no cover - interface
        raise NotImplementedError

    # ------------------------------------------------------------------ hooks
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
            if not self.is_finite(state):
                raise ValueError("x0 must be finite")
            nit, status = 0, None
            good = self._evaluate(problem, state, clock)
            if good is None:
                raise ValueError("the optimality measure or objective is not finite at x0")
            last_good = (self.copy_iterate(state.x), good)
            self._record(history, problem, state, nit, clock, good)
            bar = _progress(self, problem)
            try:
                while status is None:
                    status = self._stop_reason(problem, nit, clock, good)
                    if status is not None:
                        break
                    state = self.step(problem, state)
                    nit += 1
                    if nit % self.check_every and nit < self.max_iter and not self._out_of_budget(problem):
                        continue
                    finite = self.is_finite(state)
                    good = self._evaluate(problem, state, clock) if finite else None
                    if good is None:
                        status = "diverged"
                        break
                    last_good = (self.copy_iterate(state.x), good)
                    self._record(history, problem, state, nit, clock, good)
                    bar.update(nit - bar.n)
                    bar.set_postfix(optimality=f"{good['optimality']:.2e}", refresh=False)
                    if self._callback_stops(problem, state, nit, clock, good):
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
            nit=nit,
            counts=counts,
            time=clock.elapsed(),
            history=history.as_arrays(),
            method=self.name,
            problem=getattr(problem, "name", type(problem).__name__),
        )

    # ------------------------------------------------------------------ internals
    def _evaluate(self, problem, state, clock) -> dict | None:
        with clock.paused(), problem.counts.paused():
            try:
                values = {"optimality": self.optimality(problem, state), "fun": self.objective(problem, state)}
            except (FloatingPointError, OverflowError, ValueError):
                return None
        has_objective = hasattr(problem, "objective")
        if not math.isfinite(values["optimality"]) or (has_objective and not math.isfinite(values["fun"])):
            return None
        return values

    def _record(self, history, problem, state, nit, clock, values) -> None:
        with clock.paused(), problem.counts.paused():
            extra = self.extra_history(problem, state)
        history.record(nit=nit, work=problem.work, time=clock.elapsed(), **values, **extra)

    def _out_of_budget(self, problem) -> bool:
        return self.budget is not None and problem.work >= self.budget

    def _stop_reason(self, problem, nit, clock, values) -> str | None:
        if values["optimality"] <= self.tol:
            return "converged"
        if nit >= self.max_iter:
            return "max_iter"
        if self._out_of_budget(problem):
            return "budget"
        if self.time_limit is not None and clock.elapsed() >= self.time_limit:
            return "time_limit"
        return None

    def _callback_stops(self, problem, state, nit, clock, values) -> bool:
        if self.callback is None:
            return False
        info = Result(
            x=state.x,
            nit=nit,
            status="max_iter",
            message="intermediate result",
            time=clock.elapsed(),
            work=problem.work,
            **values,
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
            if "__init__" in vars(klass):
                sig = inspect.signature(klass.__init__)
                names |= {
                    p.name
                    for p in sig.parameters.values()
                    if p.kind == p.KEYWORD_ONLY or (p.kind == p.POSITIONAL_OR_KEYWORD and p.name != "self")
                }
        return sorted(names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, tol={self.tol}, max_iter={self.max_iter})"


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


def _progress(solver, problem):
    from tqdm import tqdm

    return tqdm(
        total=solver.max_iter,
        desc=f"{solver.name} on {getattr(problem, 'name', 'problem')}",
        disable=solver.verbose is False,
        delay=0 if solver.verbose else 3.0,
        leave=False,
    )
