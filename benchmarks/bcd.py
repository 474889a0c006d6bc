"""Greedy block coordinate descent: the paper's figures at CPU scale and a side-by-side on the Lasso.

Nutini, Laradji, Schmidt, "Let's Make Block Coordinate Descent Converge Faster", JMLR 2022.

Part 1 (Figs. 4-7 in shape): f(x^k) - f* after k iterations for every rule on the paper's data sets
(A least squares, D/E label propagation, A-L1 non-negative Lasso), block size 5 (and 50 for Fig. 7).
Part 2 (peers, spec section 11.2): the Lasso on data set A (sum scale, lambda = 0.1 lambda_max) and the
non-negative Lasso A-L1: epochs (coordinate updates / p), full-gradient equivalents and wall time to
relative suboptimality 1e-6 against a high-precision reference, for greedy BCD, scikit-learn's
``Lasso`` (cyclic and random) and skglm's ``Lasso`` (working sets + Anderson CD). Single thread.

    python benchmarks/bcd.py --quick     # reduced sizes, about a minute
    python benchmarks/bcd.py             # the paper's sizes (m = 1000, p = 10000), several minutes

Writes a markdown table to stdout, JSON to benchmarks/results/bcd.json and PNG plots next to it.
"""

from __future__ import annotations

import argparse
import time

from _common import RESULTS, pin_threads, write_json

pin_threads()  # scikit-learn's and skglm's CD run on one thread; so do we

import numpy as np

import optim
import problems
from problems.bcd import bcd_paper_problem

TARGET = 1e-6


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


# ----------------------------------------------------------------------------- part 2: peers
def lasso_problem(quick: bool, nonnegative: bool):
    size = dict(n_rows=300, n_cols=3000) if quick else {}
    if nonnegative:
        return bcd_paper_problem("A-L1", **size)
    A = bcd_paper_problem("A", **size)
    lam = 0.1 * float(np.max(np.abs(A.A.T @ A.b)))
    return problems.LeastSquares(A.A, A.b, l1=lam, scale="sum", name=f"lasso-A{A.A.shape[0]}x{A.A.shape[1]}")


