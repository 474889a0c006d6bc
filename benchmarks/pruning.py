"""Side-by-side benchmark of the pruning family: magnitude, Wanda, SparseGPT, CBS-S and iterative CBS on the
ReLU digits MLP, torch.nn.utils.prune as the peer for magnitude, and the cardinality-constrained block solvers.

    python benchmarks/pruning.py [--quick]

Tables (markdown on stdout, JSON in ``benchmarks/results/pruning.json``, PNGs next to it):

1. Digits test accuracy against density {0.7, 0.5, 0.3} for every method, mean +- std over 3 seeds, with
   the achieved density (4 decimals) and seconds; iCBS variants: cutoff "abs" vs "signed_official",
   without tabu and fixing, reconstruction objective on row blocks.
2. Per-layer relative reconstruction error (seed 0, inputs of the pruned model).
3. iCBS quality against time (test accuracy per epoch) and the fraction of weights optimized.
4. Block solvers on real reconstruction blocks of the digits MLP: sa_card, swap_descent, tabu_swap,
   penalty + SimulatedAnnealing, against exhaustive (16 variables) and HiGHS; energy gap and seconds.
5. sa_card speed: a 64-variable block with 10 restarts, and time per flip against our SimulatedAnnealing
   (a swap counts as two flips) on 64..1024 variables, with fitted exponents of time against size.
6. torch.nn.utils.prune.l1_unstructured vs our magnitude: identical masks, seconds.
"""

from __future__ import annotations

import argparse
import time

from _common import markdown_table, pin_threads, write_json

pin_threads()

import numpy as np  # noqa: E402

from problems.pruning import digits_pruning  # noqa: E402
from quantum.cardinality import CardinalityQUBO, solve_cardinality  # noqa: E402
from quantum.pruning import CBS, ICBS, Magnitude, SparseGPT, Wanda  # noqa: E402
from quantum.samplers import SimulatedAnnealing  # noqa: E402

DENSITIES = (0.7, 0.5, 0.3)


def methods(quick):
    icbs = {"epochs": 10, "steps_per_epoch": 30}
    return {
        "magnitude": lambda: Magnitude(granularity="row"),
        "wanda (sequential)": lambda: Wanda(),
        "wanda (one pass)": lambda: Wanda(sequential=False),
        "sparsegpt": lambda: SparseGPT(),
        "cbs-s": lambda: CBS(max_swaps_iter=20 if quick else 100),
        "icbs taylor abs": lambda: ICBS(**icbs),
        "icbs taylor signed_official": lambda: ICBS(cutoff_mode="signed_official", **icbs),
        "icbs taylor no tabu/fixing": lambda: ICBS(tabu_frac=0.0, fix_frac_prune=0.0, fix_frac_keep=0.0, **icbs),
        "icbs reconstruction rows": lambda: ICBS(objective="reconstruction", block_scope="row", block_size=16),
    }


def accuracy_table(seeds, quick):
    rows, runs = [], {}
    for d in DENSITIES:
        for label, make in methods(quick).items():
            acc, secs, dens = [], [], []
            for seed in seeds:
                solver = make()
                solver.seed, solver.verbose = seed, False
                solver.density = d
                r = solver.solve(digits_pruning(seed, density=d))
                acc.append(r.report["accuracy"])
                secs.append(r.time)
                dens.append(r.density)
                runs[(d, label, seed)] = r
            rows.append(
                {
                    "density": d,
                    "method": label,
                    "accuracy": float(np.mean(acc)),
                    "std": float(np.std(acc)),
                    "achieved": f"{np.mean(dens):.4f}",
                    "seconds": float(np.mean(secs)),
                }
            )
    return rows, runs


def recon_table(runs):
    rows = []
    for (d, label, seed), r in runs.items():
        if seed == 0 and d in (0.5, 0.3):
            row = {"density": d, "method": label}
            row.update({k: v["recon_error_sequential"] for k, v in r.per_layer.items()})
            rows.append(row)
    return rows


def curve(runs):
    out = {}
    for (d, label, seed), r in runs.items():
        if seed == 0 and label == "icbs taylor abs":
            h = r.history
            out[d] = {k: h[k].tolist() for k in ("time", "accuracy", "fraction_optimized", "nit")}
    return out


