"""The foundation's comparison suite: first-order baselines on real learning problems."""

from __future__ import annotations

from problems.datasets import lasso_diabetes, logistic_breast_cancer, multinomial_digits

from .compare import Suite


def glm_suite(quick: bool = True) -> Suite:
    """GD (1/L and Armijo) against FISTA (with and without restart) on the Lasso (diabetes),
    L1 logistic regression (breast cancer) and softmax regression (digits), 0.1 x l1_max."""
    problems = {"lasso-diabetes": lasso_diabetes(0.1), "logreg-l1-breast-cancer": logistic_breast_cancer(0.1)}
    if not quick:
        problems["multinomial-digits"] = multinomial_digits(l2=1e-2)
    methods = {
        "gd (1/L)": ("gd", {}),
        "gd (armijo)": ("gd", {"step": "armijo"}),
        "fista": ("fista", {}),
        "fista (no restart)": ("fista", {"restart": False}),
    }
    return Suite(
        name="glm",
        description=(glm_suite.__doc__ or "").split("\n")[0],
        problems=problems,
        methods=methods,
        settings={"tol": 1e-9, "max_iter": 3000 if quick else 20_000},
    )
