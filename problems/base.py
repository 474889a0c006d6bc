"""The problem interface: oracle counting, capability protocols and the ``Problem`` base class.

A problem is a plain object holding validated data and oracle methods. Solvers only call oracles;
the problem counts each call in ``problem.counts`` so that comparisons report work in the unit the
theory uses. Each problem names that unit in ``work_unit`` and returns the amount spent so far from
``work`` (e.g. gradient evaluations for the smooth learning problems, epochs = component evaluations
/ n for finite sums).

Oracle names are settled here, once, for every family:

=====================  ==========================================================================
capability             oracles
=====================  ==========================================================================
``Smooth``             ``value(x)``, ``grad(x)``, ``lipschitz`` (a global Lipschitz constant of grad)
``Composite``          ``Smooth`` plus ``reg_value(x)`` and ``prox(x, step)`` of the separable term
``Objective``          ``objective(x)``: the whole quantity minimised (smooth + non-smooth part)
``HasReference``       ``reference_solution()`` -> (x*, F*), an independent optimum
=====================  ==========================================================================

Families add theirs (``BlockSmooth``, ``FiniteSumOperator``, ``LinearSystemSequence``,
``TrainingProblem``, ``ConstrainedBinary``, ...) as ``Capability`` objects next to their problems.
"""

from __future__ import annotations

import contextlib
import functools
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


class Counts(Counter):
    """Oracle-call counter: ``counts["grad"]`` is the number of gradient evaluations so far.

    ``reset()`` zeroes it; inside ``with counts.paused():`` nothing is counted (used by solvers to
    evaluate the optimality measure for the history without charging it, as the papers do).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._paused = 0

    def reset(self) -> None:
        self.clear()

    @contextlib.contextmanager
    def paused(self):
        self._paused += 1
        try:
            yield self
        finally:
            self._paused -= 1

    def add(self, oracle: str, amount: float = 1) -> None:
        if not self._paused:
            # typeshed declares Counter values as int; Counter documents any number as a valid count
            # (fractional counts are how partial oracle calls are charged)
            self[oracle] += amount  # type: ignore[assignment]

    def as_dict(self) -> dict:
        return {k: (int(v) if float(v).is_integer() else float(v)) for k, v in sorted(self.items())}


def counted(oracle: str, amount: str | None = None):
    """Decorator for oracle methods: each call adds 1 (or ``getattr(self, amount)``) to ``counts[oracle]``."""

    def wrap(method):
        @functools.wraps(method)
        def inner(self, *args, **kwargs):
            self.counts.add(oracle, 1 if amount is None else getattr(self, amount))
            return method(self, *args, **kwargs)

        return inner

    return wrap


# ---------------------------------------------------------------------------- typing protocols
@runtime_checkable
class SmoothProblem(Protocol):
    """``value(x)``, ``grad(x)`` and a global Lipschitz constant ``lipschitz`` of the gradient."""

    lipschitz: float

    def value(self, x: Any) -> float: ...

    def grad(self, x: Any) -> Any: ...


@runtime_checkable
class CompositeProblem(SmoothProblem, Protocol):
    """A smooth part plus a separable term with ``prox(x, step)`` and ``reg_value(x)``."""

    def prox(self, x: Any, step: float) -> Any: ...

    def reg_value(self, x: Any) -> float: ...


@runtime_checkable
class ObjectiveProblem(Protocol):
    """``objective(x)``: the whole quantity minimised."""

    def objective(self, x: Any) -> float: ...


@runtime_checkable
class ReferenceProblem(Protocol):
    """``reference_solution() -> (x*, F*)``, an independent optimum."""

    def reference_solution(self) -> tuple[Any, float]: ...


@dataclass(frozen=True)
class Capability:
    """A duck-typed protocol: the attributes a solver needs from a problem.

    ``require(problem, cap)`` raises a ``TypeError`` naming what is missing. For static checkers the
    core capabilities have ``typing.Protocol`` twins above (``SmoothProblem``, ``CompositeProblem``,
    ``ObjectiveProblem``, ``ReferenceProblem``; runtime-checkable, they agree with ``satisfied_by``).
    """

    name: str
    attributes: tuple[str, ...]
    description: str = ""

    def missing(self, problem) -> list[str]:
        return [a for a in self.attributes if not hasattr(problem, a)]

    def satisfied_by(self, problem) -> bool:
        return not self.missing(problem)


Smooth = Capability("Smooth", ("value", "grad", "lipschitz"), "smooth objective with a gradient")
Composite = Capability(
    "Composite",
    ("value", "grad", "lipschitz", "prox", "reg_value"),
    "smooth part plus a separable term with a prox",
)
Objective = Capability("Objective", ("objective",), "a scalar objective to minimise")
HasReference = Capability("HasReference", ("reference_solution",), "an independent reference optimum")


def require(problem, *capabilities: Capability, solver: str = "this solver") -> None:
    """Raise ``TypeError`` naming the first capability ``problem`` lacks (and which oracles)."""
    for cap in capabilities:
        missing = cap.missing(problem)
        if missing:
            raise TypeError(
                f"{solver} needs a {cap.name} problem ({cap.description}); "
                f"{type(problem).__name__} lacks {', '.join(missing)}"
            )


class Problem:
    """Base class: owns ``counts`` and the work unit; subclasses add oracles and ``optimality``.

    Not an ``abc.ABC``: landed code builds problems without ``optimality`` to test capability
    checks (a solver refuses them before calling it); calling the base ``optimality`` raises.

    Two numbers are kept apart (``docs/conventions.md``):

    * ``optimality(x) -> float`` (required) is the **stopping error**: one non-negative number,
      zero exactly at a solution, computed from ``x`` and the problem's own data only (a KKT or
      prox-gradient residual, a fixed-point residual, a certified gap). Never a gap to a reference or
      known optimum, never a test metric. Solvers stop on it (``tol``).
    * ``report(x) -> dict[str, float]`` (optional) gives **reporting columns** that need outside
      knowledge: ``"gap"`` (relative, non-negative suboptimality against a reference or known
      optimum), the error against a known truth, a test loss or accuracy. Solvers record them in the
      history and never stop on them unless the caller passes ``target``.

    Oracle calls are counted in ``counts``; ``work`` is the amount spent in ``work_unit``.
    """

    #: the counted oracle that measures work for budgets and plots
    work_unit: str = "grad"
    #: a short human-readable label (used by tables and plots)
    name: str = "problem"

    def __init__(self):
        self.counts = Counts()

    @property
    def work(self) -> float:
        """Work spent so far in ``work_unit`` (override for derived units such as epochs)."""
        return float(self.counts[self.work_unit])

    def initial_point(self):
        """Default starting point: zeros of length ``dim`` (override where zero is not admissible)."""
        return np.zeros(self.dim)

    def optimality(self, x) -> float:
        """The stopping error at ``x`` (own data only; 0 exactly at a solution)."""
        raise NotImplementedError(f"{type(self).__name__} does not define optimality(x), its stopping error")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"
