"""Greedy block coordinate descent: the paper's figures at CPU scale and a side-by-side on the Lasso.

Nutini, Laradji, Schmidt, "Let's Make Block Coordinate Descent Converge Faster", JMLR 2022.

Part 1 (Figs. 4-7 in shape): f(x^k) - f* after k iterations for every rule on the paper's data sets
(A least squares, D/E label propagation, A-L1 non-negative Lasso), block size 5 (and 50 for Fig. 7).
Part 1 (Figs. 4-7 in shape, ``--figures``): f(x^k) - f* after k iterations for every rule on the
paper's data sets. Part 2 (peers): the Lasso (sum scale, lambda = 0.1 lambda_max) on data set A (sparse,
as its recipe gives it, and densified) and on a random correlated dense design of the same shape, and
the non-negative Lasso A-L1: coordinate updates and wall time to relative suboptimality 1e-6 against a
high-precision reference, for greedy BCD (compiled Gram form), scikit-learn's ``Lasso`` (cyclic and
random) and skglm's ``Lasso``; our first call (numba compile or cache load) is reported apart. Part 3:
time per coordinate update against p with a fitted exponent, Gram form against the residual form.
Part 4: label propagation against scipy's CG, pyamg, a sparse direct solve and scikit-learn. One thread.

    python benchmarks/bcd.py --quick     # reduced sizes
    python benchmarks/bcd.py             # the paper's sizes (m = 1000, p = 10000)

Writes markdown tables to stdout and JSON to benchmarks/results/bcd.json (plots with ``--figures``).
"""

from __future__ import annotations

import argparse
import time

from _common import RESULTS, pin_threads, write_json

pin_threads()  # scikit-learn's and skglm's CD run on one thread; so do we

import numpy as np
from _bcd_figures import figure_runs, lasso_reference, plot  # noqa: E402  (after pin_threads)
from _bcd_lasso import crossover_runs, lasso_runs, relative_gap, sklearn_fit  # noqa: E402

import optim
import problems
from problems.bcd import bcd_paper_problem

TARGET = 1e-6


