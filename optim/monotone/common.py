"""What every monotone-inclusion solver shares: the capability check, step-size arguments, the
default constants of the problem and the history columns (epochs, and the duality gap of games)."""

from __future__ import annotations

import math

import numpy as np

from problems.monotone import FiniteSum, FiniteSumOperator
from problems.validation import as_real

from ..base import Solver, State


def positive_or_none(value: float | None, name: str) -> float | None:
    """``None`` or a finite float > 0 (``ValueError`` naming ``name`` otherwise)."""
    if value is None:
        return None
    return as_real(value, name, low=0.0, low_open=True)


def as_probability(value: float | None, name: str, default: float | None = None) -> float | None:
    """``None`` (use ``default``) or a probability in (0, 1]."""
    if value is None:
        return default
    return as_real(value, name, low=0.0, high=1.0, low_open=True)


def constant(problem: FiniteSumOperator, *names) -> float:
    """The first known positive constant among ``names`` (e.g. "cocoercive_constant", "lipschitz")."""
    for name in names:
        value = getattr(problem, name, None)
        if value is not None and math.isfinite(value) and value > 0:
            return float(value)
    raise ValueError(
        f"{getattr(problem, 'name', 'the problem')} gives none of {', '.join(names)}; pass step=... explicitly"
    )


def anchor_weight(k: int, schedule: str = "official") -> float:
    """lambda_k of the Halpern methods: 2/(k + 4) (the VR-Halpern authors' code) or 1/(k + 2) (classical
    Halpern). Plain Python that numba also compiles (the VR-Halpern kernel calls it)."""
    return 2.0 / (k + 4) if schedule == "official" else 1.0 / (k + 2)


def snapshot_probability(k: int, n: int) -> float:
    """Probability of a full evaluation at iteration k of VR-Halpern (the authors' PAGE switch): 1 at
    k <= 1, 4/(k + 4) while k - 1 <= sqrt(n), 4/(sqrt(n) + 5) after. Compiled by the kernel as well."""
    if k <= 1:
        return 1.0
    if k - 1 <= math.sqrt(n):
        return 4.0 / (k + 4)
    return 4.0 / (math.sqrt(n) + 5)


#: the family's default work budget, in epochs (component evaluations / n), the same for every method
DEFAULT_EPOCHS = 20_000
#: the family's default tolerance on the natural residual
DEFAULT_TOL = 1e-6


class MonotoneSolver(Solver):
    """Base of the family: ``step`` (None = the method's safe default) times ``step_mult``.

    Every method of the family stops on the natural residual ||x - J_G(x - F(x))|| (``error_name``),
    by default at ``tol = 1e-6`` or after ``budget = 20,000`` epochs (component evaluations / n, the
    same unit for deterministic and stochastic methods); ``max_iter`` is unlimited by default.
    ``Result.fun`` is the duality gap for matrix games, the objective for problems that have one (the
    logistic loss, the saddle value of the quadratic min-max) and the natural residual otherwise.
    """

    requires = (FiniteSum,)
    default_max_iter = 10**12  # no iteration cap: the epoch budget bounds every run
    error_name = "natural residual ||x - J_G(x - F(x))||"

    def __init__(self, step: float | None = None, step_mult: float = 1.0, **options: object) -> None:
        options.setdefault("tol", DEFAULT_TOL)
        if options.get("budget") is None and options.get("max_iter") is None:
            options["budget"] = DEFAULT_EPOCHS
        super().__init__(**options)
        self.step_size = positive_or_none(step, "step")
        self.step_mult = as_real(step_mult, "step_mult", low=0.0, low_open=True)

    def objective(self, problem: FiniteSumOperator, state: State) -> float:
        """``Result.fun``: the duality gap (games), else the problem's objective, else the residual."""
        for name in ("duality_gap", "objective"):
            fn = getattr(problem, name, None)
            if fn is not None:
                return float(fn(state.x))
        return float(problem.optimality(state.x))

    def default_step(self, problem: FiniteSumOperator) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def resolve_step(self, problem: FiniteSumOperator) -> float:
        base = self.step_size if self.step_size is not None else self.default_step(problem)
        return self.step_mult * base

    def extra_history(self, problem: FiniteSumOperator, state: State) -> dict:
        extra = {"epochs": problem.work}
        gap = getattr(problem, "duality_gap", None)
        if gap is not None:
            extra["gap"] = gap(state.x)
        return extra


class StochasticSolver(MonotoneSolver):
    """Base of the stochastic methods: one iteration is a block of stochastic steps (``block_steps``),
    so the O(n) residual of a check is paid once per block, not once per O(1) step."""


def keep_unused(arrays: tuple[np.ndarray, ...], start: int, more: int) -> tuple[tuple[np.ndarray, ...], int]:
    """For draws generated ahead in chunks: new zeroed arrays with room for ``more`` rows after the rows of
    ``arrays`` from ``start`` on (drawn, not used yet), which are copied first. Returns (arrays, rows kept)."""
    left = arrays[0].shape[0] - start
    out = tuple(np.zeros((left + more, *a.shape[1:]), dtype=a.dtype) for a in arrays)
    for new, old in zip(out, arrays, strict=True):
        new[:left] = old[start:]
    return out, left
