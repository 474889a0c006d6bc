"""Monotone inclusions: VR-Halpern and its baselines, side by side with the tools a user would pick.

1. Residual ||z - J(z - F(z))|| against epochs for every method, with the official step sizes
   of the authors' scripts, on the policeman-and-burglar games (n = 100 and, full mode, 500), the Ouyang-Xu
   quadratic min-max (n = 200) and a8a logistic regression (mu = 1e-3). Each problem is also solved by
   its peer: scipy's HiGHS LP (games), numpy.linalg.solve (QP), scikit-learn's LogisticRegression
   (a8a); the table reports our time to residual 1e-3 (games) over the peer's time, and the
   distance / value error of our final point to the peer's answer.
2. Scaling: epochs to residual 1e-2 and 1e-3 as n grows, VR-Halpern (median of seeds) against
   Halpern-FB and EG with the pinned official steps; "not reached" when the budget runs out; the
   ratio EG epochs / VR-Halpern epochs against sqrt(n) measures the paper's claimed advantage.

Usage: ``python benchmarks/monotone.py [--quick] [--part all|residuals|crossover|steps]``. Prints markdown;
writes ``benchmarks/results/monotone.json`` (``monotone_<part>.json`` for one part) and PNG plots next to
it. Single thread (BLAS/OpenMP).
"""

from __future__ import annotations

import argparse
import math
import time

from _common import RESULTS, markdown_table, pin_threads, write_json

pin_threads()  # HiGHS and lbfgs peers run on one thread; so do our numpy mat-vecs

import numpy as np
from monotone_crossover import (
    cost_growth,
    crossover,
    crossover_points,
    crossover_summary,
    plot_crossover,
    step_costs,
)

import optim
from optim.compare import Comparison
from optim.monotone import official_options
from optim.monotone.suite import METHOD_ORDER
from problems.monotone import MatrixGame, QuadraticMinMax, logistic_operator_a8a

SLOW = ("vr-eg", "vr-forb", "inexact-halpern")  # budgets of their own (the quick mode keeps them short)


def epochs_to(history, threshold, key="epochs"):
    """``history[key]`` at the first record with residual <= threshold (None if never reached)."""
    hit = np.nonzero(np.asarray(history["optimality"]) <= threshold)[0]
    return float(np.asarray(history[key])[hit[0]]) if hit.size else None


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def peer_solve(problem):
    """(reference point, seconds, peer name) from the library a user would otherwise call."""
    if isinstance(problem, MatrixGame):
        problem._reference = None
        (z, _), sec = timed(problem.reference_solution)
        return z, sec, "scipy.optimize.linprog (HiGHS)"
    if isinstance(problem, QuadraticMinMax):
        z, sec = timed(lambda: np.linalg.solve(problem.M, problem.c))
        return z, sec, "numpy.linalg.solve"
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1 / (problem.n * problem.mu), fit_intercept=False, tol=1e-10, max_iter=10_000)
    _, sec = timed(lambda: clf.fit(problem.A, problem.y))
    return clf.coef_.ravel(), sec, "sklearn LogisticRegression (lbfgs)"


def residual_table(problem, budget, slow_budget, seed=0):
    """Every method with its official options; rows for the table and records for the plots."""
    methods = METHOD_ORDER if not problem.name.startswith("logistic") else ("eg", "eag", "halpern", "vr-halpern")
    options = official_options(problem)
    ref, peer_sec, peer = peer_solve(problem)
    rows, records = [], []
    for method in methods:
        res = optim.solve(
            problem,
            method=method,
            budget=slow_budget if method in SLOW else budget,
            tol=0.0,
            max_iter=10**9,
            seed=seed,
            verbose=False,
            **options[method],
        )
        h = res.history
        records.append(
            {
                "problem": problem.name,
                "method": method,
                "work_unit": "epochs",
                "history": {"work": h["epochs"], "time": h["time"], "optimality": h["optimality"]},
            }
        )
        t_hit = epochs_to(h, 1e-3, key="time")
        row = {
            "problem": problem.name,
            "method": method,
            "epochs": res.counts["work"],
            "residual": res.optimality,
            "epochs_to_1e-2": epochs_to(h, 1e-2),
            "epochs_to_1e-3": epochs_to(h, 1e-3),
            "time_s": res.time,
            "peer": peer,
            "peer_time_s": peer_sec,
            "time_to_1e-3_over_peer": t_hit / peer_sec if t_hit is not None else None,
        }
        if isinstance(problem, MatrixGame):
            row["gap"] = problem.duality_gap(res.x)
            row["value_error"] = abs(problem.payoff(res.x) - problem.reference_solution()[1])
        else:
            row["dist_to_peer"] = float(np.linalg.norm(res.x - ref))
        rows.append(row)
        print(
            f"  {method:16s} residual {res.optimality:.2e}  epochs to 1e-3 {fmt(row['epochs_to_1e-3'])}  "
            f"{res.time:.1f}s",
            flush=True,
        )
    return rows, records


