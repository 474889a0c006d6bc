"""Every valid partition x selection x update of ``method="bcd"`` reaches the cvxpy optimum, and
every invalid one is refused with a clear error (issue 6, first acceptance bullet)."""

import itertools

import numpy as np
import pytest

import optim
import problems
from optim.bcd import BCD, FIXED_PARTITIONS, SELECTIONS, UPDATES

PARTS = ("vb",) + FIXED_PARTITIONS
SMOOTH_SELECTIONS = ("cyclic", "random", "lipschitz", "gs", "gsl", "gsd", "gsq", "gs_s", "gs_r", "gs_q")
PROX_SELECTIONS = ("cyclic", "random", "lipschitz", "gs_s", "gs_r", "gs_q")


def _data(seed, m=40, n=12):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) * rng.uniform(0.5, 2.0, n)  # unequal coordinate constants
    return A, rng.standard_normal(m)


def _problems():
    A, b = _data(0)
    ls = problems.LeastSquares(A, b, l2=1.0, scale="sum", name="ls")
    logit = problems.Logistic(A, np.sign(b), l2=2.0, scale="sum", name="logistic")
    softmax = problems.MultinomialLogistic(A[:, :6], np.arange(40) % 3, l2=5.0, scale="sum", name="softmax")
    lasso = problems.LeastSquares(A, b, l1=3.0, scale="sum", name="lasso")
    l1_logit = problems.Logistic(A, np.sign(b), l1=1.0, l2=0.5, scale="sum", name="l1-logistic")
    nn = problems.NonnegativeLasso(A, b, l1=2.0, scale="sum", name="nn-lasso")
    return {"ls": ls, "logistic": logit, "softmax": softmax, "lasso": lasso, "l1-logistic": l1_logit, "nn-lasso": nn}


PROBLEMS = _problems()
REFERENCE = {k: p.reference_solution()[1] for k, p in PROBLEMS.items()}


def _valid_cases():
    smooth_updates = {
        "ls": ("gradient", "lipschitz_search", "matrix", "newton_ls", "exact_quadratic", "prox_gradient"),
        "logistic": ("gradient", "lipschitz_search", "matrix", "newton_ls", "prox_gradient"),
        "softmax": ("gradient", "lipschitz_search", "matrix", "newton_ls", "prox_gradient"),
    }
    for name, upds in smooth_updates.items():
        sels = SMOOTH_SELECTIONS if name != "softmax" else ("cyclic", "random", "gsl", "gsq", "gs_q")
        parts = PARTS if name != "softmax" else ("vb", "sort")
        yield from ((name, *c) for c in itertools.product(parts, sels, upds))
    for name, upds in {
        "lasso": ("prox_gradient", "tmp_nn", "pn_nn"),
        "l1-logistic": ("prox_gradient", "tmp_nn"),
        "nn-lasso": ("prox_gradient", "pg_nn", "tmp_nn", "pn_nn"),
    }.items():
        yield from ((name, *c) for c in itertools.product(PARTS, PROX_SELECTIONS, upds))


CASES = list(_valid_cases())


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_valid_combination_reaches_the_cvxpy_optimum(name):
    problem, f_star = PROBLEMS[name], REFERENCE[name]
    failures = []
    for _, part, sel, upd in (c for c in CASES if c[0] == name):
        solver = BCD(
            selection=sel,
            update=upd,
            partition=part,
            block_size=3,
            max_iter=30000,
            tol=5e-9,
            f_star=f_star,
            check_every=10,
            seed=0,
            verbose=False,
        )
        result = solver.solve(problem)
        gap = (problem.objective(result.x) - f_star) / max(1.0, abs(f_star))
        fun = np.asarray(result.history["fun"])
        if not gap <= 1e-8:
            failures.append((part, sel, upd, result.nit, gap))
        elif np.any(np.diff(fun) > 1e-12 * max(1.0, abs(f_star))):  # monotone decrease
            failures.append((part, sel, upd, "objective increased"))
    assert not failures, failures


@pytest.mark.parametrize("kind", ["smooth", "lasso", "nn-lasso"])
def test_all_zero_columns_do_not_break_the_rules_or_steps(kind):
    """Sparse data has empty columns: L_i = L_b = 0, H_b singular (or 0) and g_i = 0 there. The 0/0
    scores and steps must neither crash nor end a run as "diverged" (the sort partition puts those
    columns in one block), and every run still reaches the cvxpy optimum."""
    A, b = _data(1, n=8)
    A[:, [2, 5]] = 0.0
    if kind == "nn-lasso":
        problem = problems.NonnegativeLasso(A, b, l1=2.0, scale="sum")
    else:
        problem = problems.LeastSquares(A, b, l1=0.0 if kind == "smooth" else 2.0, scale="sum")
    f_star = problem.reference_solution()[1]
    # (Lipschitz sampling never visits L_i = 0, by definition: left out)
    sels = ("cyclic", "gsl", "gsd", "gs_q") if kind == "smooth" else ("cyclic", "gs_q", "gs_s")
    upds = ("gradient",) if kind == "smooth" else ("prox_gradient", "tmp_nn", "pn_nn")
    for part, sel, upd in itertools.product(("sort", "vb"), sels, upds):
        r = optim.solve(
            problem,
            x0=np.ones(8),
            method="bcd",
            selection=sel,
            partition=part,
            update=upd,
            block_size=2,
            max_iter=400,
            tol=0,
            verbose=False,
        )
        assert r.status == "max_iter", (part, sel, upd, r.status)
        assert (problem.objective(r.x) - f_star) <= 1e-8 * max(1.0, abs(f_star)), (part, sel, upd)


