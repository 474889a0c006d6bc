"""The DDP timing of ``second_order.py``: the digits MLP under DistributedDataParallel with two gloo
processes against one process (a module of its own so that the spawned workers import only this)."""

from __future__ import annotations

import time

import torch
from torch import nn

import problems

DDP_METHODS = ("SGD-m", "MKOR (SGD-m)", "KFAC ours kaisa (SGD-m)")


def _ddp_worker(rank, world, init_file, out_file, steps):
    """Train the digits MLP under DDP (gloo, one thread per rank, batch 64 / world per rank); seconds per step."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    problem, out = problems.digits_mlp(batch_size=64 // world), {}
    for method in DDP_METHODS:
        model = problem.model(0)
        wrapped = nn.parallel.DistributedDataParallel(model) if world > 1 else model
        from second_order import METHODS  # the benchmark's optimizer factories (imported lazily: no cycle)

        opt = METHODS[method][1](model, 0.05)
        batches = problem.batches(rank)
        for _ in range(10):
            inputs, targets = next(batches)
            opt.zero_grad()
            problem.loss(wrapped(inputs), targets).backward()
            opt.step()
        t0 = time.perf_counter()
        for _ in range(steps):
            inputs, targets = next(batches)
            opt.zero_grad()
            problem.loss(wrapped(inputs), targets).backward()
            opt.step()
        out[method] = (time.perf_counter() - t0) / steps
    if rank == 0:
        torch.save(out, out_file)
    if world > 1:
        dist.destroy_process_group()


def ddp_timing(steps: int = 100) -> list[dict]:
    """ms per step of the digits MLP (global batch 64): one process against two gloo processes."""
    import os
    import tempfile

    import torch.multiprocessing as mp

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "t.pt")
        _ddp_worker(0, 1, None, out, steps)
        single = torch.load(out)
        mp.start_processes(
            _ddp_worker, args=(2, os.path.join(tmp, "init"), out, steps), nprocs=2, join=True, start_method="spawn"
        )
        double = torch.load(out)
    for method in DDP_METHODS:
        rows[method] = {"method": method, "1 process ms": 1e3 * single[method], "2 gloo ranks ms": 1e3 * double[method]}
        rows[method]["ratio"] = double[method] / single[method]
    return list(rows.values())
