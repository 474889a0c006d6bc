"""The optimizers work unchanged under DistributedDataParallel: two gloo processes on CPU, float64,
each on half of every batch, end where a single process ends that steps on the average of the two
half-batch gradients (what DDP's all-reduce computes), to 1e-10."""

import pytest
import torch
import torch.distributed as dist
from gloo_runs import run_gloo
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)

import optim.nn as onn

OPTIMIZERS = {
    "lion": lambda ps: onn.Lion(ps, lr=1e-2, weight_decay=0.1),
    "lion-l2": lambda ps: onn.LionK(ps, lr=1e-2, weight_decay=0.1, K="l2"),
    "auon": lambda ps: onn.AuON(ps, lr=0.05, weight_decay=0.1),
    "hybrid-auon": lambda ps: onn.HybridAuON(ps, lr=0.05, weight_decay=0.1),
}
STEPS, BATCH = 6, 32


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16, bias=False), torch.nn.Tanh(), torch.nn.Linear(16, 3, bias=False)
    ).double()


def _batch(step):
    gen = torch.Generator().manual_seed(1000 + step)
    return torch.randn(BATCH, 8, generator=gen, dtype=torch.float64), torch.randint(0, 3, (BATCH,), generator=gen)


def _loss(model, X, y):
    return torch.nn.functional.cross_entropy(model(X), y)


def _worker(rank, world, init_file, out_file):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        results = {}
        for name, make in OPTIMIZERS.items():
            ddp = torch.nn.parallel.DistributedDataParallel(_model())
            opt = make(ddp.parameters())
            for step in range(STEPS):
                X, y = _batch(step)
                half = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
                opt.zero_grad()
                _loss(ddp, X[half], y[half]).backward()
                opt.step()
            results[name] = [p.detach().clone() for p in ddp.module.parameters()]
        if rank == 0:
            torch.save(results, out_file)
    finally:
        dist.destroy_process_group()


def _reference(make):
    model = _model()
    opt = make(model.parameters())
    for step in range(STEPS):
        X, y = _batch(step)
        halves = []
        for rows in (slice(0, BATCH // 2), slice(BATCH // 2, BATCH)):
            model.zero_grad()
            _loss(model, X[rows], y[rows]).backward()
            halves.append([p.grad.clone() for p in model.parameters()])
        for p, g0, g1 in zip(model.parameters(), *halves, strict=False):
            p.grad = (g0 + g1) / 2
        opt.step()
    return [p.detach() for p in model.parameters()]


@pytest.fixture(scope="module")
def ddp_results():
    return run_gloo(_worker, 2)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_ddp_matches_single_process_average_of_half_batch_gradients(ddp_results, name):
    reference = _reference(OPTIMIZERS[name])
    moved = [float((r - p).abs().max()) for r, p in zip(reference, _model().parameters(), strict=False)]
    assert min(moved) > 1e-3  # the runs really trained
    for got, want in zip(ddp_results[name], reference, strict=False):
        assert float((got - want).abs().max()) <= 1e-10
