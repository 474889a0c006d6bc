"""Per-step cost of MKOR (SGD-m, inv_freq 10) against SGD-m alone on the digits MLP and CNN, one thread.

Each repeat times ``steps`` full training steps (zero_grad, forward, backward, step) of both optimizers,
interleaved, on the same batches; the table gives the median over repeats and the ratio of medians.

    OMP_NUM_THREADS=1 PYTHONPATH=. python3 benchmarks/mkor_overhead.py [--steps 100] [--repeats 15]
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


def _steps(problem, model, opt, data) -> float:
    t0 = time.perf_counter()
    for inputs, targets in data:
        opt.zero_grad()
        problem.loss(model(inputs), targets).backward()
        opt.step()
    return (time.perf_counter() - t0) / len(data)


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
    base = statistics.median(setups["SGD-m"][2])
    mkor = statistics.median(setups["MKOR (SGD-m)"][2])
    return {"problem": name, "sgd_ms": 1e3 * base, "mkor_ms": 1e3 * mkor, "ratio": mkor / base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [
        measure("digits-mlp", problems.digits_mlp(), args.steps, args.repeats),
        measure("digits-cnn", problems.digits_cnn(), args.steps, args.repeats),
    ]
    print("| problem | SGD-m ms/step | MKOR (SGD-m) ms/step | ratio |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['problem']} | {r['sgd_ms']:.3f} | {r['mkor_ms']:.3f} | {r['ratio']:.2f} |")


if __name__ == "__main__":
    main()