def scaling(ns, budget, seeds):
    rows = []
    for n in ns:
        game = MatrixGame.policeman_burglar(n, seed=1)
        opts = official_options(game)
        row = {"n": n, "sqrt_n": math.sqrt(n)}
        for method in ("eg", "halpern", "vr-halpern"):
            runs = seeds if method == "vr-halpern" else [0]
            hits = {1e-2: [], 1e-3: []}
            for seed in runs:
                res = optim.solve(
                    game,
                    method=method,
                    budget=budget,
                    tol=1e-3,
                    max_iter=10**9,
                    seed=seed,
                    verbose=False,
                    **opts[method],
                )
                for thr in hits:
                    hits[thr].append(epochs_to(res.history, thr))
            for thr, vals in hits.items():
                reached = [v for v in vals if v is not None]
                row[f"{method}@{thr:g}"] = float(np.median(reached)) if len(reached) == len(vals) else None
        for thr in ("0.01", "0.001"):
            eg, vr = row[f"eg@{thr}"], row[f"vr-halpern@{thr}"]
            if vr is None:
                row[f"eg/vr@{thr}"] = None
            elif eg is None:  # EG ran out of budget: the ratio is at least budget / vr
                row[f"eg/vr@{thr}"] = f"> {budget / vr:.3g}"
            else:
                row[f"eg/vr@{thr}"] = eg / vr
        rows.append(row)
        print(f"  scaling n={n}: {row}", flush=True)
    return rows


def fmt(v, digits=3):
    return "not reached" if v is None else f"{v:.{digits}g}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small budgets and sizes (a few minutes)")
    parser.add_argument(
        "--part",
        choices=("all", "residuals", "crossover", "steps"),
        default="all",
        help="run one part only (default: all); steps: the microseconds per stochastic step alone",
    )
    parser.add_argument("--sizes", type=int, nargs="*", help="crossover sizes (default 100 300 [1000 3000])")
    parser.add_argument("--time-limit", type=float, help="seconds per first-order run (default 20, full 150)")
    parser.add_argument("--lp-limit", type=float, help="seconds per LP (default 60, full 400)")
    args = parser.parse_args(argv)
    quick = args.quick
    payload = {"quick": quick}
    if args.part == "steps":
        payload.update(steps_part(quick, args.sizes))
    if args.part in ("all", "crossover"):
        payload.update(crossover_part(quick, args.sizes, args.time_limit, args.lp_limit))
    if args.part in ("all", "residuals"):
        payload.update(residual_part(quick))
    path = write_json("monotone" if args.part == "all" else f"monotone_{args.part}", payload)
    print(f"\nwrote {path}")


STEP_COLUMNS = [
    "n",
    "method",
    "numba_cpu_us",
    "numba_wall_us",
    "components_per_step",
    "numba_ns_per_component",
    "numpy_cpu_us",
    "numpy_wall_us",
    "speedup_cpu",
]


def steps_part(quick, sizes=None):
    """Microseconds per stochastic step on PB(n), compiled kernels against the numpy path."""
    steps = step_costs(sizes or ([100] if quick else [100, 500]))
    print("\n## Microseconds per stochastic step on PB(n): numba kernels against the numpy path\n")
    print(markdown_table(steps, STEP_COLUMNS))
    return {"step_costs": steps}


