"""MKOR and KFAC under torch.distributed: two gloo ranks with B samples each end where one process with
the 2B samples ends (20 steps, float64, 1e-5), and the elements they all-reduce, counted by a wrapper
around ``torch.distributed.all_reduce``, are MKOR's rank-1 vectors (sum over layers of d_in + d_out per
collect step) and KFAC's factors (sum of d_A^2 + d_G^2)."""

import pytest
import torch
import torch.distributed as dist
from gloo_runs import run_gloo
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)
from torch import nn

from optim.nn import KFAC, MKOR

STEPS, BATCH = 20, 16  # BATCH per rank
OPTIMIZERS = {
    "mkor": lambda m: MKOR(m, "sgd", lr=0.1, momentum=0.9, inv_freq=2, factor_dtype=torch.float64),
    "mkor-paper": lambda m: MKOR(m, "adamw", lr=1e-2, inv_freq=1, variant="paper", factor_dtype=torch.float64),
    "kfac": lambda m: KFAC(m, "sgd", lr=0.1, momentum=0.9, damping=0.1, factor_every=2, inv_every=4),
    "kfac-asdl": lambda m: KFAC(m, "sgd", lr=0.1, mode="asdl", damping=0.1),
}


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 12), nn.Tanh(), nn.Linear(12, 10), nn.Tanh(), nn.Linear(10, 3)).double()


def _batch(step):
    gen = torch.Generator().manual_seed(500 + step)
    return torch.randn(2 * BATCH, 8, generator=gen, dtype=torch.float64), torch.randint(
        0, 3, (2 * BATCH,), generator=gen
    )


def _run(model, opt, rows, counts=None):
    for step in range(STEPS):
        X, y = _batch(step)
        opt.zero_grad()
        nn.functional.cross_entropy(model(X[rows]), y[rows]).backward()
        if counts is not None:
            counts.append(0)
        opt.step()
    return [p.detach().clone() for p in (model.module if hasattr(model, "module") else model).parameters()]


def _worker(rank, world, init_file, out_file):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    counts = []
    real = dist.all_reduce

    def counting_all_reduce(tensor, *args, **kwargs):
        counts[-1] += tensor.numel()
        return real(tensor, *args, **kwargs)

    dist.all_reduce = counting_all_reduce
    try:
        results = {}
        for name, make in OPTIMIZERS.items():
            ddp = nn.parallel.DistributedDataParallel(_model())
            opt = make(ddp.module)  # hooks on the real layers
            counts.clear()
            params = _run(ddp, opt, slice(rank * BATCH, (rank + 1) * BATCH), counts)
            results[name] = (params, list(counts), opt.communicated_elements())
        if rank == 0:
            torch.save(results, out_file)
    finally:
        dist.all_reduce = real
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_results():
    return run_gloo(_worker, 2)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_two_ranks_of_b_equal_one_process_of_2b(ddp_results, name):
    model = _model()
    reference = _run(model, OPTIMIZERS[name](model), slice(0, 2 * BATCH))
    got = ddp_results[name][0]
    moved = max(float((r - p.detach()).abs().max()) for r, p in zip(reference, _model().parameters(), strict=True))
    assert moved > 1e-2  # the runs really trained
    for g, r in zip(got, reference, strict=True):
        assert float((g - r).abs().max()) <= 1e-5


def test_mkor_all_reduces_only_its_rank_one_vectors(ddp_results):
    layers = [(9, 12), (13, 10), (11, 3)]  # (d_in with bias, d_out)
    per_round = sum(d_in + d_out for d_in, d_out in layers)
    _, counts, formula = ddp_results["mkor"]
    assert counts == [per_round if step % 2 == 0 else 0 for step in range(STEPS)]
    assert formula == per_round
    _, counts, _ = ddp_results["mkor-paper"]
    assert counts == [per_round] * STEPS


def test_kfac_all_reduces_its_factors(ddp_results):
    _, counts, formula = ddp_results["kfac"]
    per_round = 9**2 + 12**2 + 13**2 + 10**2 + 11**2 + 3**2
    assert counts == [per_round if step % 2 == 0 else 0 for step in range(STEPS)] and formula == per_round
    _, counts, _ = ddp_results["kfac-asdl"]  # asdl mode: input factors without the bias coordinate
    assert counts == [8**2 + 12**2 + 12**2 + 10**2 + 10**2 + 3**2] * STEPS


class _Branchy(nn.Module):
    """A trunk and two heads; each rank uses only one head (data-dependent control flow)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.trunk, self.left, self.right = nn.Linear(8, 6), nn.Linear(6, 3), nn.Linear(6, 3)
        self.double()
        self.use_left = True

    def forward(self, x):
        h = torch.tanh(self.trunk(x))
        return self.left(h) if self.use_left else self.right(h)


def _silent_worker(rank, world, init_file, out_file):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        results = {}
        for name, make in (("mkor", OPTIMIZERS["mkor"]), ("kfac", OPTIMIZERS["kfac"])):
            model = _Branchy()
            model.use_left = rank == 0
            opt = make(model)
            for step in range(6):
                X, y = _batch(step)
                opt.zero_grad()
                nn.functional.cross_entropy(model(X[rank * BATCH : (rank + 1) * BATCH]), y[:BATCH]).backward()
                opt.step()
            stats = {
                layer.name: {k: v.clone() for k, v in layer.stats.items() if torch.is_tensor(v)} for layer in opt.layers
            }
            results[name] = stats
        gathered = [None] * world
        dist.all_gather_object(gathered, results)
        if rank == 0:
            torch.save(gathered, out_file)
    finally:
        dist.destroy_process_group()


def test_a_layer_silent_on_one_rank_neither_hangs_nor_diverges_the_ranks():
    """The trunk fires on both ranks and its factors move identically on both; each head fires on one rank
    only, so its factors stay at their start on both ranks (ranks must agree on the buffer's layout)."""
    rank0, rank1 = run_gloo(_silent_worker, 2)
    for name in ("mkor", "kfac"):
        for layer, stats in rank0[name].items():
            for key, value in stats.items():
                assert torch.equal(value, rank1[name][layer][key]), (name, layer, key)
        fresh = {"mkor": OPTIMIZERS["mkor"], "kfac": OPTIMIZERS["kfac"]}[name](_Branchy())
        start = {layer.name: {k: v for k, v in layer.stats.items() if torch.is_tensor(v)} for layer in fresh.layers}
        for head in ("left", "right"):
            assert rank0[name][head].keys() == start[head].keys(), (name, head)
            for key, value in rank0[name][head].items():
                assert torch.equal(value, start[head][key]), (name, head, key)
        trunk = rank0[name]["trunk"]
        assert any(k not in start["trunk"] or not torch.equal(v, start["trunk"][k]) for k, v in trunk.items()), name
