"""Lion / AuON / Hybrid-AuON against torch.optim (AdamW, SGD, Muon) and the Python Lion peers.

Part 1, step cost: a transformer-like shape list (per layer
(3d, d), (d, d), (ff, d), (d, ff); d = 512, ff = 1536, 2 layers in quick mode, 3 in full) with
pre-filled random gradients, so only ``step()`` is timed; 2 warm-up steps allocate the state; then
the optimizers take turns (interleaved rounds, so a loaded machine slows all alike) and the median
CPU time (``time.process_time``, all threads of the process) per step is reported, with
``torch.set_num_threads`` fixed at 1 and at 2. State memory is exact: bytes of tensor state / bytes
of the parameters. Ratios are against AdamW foreach and fused in the same run.

Part 1b, cost growth: time per step of AdamW, Lion, AuON and Hybrid-AuON for one layer of widths
d = 128 ... 512 (1024 in full mode), one thread, with the fitted exponent b of time ~ params^b.

Part 2, loss curves: the tiny character-level GPT on the stdlib's sources, same
init, batches and schedule (warm-up + cosine) for every optimizer through ``optim.nn.Train``;
matrix optimizers get the hidden matrices and AdamW (lr 3e-3) the rest; lr sweep x{1/3, 1, 3}
around AdamW 3e-3, Lion 3e-4 (wd 1.0), Muon 0.02 (wd 0.1), AuON 0.08, Hybrid-AuON 0.08;
best-of-sweep validation loss over seeds.

    python benchmarks/optimizers.py --quick      # about a minute
    python benchmarks/optimizers.py              # full: 3 layers, 2 seeds x 3 lrs x 200 steps

Writes benchmarks/results/optimizers.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from _common import write_json

import optim
import optim.nn as onn
import problems


# ----------------------------------------------------------------------------- part 1: step cost
def shape_list(layers: int, d: int = 512, ff: int = 1536):
    return [(3 * d, d), (d, d), (ff, d), (d, ff)] * layers


def _optimizers():
    """name -> (factory(params), group). Peers that are not installed are left out (and named)."""
    opts = {
        "AdamW for-loop": lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=False),
        "AdamW foreach": lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=True),
        "AdamW fused": lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True),
        "SGD-momentum foreach": lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9, foreach=True),
        "Lion (ours) for-loop (CPU default)": lambda ps: onn.Lion(ps, lr=1e-4, weight_decay=0.1, foreach=False),
        "Lion (ours) foreach": lambda ps: onn.Lion(ps, lr=1e-4, weight_decay=0.1, foreach=True),
        "Lion (ours) compiled": lambda ps: onn.Lion(ps, lr=1e-4, weight_decay=0.1, compile=True),
    }
    missing = []
    try:
        from lion_pytorch import Lion as LucidrainsLion

        opts["Lion lion-pytorch"] = lambda ps: LucidrainsLion(ps, lr=1e-4, weight_decay=0.1)
    except ImportError:
        missing.append("lion-pytorch")
    try:
        from pytorch_optimizer import Lion as KozistrLion

        opts["Lion pytorch-optimizer foreach"] = lambda ps: KozistrLion(ps, lr=1e-4, weight_decay=0.1, foreach=True)
    except ImportError:
        missing.append("pytorch-optimizer")
    opts.update(
        {
            "torch.optim.Muon (bf16 NS, 5 steps)": lambda ps: torch.optim.Muon(ps, lr=0.02),
            "AuON (ours, paper)": lambda ps: onn.AuON(ps, lr=0.055),
            "Hybrid-AuON (ours, 1 NS step, fp32)": lambda ps: onn.HybridAuON(ps, lr=0.055),
            "Hybrid-AuON (ours, 1 NS step, bf16)": lambda ps: onn.HybridAuON(ps, lr=0.055, ns_dtype=torch.bfloat16),
        }
    )
    return opts, missing


def state_ratio(opt, params) -> float:
    state = sum(
        v.numel() * v.element_size()
        for s in opt.state.values()
        for v in s.values()
        if isinstance(v, torch.Tensor) and v.ndim > 0
    )
    return state / sum(p.numel() * p.element_size() for p in params)


def step_cost(layers: int, threads: int, repeats: int) -> list[dict]:
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    factories, _ = _optimizers()
    runs = {}
    for name, make in factories.items():
        params = [torch.nn.Parameter(0.02 * torch.randn(s, generator=gen)) for s in shape_list(layers)]
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        opt = make(params)
        t0 = time.perf_counter()
        opt.step()
        first = time.perf_counter() - t0
        opt.step()
        runs[name] = (opt, params, first, [], [])
    for _ in range(repeats):  # interleaved rounds
        for opt, _params, _, cpu, wall in runs.values():
            c, w = time.process_time(), time.perf_counter()
            opt.step()
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
    rows = []
    for name, (opt, params, first, cpu, wall) in runs.items():
        rows.append(
            {
                "optimizer": name,
                "threads": threads,
                "cpu_ms": 1e3 * statistics.median(cpu),
                "wall_ms": 1e3 * statistics.median(wall),
                "first_step_s": first,
                "state_per_param_bytes": state_ratio(opt, params),
                "params": sum(p.numel() for p in params),
            }
        )
    for base in ("AdamW foreach", "AdamW fused"):
        ref = next(r["cpu_ms"] for r in rows if r["optimizer"] == base)
        for r in rows:
            r[f"vs {base}"] = r["cpu_ms"] / ref
    muon = next(r["cpu_ms"] for r in rows if r["optimizer"].startswith("torch.optim.Muon"))
    for r in rows:
        r["vs Muon"] = r["cpu_ms"] / muon
    return rows


# ----------------------------------------------------------------------------- part 1b: cost growth
GROWTH = {
    "AdamW foreach": lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=True),
    "Lion (ours)": lambda ps: onn.Lion(ps, lr=1e-4, weight_decay=0.1),
    "AuON (ours)": lambda ps: onn.AuON(ps, lr=0.055),
    "Hybrid-AuON (ours, fp32)": lambda ps: onn.HybridAuON(ps, lr=0.055),
}


def cost_growth(widths, repeats: int) -> list[dict]:
    """Seconds per ``step()`` against the parameter count (one transformer-like layer of width d, one
    thread, median of interleaved repeats) and the fitted exponent b of ``time ~ params^b``: 1 for
    elementwise updates (AdamW, Lion), up to 1.5 for the matrix ones (a d x d product costs d^3 = params^1.5)."""
    import numpy as np

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for name, make in GROWTH.items():
        sizes, times = [], []
        for d in widths:
            params = [torch.nn.Parameter(0.02 * torch.randn(s, generator=gen)) for s in shape_list(1, d, 3 * d)]
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            opt = make(params)
            opt.step()
            samples = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                opt.step()
                samples.append(time.perf_counter() - t0)
            sizes.append(sum(p.numel() for p in params))
            times.append(statistics.median(samples))
        slope = float(np.polyfit(np.log(sizes), np.log(times), 1)[0])
        rows.append({"optimizer": name, "params": sizes, "ms": [1e3 * t for t in times], "exponent": slope})
    return rows


# ----------------------------------------------------------------------------- part 2: tiny GPT
SWEEP = {  # method -> (base lr, extra options)
    "adamw": (3e-3, {"betas": (0.9, 0.95), "weight_decay": 0.1}),
    "lion": (3e-4, {"weight_decay": 1.0}),
    "muon": (0.02, {"weight_decay": 0.1}),
    "auon": (0.08, {}),
    "hybrid-auon": (0.08, {}),
}


def gpt_curves(steps: int, multipliers, seeds, problem) -> list[dict]:
    torch.set_num_threads(1)
    rows = []
    for method, (base, extra) in SWEEP.items():
        for mult in multipliers:
            for seed in seeds:
                t0 = time.process_time()
                result = optim.solve(
                    problem,
                    method=method,
                    lr=base * mult,
                    max_iter=steps,
                    warmup=min(30, steps // 5),
                    check_every=max(1, steps // 10),
                    seed=seed,
                    verbose=False,
                    **extra,
                )
                rows.append(
                    {
                        "method": method,
                        "lr": base * mult,
                        "multiplier": mult,
                        "seed": seed,
                        "val_loss": float(result.report["test_loss"]),
                        "train_loss": float(result.fun),
                        "status": result.status,
                        "cpu_s": time.process_time() - t0,
                        "curve": {
                            "step": result.history["nit"].tolist(),
                            "val_loss": result.history["test_loss"].tolist(),
                        },
                    }
                )
    return rows


def best_of_sweep(rows) -> list[dict]:
    out = []
    for method in SWEEP:
        by_lr = {}
        for r in rows:
            if r["method"] == method:
                by_lr.setdefault(r["multiplier"], []).append(r["val_loss"])
        mean = {m: statistics.fmean(v) for m, v in by_lr.items()}
        best = min(mean, key=lambda m: (not math.isfinite(mean[m]), mean[m]))  # a diverged lr never wins
        out.append(
            {
                "method": method,
                "best_multiplier": best,
                "best_val_loss": mean[best],
                "all": {str(m): v for m, v in mean.items()},
            }
        )
    return out


# ----------------------------------------------------------------------------- report
def markdown(cost, sweep, missing, growth=()) -> str:
    lines = []
    if growth:
        sizes = growth[0]["params"]
        lines += [
            "### Cost growth: ms per step against parameter count (1 thread), fitted exponent",
            "",
            "| optimizer | " + " | ".join(f"{n / 1e6:.2f} M" for n in sizes) + " | exponent |",
            "|---|" + "---:|" * (len(sizes) + 1),
        ]
        lines += [
            f"| {r['optimizer']} | " + " | ".join(f"{t:.2f}" for t in r["ms"]) + f" | {r['exponent']:.2f} |"
            for r in growth
        ]
        lines.append("")
    for threads in sorted({r["threads"] for r in cost}):
        rows = [r for r in cost if r["threads"] == threads]
        lines += [
            f"### Step cost, {rows[0]['params'] / 1e6:.2f} M matrix parameters, {threads} thread(s)",
            "",
            "| optimizer | CPU ms/step | wall ms | vs AdamW foreach | vs AdamW fused | vs Muon | state/param bytes |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['optimizer']} | {r['cpu_ms']:.1f} | {r['wall_ms']:.1f} | {r['vs AdamW foreach']:.2f} | "
            f"{r['vs AdamW fused']:.2f} | {r['vs Muon']:.3f} | {r['state_per_param_bytes']:.2f} |"
            for r in rows
        ]
        lines.append("")
    if missing:
        lines += [f"Peers not installed: {', '.join(missing)}", ""]
    lines += [
        "### Tiny GPT, validation loss (nats/char), mean over seeds",
        "",
        "| optimizer | " + " | ".join(f"lr x{m:.3g}" for m in _multipliers(sweep)) + " | best |",
        "|---|" + "---:|" * (len(_multipliers(sweep)) + 1),
    ]
    for s in sweep:
        cells = [f"{s['all'][str(m)]:.3f}" if str(m) in s["all"] else "" for m in _multipliers(sweep)]
        lines.append(f"| {s['method']} | " + " | ".join(cells) + f" | **{s['best_val_loss']:.3f}** |")
    return "\n".join(lines)


def _multipliers(sweep):
    return sorted({float(m) for s in sweep for m in s["all"]})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: 2 layers, 40 GPT steps, lr x1, 1 seed")
    args = parser.parse_args(argv)
    quick = args.quick
    layers, repeats = (2, 5) if quick else (3, 9)
    cost = [row for threads in (1, 2) for row in step_cost(layers, threads, repeats)]
    growth = cost_growth((128, 256, 512) if quick else (128, 256, 512, 1024), repeats)
    gpt = problems.char_gpt(eval_size=160 if quick else 320)
    if quick:
        curves = gpt_curves(40, [1.0], [0], gpt)
    else:
        curves = gpt_curves(200, [1 / 3, 1.0, 3.0], [0, 1], gpt)
    sweep = best_of_sweep(curves)
    _, missing = _optimizers()
    versions = {"torch": torch.__version__}
    for mod in ("lion_pytorch", "pytorch_optimizer"):
        try:
            versions[mod] = __import__(mod).__version__
        except (ImportError, AttributeError):
            pass
    out = write_json(
        "optimizers",
        {
            "quick": quick,
            "versions": versions,
            "step_cost": cost,
            "gpt_runs": curves,
            "gpt_best": sweep,
            "missing_peers": missing,
            "cost_growth": growth,
        },
    )
    print(markdown(cost, sweep, missing, growth))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