# ----------------------------------------------------------------------------- part 2: peers
def correlated_design(m: int, p: int, rho: float = 0.5, seed: int = 0):
    """Dense Gaussian design with Toeplitz correlation rho^|i-j| between columns, a sparse truth (p/50
    nonzeros) and unit noise: the usual random correlated Lasso benchmark."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((m, p))
    X = np.empty((m, p), order="F")
    X[:, 0] = Z[:, 0]
    for j in range(1, p):  # AR(1) columns: corr(X_i, X_j) = rho^|i-j|
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho * rho) * Z[:, j]
    w = np.zeros(p)
    w[rng.choice(p, max(1, p // 50), replace=False)] = rng.standard_normal(max(1, p // 50))
    return X, X @ w + rng.standard_normal(m)


def lasso_problems(quick: bool, nonnegative: bool):
    m, p = (300, 3000) if quick else (1000, 10000)
    if nonnegative:
        return [bcd_paper_problem("A-L1", n_rows=m, n_cols=p)]
    A = bcd_paper_problem("A", n_rows=m, n_cols=p)
    out = []
    for label, X, y in (
        ("A (sparse)", A.A, A.b),
        ("A (dense)", np.asfortranarray(A.A.toarray()), A.b),
        ("correlated", *correlated_design(m, p)),
    ):
        lam = 0.1 * float(np.max(np.abs(X.T @ y)))
        out.append(problems.LeastSquares(X, y, l1=lam, scale="sum", name=f"lasso {label} {m}x{p}"))
    return out


def peer_sklearn(P, f_star, selection, nonnegative, repeats):
    """Fewest epochs (max_iter with tol=0) reaching the target, by doubling then bisection; median time."""
    stats, timer = sklearn_fit(P, f_star, selection, positive=nonnegative)
    return {**stats, "time": float(np.median([timer() for _ in range(repeats)]))}


def peer_skglm(P, f_star, repeats):
    """Loosest tolerance reaching the target (JIT warmed first)."""
    from skglm import Lasso as SkglmLasso

    m = P.n_samples
    SkglmLasso(alpha=P.l1 / m, fit_intercept=False, tol=1e-2).fit(P.A, P.b)  # compile
    for tol in 10.0 ** -np.arange(1, 13):

        def fit(tol=tol):
            t = time.perf_counter()
            model = SkglmLasso(alpha=P.l1 / m, fit_intercept=False, tol=tol, max_iter=1000).fit(P.A, P.b)
            return time.perf_counter() - t, relative_gap(P, model.coef_, f_star)

        if fit()[1] <= TARGET:
            t = np.median([fit()[0] for _ in range(repeats)])
            return {"epochs": None, "coordinate_updates": None, "time": float(t), "reached": True, "tol": float(tol)}
    return {"epochs": None, "coordinate_updates": None, "time": float("nan"), "reached": False}


def ours(P, f_star, repeats, **options):
    """Wall time of ``optim.solve`` (set-up, Gram columns and kernels included), compile excluded:
    the first call compiles (or loads the numba cache) and is timed apart."""

    def fit():
        t = time.perf_counter()
        r = optim.solve(P, method="bcd", max_iter=10**7, tol=TARGET, f_star=f_star, verbose=False, seed=0, **options)
        return time.perf_counter() - t, r

    compile_s, r = fit()
    times = [fit()[0] for _ in range(repeats)]
    return {
        "epochs": r.counts["coordinates"] / P.dim,
        "coordinate_updates": int(r.counts["coordinates"]),
        "gram_columns": r.get("gram_columns"),
        "time": float(np.median(times)),
        "first_call": float(compile_s),
        "reached": bool(r.success),
        "iterations": int(r.nit),
    }


def peer_runs(quick: bool) -> list[dict]:
    rows = []
    repeats = 3
    for nonnegative in (False, True):
        for P in lasso_problems(quick, nonnegative):
            print(f"peers on {P.name} ({P.n_samples} x {P.dim}, l1 = {P.l1:.6g})", flush=True)
            f_star = lasso_reference(P, nonnegative)
            entries = {}
            for sel in ("gs_s", "gs_q"):
                for tau in (1, 5):
                    entries[f"bcd {sel} tau={tau} (compiled Gram)"] = ours(
                        P, f_star, repeats, selection=sel, update="prox_gradient", block_size=tau
                    )
            upd = "pn_nn" if nonnegative else "prox_gradient"
            entries[f"bcd random + {upd}, tau=20"] = ours(
                P, f_star, 1, selection="random", update=upd, block_size=20, partition="vb"
            )
            entries["sklearn Lasso cyclic"] = peer_sklearn(P, f_star, "cyclic", nonnegative, repeats)
            entries["sklearn Lasso random"] = peer_sklearn(P, f_star, "random", nonnegative, repeats)
            if not nonnegative:
                entries["skglm Lasso"] = peer_skglm(P, f_star, repeats)
            base = entries["sklearn Lasso cyclic"]
            for label, e in entries.items():
                upd_ratio = (
                    base["coordinate_updates"] / e["coordinate_updates"] if e.get("coordinate_updates") else None
                )
                rows.append(
                    {
                        "problem": P.name,
                        "method": label,
                        **e,
                        "time_vs_sklearn_cyclic": e["time"] / base["time"],
                        "fewer_updates_than_sklearn_cyclic": upd_ratio,
                    }
                )
    return rows


# ----------------------------------------------------------------------------- part 3: cost growth
def cost_growth(quick: bool) -> list[dict]:
    """Time per coordinate update against p (m fixed, data set A's recipe, Lasso at 0.1 lambda_max,
    GS-s, 300 iterations from 0), for the compiled Gram form and the numpy residual form (one full
    gradient A^T r per greedy iteration): where the Gram form stops paying."""
    m = 300 if quick else 1000
    ps = (1000, 2000, 4000, 8000) if quick else (2000, 5000, 10000, 20000, 40000)
    rows = []
    for p in ps:
        A = bcd_paper_problem("A", n_rows=m, n_cols=p)
        lam = 0.1 * float(np.max(np.abs(A.A.T @ A.b)))
        P = problems.LeastSquares(A.A, A.b, l1=lam, scale="sum")
        for engine in ("compiled", "numpy"):
            iters = 300 if engine == "compiled" else 100
            opts = dict(selection="gs_s", update="prox_gradient", engine=engine, tol=0, max_iter=iters, verbose=False)
            optim.solve(P, method="bcd", **{**opts, "max_iter": 3})
            t = time.perf_counter()
            r = optim.solve(P, method="bcd", check_every=iters, **opts)
            dt = time.perf_counter() - t
            rows.append(
                {
                    "p": p,
                    "m": m,
                    "engine": engine,
                    "updates": int(r.counts["coordinates"]),
                    "seconds_per_update": dt / r.counts["coordinates"],
                    "gram_columns": r.get("gram_columns"),
                }
            )
    for engine in ("compiled", "numpy"):
        sel = [r for r in rows if r["engine"] == engine]
        slope = np.polyfit(np.log([r["p"] for r in sel]), np.log([r["seconds_per_update"] for r in sel]), 1)[0]
        for r in sel:
            r["fitted_exponent"] = float(slope)
    return rows


# ----------------------------------------------------------------------------- part 4: graphs
def label_propagation_runs(quick: bool) -> list[dict]:
    """Harmonic label propagation (data sets D and E, and a larger two-moons graph) to the relative
    gradient residual ||Q x - c||_inf / ||c||_inf <= 1e-6: greedy forests with message passing and
    greedy single coordinates (compiled) against scipy's CG, pyamg and a sparse direct solve."""
    tol = 1e-6
    cases = [("D", {}), ("E", {})] + ([] if quick else [("E", dict(n_points=20000, n_labelled=200))])
    rows = []
    for name, kw in cases:
        rows += _graph_case(bcd_paper_problem(name, **kw), tol)
    return rows


