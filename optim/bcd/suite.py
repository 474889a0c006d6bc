"""The ``bcd`` comparison suite (``optim compare bcd``; quick mode is part of ``optim demo``).

Greedy against cyclic/random block selection on the BCD paper's data set A (least squares, gradient and
matrix updates, block size 5) and message-passing forest blocks against red-black blocks on the lattice
label-propagation problem D (Nutini, Laradji, Schmidt, JMLR 2022, Figs. 4-6).
"""

from __future__ import annotations

from typing import Any

from problems.bcd import bcd_paper_problem

from ..compare import Comparison, compare


def _methods(rules, **common):
    return {label: ("bcd", {**common, **options}) for label, options in rules.items()}


def bcd_suite(quick: bool = True) -> Any:
    from ..compare import Suite

    size = dict(n_rows=200, n_cols=1000) if quick else {}
    iters = 300 if quick else 500

    def run() -> Comparison:
        A = bcd_paper_problem("A", **size)
        smooth = _methods(
            {
                "cyclic VB (1/L_b)": dict(partition="vb", selection="cyclic", update="gradient"),
                "random VB (1/L_b)": dict(partition="vb", selection="random", update="gradient"),
                "GS VB (1/L_b)": dict(partition="vb", selection="gs", update="gradient"),
                "GSL FB sort (1/L_b)": dict(partition="sort", selection="gsl", update="gradient"),
                "GSD VB (matrix)": dict(partition="vb", selection="gsd", update="matrix"),
                "GSQ VB (matrix)": dict(partition="vb", selection="gsq", update="matrix"),
            },
            block_size=5,
        )
        first = compare({A.name: A}, smooth, max_iter=iters, tol=1e-8, seed=1, title="bcd")
        D = bcd_paper_problem("D", grid=30 if quick else 50, n_labelled=36 if quick else 100)
        forests = _methods(
            {
                "greedy tree (message passing)": dict(
                    partition="forest_greedy", selection="greedy_tree", update="exact_quadratic"
                ),
                "tree partitions (message passing)": dict(
                    partition="forest_fixed", selection="cyclic", update="exact_quadratic"
                ),
                "red-black": dict(partition="forest_fixed", selection="red_black", update="exact_quadratic"),
            }
        )
        second = compare({D.name: D}, forests, max_iter=iters // 2 if quick else iters, tol=1e-8, seed=1, title="bcd")
        return Comparison(
            first.records + second.records,
            title="bcd",
            notes=(
                "Greedy BCD (Nutini, Laradji, Schmidt 2022). Optimality: ||grad f||_inf on A, "
                "||Q x - c||_inf / ||c||_inf on D."
            ),
        )

    return Suite(name="bcd", description=(__doc__ or "").strip().split("\n")[0], runner=run)