def crossover_part(quick, sizes=None, limit=None, lp_limit=None):
    """Section 3: the first-order / LP crossover, cost growth and step costs."""
    sizes = sizes or ([100, 300] if quick else [100, 300, 1000, 3000])
    limit = limit or (20.0 if quick else 150.0)
    lp_limit = lp_limit or (60.0 if quick else 400.0)
    print(f"crossover on n = {sizes} (first-order time limit {limit:g}s, LP {lp_limit:g}s)", flush=True)
    rows = crossover(sizes, limit, lp_limit)
    summary = crossover_summary(rows)
    growth = cost_growth(rows)
    steps = step_costs([100] if quick else [100, 500])
    tcols = ["game", "n", "solver", "status", "residual", "t@0.001", "t@0.0001", "s_per_epoch"]
    print("\n## Crossover: seconds to natural residual 1e-3 / 1e-4 (one thread)\n")
    print(markdown_table(rows, tcols, missing="not reached"))
    print("\n## Who is faster (fastest first-order method against the faster HiGHS LP)\n")
    scols = ["game", "target", "n", "best_first_order", "fo_s", "best_lp", "lp_s", "lp_over_fo", "faster"]
    print(markdown_table(summary, scols, missing="not reached"))
    points = crossover_points(summary)
    print("\n" + "\n".join(f"- {line}" for line in points))
    gcols = ["game", "solver", "unit", *[f"n={n}" for n in sizes], "exponent"]
    print("\n## Cost growth against n (fitted exponent of log time on log n)\n")
    print(markdown_table(growth, gcols))
    print("\n## Microseconds per stochastic step on PB(n): numba kernels against the numpy path\n")
    print(markdown_table(steps, STEP_COLUMNS))
    RESULTS.mkdir(parents=True, exist_ok=True)
    plots = plot_crossover(rows, RESULTS)
    return {
        "crossover": rows,
        "crossover_summary": summary,
        "crossover_points": points,
        "cost_growth": growth,
        "step_costs": steps,
        "crossover_plots": [str(p) for p in plots],
    }


def residual_part(quick):
    """Sections 1 and 2: residual against epochs with the peers, and epochs against n."""
    # (problem, budget for the fast methods, budget for the per-sample loops)
    cases = [
        (MatrixGame.policeman_burglar(100, seed=1), 1500 if quick else 3000, 1000 if quick else 3000),
        (QuadraticMinMax(200), 5000 if quick else 100_000, 500 if quick else 5000),
        (logistic_operator_a8a(1e-3), 100 if quick else 300, 0),
    ]
    if not quick:
        cases.insert(1, (MatrixGame.policeman_burglar(500, seed=1), 5000, 5000))
    all_rows, all_records = [], []
    for problem, budget, slow_budget in cases:
        print(f"running {problem.name} ({budget} epochs)", flush=True)
        rows, records = residual_table(problem, budget, slow_budget)
        all_rows += rows
        all_records += records
    scale = scaling(
        [50, 100, 200] if quick else [50, 100, 200, 500, 1000], 3000 if quick else 5000, [0] if quick else [0, 1, 2]
    )

    cols = [
        "problem",
        "method",
        "epochs",
        "residual",
        "epochs_to_1e-2",
        "epochs_to_1e-3",
        "time_s",
        "gap",
        "value_error",
        "dist_to_peer",
        "peer",
        "peer_time_s",
        "time_to_1e-3_over_peer",
    ]
    print("\n## Residual against epochs (official step sizes)\n")
    print(markdown_table(all_rows, cols, missing="not reached"))
    scols = [
        "n",
        "sqrt_n",
        "eg@0.01",
        "halpern@0.01",
        "vr-halpern@0.01",
        "eg/vr@0.01",
        "eg@0.001",
        "halpern@0.001",
        "vr-halpern@0.001",
        "eg/vr@0.001",
    ]
    print("\n## Scaling: epochs to residual 1e-2 / 1e-3 on PB(n) (VR-Halpern: median over seeds)\n")
    print(markdown_table(scale, scols, missing="not reached"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    plots = Comparison(all_records, title="monotone").plot(RESULTS, "monotone")
    return {"residuals": all_rows, "scaling": scale, "plots": [str(p) for p in plots]}


if __name__ == "__main__":
    main()
