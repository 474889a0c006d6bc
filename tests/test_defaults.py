"""Defaults work: every registered method runs with its default options on every catalog problem it
accepts (``optim.solvers(p)``), each to a small budget: no exception, a status and a message that say
why it stopped, finite outputs. Problems are the smallest named instances of each family."""

import math

import numpy as np
import pytest

import optim
from problems.catalog import PROBLEMS, make_problem

#: the smallest instance of each catalog problem (keyword options of its builder)
SMALL = {
    "lasso-diabetes": {},
    "logreg-breast-cancer": {},
    "multinomial-digits": {},
    "logreg-a8a": {},
    "digits-mlp": {"hidden": (16,)},
    "char-gpt": {
        "layers": 1,
        "d_model": 16,
        "heads": 2,
        "context": 8,
        "batch_size": 4,
        "corpus_bytes": 5000,
        "eval_size": 8,
    },
    "game-pb": {"n": 10},
    "game-random": {"n": 6, "m": 8},
    "quadratic-minmax": {"n": 10},
    "logistic-operator-a8a": {},
    "shifted-laplacian-high": {"T": 6},
    "shifted-laplacian-low": {"T": 6},
    "heat-equation": {"nx": 6, "T": 4},
    "bcd-least-squares": {"n_rows": 40, "n_cols": 120},
    "bcd-nonnegative-lasso": {"n_rows": 40, "n_cols": 120},
    "bcd-logistic": {"n_rows": 40, "n_cols": 120},
    "bcd-softmax": {"n_rows": 40, "n_cols": 30},
    "bcd-lattice": {"grid": 6, "n_labelled": 4},
    "bcd-moons": {"n_points": 60, "n_labelled": 6},
    "mdkp": {},
    "mis": {},
    "tsp": {},
    "qap": {},
    "market-split": {},
    "completion-synthetic": {"m": 40, "n": 30, "k": 2},
    "movielens100k": {},
    "bilevel-quadratic": {"m": 4},
    "bilevel-ridge-digits": {},
    "bilevel-ho-a8a": {"m": 4},
    "digits-pruning": {"epochs": 20},
    "minilm-pruning": {"calibration": 8, "evaluation": 8},
    "digits-cnn": {"batch_size": 16},
    "digits-autoencoder": {"batch_size": 16},
    "bilevel-ndcg-movielens": {"n_users": 10, "n_items": 60},
}

#: the budget of every run: a few iterations (steps, instances, dual iterations) and a time cap
BUDGET = {"max_iter": 3, "time_limit": 10.0, "verbose": False}


def test_every_catalog_problem_has_a_small_instance():
    assert set(SMALL) >= set(PROBLEMS), f"add a small instance for {sorted(set(PROBLEMS) - set(SMALL))}"


def _check(problem, method) -> str | None:
    """None if ``method`` runs on ``problem`` with defaults; otherwise what went wrong."""
    try:
        solver = optim.make_solver(method, **BUDGET)
        result = solver.solve(problem)
    except Exception as exc:  # noqa: BLE001 - every failure is reported with its pair
        return f"{type(exc).__name__}: {exc}"
    if not isinstance(result.message, str) or not result.message.strip():
        return "no message saying why it stopped"
    x = np.asarray(result.x, dtype=float) if result.get("x") is not None else np.array([])
    if not np.all(np.isfinite(x)):
        return "x is not finite"
    fun = float(result.fun)
    if math.isinf(fun) or (hasattr(problem, "objective") and not math.isfinite(fun)):
        return f"fun is {fun}"
    if getattr(solver, "has_stopping_error", True) and not math.isfinite(float(result.optimality)):
        return f"optimality is {result.optimality}"
    return None


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_accepting_method_runs_with_defaults(name):
    try:
        problem = make_problem(name, **SMALL.get(name, {}))
    except (FileNotFoundError, ImportError) as missing:  # data or model wheel installed by a documented step
        pytest.skip(f"{name}: optional data or model not installed ({missing})")
    methods = optim.solvers(problem)
    assert methods, f"no registered method accepts {name}"
    failures = {m: why for m in methods if (why := _check(problem, m)) is not None}
    assert not failures, f"{name}: " + "; ".join(f"{m}: {why}" for m, why in failures.items())