def block_solvers(seeds):
    """Reconstruction blocks of one row of digits fc2 (k = pruned count of the block); reference:
    enumeration (16), HiGHS (32), the best energy any solver found (64, "best found")."""
    from problems.pruning import reconstruction_terms

    rows = []
    p = digits_pruning(0, density=0.5)
    X = p.dense_inputs()["fc2"]
    G, w0 = X.T @ X, p.w0["fc2"]
    heuristics = ("sa_card", "swap_descent", "tabu_swap", "penalty")
    for n, ref_method in ((16, "exhaustive"), (32, "milp"), (64, None)):
        for seed in seeds:
            rng = np.random.default_rng(seed)
            state = (rng.random(w0.size) < 0.5).astype(int)
            r0 = rng.integers(w0.shape[0])
            block = r0 * w0.shape[1] + rng.choice(w0.shape[1], size=n, replace=False)
            block = block[np.argsort(-state[block], kind="stable")]
            model, _ = CardinalityQUBO.from_terms(reconstruction_terms(w0, G, state, block)).prepared("abs")
            out = {}
            for m in heuristics + ((ref_method,) if ref_method else ()):
                opts = {"num_reads": 10, "num_sweeps": 1000} if m == "penalty" else {}
                out[m] = solve_cardinality(model, m, seed=seed, **opts)
            ref = out[ref_method].energy if ref_method else min(r.energy for r in out.values())
            for m, r in out.items():
                rows.append(
                    {
                        "n": n,
                        "seed": seed,
                        "solver": m,
                        "reference": ref_method or "best found",
                        "gap": (r.energy - ref) / max(1.0, abs(ref)),
                        "seconds": r.time,
                    }
                )
    agg = []
    for n in (16, 32, 64):
        for m in dict.fromkeys(r["solver"] for r in rows if r["n"] == n):
            sel = [r for r in rows if r["n"] == n and r["solver"] == m]
            agg.append(
                {
                    "n": n,
                    "solver": m,
                    "reference": sel[0]["reference"],
                    "mean gap": float(np.mean([r["gap"] for r in sel])),
                    "optimal": f"{sum(r['gap'] <= 1e-9 for r in sel)}/{len(sel)}",
                    "seconds": float(np.median([r["seconds"] for r in sel])),
                }
            )
    return agg


def sa_speed(sizes, repeats):
    rows = []
    sa = SimulatedAnnealing()
    for n in sizes:
        rng = np.random.default_rng(n)
        Q = np.triu(rng.normal(size=(n, n)), 1)
        model = CardinalityQUBO(rng.normal(size=n), Q, k=n // 2)
        solve_cardinality(model, "sa_card", seed=0)  # compile
        t_card, props = [], 0
        for rep in range(repeats):
            r = solve_cardinality(model, "sa_card", seed=rep, restarts=10)
            t_card.append(r.time)
            props = r.info["proposals"]
        qubo = model.penalty_qubo(1.0)
        sa.sample(qubo, num_reads=1, num_sweeps=10, seed=0)
        t_sa = []
        sweeps = 121
        for rep in range(repeats):
            t0 = time.perf_counter()
            sa.sample(qubo, num_reads=10, num_sweeps=sweeps, seed=rep)
            t_sa.append(time.perf_counter() - t0)
        card_flip = np.median(t_card) / (2 * props)
        sa_flip = np.median(t_sa) / (10 * sweeps * n)
        rows.append(
            {
                "n": n,
                "sa_card s (10 restarts)": float(np.median(t_card)),
                "swap proposals": props,
                "sa_card ns/flip": 1e9 * card_flip,
                "SimulatedAnnealing s": float(np.median(t_sa)),
                "SA ns/flip": 1e9 * sa_flip,
                "ratio": float(card_flip / sa_flip),
            }
        )
    ns = np.array([r["n"] for r in rows], dtype=float)
    fits = {
        k: float(np.polyfit(np.log(ns), np.log([r[k] for r in rows]), 1)[0])
        for k in ("sa_card s (10 restarts)", "SimulatedAnnealing s")
    }
    return rows, fits


def minilm_table():
    """MiniLM (packaged all-MiniLM-L6-v2): mean cosine to the dense embeddings of 300 held-out docstrings."""
    from problems.pruning.minilm import minilm_pruning

    rows = []
    for d in DENSITIES:
        p = minilm_pruning(d)
        for label, solver in (
            ("magnitude", Magnitude()),
            ("wanda (sequential)", Wanda()),
            ("wanda (one pass)", Wanda(sequential=False)),
            ("sparsegpt", SparseGPT()),
            (
                "icbs reconstruction rows/32",
                ICBS(objective="reconstruction", block_scope="row", block_size=32, epochs=1),
            ),
        ):
            solver.verbose = False
            r = solver.solve(p)
            errs = [v["recon_error_sequential"] for v in r.per_layer.values()]
            rows.append(
                {
                    "density": d,
                    "method": label,
                    "cosine": r.report["cosine"],
                    "mean rel. error": float(np.mean(errs)),
                    "achieved": f"{r.density:.4f}",
                    "seconds": r.time,
                }
            )
            print(rows[-1], flush=True)
    return rows


def torch_peer():
    import torch
    from torch.nn.utils import prune as tprune

    p = digits_pruning(0, density=0.5)
    t0 = time.perf_counter()
    ours = Magnitude(density=0.5, verbose=False).solve(p)
    t_ours = time.perf_counter() - t0
    rows = []
    for layer in p.layers:
        lin = torch.nn.Linear(*p.w0[layer].shape[::-1])
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(p.w0[layer]))
        t0 = time.perf_counter()
        tprune.l1_unstructured(lin, "weight", amount=int(p.w0[layer].size - ours.per_layer[layer]["kept"]))
        t = time.perf_counter() - t0
        same = bool(np.array_equal(lin.weight_mask.numpy().astype(bool), ours.masks[layer]))
        rows.append({"layer": layer, "identical mask": same, "torch s": t, "ours s (all layers)": t_ours})
    return rows


