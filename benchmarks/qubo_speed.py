"""Annealer speed and cost growth: our numba ``SimulatedAnnealing`` against dwave-samplers' compiled
``SimulatedAnnealingSampler`` on the same models with the same schedule (CPU seconds, median of
interleaved repeats). Used by ``benchmarks/qubo.py``; runs alone as

    OMP_NUM_THREADS=1 python benchmarks/qubo_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.sparse as sp
from _common import markdown_table

from quantum import QUBO
from quantum.samplers import SimulatedAnnealing, default_beta_range


def dwave_sa():
    from dwave.samplers import SimulatedAnnealingSampler

    return SimulatedAnnealingSampler()


# ---------------------------------------------------------------------- 1. speed
def speed(repeats: int) -> dict:
    n, density = 200, 0.10
    rng = np.random.default_rng(0)
    M = sp.random(n, n, density=density, random_state=1, format="csr")
    M.data = rng.normal(size=M.nnz)
    q = QUBO(rng.normal(size=n), sp.triu(M + M.T, 1).tocsr())
    bqm = q.to_dimod()
    br = default_beta_range(q)
    ours, theirs = SimulatedAnnealing(), dwave_sa()
    t = time.perf_counter()
    ours.sample(q, num_reads=1, num_sweeps=2, seed=0)
    jit = time.perf_counter() - t
    to, tt, eo, et = [], [], [], []
    for r in range(repeats):
        c = time.process_time()
        so = ours.sample(q, num_reads=128, num_sweeps=1000, beta_range=br, seed=r)
        to.append(time.process_time() - c)
        c = time.process_time()
        st = theirs.sample(bqm, num_reads=128, num_sweeps=1000, beta_range=br, beta_schedule_type="geometric", seed=r)
        tt.append(time.process_time() - c)
        eo.append(so.first.energy)
        et.append(float(st.first.energy))
    updates = 128 * 1000 * n
    out = {
        "n": n,
        "density": density,
        "interactions": q.num_interactions,
        "reads": 128,
        "sweeps": 1000,
        "beta_range": list(br),
        "repeats": repeats,
        "jit_first_call_s": jit,
        "ours_cpu_s": statistics.median(to),
        "dwave_cpu_s": statistics.median(tt),
        "ratio_ours_over_dwave": statistics.median(to) / statistics.median(tt),
        "ours_best_energy": min(eo),
        "dwave_best_energy": min(et),
        "ours_updates_per_s": updates / statistics.median(to),
        "dwave_updates_per_s": updates / statistics.median(tt),
    }
    return out


# ---------------------------------------------------------------------- 1b. cost growth
def random_qubo(n: int, density: float, seed: int) -> QUBO:
    """Gaussian linear and coupling weights on a random sparsity pattern with ``density`` of the pairs."""
    rng = np.random.default_rng(seed)
    M = sp.random(n, n, density=density, random_state=seed + 1, format="csr")
    M.data = rng.normal(size=M.nnz)
    return QUBO(rng.normal(size=n), sp.triu(M + M.T, 1).tocsr())


def cpu_pair(q: QUBO, reads: int, sweeps: int, repeats: int) -> tuple[float, float]:
    """Median CPU seconds of ours and dwave-samplers' SA on ``q`` (same schedule), interleaved repeats."""
    bqm, br, ours, theirs = q.to_dimod(), default_beta_range(q), SimulatedAnnealing(), dwave_sa()
    to, tt = [], []
    for r in range(repeats):
        c = time.process_time()
        ours.sample(q, num_reads=reads, num_sweeps=sweeps, beta_range=br, seed=r)
        to.append(time.process_time() - c)
        c = time.process_time()
        theirs.sample(bqm, num_reads=reads, num_sweeps=sweeps, beta_range=br, beta_schedule_type="geometric", seed=r)
        tt.append(time.process_time() - c)
    return statistics.median(to), statistics.median(tt)


def fit_exponent(x, y) -> float:
    """Slope of ``log y`` against ``log x`` (least squares): the cost grows like ``x^slope``."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def scaling(quick: bool) -> dict:
    """Time per sweep and per spin update (one Metropolis proposal) against the number of variables at
    a fixed average degree, and against the density at fixed ``n``; ours and dwave-samplers side by side."""
    reads, sweeps, repeats = (16, 200, 3) if quick else (32, 500, 5)
    degree = 16
    sizes = [100, 200, 400, 800, 1600] + ([] if quick else [3200, 6400])
    dens_n = 200 if quick else 400
    densities = [0.01, 0.03, 0.1, 0.3, 1.0]

    def row(q: QUBO, label: str) -> dict:
        n = q.num_variables
        ours, dwave = cpu_pair(q, reads, sweeps, repeats)
        per = reads * sweeps
        return {
            "scan": label,
            "n": n,
            "density": round(2.0 * q.num_interactions / (n * (n - 1)), 4),
            "avg_degree": round(2.0 * q.num_interactions / n, 1),
            "ours_us_per_sweep": 1e6 * ours / per,
            "dwave_us_per_sweep": 1e6 * dwave / per,
            "ours_ns_per_update": 1e9 * ours / (per * n),
            "dwave_ns_per_update": 1e9 * dwave / (per * n),
            "ratio_ours_over_dwave": ours / dwave,
        }

    by_n = [row(random_qubo(n, degree / (2 * (n - 1)), n), "variables") for n in sizes]  # M + M^T doubles it
    by_d = [row(random_qubo(dens_n, d, 7), "density") for d in densities]
    fits = {
        "sweep_vs_n_ours": fit_exponent([r["n"] for r in by_n], [r["ours_us_per_sweep"] for r in by_n]),
        "sweep_vs_n_dwave": fit_exponent([r["n"] for r in by_n], [r["dwave_us_per_sweep"] for r in by_n]),
        "update_vs_n_ours": fit_exponent([r["n"] for r in by_n], [r["ours_ns_per_update"] for r in by_n]),
        "update_vs_n_dwave": fit_exponent([r["n"] for r in by_n], [r["dwave_ns_per_update"] for r in by_n]),
        "update_vs_density_ours": fit_exponent([r["density"] for r in by_d], [r["ours_ns_per_update"] for r in by_d]),
        "update_vs_density_dwave": fit_exponent([r["density"] for r in by_d], [r["dwave_ns_per_update"] for r in by_d]),
    }
    return {"reads": reads, "sweeps": sweeps, "repeats": repeats, "degree": degree, "rows": by_n + by_d, "fits": fits}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    args = ap.parse_args(argv)
    head = speed(repeats=3 if args.quick else 7)
    growth = scaling(args.quick)
    cols = ["scan", "n", "density", "avg_degree", "ours_us_per_sweep", "dwave_us_per_sweep"]
    cols += ["ours_ns_per_update", "dwave_ns_per_update", "ratio_ours_over_dwave"]
    print(markdown_table(growth["rows"], cols))
    print({k: round(v, 2) for k, v in growth["fits"].items()})
    print(f"target: SA CPU time <= 1.0x dwave-samplers': {head['ratio_ours_over_dwave']:.2f}x")


if __name__ == "__main__":
    main()