def test_the_grid_covers_every_name():
    used_sel = {c[2] for c in CASES}
    used_upd = {c[3] for c in CASES}
    assert used_sel | {"greedy_tree", "red_black"} == set(SELECTIONS)
    assert used_upd == set(UPDATES)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(selection="greedy_tree", partition="vb"), "forest partition"),
        (dict(selection="red_black", partition="sort"), "forest partition"),
        (dict(selection="gs", partition="forest_greedy", update="exact_quadratic"), "forest_greedy"),
        (dict(selection="greedy_tree", partition="forest_greedy", update="gradient"), "exact_quadratic"),
        (dict(selection="gsq", update="pn_nn"), "non-smooth"),
        (dict(selection="gss"), "did you mean 'gs_s'"),
        (dict(update="newton"), "did you mean 'newton_ls'"),
        (dict(partition="fixed"), "partition must be one of"),
        (dict(block_norm=3), "block_norm"),
        (dict(block_size=0), "block_size must be >= 1"),
    ],
)
def test_invalid_options_are_refused_at_construction(options, match):
    with pytest.raises(ValueError, match=match):
        BCD(**options)


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("lasso", dict(selection="gs", update="prox_gradient"), "proximal rules"),
        ("lasso", dict(selection="gs_q", update="matrix"), "L1-regularised"),
        ("lasso", dict(selection="gs_q", update="pg_nn"), "L1-regularised"),
        ("nn-lasso", dict(selection="gs_q", update="newton_ls"), "non-negative"),
        ("ls", dict(selection="gs_q", update="pn_nn"), "smooth problem"),
        ("logistic", dict(selection="gs", update="exact_quadratic"), "quadratic"),
        ("l1-logistic", dict(selection="gs_q", update="pn_nn"), "quadratic"),
        ("ls", dict(selection="greedy_tree", partition="forest_greedy", update="exact_quadratic"), "sparse quadratic"),
        ("ls", dict(block_size=13), "block_size must be <= the problem dimension 12"),
        ("lasso", dict(selection="gs_q", update="prox_gradient", reference_support=[0, 12]), r"indices in \[0, 12\)"),
        ("lasso", dict(selection="gs_q", update="prox_gradient", reference_support=[0.5]), r"indices in \[0, 12\)"),
        (
            "lasso",
            dict(selection="gs_q", update="prox_gradient", reference_support=np.ones(5, bool)),
            "mask of length 12",
        ),
    ],
)
def test_invalid_combinations_for_a_problem_are_refused(name, options, match):
    with pytest.raises(ValueError, match=match):
        optim.solve(PROBLEMS[name], method="bcd", max_iter=1, **options)


def test_a_problem_without_block_oracles_is_refused():
    class Plain(problems.Problem):
        dim = 3

        def value(self, x):
            return float(x @ x)

        def grad(self, x):
            return 2 * x

        lipschitz = 2.0

    with pytest.raises(TypeError, match="block oracles.*lacks block_state"):
        optim.solve(Plain(), method="bcd")
    assert not BCD.accepts(Plain()) and BCD.accepts(PROBLEMS["ls"])


@pytest.mark.parametrize("name", ["D", "E"])
def test_every_forest_combination_reaches_the_direct_solve_optimum(name):
    """Forest partitions apply to sparse quadratics (label propagation); reference: spsolve."""
    from problems.bcd import bcd_paper_problem

    p = (
        bcd_paper_problem("D", grid=10, n_labelled=8)
        if name == "D"
        else bcd_paper_problem("E", n_points=200, n_labelled=20)
    )
    f_star = p.reference_solution()[1]
    for part, sels in (
        ("forest_fixed", ("cyclic", "red_black")),
        ("forest_greedy", ("greedy_tree", "gsl", "gsd", "random")),
    ):
        for sel in sels:
            r = optim.solve(
                p,
                method="bcd",
                partition=part,
                selection=sel,
                update="exact_quadratic",
                max_iter=20000,
                tol=1e-9,
                check_every=5,
                seed=0,
                verbose=False,
            )
            assert (p.value(r.x) - f_star) / max(1, abs(f_star)) <= 1e-8, (part, sel, r.nit)
            assert np.all(np.diff(r.history["fun"]) <= 1e-12 * abs(f_star)), (part, sel)
