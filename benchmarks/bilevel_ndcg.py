"""Top-K NDCG on a MovieLens-100k subset (K-SONG lower levels, NeuMF-style model): held-out NDCG@10 reached by
BSVRB v1/v2, the two ablations, RSVRB, SOBA and stocBiO from the same initial model and the same number of
iterations, and the cost of one BSVRB v2 iteration against the number of items (fitted exponent).

Usage: ``python benchmarks/bilevel_ndcg.py [--quick]``. Needs the MovieLens-100k file (see
``problems/movielens.py``). Prints markdown; writes benchmarks/results/bilevel_ndcg.json. No peer library
solves this multi-block bilevel problem; libauc's metric is checked in the tests, its training losses are not run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from _common import markdown_table, pin_threads, write_json

pin_threads()

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from optim.registry import make_solver  # noqa: E402
from problems.bilevel import TopKNDCG  # noqa: E402

METHODS = ("bsvrb-v2", "bsvrb-v1", "bsgd", "bsvrb-ma", "rsvrb", "soba", "stocbio")


def methods_table(quick: bool) -> list[dict]:
    n_users, n_items, iters = (20, 80, 100) if quick else (50, 200, 300)
    seeds = (0,) if quick else (0, 1, 2)
    rows = []
    for method in METHODS:
        before, after, upper, secs, samples = [], [], [], [], []
        for seed in seeds:
            p = TopKNDCG.movielens(n_users=n_users, n_items=n_items, seed=seed)
            before.append(p.report(p.initial_point())["test_ndcg@10"])
            t = time.perf_counter()
            res = make_solver(method, max_iter=iters, seed=seed, verbose=False).solve(p)
            secs.append(time.perf_counter() - t)
            after.append(p.report(res.x)["test_ndcg@10"])
            upper.append(float(res.optimality))
            samples.append(float(p.counts.get("samples", 0)))
        rows.append(
            {
                "method": method,
                "NDCG@10 start": float(np.mean(before)),
                "NDCG@10 end": float(np.mean(after)),
                "sd end": float(np.std(after)),
                "upper value": float(np.mean(upper)),
                "samples": float(np.mean(samples)),
                "time (s)": float(np.mean(secs)),
                "ms / iteration": 1e3 * float(np.mean(secs)) / iters,
            }
        )
    return rows


def cost_growth(quick: bool) -> tuple[list[dict], float]:
    sizes = (60, 120, 240) if quick else (100, 200, 400, 800)
    iters = 30 if quick else 60
    rows = []
    for n in sizes:
        p = TopKNDCG.movielens(n_users=20, n_items=n, seed=0)
        solver = make_solver("bsvrb-v2", max_iter=iters, seed=0, verbose=False, check_every=10**6)
        t = time.perf_counter()
        solver.solve(p)
        rows.append({"items N": n, "dim_x": p.dim_x, "ms / iteration": 1e3 * (time.perf_counter() - t) / iters})
    slope = float(np.polyfit(np.log(sizes), np.log([r["ms / iteration"] for r in rows]), 1)[0])
    return rows, slope


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    quick = ap.parse_args().quick
    table = methods_table(quick)
    print("### Held-out NDCG@10, same iterations, defaults of every method\n")
    cols = ["method", "NDCG@10 start", "NDCG@10 end", "sd end", "upper value", "samples", "time (s)", "ms / iteration"]
    print(markdown_table(table, cols, formats={"ms / iteration": ".1f", "time (s)": ".1f"}))
    growth, slope = cost_growth(quick)
    print("\n### BSVRB v2 iteration cost against the number of items (I = 10, B = 32)\n")
    print(markdown_table(growth, ["items N", "dim_x", "ms / iteration"], formats={"ms / iteration": ".1f"}))
    print(f"\nfitted exponent of ms / iteration in N: {slope:.2f}")
    path = write_json("bilevel_ndcg", {"quick": quick, "methods": table, "cost": growth, "cost_exponent": slope})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