def plots(acc_rows, curves):
    from _common import RESULTS
    from matplotlib.figure import Figure

    RESULTS.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(11, 4))
    ax, bx = fig.subplots(1, 2)
    for m in dict.fromkeys(r["method"] for r in acc_rows):
        sel = [r for r in acc_rows if r["method"] == m]
        ax.errorbar(
            [r["density"] for r in sel],
            [r["accuracy"] for r in sel],
            [r["std"] for r in sel],
            label=m,
            marker="o",
            capsize=2,
        )
    ax.set_xlabel("density")
    ax.set_ylabel("test accuracy (3 seeds)")
    ax.legend(fontsize=7)
    for d, c in curves.items():
        bx.plot(c["time"], c["accuracy"], marker=".", label=f"icbs taylor d={d}")
    bx.set_xlabel("seconds")
    bx.set_ylabel("test accuracy")
    bx.legend(fontsize=7)
    fig.tight_layout()
    path = RESULTS / "pruning.png"
    fig.savefig(path, dpi=90)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer solver repeats and CBS swap iterations")
    ap.add_argument("--skip-accuracy", action="store_true", help="only the block-solver and speed tables")
    ap.add_argument("--minilm", action="store_true", help="also MiniLM cosine vs density (needs the minilm wheel)")
    args = ap.parse_args(argv)
    seeds = (0, 1, 2)
    acc_rows, runs = ([], {}) if args.skip_accuracy else accuracy_table(seeds, args.quick)
    print("## Digits MLP: test accuracy (mean over 3 seeds)\n")
    print(
        markdown_table(
            acc_rows,
            ["density", "method", "accuracy", "std", "achieved", "seconds"],
            {"accuracy": ".4f", "std": ".4f", "seconds": ".2f"},
        )
    )
    rec = recon_table(runs)
    print("\n## Relative reconstruction error per layer (seed 0, inputs of the pruned model)\n")
    print(markdown_table(rec, ["density", "method", "fc1", "fc2", "fc3"], {c: ".4f" for c in ("fc1", "fc2", "fc3")}))
    curves = curve(runs)
    print("\n## iCBS taylor: test accuracy per epoch (seed 0)\n")
    for d, c in curves.items():
        pts = ", ".join(f"{t:.1f}s:{a:.3f}" for t, a in zip(c["time"], c["accuracy"], strict=True))
        print(f"- d={d}: {pts}; fraction optimized at the end {c['fraction_optimized'][-1]:.3f}")
    blocks = block_solvers(seeds)
    print("\n## Block solvers on digits fc2 reconstruction blocks (3 seeds)\n")
    print(
        markdown_table(
            blocks,
            ["n", "solver", "reference", "mean gap", "optimal", "seconds"],
            {"mean gap": ".2e", "seconds": ".2e"},
        )
    )
    speed, fits = sa_speed((64, 128, 256, 512, 1024), 3 if args.quick else 7)
    print("\n## sa_card vs SimulatedAnnealing (121 temperatures x 10 restarts/reads)\n")
    cols = [
        "n",
        "sa_card s (10 restarts)",
        "swap proposals",
        "sa_card ns/flip",
        "SimulatedAnnealing s",
        "SA ns/flip",
        "ratio",
    ]
    print(markdown_table(speed, cols))
    print(f"\nfitted exponents of seconds against n: {fits}")
    peer = torch_peer()
    print("\n## torch.nn.utils.prune.l1_unstructured vs our magnitude (same counts)\n")
    print(markdown_table(peer, ["layer", "identical mask", "torch s", "ours s (all layers)"]))
    mini = []
    if args.minilm:
        mini = minilm_table()
        print("\n## MiniLM: mean cosine to dense embeddings, 300 held-out docstrings\n")
        print(
            markdown_table(
                mini,
                ["density", "method", "cosine", "mean rel. error", "achieved", "seconds"],
                {"cosine": ".4f", "mean rel. error": ".4f", "seconds": ".1f"},
            )
        )
    png = plots(acc_rows, curves) if acc_rows else None
    path = write_json(
        "pruning",
        {
            "quick": args.quick,
            "accuracy": acc_rows,
            "reconstruction": rec,
            "icbs_curve": {str(k): v for k, v in curves.items()},
            "block_solvers": blocks,
            "sa_speed": speed,
            "sa_speed_exponents": fits,
            "torch_peer": peer,
        },
    )
    print(f"\nwrote {path} and {png}")


if __name__ == "__main__":
    main()
