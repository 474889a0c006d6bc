"""Where first-order methods overtake an exact LP on matrix games, and what one stochastic step costs.

Imported by ``benchmarks/monotone.py`` (run that script). Three measurements, one thread:

* ``crossover(sizes, ...)``: policeman-and-burglar PB(n) and random normal n x n games. Wall time of
  VR-Halpern, VR-FoRB and EG (the authors' step sizes on PB, our defaults on random games) to the
  natural residual 1e-3 and 1e-4, against HiGHS dual simplex and HiGHS interior point solving the
  game's LP exactly (the duals of its rows give the other player's strategy), through highspy on one
  thread, each solve in a child process (killed if it hangs). Our times include the setup the step
  needs (the Lanczos norm estimate for EG) and exclude the residual checks (as every solver time in
  the library).
* ``cost growth``: time per epoch (component evaluations / n) of each method against n, with the
  exponent of a least-squares fit of log time on log n (2 is the O(n^2) of a dense mat-vec).
* ``step_costs(sizes)``: microseconds per stochastic step of VR-EG, VR-FoRB and VR-Halpern, compiled
  kernels against the numpy path, in CPU time (``time.process_time``: unaffected by other processes
  sharing the cores) and wall time.
"""

from __future__ import annotations

import math
import time

import numpy as np

import optim
from optim.monotone import official_options
from problems.monotone import MatrixGame

FIRST_ORDER = ("vr-halpern", "vr-forb", "eg")
LP_METHODS = {"highs-simplex": "simplex", "highs-ipm": "ipm"}
TARGETS = (1e-3, 1e-4)


def games(n: int):
    """The two game families at size n."""
    return [MatrixGame.policeman_burglar(n, seed=1), MatrixGame.random(n, n, seed=0)]


def lp_solve(game: MatrixGame, solver: str, time_limit: float):
    """(z, seconds, status) from one HiGHS LP (highspy, one thread): min t s.t. A x <= t 1, x in the
    simplex; y from the duals of the rows A x <= t 1. The clock covers building and solving the LP.
    (scipy's ``linprog(method="highs-ipm")`` hung on these games on the 2-core test machine, so the
    benchmark calls highspy, the library under it, directly.)"""
    import highspy
    import scipy.sparse as sp

    p, q = game.A.shape
    t0 = time.perf_counter()
    h = highspy.Highs()
    for key, value in (("output_flag", False), ("threads", 1), ("time_limit", float(time_limit))):
        h.setOptionValue(key, value)
    h.setOptionValue("solver", solver)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = q + 1, p + 1
    lp.col_cost_ = np.r_[np.zeros(q), 1.0]
    lp.col_lower_ = np.r_[np.zeros(q), -inf]
    lp.col_upper_ = np.full(q + 1, inf)
    lp.row_lower_ = np.r_[np.full(p, -inf), 1.0]
    lp.row_upper_ = np.r_[np.zeros(p), 1.0]
    M = sp.csc_matrix(np.vstack([np.c_[game.A, -np.ones(p)], np.r_[np.ones(q), 0.0]]))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = M.indptr, M.indices, M.data
    h.passModel(lp)
    h.run()
    sec = time.perf_counter() - t0
    status = h.modelStatusToString(h.getModelStatus())
    if status != "Optimal":
        return None, sec, status
    sol = h.getSolution()
    x = np.asarray(sol.col_value)[:q]
    y = np.maximum(-np.asarray(sol.row_dual)[:p], 0.0)
    y /= max(y.sum(), 1e-300)
    return np.concatenate([x, y]), sec, "optimal"


def _lp_child(A, solver, time_limit, out) -> None:
    out.put(lp_solve(MatrixGame(A), solver, time_limit))


def lp_solve_isolated(game: MatrixGame, solver: str, time_limit: float):
    """``lp_solve`` in a spawned child process, killed 60 s after ``time_limit`` (a HiGHS run that hangs
    then reads "killed")."""
    import multiprocessing as mp
    import queue

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_lp_child, args=(game.A, solver, time_limit, out))
    proc.start()
    try:
        result = out.get(timeout=time_limit + 60)
    except queue.Empty:
        result = (None, time_limit + 60, "killed")
        proc.kill()
    proc.join()
    return result


def time_to(history, threshold):
    hit = np.nonzero(np.asarray(history["optimality"]) <= threshold)[0]
    return float(np.asarray(history["time"])[hit[0]]) if hit.size else None


