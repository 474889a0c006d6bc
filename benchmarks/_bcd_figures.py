"""Part 1 of ``benchmarks/bcd.py`` (``--figures``): the paper's Figures 4-7 at CPU scale, the Lasso
reference optimum, and the convergence plot. Nutini, Laradji, Schmidt, JMLR 2022."""

from __future__ import annotations

import time

import numpy as np

import optim
from problems.bcd import bcd_paper_problem


# ----------------------------------------------------------------------------- part 1: figures
def figure_runs(quick: bool) -> list[dict]:
    iters = 200 if quick else 500
    size = dict(n_rows=300, n_cols=3000) if quick else {}
    A = bcd_paper_problem("A", **size)
    runs = []

    def run(fig, problem, label, f_star, **options):
        t = time.perf_counter()
        r = optim.solve(
            problem,
            method="bcd",
            max_iter=iters,
            f_star=f_star,
            tol=1e-8 / max(1, abs(f_star)),
            verbose=False,
            seed=1,
            **options,
        )
        gap = np.maximum(np.asarray(r.history["fun"]) - f_star, 0.0)
        runs.append(
            {
                "figure": fig,
                "problem": problem.name,
                "rule": label,
                "iterations": int(r.nit),
                "final_gap": float(gap[-1]),
                "time": time.perf_counter() - t,
                "identified_at": r.get("identified_at"),
                "gap": gap.tolist(),
                "nit": np.asarray(r.history["nit"]).tolist(),
            }
        )

    for part in ("sort", "vb"):
        tag = "FB" if part == "sort" else "VB"
        for sel in ("cyclic", "random", "lipschitz", "gs", "gsl"):
            run(
                "fig4 (gradient updates)",
                A,
                f"{sel}-{tag}",
                0.0,
                partition=part,
                selection=sel,
                update="gradient",
                block_size=5,
            )
        for sel in ("gs", "gsl", "gsd", "gsq"):
            run(
                "fig5 (matrix updates)",
                A,
                f"{sel}-{tag}",
                0.0,
                partition=part,
                selection=sel,
                update="matrix",
                block_size=5,
            )
    for name in ("D", "E"):
        P = bcd_paper_problem(name)
        f_star = P.reference_solution()[1]
        tau_general = int(np.floor(P.dim ** (1 / 3)))
        for label, opts in (
            ("greedy tree", dict(partition="forest_greedy", selection="greedy_tree")),
            ("tree partitions", dict(partition="forest_fixed", selection="cyclic")),
            ("random tree", dict(partition="forest_greedy", selection="random")),
            ("red-black", dict(partition="forest_fixed", selection="red_black")),
            (f"general (GS, tau={tau_general})", dict(partition="vb", selection="gs", block_size=tau_general)),
        ):
            run("fig6 (message passing)", P, label, f_star, update="exact_quadratic", **opts)
    NN = bcd_paper_problem("A-L1", **size)
    f_star = lasso_reference(NN, nonnegative=True)
    support = np.flatnonzero(NN.reference_x > 0)
    for tau in (5, 50):
        for part in ("sort", "vb"):
            for upd in ("pg_nn", "tmp_nn", "pn_nn"):
                run(
                    f"fig7 (non-negative L1, tau={tau})",
                    NN,
                    f"GS-q {upd}-{'FB' if part == 'sort' else 'VB'}",
                    f_star,
                    partition=part,
                    selection="gs_q",
                    update=upd,
                    block_size=tau,
                    reference_support=support,
                )
        run(
            f"fig7 (non-negative L1, tau={tau})",
            NN,
            "random pn_nn-VB",
            f_star,
            partition="vb",
            selection="random",
            update="pn_nn",
            block_size=tau,
            reference_support=support,
        )
    return runs


def lasso_reference(P, nonnegative) -> float:
    """F*: best of scikit-learn (tol 1e-14) and, for the plain Lasso, skglm (tol 1e-12).
    Stores the minimiser in ``P.reference_x`` and prints its KKT violation."""
    from skglm import Lasso as SkglmLasso
    from sklearn.linear_model import Lasso

    m = P.n_samples
    cands = []
    sk = Lasso(alpha=P.l1 / m, positive=nonnegative, fit_intercept=False, tol=1e-14, max_iter=100_000)
    cands.append(sk.fit(P.A, P.b).coef_)
    if not nonnegative:
        cands.append(SkglmLasso(alpha=P.l1 / m, fit_intercept=False, tol=1e-12, max_iter=1000).fit(P.A, P.b).coef_)
    values = [P.objective(c) for c in cands]
    best = cands[int(np.argmin(values))]
    P.reference_x = best
    print(f"  reference F* = {min(values):.10f} (KKT violation {P.kkt_violation(best):.2e})")
    return float(min(values))


def plot(fig_runs, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys((r["figure"], r["problem"]) for r in fig_runs))
    ncols = 3
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    for ax, (figure, prob) in zip(axes.flat, keys, strict=False):
        for r in (r for r in fig_runs if (r["figure"], r["problem"]) == (figure, prob)):
            ax.semilogy(r["nit"], np.maximum(r["gap"], 1e-16), label=r["rule"])
        ax.set_title(f"{figure}\n{prob}", fontsize=8)
        ax.set_xlabel("iteration")
        ax.set_ylabel("f - f*")
        ax.legend(fontsize=6)
    fig.tight_layout()
    path = out_dir / "bcd_figures.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