def _timed(fn):
    fn()  # warm-up (compile, caches)
    t = time.perf_counter()
    x = fn()
    return time.perf_counter() - t, x


def _graph_case(P, tol: float) -> list[dict]:
    import pyamg
    import scipy.sparse.linalg as spla

    Q, c = P.Q.tocsr(), P.c
    scale = float(np.abs(c).max())

    def err(x):
        return float(np.abs(Q @ x - c).max() / scale)

    rows = []
    for label, opts in (
        ("bcd greedy forest + message passing", {}),
        ("bcd GS single coordinate (compiled)", dict(partition="vb", selection="gs", update="gradient")),
    ):
        dt, r = _timed(
            lambda opts=opts: optim.solve(
                P, method="bcd", tol=tol, max_iter=10**7, time_limit=20, verbose=False, **opts
            )
        )
        rows.append({"method": label, "time": dt, "error": err(r.x), "nit": r.nit})
    rtol = tol * scale / float(np.linalg.norm(c))
    dt, x = _timed(lambda: spla.cg(Q, c, rtol=rtol, maxiter=10**6)[0])
    rows.append({"method": "scipy CG", "time": dt, "error": err(x)})
    dt, x = _timed(lambda: pyamg.smoothed_aggregation_solver(Q).solve(c, tol=rtol, accel="cg"))
    rows.append({"method": "pyamg (SA + CG)", "time": dt, "error": err(x)})
    dt, x = _timed(lambda: spla.spsolve(Q.tocsc(), c))
    rows.append({"method": "scipy spsolve", "time": dt, "error": err(x)})
    if hasattr(P, "points") and P.dim <= 5000:
        rows.append(_sklearn_label_propagation(P, err))
    return [{"problem": P.name, "n": P.dim, **r} for r in rows]


def glm_runs(quick: bool) -> list[dict]:
    """Sparse L1 logistic regression (data set B's recipe, l1 = 0.05 lambda_max): seconds per greedy
    GS-q coordinate update with the gradient kept current through the linear predictor (compiled)
    against the numpy path that recomputes A^T s(Ax) every iteration."""
    m, p = (300, 3000) if quick else (1000, 10000)
    B = bcd_paper_problem("B", n_rows=m, n_cols=p)
    P = problems.Logistic(
        B.A, B.y, l1=0.05 * float(np.abs(B.A.T @ B.y).max()), scale="sum", name=f"L1-logistic B {m}x{p}"
    )
    rows = []
    for engine, iters in (("compiled", 2000), ("numpy", 200)):
        opts = dict(selection="gs_q", update="prox_gradient", block_size=1, engine=engine, tol=0, verbose=False)
        optim.solve(P, method="bcd", max_iter=3, **opts)
        t = time.perf_counter()
        r = optim.solve(P, method="bcd", max_iter=iters, check_every=iters, **opts)
        dt = time.perf_counter() - t
        rows.append({"problem": P.name, "engine": engine, "updates": r.nit, "seconds_per_update": dt / r.nit})
    return rows


