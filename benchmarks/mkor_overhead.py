"""Per-step cost of MKOR (SGD-m, inv_freq 10) against SGD-m alone on the digits MLP and CNN, one thread.

Each repeat times ``steps`` full training steps (zero_grad, forward, backward, step) of both optimizers,
interleaved, on the same batches; the table gives the median over repeats and the ratio of medians, in
wall-clock time and in the CPU time of the timing thread (which a shared, loaded machine disturbs less:
waiting for a core is not counted).

    OMP_NUM_THREADS=1 PYTHONPATH=. python3 benchmarks/mkor_overhead.py [--steps 100] [--repeats 15]

``--breakdown`` adds where MKOR's time goes on each problem, per phase of a step, in thread CPU time
(median over steps): forward and backward on plain and on collect steps (hooks and statistics), the
factor round (collect steps only), the preconditioning as it runs in a step, its matrix products alone
repeated right after it (warm caches: the arithmetic without cache misses and small-op overhead), and the
backbone's step; "per step" amortises the collect-step phases over ``inv_freq`` steps.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import problems
from optim.nn import MKOR


def _sgd(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def _steps(problem, model, opt, data) -> tuple[float, float]:
    """(wall seconds, thread CPU seconds) per step."""
    t0, c0 = time.perf_counter(), time.thread_time()
    for inputs, targets in data:
        opt.zero_grad()
        problem.loss(model(inputs), targets).backward()
        opt.step()
    return (time.perf_counter() - t0) / len(data), (time.thread_time() - c0) / len(data)


def measure(name: str, problem, steps: int, repeats: int) -> dict:
    setups: dict[str, tuple] = {}
    for label in ("SGD-m", "MKOR (SGD-m)"):
        model = problem.model(0)
        opt = _sgd(model) if label == "SGD-m" else MKOR(model, _sgd(model))
        setups[label] = (model, opt, [])
    batches = problem.batches(0)
    data = [next(batches) for _ in range(steps)]
    for model, opt, _ in setups.values():  # warm-up
        _steps(problem, model, opt, data[:20])
    for _ in range(repeats):
        for model, opt, times in setups.values():
            times.append(_steps(problem, model, opt, data))
    out: dict = {"problem": name}
    for i, clock in enumerate(("wall", "cpu")):
        base = statistics.median(t[i] for t in setups["SGD-m"][2])
        mkor = statistics.median(t[i] for t in setups["MKOR (SGD-m)"][2])
        out |= {f"sgd_{clock}": 1e3 * base, f"mkor_{clock}": 1e3 * mkor, f"ratio_{clock}": mkor / base}
    return out


def _products_only(opt: MKOR) -> None:
    """The matrix products of the preconditioning, nothing else (into scratch tensors)."""
    for layer in opt.layers:
        G = layer.grad_matrix()
        torch.mm(torch.mm(layer.stats["J_G"], G), layer.stats["J_A"])


def breakdown(name: str, problem, steps: int, repeats: int) -> list[dict]:
    """Thread CPU milliseconds of each phase of MKOR's step (median over steps) and of SGD-m's step."""
    clock = time.thread_time
    model, base_model = problem.model(0), problem.model(0)
    opt, base = MKOR(model, _sgd(model)), _sgd(base_model)
    batches = problem.batches(0)
    data = [next(batches) for _ in range(steps)]
    phases: dict[str, list[float]] = {
        k: []
        for k in ("sgd step", "fwd+bwd", "fwd+bwd collect", "factor round", "precondition", "products", "backbone")
    }
    for _ in range(repeats):
        for inputs, targets in data:
            t0 = clock()
            base.zero_grad()
            problem.loss(base_model(inputs), targets).backward()
            base.step()
            phases["sgd step"].append(clock() - t0)
            collect = opt.collecting(opt.t)
            t0 = clock()
            opt.zero_grad()
            problem.loss(model(inputs), targets).backward()
            t1 = clock()
            with torch.no_grad():
                opt._update_factors()
                t2 = clock()
                opt._precondition()
                t3 = clock()
                _products_only(opt)  # again, on warm caches: the arithmetic alone
                t4 = clock()
                opt.backbone.step()
                t5 = clock()
            opt.t += 1
            opt._sync_hooks()
            phases["fwd+bwd collect" if collect else "fwd+bwd"].append(t1 - t0)
            if collect:
                phases["factor round"].append(t2 - t1)
            phases["precondition"].append(t3 - t2)
            phases["products"].append(t4 - t3)
            phases["backbone"].append(t5 - t4)
    ms = {k: 1e3 * statistics.median(v) for k, v in phases.items()}
    f = opt.inv_freq
    collect_extra = ms["fwd+bwd collect"] - ms["fwd+bwd"]
    table = [  # (phase, ms when it runs, ms per step)
        ("SGD-m step (reference)", ms["sgd step"], ms["sgd step"]),
        ("MKOR: forward+backward", ms["fwd+bwd"], ms["fwd+bwd"]),
        ("MKOR: backbone step", ms["backbone"], ms["backbone"]),
        ("MKOR: precondition + rescale", ms["precondition"], ms["precondition"]),
        ("  its matrix products alone, warm caches", ms["products"], ms["products"]),
        ("MKOR: hooks and statistics (collect steps)", collect_extra, collect_extra / f),
        ("MKOR: factor round (collect steps)", ms["factor round"], ms["factor round"] / f),
    ]
    return [{"problem": name, "phase": p, "ms": a, "ms per step": b} for p, a, b in table]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--breakdown", action="store_true", help="also time each phase of MKOR's step")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [
        measure("digits-mlp", problems.digits_mlp(), args.steps, args.repeats),
        measure("digits-cnn", problems.digits_cnn(), args.steps, args.repeats),
    ]
    print(
        "| problem | SGD-m ms/step | MKOR (SGD-m) ms/step | ratio | SGD-m CPU ms/step | MKOR CPU ms/step | CPU ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['problem']} | {r['sgd_wall']:.3f} | {r['mkor_wall']:.3f} | {r['ratio_wall']:.2f} "
            f"| {r['sgd_cpu']:.3f} | {r['mkor_cpu']:.3f} | {r['ratio_cpu']:.2f} |"
        )
    if args.breakdown:
        print("\n| problem | phase | thread CPU ms | ms per step (collect phases / inv_freq) |")
        print("|---|---|---|---|")
        for name, problem in (("digits-mlp", problems.digits_mlp()), ("digits-cnn", problems.digits_cnn())):
            for r in breakdown(name, problem, args.steps, max(3, args.repeats // 3)):
                print(f"| {r['problem']} | {r['phase']} | {r['ms']:.3f} | {r['ms per step']:.3f} |")


if __name__ == "__main__":
    main()
