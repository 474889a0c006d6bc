"""Named problems for the CLI and the comparison suites: ``make_problem("lasso-diabetes")``.

Entries map a name to ``"module:callable"`` and are imported on first use, so listing names costs
nothing. Each family adds its own builders here (keyword options are passed through).
"""
from __future__ import annotations

import importlib
import inspect

from .validation import as_choice

PROBLEMS: dict[str, str] = {
    "lasso-diabetes": "problems.datasets:lasso_diabetes",
    "logreg-breast-cancer": "problems.datasets:logistic_breast_cancer",
    "multinomial-digits": "problems.datasets:multinomial_digits",
    "logreg-a8a": "problems.datasets:logistic_a8a",
}


def load_entry(target: str):
    """Import ``"module:attribute"``."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def problem_builder(name: str):
    """The callable that builds problem ``name`` (with a 'did you mean' for typos)."""
    return load_entry(PROBLEMS[as_choice(name, "problem", sorted(PROBLEMS))])


def make_problem(name: str, **options):
    """Build the named problem; ``options`` go to its builder (checked against its signature)."""
    builder = problem_builder(name)
    params = inspect.signature(builder).parameters
    unknown = [k for k in options if k not in params]
    if unknown:
        raise ValueError(f"problem {name!r} takes no option {unknown[0]!r}; "
                         f"it takes {sorted(params) or 'no options'}")
    return builder(**options)


def describe(name: str) -> str:
    """First line of the builder's docstring."""
    doc = inspect.getdoc(problem_builder(name)) or ""
    return doc.splitlines()[0] if doc else ""
