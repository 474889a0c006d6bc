"""Benchmark: bandit tuning of SOR / SSOR-CG (Khodak et al., ICLR 2024) side by side with the peers a
user would otherwise pick, in one run.

1. Shifted-Laplacian sequences (Khodak et al. 2024, Sec. 4.1, high and low variance): mean SOR iterations per instance
   of fixed omegas, the best fixed omega in hindsight, Tsallis-INF (safe and official normaliser),
   Tsallis-INF-CB, ChebCB, the per-instance grid optimum and Young's omega; scipy's CG on the same
   instances; pyamg's compiled SOR loop re-counting a sample of table entries.
2. Heat equation, nx = 25 (the official h2d.m experiment): SSOR-CG iterations of the same tuners, vanilla CG (ours and
   scipy's), and pyamg smoothed-aggregation AMG as a CG preconditioner (setup per step).
3. One SOR sweep on pyamg.gallery.poisson((316, 316)) (99,856 unknowns): our numba sweep against
   pyamg's compiled sweep, interleaved, as a ratio (and both against one scipy mat-vec).

    python benchmarks/sor.py --quick     # T = 1000 (about a minute)
    python benchmarks/sor.py             # T = 5000, heat 5000 steps

Prints markdown tables and writes benchmarks/results/sor.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyamg
import scipy.sparse.linalg as spla
from _common import write_json
from pyamg.relaxation.relaxation import sor as pyamg_sor

import optim
import optim.linear as L
from optim.linear import kernels
from problems import HeatEquationSequence, ShiftedLaplacianSequence

SEEDS = (0, 1, 2)


def replay(table, method, seeds=SEEDS, **options):
    """Mean and range of the total over learner seeds, and the mean learner seconds per run."""
    totals, seconds = [], []
    for s in seeds:
        t0 = time.perf_counter()
        totals.append(optim.solve(table, method=method, seed=s, verbose=False, **options).fun)
        seconds.append(time.perf_counter() - t0)
    return {
        "total": float(np.mean(totals)),
        "min": float(min(totals)),
        "max": float(max(totals)),
        "learner_s": float(np.mean(seconds)),
    }


def scipy_cg_counts(sequence, warm=False):
    counts = []
    for A, b, x0, _ in sequence.instances():
        k = [0]
        spla.cg(
            A,
            b,
            x0=x0 if warm else np.zeros_like(b),
            rtol=sequence.rtol,
            atol=0.0,
            maxiter=sequence.max_iter,
            callback=lambda _x, k=k: k.__setitem__(0, k[0] + 1),
        )
        counts.append(k[0])
    return np.array(counts)


def shifted_section(T, sample):
    out = {}
    for variance in ("high", "low"):
        seq = ShiftedLaplacianSequence(variance=variance, T=T, seed=0)
        t0 = time.perf_counter()
        table = L.cost_table(seq, extras=("young", "cg"))
        build = time.perf_counter() - t0
        totals = table.totals()
        w_best, best = table.best_fixed()
        rows = {f"omega = {w:g}": {"total": float(totals[table.column(w)])} for w in (1.0, 1.2, 1.4, 1.6, 1.8, 1.95)}
        rows[f"best fixed (hindsight, omega = {w_best:g})"] = {"total": float(best)}
        rows["Tsallis-INF (safe normaliser)"] = replay(table, "tsallis-inf")
        rows["Tsallis-INF (official normaliser)"] = replay(table, "tsallis-inf", newton_init="code")
        rows["Tsallis-INF-CB (5 bins)"] = replay(table, "tsallis-inf-cb", bins=5, interval=(-0.15, 0.65))
        rows["ChebCB (m = 6)"] = replay(table, "chebcb")  # interval: the shift support [-0.15, 0.45]
        rows["per-instance best grid omega (oracle)"] = {"total": float(table.instance_optimal_total())}
        rows["Young's omega per instance (oracle)"] = {"total": float(table.extras["young"][1].sum())}
        rows["plain CG (ours)"] = {"total": float(table.extras["cg"][1].sum())}
        t0 = time.perf_counter()
        scipy_cg = scipy_cg_counts(seq)
        rows["scipy.sparse.linalg.cg (peer)"] = {"total": float(scipy_cg.sum()), "seconds": time.perf_counter() - t0}
        # pyamg's compiled SOR loop re-counts a sample of (instance, best omega) entries
        rhs = seq.right_hand_sides()
        agree = 0
        for t in range(sample):
            A = seq.shifted(seq.shifts[t])
            x, nrm0, k = np.zeros(seq.n), np.linalg.norm(rhs[t]), 0
            while True:
                pyamg_sor(A, x, rhs[t], w_best, iterations=1)
                k += 1
                if np.linalg.norm(rhs[t] - A @ x) / nrm0 < seq.rtol or k >= seq.max_iter:
                    break
            agree += int(k == table.costs[t, table.column(w_best)])
        for r in rows.values():
            r["per_instance"] = r["total"] / T
            r["ratio_to_best_fixed"] = r["total"] / best
        out[variance] = {
            "rows": rows,
            "table_build_s": build,
            "capped": table.capped(),
            "pyamg_sor_agreement": f"{agree}/{sample}",
            "scipy_cg_equals_ours": bool(np.array_equal(scipy_cg, table.extras["cg"][1])),
        }
    return out


def heat_section(T):
    seq = HeatEquationSequence(nx=25, T=T)
    t0 = time.perf_counter()
    table = L.cost_table(seq, extras=("cg",))
    build = time.perf_counter() - t0
    totals = table.totals()
    w_best, best = table.best_fixed()
    interval = seq.context_interval()
    rows = {"vanilla CG (ours)": {"total": float(table.extras["cg"][1].sum())}}
    t0 = time.perf_counter()
    scipy_cg = scipy_cg_counts(seq, warm=True)
    rows["scipy.sparse.linalg.cg (peer)"] = {"total": float(scipy_cg.sum()), "seconds": time.perf_counter() - t0}
    for w in (1.0, 1.5):
        rows[f"SSOR omega = {w:g}"] = {"total": float(totals[table.column(w)])}
    rows[f"best fixed (hindsight, omega = {w_best:g})"] = {"total": float(best)}
    rows["Tsallis-INF"] = replay(table, "tsallis-inf")
    rows["Tsallis-INF-CB (6 bins)"] = replay(table, "tsallis-inf-cb", bins=6, interval=interval)
    rows["ChebCB (m = 6)"] = replay(table, "chebcb", interval=interval)
    rows["per-step best grid omega (oracle)"] = {"total": float(table.instance_optimal_total())}
    # pyamg smoothed-aggregation AMG inside scipy CG, set up anew each step (A_t changes)
    amg, t0 = 0, time.perf_counter()
    for A, b, x0, _ in seq.instances():
        M = pyamg.smoothed_aggregation_solver(A).aspreconditioner()
        k = [0]
        spla.cg(
            A,
            b,
            x0=x0,
            rtol=seq.rtol,
            atol=0.0,
            maxiter=seq.max_iter,
            M=M,
            callback=lambda _x, k=k: k.__setitem__(0, k[0] + 1),
        )
        amg += k[0]
    rows["pyamg SA-AMG + CG (peer)"] = {"total": float(amg), "seconds": time.perf_counter() - t0}
    for r in rows.values():
        r["per_instance"] = r["total"] / T
        r["ratio_to_best_fixed"] = r["total"] / best
    return {
        "rows": rows,
        "table_build_s": build,
        "steps": T,
        "scipy_cg_equals_ours": bool(np.array_equal(scipy_cg, table.extras["cg"][1])),
    }


def time_sweeps(A, repeats, sweeps):
    """Median seconds per sweep of ours, pyamg's and one scipy mat-vec on ``A`` (interleaved), and the
    final iterates of both sweeps."""
    n = A.shape[0]
    b = np.random.default_rng(0).standard_normal(n)
    system = L.solvers.CSRSystem(A)
    indptr, indices, data, diag = system.arrays
    x_ours, x_amg = np.zeros(n), np.zeros(n)
    kernels.sor_sweep(indptr, indices, data, diag, b, x_ours, 1.5)  # compiled / loaded from cache
    pyamg_sor(A, x_amg, b, 1.5, iterations=1)
    ours, theirs, matvec = [], [], []
    for _ in range(repeats):  # interleaved so both see the same machine load
        t0 = time.perf_counter()
        for _ in range(sweeps):
            kernels.sor_sweep(indptr, indices, data, diag, b, x_ours, 1.5)
        ours.append((time.perf_counter() - t0) / sweeps)
        t0 = time.perf_counter()
        for _ in range(sweeps):
            pyamg_sor(A, x_amg, b, 1.5, iterations=1)
        theirs.append((time.perf_counter() - t0) / sweeps)
        t0 = time.perf_counter()
        for _ in range(sweeps):
            A @ b
        matvec.append((time.perf_counter() - t0) / sweeps)
    o, p, m = (float(np.median(v)) for v in (ours, theirs, matvec))
    return o, p, m, x_ours, x_amg


def growth(sizes, repeats, sweeps):
    """Time per sweep against unknowns (Poisson m x m, m in ``sizes``) with the fitted exponent
    ``time ~ n^p`` (least squares in log-log) for ours and pyamg."""
    rows = []
    for m in sizes:
        A = pyamg.gallery.poisson((m, m), format="csr")
        o, p, _, _, _ = time_sweeps(A, repeats, sweeps)
        rows.append({"m": m, "n": m * m, "ours_ms": 1e3 * o, "pyamg_ms": 1e3 * p, "ratio": o / p})
    logn = np.log([r["n"] for r in rows])
    fit = {key: float(np.polyfit(logn, np.log([r[f"{key}_ms"] for r in rows]), 1)[0]) for key in ("ours", "pyamg")}
    return {"rows": rows, "exponent": fit}


def sweep_section(repeats, sweeps, sizes):
    A = pyamg.gallery.poisson((316, 316), format="csr")
    n = A.shape[0]
    o, p, m, x_ours, x_amg = time_sweeps(A, repeats, sweeps)
    same = float(np.max(np.abs(x_ours - x_amg)) / np.max(np.abs(x_amg)))
    return {
        "n": n,
        "nnz": int(A.nnz),
        "ours_ms": 1e3 * o,
        "pyamg_ms": 1e3 * p,
        "matvec_ms": 1e3 * m,
        "ratio_ours_to_pyamg": o / p,
        "ours_in_matvecs": o / m,
        "pyamg_in_matvecs": p / m,
        "max_rel_diff_of_iterates": same,
        "growth": growth(sizes, repeats, sweeps),
    }


def _cell(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def markdown(results) -> str:
    lines = []
    for variance, sec in results["shifted"].items():
        lines += [
            f"### Shifted Laplacian, {variance} variance (T = {results['T']}; mean SOR iterations per instance)",
            "",
            "| method | per instance | total | / best fixed | range over seeds | learner s/run |",
            "|---|---:|---:|---:|---|---:|",
        ]
        for name, r in sec["rows"].items():
            rng = f"{r['min'] / results['T']:.1f}-{r['max'] / results['T']:.1f}" if "min" in r else ""
            lines.append(
                f"| {name} | {r['per_instance']:.1f} | {r['total']:.0f} | {r['ratio_to_best_fixed']:.3f} | "
                f"{rng} | {_cell(r.get('learner_s'))} |"
            )
        lines += [
            "",
            f"cost table built in {sec['table_build_s']:.1f} s; capped solves: {sec['capped']}; "
            f"pyamg SOR loop agrees with the table on {sec['pyamg_sor_agreement']} sampled entries; "
            f"scipy CG counts equal ours on every instance: {sec['scipy_cg_equals_ours']}",
            "",
        ]
    h = results["heat"]
    lines += [
        f"### Heat equation, nx = 25 (n = 576), {h['steps']} steps (total SSOR-PCG / CG iterations)",
        "",
        "| method | total | per step | / best fixed | seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in h["rows"].items():
        lines.append(
            f"| {name} | {r['total']:.0f} | {r['per_instance']:.2f} | {r['ratio_to_best_fixed']:.3f} | "
            f"{_cell(r.get('seconds'))} |"
        )
    lines += [
        "",
        f"cost table built in {h['table_build_s']:.1f} s; scipy CG counts equal ours on every step: "
        f"{h['scipy_cg_equals_ours']}",
        "",
    ]
    s = results["sweep"]
    lines += [
        f"### One SOR sweep, pyamg.gallery.poisson((316, 316)) (n = {s['n']}, nnz = {s['nnz']})",
        "",
        "| implementation | ms per sweep | in scipy mat-vecs |",
        "|---|---:|---:|",
        f"| ours (numba over CSR rows) | {s['ours_ms']:.3f} | {s['ours_in_matvecs']:.2f} |",
        f"| pyamg (compiled, `relaxation.sor`) | {s['pyamg_ms']:.3f} | {s['pyamg_in_matvecs']:.2f} |",
        "",
        f"ratio ours / pyamg = **{s['ratio_ours_to_pyamg']:.2f}** (target: at most 1.0x pyamg's sweep); "
        f"iterates after the same sweeps differ by {s['max_rel_diff_of_iterates']:.1e} (relative)",
        "",
        "#### Cost growth: time per sweep against unknowns (Poisson m x m)",
        "",
        "| m | unknowns n | ours ms/sweep | pyamg ms/sweep | ours / pyamg |",
        "|---:|---:|---:|---:|---:|",
    ]
    g = s["growth"]
    for r in g["rows"]:
        lines.append(f"| {r['m']} | {r['n']} | {r['ours_ms']:.3f} | {r['pyamg_ms']:.3f} | {r['ratio']:.2f} |")
    lines += [
        "",
        f"fitted exponent (time per sweep ~ n^p): ours p = {g['exponent']['ours']:.2f}, "
        f"pyamg p = {g['exponent']['pyamg']:.2f} (one sweep touches every nonzero once: p = 1 is the theory)",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="T = 1000 and 1000 heat steps (about a minute)")
    args = parser.parse_args(argv)
    T = 1000 if args.quick else 5000
    start = time.perf_counter()
    results = {
        "mode": "quick" if args.quick else "full",
        "T": T,
        "sweep": sweep_section(
            repeats=7, sweeps=20 if args.quick else 50, sizes=(100, 178, 316) if args.quick else (100, 178, 316, 562)
        ),
        "shifted": shifted_section(T, sample=20 if args.quick else 100),
        "heat": heat_section(1000 if args.quick else 5000),
    }
    results["seconds"] = time.perf_counter() - start
    print(markdown(results))
    print(f"total {results['seconds']:.0f} s")
    print(f"wrote {write_json('sor', results)}")


if __name__ == "__main__":
    main()