def _sklearn_label_propagation(P, err) -> dict:
    """scikit-learn's ``LabelPropagation`` on the same graph (kernel = our W); its fixed point is the
    harmonic solution, x_U = 1 + label_distributions_[U, 1] for labels in {1, 2}."""
    import warnings

    from sklearn.semi_supervised import LabelPropagation as SkLabelPropagation

    W = P.W.toarray()
    labels = -np.ones(W.shape[0], dtype=int)
    labels[P.labelled] = P.y_labelled.astype(int) - 1
    model = SkLabelPropagation(kernel=lambda a, b: W.copy(), max_iter=100_000, tol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        model.fit(P.points, labels)
        dt = time.perf_counter() - t
    x = 1.0 + model.label_distributions_[P.unlabelled, 1]
    return {"method": "sklearn LabelPropagation (tol 1e-9)", "time": dt, "error": err(x), "nit": int(model.n_iter_)}


# ----------------------------------------------------------------------------- output
def markdown(fig_runs, peers, growth, graphs, glm=()) -> str:
    from _common import markdown_table

    out = []
    if fig_runs:
        out += [
            "## Figures 4-7 at CPU scale: f(x^k) - f* after the last iteration",
            "",
            markdown_table(fig_runs, ["figure", "problem", "rule", "iterations", "final_gap", "identified_at", "time"]),
            "",
        ]
    out += [
        f"## Lasso side by side: wall time to relative suboptimality {TARGET:g} (median of 3, one thread)",
        "",
        markdown_table(
            peers,
            [
                "problem",
                "method",
                "reached",
                "coordinate_updates",
                "fewer_updates_than_sklearn_cyclic",
                "gram_columns",
                "time",
                "time_vs_sklearn_cyclic",
                "first_call",
            ],
        ),
        "",
        "## Cost growth: seconds per coordinate update against p (GS-s, Lasso on data set A's recipe)",
        "",
        markdown_table(
            growth, ["m", "p", "engine", "updates", "seconds_per_update", "gram_columns", "fitted_exponent"]
        ),
        "",
        "## Sparse logistic regression: seconds per greedy coordinate update (GS-q, tau = 1)",
        "",
        markdown_table(list(glm), ["problem", "engine", "updates", "seconds_per_update"]),
        "",
        "## Label propagation: wall time to ||Q x - c||_inf / ||c||_inf <= 1e-6 (one thread)",
        "",
        markdown_table(graphs, ["problem", "n", "method", "time", "error", "nit"]),
    ]
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (a few minutes)")
    parser.add_argument("--figures", action="store_true", help="also the paper's Figures 4-7 (slow)")
    parser.add_argument(
        "--parts",
        "--part",
        default="peers,growth,glm,graphs",
        help="comma-separated subset of peers,growth,glm,graphs,lasso,crossover (lasso: the plain Lasso side "
        "by side in interleaved rounds and the crossover study alone; crossover: only the latter)",
    )
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    RESULTS.mkdir(parents=True, exist_ok=True)  # plot() writes there
    t0 = time.perf_counter()
    if parts & {"lasso", "crossover"}:
        return lasso_main(args.quick, parts, t0)
    fig_runs = figure_runs(args.quick) if args.figures else []
    peers = peer_runs(args.quick) if "peers" in parts else []
    growth = cost_growth(args.quick) if "growth" in parts else []
    glm = glm_runs(args.quick) if "glm" in parts else []
    graphs = label_propagation_runs(args.quick) if "graphs" in parts else []
    print(markdown(fig_runs, peers, growth, graphs, glm))
    path = plot(fig_runs, RESULTS) if fig_runs else None
    payload = {"quick": args.quick, "figures": fig_runs, "peers": peers, "cost_growth": growth, "glm": glm}
    payload["graphs"] = graphs
    out = write_json(
        "bcd" if parts == {"peers", "growth", "glm", "graphs"} else "bcd_" + "_".join(sorted(parts)), payload
    )
    print(f"\nwrote {out}{' and ' + str(path) if path else ''} in {time.perf_counter() - t0:.0f} s")


def lasso_main(quick: bool, parts: set, t0: float) -> None:
    """``--part lasso``: the plain Lasso side by side (interleaved rounds, median of 3) and the crossover
    study; ``--part crossover``: the latter alone."""
    from _common import markdown_table

    lasso = lasso_runs(lasso_problems(quick, False), lasso_reference) if "lasso" in parts else []
    cols = ["problem", "method", "reached", "coordinate_updates", "fewer_updates_than_sklearn_cyclic"]
    cols += ["gram_columns", "gram_form", "time", "time_vs_sklearn_cyclic", "first_call"]
    if lasso:
        title = f"## Lasso side by side: wall time to relative suboptimality {TARGET:g} (median of 3, interleaved)"
        print("\n".join([title, "", markdown_table(lasso, cols)]), flush=True)
    cross = crossover_runs(quick, lasso_reference)
    out = []
    ccols = ["density", "storage", "m", "p", "sklearn_epochs", "gram_columns", "gram_form", "coordinate_updates"]
    ccols += ["model_madds_ratio", "sklearn_time", "bcd_time", "time_vs_sklearn_cyclic", "skglm_vs_sklearn_cyclic"]
    out += ["", "## Where the Gram form stops paying (GS-s, tau = 1, data set A's recipe by density)", ""]
    out += [markdown_table(cross, ccols)]
    print("\n".join(out))
    path = write_json("bcd_" + "_".join(sorted(parts)), {"quick": quick, "lasso": lasso, "crossover": cross})
    print(f"\nwrote {path} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
