"""Distributed BSVRB: two gloo processes on CPU, each owning half of the blocks and refreshing I / 2 of
the sampled blocks per iteration, end where one process ends on the same samples (float64, 1e-12): the
same x on every rank, and each block's lower state, kept only by its owner, equal to the single-process one;
also with an Adam upper step on a small top-K NDCG problem."""

import os
import tempfile

import numpy as np
import torch.distributed as dist
import torch.multiprocessing as mp
from threadpoolctl import threadpool_limits

from optim.bilevel import BSVRBv1, BSVRBv2, DistributedBSVRB
from problems.bilevel import QuadraticBilevel, TopKNDCG

RUNS = {
    "v2-sampled": dict(version=2, lower_update="sampled"),
    "v2-lazy": dict(version=2, lower_update="lazy"),
    "v1-all": dict(version=1, lower_update="all", hessian_lag=1),
}
COMMON = dict(blocks_per_iter=4, batch_size=8, max_iter=25, tol=0.0, seed=11, verbose=False, check_every=5)


def _problem():
    return QuadraticBilevel(m=7, dim_x=6, dim_y=3, seed=4, n_samples=20)


# an Adam upper step on a torch-model problem (top-K NDCG, 4 users): same x on every rank as in one process
NDCG_ADAM = dict(blocks_per_iter=2, batch_size=8, upper_batch_size=4, seed=5, max_iter=8, verbose=False,
                 upper_optimizer="adam", upper_optimizer_options={"lr": 0.01})  # fmt: skip


def _ndcg_problem():
    rng = np.random.default_rng(0)
    items = np.stack([rng.choice(30, 6, replace=False) for _ in range(4)])
    return TopKNDCG(items, rng.integers(1, 6, size=items.shape).astype(float), 30, k=3, embed_dim=3, init_scale=0.5)


def _worker(rank, world, init_file, out_dir):
    with threadpool_limits(1):
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
        try:
            p = _problem()
            probe = DistributedBSVRB(**COMMON)
            st = probe.init(p)
            for _ in range(5):  # every process refreshes exactly I / W = 2 of the sampled blocks
                J, bg, bf = probe.sample(p, st)
                assert len(probe.local_blocks(st, J, bg, bf)[0]) == 2
            for name, opts in RUNS.items():
                solver = DistributedBSVRB(**opts, **COMMON)
                st = solver.init(p)
                for _ in range(COMMON["max_iter"]):
                    st = solver.step(p, st)
                res = solver.solve(p)
                np.savez(os.path.join(out_dir, f"{name}-{rank}.npz"), x=st.x, Y=st.Y, owned=st.owned, rx=res.x, t=st.t)
            res = DistributedBSVRB(**NDCG_ADAM).solve(_ndcg_problem())
            np.savez(os.path.join(out_dir, f"ndcg-adam-{rank}.npz"), rx=res.x)
        finally:
            dist.destroy_process_group()


def test_two_processes_equal_one():
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(2, os.path.join(tmp, "init"), tmp), nprocs=2, join=True)
        p = _problem()
        for name, opts in RUNS.items():
            cls = BSVRBv1 if opts["version"] == 1 else BSVRBv2
            single = cls(**{k: v for k, v in opts.items() if k != "version"}, block_groups=2, **COMMON)
            st = single.init(p)
            for _ in range(COMMON["max_iter"]):
                st = single.step(p, st)
            ref = single.solve(p)
            for rank in range(2):
                got = np.load(os.path.join(tmp, f"{name}-{rank}.npz"))
                assert np.allclose(got["x"], st.x, rtol=0, atol=1e-12), name
                assert np.allclose(got["Y"], st.Y[got["owned"]], rtol=0, atol=1e-12), name
                assert np.allclose(got["rx"], ref.x, rtol=0, atol=1e-12), name
        ref = BSVRBv2(block_groups=2, **NDCG_ADAM).solve(_ndcg_problem()).x
        assert not np.array_equal(ref, _ndcg_problem().initial_point())
        for rank in range(2):
            assert np.allclose(np.load(os.path.join(tmp, f"ndcg-adam-{rank}.npz"))["rx"], ref, rtol=0, atol=1e-12)
