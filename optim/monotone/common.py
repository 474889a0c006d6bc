"""What every monotone-inclusion solver shares: the capability check, step-size arguments, the
default constants of the problem and the history columns (epochs, and the duality gap of games)."""

from __future__ import annotations

import math

from problems.monotone import FiniteSum
from problems.validation import as_real

from ..base import Solver


def positive_or_none(value, name):
    """``None`` or a finite float > 0 (``ValueError`` naming ``name`` otherwise)."""
    if value is None:
        return None
    return as_real(value, name, low=0.0, low_open=True)


def as_probability(value, name, default=None):
    """``None`` (use ``default``) or a probability in (0, 1]."""
    if value is None:
        return default
    return as_real(value, name, low=0.0, high=1.0, low_open=True)


def constant(problem, *names) -> float:
    """The first known positive constant among ``names`` (e.g. "cocoercive_constant", "lipschitz")."""
    for name in names:
        value = getattr(problem, name, None)
        if value is not None and math.isfinite(value) and value > 0:
            return float(value)
    raise ValueError(
        f"{getattr(problem, 'name', 'the problem')} gives none of {', '.join(names)}; pass step=... explicitly"
    )


class MonotoneSolver(Solver):
    """Base of the family: ``step`` (None = the method's safe default) times ``step_mult``."""

    requires = (FiniteSum,)
    default_max_iter = 10_000

    def __init__(self, step=None, step_mult=1.0, **options):
        super().__init__(**options)
        self.step_size = positive_or_none(step, "step")
        self.step_mult = as_real(step_mult, "step_mult", low=0.0, low_open=True)

    def default_step(self, problem) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def resolve_step(self, problem) -> float:
        base = self.step_size if self.step_size is not None else self.default_step(problem)
        return self.step_mult * base

    def extra_history(self, problem, state) -> dict:
        extra = {"epochs": problem.work}
        gap = getattr(problem, "duality_gap", None)
        if gap is not None:
            extra["gap"] = gap(state.x)
        return extra


class StochasticSolver(MonotoneSolver):
    """Adds ``check_every`` defaulting to about n stochastic steps (an O(n) residual per O(n) work)."""

    default_max_iter = 500_000

    def __init__(self, **options):
        self._check_every_given = options.get("check_every")
        super().__init__(**options)

    def set_check_every(self, problem, steps_per_epoch: float) -> None:
        if self._check_every_given is None:
            self.check_every = max(1, int(round(steps_per_epoch)))