def first_order_run(game: MatrixGame, method: str, time_limit: float, seed: int = 0) -> dict:
    """One run to residual 1e-4 (or the time limit); times to each target and time per epoch."""
    # the authors' tuned steps on their game (PB); the library's defaults on random games, where the tuned
    # steps do not converge (VR-Halpern has no default step on a game: it keeps 5/||A||_F)
    official = game.name.startswith("pb") or method == "vr-halpern"
    options = dict(official_options(game)[method]) if official else {}
    setup = 0.0
    if method == "eg":  # EG's step (5/||A||_2 or 0.99/||A||_2) needs the norm: charge its estimate
        t0 = time.perf_counter()
        from problems.monotone import spectral_norm

        spectral_norm(game.A)
        setup = time.perf_counter() - t0
        options["check_every"] = 10
    res = optim.solve(
        game, method=method, tol=min(TARGETS), time_limit=time_limit, budget=10**9, seed=seed, verbose=False, **options
    )
    row = {"setup_s": setup, "status": res.status, "residual": res.optimality, "epochs": res.counts["work"]}
    for thr in TARGETS:
        t = time_to(res.history, thr)
        row[f"t@{thr:g}"] = None if t is None else t + setup
    row["s_per_epoch"] = res.time / max(res.counts["work"], 1e-12)
    return row


def crossover(sizes, time_limit: float, lp_limit: float) -> list[dict]:
    """One row per (game, n, solver)."""
    rows = []
    for n in sizes:
        for game in games(n):
            family = game.name.split("(")[0]
            for name, method in LP_METHODS.items():
                z, sec, status = lp_solve_isolated(game, method, lp_limit)
                row = {"game": family, "n": n, "solver": name, "status": status, "s_per_epoch": None}
                row["residual"] = game.optimality(z) if z is not None else None
                for thr in TARGETS:  # an LP answer is exact: it reaches both targets at once
                    row[f"t@{thr:g}"] = sec if z is not None and row["residual"] <= thr else None
                rows.append(row)
                print(f"  {family} n={n} {name}: {sec:.2f}s {status}", flush=True)
            for method in FIRST_ORDER:
                row = {"game": family, "n": n, "solver": method, **first_order_run(game, method, time_limit)}
                rows.append(row)
                print(
                    f"  {family} n={n} {method}: t@1e-3 {row['t@0.001']} t@1e-4 {row['t@0.0001']} "
                    f"({row['status']}, residual {row['residual']:.1e})",
                    flush=True,
                )
    return rows


def crossover_summary(rows) -> list[dict]:
    """Per game and target: the fastest first-order method and LP at each n, and who wins."""
    out = []
    for family in sorted({r["game"] for r in rows}):
        for thr in TARGETS:
            key = f"t@{thr:g}"
            for n in sorted({r["n"] for r in rows if r["game"] == family}):
                here = [r for r in rows if r["game"] == family and r["n"] == n]
                fo = [(r[key], r["solver"]) for r in here if r["solver"] in FIRST_ORDER and r[key] is not None]
                lp = [(r[key], r["solver"]) for r in here if r["solver"] in LP_METHODS and r[key] is not None]
                best_fo, best_lp = min(fo, default=(None, "-")), min(lp, default=(None, "-"))
                if best_fo[0] is None:
                    winner = "LP" if best_lp[0] is not None else "neither"
                elif best_lp[0] is None:
                    winner = "first-order"
                else:
                    winner = "first-order" if best_fo[0] < best_lp[0] else "LP"
                ratio = best_lp[0] / best_fo[0] if best_fo[0] and best_lp[0] else None
                out.append(
                    {
                        "game": family,
                        "target": thr,
                        "n": n,
                        "best_first_order": best_fo[1],
                        "fo_s": best_fo[0],
                        "best_lp": best_lp[1],
                        "lp_s": best_lp[0],
                        "lp_over_fo": ratio,
                        "faster": winner,
                    }
                )
    return out


def crossover_points(summary) -> list[str]:
    """Sentences: from which n on the first-order methods win (measured), per game and target."""
    lines = []
    for family in sorted({r["game"] for r in summary}):
        for thr in TARGETS:
            seq = [r for r in summary if r["game"] == family and r["target"] == thr]
            wins = [r["n"] for r in seq if r["faster"] == "first-order"]
            if not wins:
                lines.append(f"{family}, residual {thr:g}: the LP is faster at every tested n (up to {seq[-1]['n']})")
            elif all(r["faster"] == "first-order" for r in seq if r["n"] >= wins[0]):
                lines.append(f"{family}, residual {thr:g}: first-order methods are faster from n = {wins[0]} on")
            else:
                lines.append(
                    f"{family}, residual {thr:g}: first-order methods are faster at n in {wins} (not monotone)"
                )
    return lines