def lasso_reference(P, nonnegative) -> float:
    """F*: best of scikit-learn (tol 1e-14) and, for the plain Lasso, skglm (tol 1e-12); spec 11.2.3.
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


def _gap(P, coef, f_star):
    return (P.objective(coef) - f_star) / max(1.0, abs(f_star))


def peer_sklearn(P, f_star, selection, nonnegative):
    """Fewest epochs (max_iter with tol=0) reaching the target, by doubling then bisection."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    m = P.n_samples

    def fit(epochs):
        model = Lasso(
            alpha=P.l1 / m,
            positive=nonnegative,
            fit_intercept=False,
            tol=0.0,
            max_iter=epochs,
            selection=selection,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t = time.perf_counter()
            model.fit(P.A, P.b)
            return time.perf_counter() - t, _gap(P, model.coef_, f_star)

    lo, hi = 0, 1
    while fit(hi)[1] > TARGET and hi < 4096:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fit(mid)[1] <= TARGET else (mid, hi)
    t = np.median([fit(hi)[0] for _ in range(3)])
    gap = fit(hi)[1]
    return {
        "epochs": hi,
        "coordinate_updates": hi * P.dim,
        "grad_equivalents": None,
        "time": float(t),
        "reached": gap <= TARGET,
    }


def peer_skglm(P, f_star):
    """Loosest tolerance reaching the target (JIT warmed first)."""
    from skglm import Lasso as SkglmLasso

    m = P.n_samples
    SkglmLasso(alpha=P.l1 / m, fit_intercept=False, tol=1e-2).fit(P.A, P.b)  # compile
    for tol in 10.0 ** -np.arange(1, 13):

        def fit():
            t = time.perf_counter()
            model = SkglmLasso(alpha=P.l1 / m, fit_intercept=False, tol=tol, max_iter=1000).fit(P.A, P.b)
            return time.perf_counter() - t, _gap(P, model.coef_, f_star)

        _, gap = fit()
        if gap <= TARGET:
            t = np.median([fit()[0] for _ in range(3)])
            return {
                "epochs": None,
                "coordinate_updates": None,
                "grad_equivalents": None,
                "time": float(t),
                "reached": True,
                "tol": float(tol),
            }
    return {
        "epochs": None,
        "coordinate_updates": None,
        "grad_equivalents": None,
        "time": float("nan"),
        "reached": False,
    }


def ours(P, f_star, **options):
    def fit():
        return optim.solve(
            P,
            method="bcd",
            partition="vb",
            max_iter=20_000,
            tol=TARGET,
            f_star=f_star,
            check_every=10,
            verbose=False,
            seed=0,
            **options,
        )

    r = fit()
    times = [r.time] + [fit().time for _ in range(2)]
    return {
        "epochs": r.counts["coordinates"] / P.dim,
        "coordinate_updates": int(r.counts["coordinates"]),
        "grad_equivalents": float(r.counts["grad"]),
        "time": float(np.median(times)),
        "reached": bool(r.success),
        "iterations": int(r.nit),
    }


def peer_runs(quick: bool) -> list[dict]:
    rows = []
    for nonnegative in (False, True):
        P = lasso_problem(quick, nonnegative)
        print(f"peers on {P.name} ({P.n_samples} x {P.dim}, l1 = {P.l1:.6g})")
        f_star = lasso_reference(P, nonnegative)
        entries = {}
        if nonnegative:
            entries["bcd GS-q + PN, VB tau=50"] = ours(P, f_star, selection="gs_q", update="pn_nn", block_size=50)
            entries["bcd GS-q + PG, VB tau=5"] = ours(P, f_star, selection="gs_q", update="pg_nn", block_size=5)
        else:
            entries["bcd GS-q + PN (orthant), VB tau=50"] = ours(
                P, f_star, selection="gs_q", update="pn_nn", block_size=50
            )
            entries["bcd GS-q + prox-grad, VB tau=20"] = ours(
                P, f_star, selection="gs_q", update="prox_gradient", block_size=20
            )
            entries["bcd GS-s + prox-grad, VB tau=5"] = ours(
                P, f_star, selection="gs_s", update="prox_gradient", block_size=5
            )
        upd = "pn_nn" if nonnegative else "prox_gradient"
        entries[f"bcd random + {upd}, VB tau=20"] = ours(P, f_star, selection="random", update=upd, block_size=20)
        entries["sklearn Lasso cyclic"] = peer_sklearn(P, f_star, "cyclic", nonnegative)
        entries["sklearn Lasso random"] = peer_sklearn(P, f_star, "random", nonnegative)
        if not nonnegative:
            entries["skglm Lasso"] = peer_skglm(P, f_star)
        base = entries["sklearn Lasso cyclic"]["time"]
        for label, e in entries.items():
            rows.append({"problem": P.name, "method": label, **e, "time_vs_sklearn_cyclic": e["time"] / base})
    return rows


# ----------------------------------------------------------------------------- output
def _fmt(v, spec=".3g"):
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def markdown(fig_runs, peers) -> str:
    out = [
        "## Figures 4-7 at CPU scale: f(x^k) - f* after the last iteration",
        "",
        "| figure | problem | rule | iterations | f - f* | support found at | time (s) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in fig_runs:
        out.append(
            f"| {r['figure']} | {r['problem']} | {r['rule']} | {r['iterations']} | {r['final_gap']:.3g} | "
            f"{_fmt(r['identified_at'], 'd')} | {r['time']:.2f} |"
        )
    out += [
        "",
        f"## Lasso side by side: to relative suboptimality {TARGET:g} (median of 3, one thread)",
        "",
        "| problem | method | reached | epochs (coord. updates / p) | full-gradient equivalents | time (s) | "
        "time / sklearn cyclic |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in peers:
        out.append(
            f"| {r['problem']} | {r['method']} | {r['reached']} | {_fmt(r['epochs'])} | "
            f"{_fmt(r['grad_equivalents'])} | {r['time']:.3g} | {r['time_vs_sklearn_cyclic']:.3g} |"
        )
    return "\n".join(out)


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (about a minute)")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)  # plot() writes there
    t0 = time.perf_counter()
    fig_runs = figure_runs(args.quick)
    peers = peer_runs(args.quick)
    print(markdown(fig_runs, peers))
    path = plot(fig_runs, RESULTS)
    out = write_json("bcd", {"quick": args.quick, "figures": fig_runs, "peers": peers})
    print(f"\nwrote {out} and {path} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
