"""The ``monotone`` comparison suite: every method of the family on the policeman-and-burglar game
(n = 100, the authors' step sizes scaled to n) and, in full mode, on the Ouyang-Xu
quadratic min-max and a8a logistic regression. Budgets are in epochs."""

from __future__ import annotations

import numpy as np

from problems.monotone import FiniteSumOperator, MatrixGame, QuadraticMinMax, logistic_operator_a8a

from ..compare import Comparison, Suite, compare
from .settings import official_options

METHOD_ORDER = ("eg", "eag", "popov", "fbf", "halpern", "vr-halpern", "vr-eg", "vr-forb", "inexact-halpern")


def run_official(
    problem: FiniteSumOperator,
    budget: float,
    *,
    seed: int | np.random.Generator = 0,
    methods: tuple[str, ...] = METHOD_ORDER,
    title: str = "monotone",
) -> Comparison:
    """Every method in ``methods`` on ``problem`` with its official options and ``budget`` epochs."""
    options = official_options(problem)
    return compare(
        {problem.name: problem}, {m: (m, options[m]) for m in methods}, budget=budget, tol=0.0, seed=seed, title=title
    )


def monotone_suite(quick: bool = True) -> Suite:
    """VR-Halpern, inexact Halpern and seven baselines on the PB game (and QP, a8a in full mode)."""

    def runner() -> Comparison:
        runs: list[tuple[FiniteSumOperator, int]] = [
            (MatrixGame.policeman_burglar(100, seed=1), 1000 if quick else 3000)
        ]
        if not quick:
            runs += [(QuadraticMinMax(200), 5000), (logistic_operator_a8a(1e-3), 300)]
        records = []
        for problem, budget in runs:
            methods = (
                METHOD_ORDER if not problem.name.startswith("logistic") else ("eg", "eag", "halpern", "vr-halpern")
            )
            records += run_official(problem, budget, methods=methods).records
        return Comparison(
            records,
            title="monotone",
            notes="Residual ||z - J(z - F(z))|| against epochs (component evaluations / n); "
            "official step sizes of the authors' scripts.",
        )

    return Suite(name="monotone", description=(monotone_suite.__doc__ or "").split("\n")[0], runner=runner)
