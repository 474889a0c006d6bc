"""Multi-block bilevel benchmark: parallel speedup in I and B, the official a8a run, BSVRB v1/v2 against
RSVRB, BSGD, SOBA and stocBiO, per-iteration cost on the official a8a setting, and iteration time
against the number of torch.distributed processes.

Usage: ``python benchmarks/bilevel.py [--quick] [--part speedup|a8a|reduced|single|cost|distributed]``.
Prints markdown; writes benchmarks/results/bilevel.json (one part alone: bilevel_<part>.json).
No peer library implements multi-block bilevel methods; the baselines are the paper's (RSVRB, the
ablations) and single-block stochastic bilevel methods on the stacked problem (SOBA, stocBiO).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from _common import markdown_table, pin_threads, write_json

pin_threads()

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _bilevel_speedup import check_against_library, speedup_grid  # noqa: E402

from optim.bilevel import BSVRBv1, BSVRBv2, code_faithful_options  # noqa: E402
from optim.registry import make_solver  # noqa: E402
from problems.bilevel import HyperparameterLogistic, QuadraticBilevel  # noqa: E402

REF_V1 = [0.6869, 0.5951, 0.5452, 0.5160, 0.4959, 0.4848, 0.4714, 0.4684, 0.4574, 0.4496]
REF_V2 = [0.5937, 0.4997, 0.4708, 0.4614, 0.4976, 0.4348, 0.4269, 0.4311, 0.4205, 0.4127]
# speedup grid (full mode): target eps = SPEEDUP_EPS ||grad F(0)||, step pairs (eta, tau), iteration cap
SPEEDUP_EPS = 0.1
SPEEDUP_ETAS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
SPEEDUP_TAUS = (0.125, 0.25)
SPEEDUP_CAP = 60_000
PARTS = ("speedup", "a8a", "reduced", "single", "cost", "distributed")


def fit_exponent(xs, ys) -> float:
    """Slope of log y against log x (least squares)."""
    xs, ys = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    return float(np.polyfit(xs, ys, 1)[0])


def speedup(quick: bool) -> dict:
    """Iterations (and samples) of BSVRB v2 until ||grad F|| <= eps on the quadratic problem (m = 100), I x B
    grid, 5 seeds, (eta, tau) tuned per cell on a small grid, iterations capped (lockstep path of
    ``_bilevel_speedup``, checked against the library solver first)."""
    p = QuadraticBilevel(m=100, dim_x=10, dim_y=5, noise=0.5, seed=0, n_samples=64)
    worst = check_against_library(p)
    if worst > 1e-10:
        raise AssertionError(f"lockstep runs differ from BSVRBv2 by {worst:.2e}")
    g0 = float(np.linalg.norm(p.hypergrad(np.zeros(10))))
    eps = SPEEDUP_EPS * g0
    Is, Bs = ([5, 25, 100], [1, 16]) if quick else ([1, 5, 10, 25, 100], [1, 4, 16, 64])
    seeds = range(2 if quick else 5)
    etas = (0.003, 0.03, 0.3) if quick else SPEEDUP_ETAS
    taus = (0.125,) if quick else SPEEDUP_TAUS
    cap = 5000 if quick else SPEEDUP_CAP
    rows = speedup_grid(p, Is, Bs, seeds, etas, taus, eps, cap, log=lambda s: print(s, flush=True))
    fits = {}
    for B in Bs:
        pts = [(r["I"], r["iterations"]) for r in rows if r["B"] == B and np.isfinite(r["iterations"])]
        if len(pts) >= 2:
            fits[f"iterations ~ I^a at B={B}"] = fit_exponent(*zip(*pts, strict=True))
    for nb in Is:
        pts = [(r["B"], r["iterations"]) for r in rows if r["I"] == nb and np.isfinite(r["iterations"])]
        if len(pts) >= 2:
            fits[f"iterations ~ B^b at I={nb}"] = fit_exponent(*zip(*pts, strict=True))
    return {"eps": eps, "eps_relative": SPEEDUP_EPS, "g0": g0, "cap": cap, "etas": list(etas), "taus": list(taus),
            "seeds": len(seeds), "library_check": worst, "rows": rows, "fits": fits}  # fmt: skip


def print_speedup(sp: dict) -> None:
    print(
        f"\n## Iterations to ||grad F|| <= {sp['eps']:.3g} = {sp['eps_relative']} ||grad F(0)|| "
        f"(quadratic, m = 100, BSVRB v2, median over {sp['seeds']} seeds, cap {sp['cap']})\n"
    )
    shown = [{k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in r.items()} for r in sp["rows"]]
    cols = ["I", "B", "eta", "tau", "iterations", "mean", "min", "max", "reached", "diverged", "samples", "seconds"]
    print(markdown_table(shown, cols, formats={"seconds": ".1f"}, missing="not reached"))
    print(
        "\nFitted exponents (the paper's bound T ~ 1/(I sqrt(I)) + 1/(I sqrt(B)) "
        "suggests -1 to -1.5 in I and 0 to -0.5 in B):"
    )
    for k, v in sp["fits"].items():
        print(f"- {k}: {v:+.2f}")


def a8a_official(quick: bool) -> dict:
    p = HyperparameterLogistic.a8a("official")
    epochs = 5 if quick else 10
    out = {}
    for v, cls, ref in ((1, BSVRBv1, REF_V1), (2, BSVRBv2, REF_V2)):
        r = cls(**code_faithful_options(v), max_iter=56 * epochs, check_every=56, seed=123, verbose=False).solve(p)
        out[f"v{v}"] = {"ours": r.history["fun"][1:].tolist(), "reference": ref[:epochs], "time": r.time}
    return out


def methods_on_reduced(quick: bool) -> list[dict]:
    p = HyperparameterLogistic.a8a("reduced")
    budget = 4e5 if quick else 4e6
    common = dict(blocks_per_iter=2, batch_size=32, budget=budget, max_iter=100_000, tol=0.0, seed=0, verbose=False,
                  check_every=25, lower_step=5.0, upper_step=30.0)  # fmt: skip
    rows = []
    for name in ("bsvrb-v1", "bsvrb-v2", "rsvrb", "bsgd", "bsvrb-ma", "soba", "stocbio"):
        opts = dict(common)
        if name in ("soba", "stocbio"):
            opts.pop("blocks_per_iter")
        r = make_solver(name, **opts).solve(p)
        rows.append({"method": name, "iterations": r.nit, "samples": r.counts["work"], "time (s)": r.time,
                     "||grad F||": r.optimality, "F": r.fun})  # fmt: skip
        print(f"  reduced a8a {name}: {rows[-1]}", flush=True)
    return rows


def single_block() -> list[dict]:
    """m = 1 sanity run: stochastic methods against the exact hypergradient (torchopt / betty-ml are not
    installed here, so the reference is our closed form)."""
    p = QuadraticBilevel(m=1, dim_x=10, dim_y=5, noise=0.5, seed=1, n_samples=64)
    g0 = float(np.linalg.norm(p.hypergrad(np.zeros(10))))
    rows = []
    for name in ("bsvrb-v2", "bsvrb-v1", "bsgd", "soba", "stocbio", "hypergradient-descent"):
        opts = {} if name == "hypergradient-descent" else dict(batch_size=16, upper_step=0.3, check_every=5)
        r = make_solver(name, tol=0.1 * g0, max_iter=3000, seed=0, verbose=False, **opts).solve(p)
        rows.append({"method": name, "status": r.status, "iterations": r.nit, "samples": r.counts["work"],
                     "||grad F||": r.optimality, "F - F*": r.fun - p.F(p.x_star())})  # fmt: skip
    return rows


def iteration_cost() -> list[dict]:
    p = HyperparameterLogistic.a8a("official")
    cases = {
        "v2 (code-faithful, lazy)": (BSVRBv2, code_faithful_options(2)),
        "v1 (code-faithful, Frobenius floor)": (BSVRBv1, code_faithful_options(1)),
        "v1 (eigenvalue clip at lam)": (
            BSVRBv1,
            {**code_faithful_options(1), "projection": "eig", "init": "minibatch", "legacy_rng": False},
        ),
    }
    rows = []
    for label, (cls, opts) in cases.items():
        s = cls(**opts, seed=0)
        st = s.init(p)
        for _ in range(5):
            s.step(p, st)
        times = []
        for _ in range(60):  # median of single steps: robust to other jobs on a shared machine
            t = time.perf_counter()
            s.step(p, st)
            times.append(time.perf_counter() - t)
        rows.append({"method": label, "ms / iteration": 1e3 * float(np.median(times))})
        print(f"  {rows[-1]}", flush=True)
    return rows


def _dist_worker(rank, world, init_file, out):
    import torch.distributed as dist

    from optim.bilevel import DistributedBSVRB

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        p = HyperparameterLogistic.a8a("official")
        s = DistributedBSVRB(**code_faithful_options(2), seed=0)
        st = s.init(p)
        for _ in range(5):
            s.step(p, st)
        dist.barrier()
        t = time.perf_counter()
        for _ in range(40):
            s.step(p, st)
        if rank == 0:
            with open(out, "w") as fh:
                fh.write(str(1e3 * (time.perf_counter() - t) / 40))
    finally:
        dist.destroy_process_group()


def distributed_cost(worlds=(1, 2)) -> list[dict]:
    import torch.multiprocessing as mp

    rows = []
    for w in worlds:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "ms")
            mp.spawn(_dist_worker, args=(w, os.path.join(tmp, "init"), out), nprocs=w, join=True)
            rows.append({"processes W": w, "ms / iteration": float(open(out).read())})
        print(f"  {rows[-1]}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grids and budgets (a few minutes)")
    parser.add_argument("--part", choices=("all", *PARTS), default="all",
                        help="run one part alone (its JSON goes to bilevel_<part>.json)")  # fmt: skip
    args = parser.parse_args()
    q = args.quick
    run = set(PARTS) if args.part == "all" else {args.part}
    payload = {"quick": q}
    if "speedup" in run:
        print("running the speedup study", flush=True)
        payload["speedup"] = sp = speedup(q)
        print_speedup(sp)
    if "a8a" in run:
        print("\nrunning the official a8a setting", flush=True)
        payload["a8a_official"] = a8 = a8a_official(q)
        rows = []
        for v in ("v1", "v2"):
            for e, (ours, ref) in enumerate(zip(a8[v]["ours"], a8[v]["reference"], strict=False), 1):
                rows.append({"method": f"bsvrb-{v}", "epoch": e, "ours (seed 123)": ours, "official code": ref,
                             "difference": ours - ref})  # fmt: skip
        print("\n## Official a8a setting, code-faithful options: mean validation loss by epoch\n")
        fmt = {"ours (seed 123)": ".5f", "official code": ".4f", "difference": "+.1e"}
        print(markdown_table(rows, ["method", "epoch", "ours (seed 123)", "official code", "difference"], formats=fmt))
    if "reduced" in run:
        print("\nrunning the methods on reduced a8a", flush=True)
        payload["reduced"] = red = methods_on_reduced(q)
        print("\n## Reduced a8a (m = 5, I = 2, B = 32): same sample budget\n")
        print(markdown_table(red, ["method", "iterations", "samples", "time (s)", "||grad F||", "F"],
                             formats={"F": ".6f"}))  # fmt: skip
    if "single" in run:
        payload["single_block"] = sb = single_block()
        print("\n## Single block (m = 1, quadratic): to ||grad F|| <= 0.1 ||grad F(0)||\n")
        print(markdown_table(sb, ["method", "status", "iterations", "samples", "||grad F||", "F - F*"]))
    if "cost" in run:
        print("\n## One iteration on the official a8a setting (m = 100, I = 10, B = 32, one thread)\n")
        payload["iteration_cost"] = cost = iteration_cost()
        print(markdown_table(cost, ["method", "ms / iteration"], formats={"ms / iteration": ".2f"}))
    if "distributed" in run:
        print("\n## Distributed BSVRB v2 (gloo, official a8a setting): iteration time against processes\n")
        payload["distributed"] = dc = distributed_cost()
        print(markdown_table(dc, ["processes W", "ms / iteration"], formats={"ms / iteration": ".2f"}))
    name = "bilevel" if args.part == "all" else f"bilevel_{args.part}"
    print(f"\nwrote {write_json(name, payload)}")


if __name__ == "__main__":
    main()
