"""The ``bilevel`` comparison suite: BSVRB v1/v2, the two ablations, RSVRB, SOBA, stocBiO and exact
hypergradient descent on the synthetic quadratic and the digits multi-task ridge problems (closed
forms, so the stopping error is the exact ||grad F||); the full mode adds the reduced a8a instance."""

from __future__ import annotations

from problems.bilevel import HyperparameterLogistic, MultiTaskRidge, QuadraticBilevel

from ..compare import Suite

METHODS = ("bsvrb-v1", "bsvrb-v2", "bsgd", "bsvrb-ma", "rsvrb", "soba", "stocbio", "hypergradient-descent")


def bilevel_suite(quick: bool = True) -> Suite:
    """Multi-block bilevel methods on closed-form problems, the same oracle-sample budget for all."""
    problems = {"quadratic-m20": QuadraticBilevel(m=20, seed=0), "ridge-digits": MultiTaskRidge.digits()}
    if not quick:
        problems["ho-a8a-reduced"] = HyperparameterLogistic.a8a("reduced")
    return Suite(
        name="bilevel",
        description="Multi-block bilevel methods on closed-form problems, the same oracle-sample budget for all.",
        problems=problems,
        methods={m: (m, {}) for m in METHODS},
        settings={"budget": 3e5 if quick else 3e6, "max_iter": 300 if quick else 3000, "tol": 1e-8},
    )
