"""The settings of the authors' experiment scripts, as solver options for ``optim.solve``.

The authors' scripts tune step sizes beyond the theory (5/||A||_2 for EG and EAG, 5/||A||_F for
Alg. 1, 3 sqrt(p)/||A||_F for VR-EG, a 5x inner step for Alg. 2); the library's own defaults are the
safe theoretical ones, so comparisons that reproduce the paper pass these explicitly.
"""

from __future__ import annotations

import math
from typing import cast

from problems.monotone import FiniteSumOperator, LogisticOperator, MatrixGame, QuadraticMinMax


def official_options(problem: FiniteSumOperator) -> dict:
    """method name -> options of the official scripts for ``problem`` (a game, the QP or logistic).

    Popov, FBF and VR-FoRB do not appear in the official scripts. For games Popov gets half of EG's
    tuned step (its stability bound 1/(2L) is half of EG's 1/L), FBF its theory step 0.99/L_F (EG's
    5/L_F diverges: FBF's x+ is not projected) and VR-FoRB the inner step of Alg. 2 without the anchor.
    """
    n = problem.n
    p = 1.0 / n
    if isinstance(problem, MatrixGame):
        op, fro = cast(float, problem.lipschitz), problem.frobenius  # always set for a game
        return {
            "eg": {"step": 5 / op},
            "eag": {"step": 5 / op},
            "popov": {"step": 2.5 / op},
            "fbf": {"step": 0.99 / op},
            "halpern": {"step": 5 / fro},
            "vr-halpern": {"step": 5 / fro, "batch_size": math.isqrt(n)},
            "vr-eg": {"step": 3 * math.sqrt(p) / fro},
            "vr-forb": {"step": 5 * math.sqrt(p * (1 - p)) / fro},
            "inexact-halpern": {
                "step": math.sqrt(n) / fro,
                "inner_step": 5 * math.sqrt(p * (1 - p)) / (math.sqrt(n) + 1),
                "snapshot": "anchor",
            },
        }
    if isinstance(problem, QuadraticMinMax):
        return {
            "eg": {"step": 0.5},
            "eag": {"step": 0.3},
            "popov": {"step": 0.25},
            "fbf": {"step": 0.5},
            "halpern": {"step": 0.3},
            "vr-halpern": {"step": 0.3, "batch_size": math.isqrt(n)},
            "vr-eg": {"step": 0.01},
            "vr-forb": {"step": 1e-3},
            "inexact-halpern": {
                "step": math.sqrt(n),
                "inner_step": 1e-3,
                "inner_scale": 10.0 / n,
                "snapshot": "anchor",
            },
        }
    if isinstance(problem, LogisticOperator):
        LF = cast(float, problem.lipschitz)  # always set for logistic regression
        return {
            "halpern": {"step": 1 / LF},
            "vr-halpern": {"step": 1 / LF, "batch_size": math.isqrt(n)},
            "eg": {"step": 0.99 / LF},
            "eag": {"step": 1 / (8 * LF)},
            "popov": {"step": 1 / (3 * LF)},
            "fbf": {"step": 0.99 / LF},
            "vr-eg": {},
            "vr-forb": {},
            "inexact-halpern": {},
        }
    raise TypeError(f"no official settings for {type(problem).__name__}")