def fit_exponent(ns, values):
    """Slope of the least-squares line of log(values) on log(ns) (None with fewer than 2 points)."""
    pts = [(math.log(n), math.log(v)) for n, v in zip(ns, values, strict=True) if v]
    if len(pts) < 2:
        return None
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def cost_growth(rows) -> list[dict]:
    """Seconds per epoch against n for each first-order method (and LP seconds against n), fitted."""
    out = []
    for family in sorted({r["game"] for r in rows}):
        for solver in (*FIRST_ORDER, *LP_METHODS):
            sel = sorted((r for r in rows if r["game"] == family and r["solver"] == solver), key=lambda r: r["n"])
            ns = [r["n"] for r in sel]
            if solver in FIRST_ORDER:
                vals, unit = [r["s_per_epoch"] for r in sel], "s per epoch"
            else:
                vals, unit = [r["t@0.0001"] for r in sel], "s per solve"
            row = {"game": family, "solver": solver, "unit": unit, "exponent": fit_exponent(ns, vals)}
            row.update({f"n={n}": v for n, v in zip(ns, vals, strict=True)})
            out.append(row)
    return out


def plot_crossover(rows, folder) -> list:
    """Time to each target against n, log-log, one panel per (game, target); drawn without pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    families = sorted({r["game"] for r in rows})
    fig = Figure(figsize=(5 * len(TARGETS), 4 * len(families)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(families), len(TARGETS), squeeze=False)
    for i, family in enumerate(families):
        for j, thr in enumerate(TARGETS):
            ax = axes[i][j]
            for c, solver in enumerate((*FIRST_ORDER, *LP_METHODS)):
                sel = sorted((r for r in rows if r["game"] == family and r["solver"] == solver), key=lambda r: r["n"])
                pts = [(r["n"], r[f"t@{thr:g}"]) for r in sel if r[f"t@{thr:g}"] is not None]
                if pts:
                    style = {"marker": "o", "ls": "--" if solver in LP_METHODS else "-", "color": f"C{c}"}
                    ax.plot(*zip(*pts, strict=True), label=solver, **style)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("n")
            ax.set_ylabel(f"seconds to residual {thr:g}")
            ax.set_title(f"{family}")
            ax.legend(fontsize=7)
    fig.tight_layout()
    path = folder / "monotone_crossover.png"
    fig.savefig(path, dpi=110)
    return [path]


def step_costs(sizes, steps: int = 2000, repeats: int = 5) -> list[dict]:
    """Microseconds per stochastic step, compiled kernel and numpy path, on PB(n), one thread; the
    median over ``repeats`` interleaved timings. Also the component evaluations per step (2 for VR-EG
    and VR-FoRB; 2b on a batch step and n on a full one for VR-Halpern) and the nanoseconds per
    component evaluation, the unit in which the methods' costs compare."""
    rows = []
    for n in sizes:
        game = MatrixGame.policeman_burglar(n, seed=1)
        fro = game.frobenius
        cases = {
            "vr-eg": ({"step": 3 / (math.sqrt(n) * fro), "block_steps": n}, n),
            "vr-forb": ({"step": 2 / (math.sqrt(n) * fro), "block_steps": n}, n),
            "vr-halpern": ({"step": 5 / fro, "block_steps": 10}, 10),
        }
        for method, (options, per) in cases.items():
            row: dict = {"n": n, "method": method}
            runs = {}
            for compiled in (True, False):
                solver = optim.registry.make_solver(method, seed=0, compiled=compiled, tol=0.0, **options)
                state = solver.step(game, solver.init(game, None))  # compiles (cached on disk) and warms up
                runs[compiled] = (solver, state, max(1, (steps if compiled else steps // 10) // per))
            timings: dict = {True: [], False: []}
            for _ in range(repeats):
                for compiled, (solver, state, reps) in runs.items():
                    game.counts.reset()
                    c0, w0 = time.process_time(), time.perf_counter()
                    for _ in range(reps):
                        state = solver.step(game, state)
                    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                    timings[compiled].append((cpu / (reps * per), wall / (reps * per), game.counts["component"]))
            for compiled, tag in ((True, "numba"), (False, "numpy")):
                reps = runs[compiled][2]
                row[f"{tag}_cpu_us"] = float(np.median([c for c, _, _ in timings[compiled]])) * 1e6
                row[f"{tag}_wall_us"] = float(np.median([w for _, w, _ in timings[compiled]])) * 1e6
            components = sum(k for _, _, k in timings[True]) / (repeats * runs[True][2] * per)
            row["components_per_step"] = components
            row["numba_ns_per_component"] = row["numba_cpu_us"] * 1e3 / components
            row["speedup_cpu"] = row["numpy_cpu_us"] / row["numba_cpu_us"]
            rows.append(row)
            print(f"  step cost n={n} {method}: {row}", flush=True)
    return rows
