"""BSVRB across processes with ``torch.distributed`` (gloo on CPU, NCCL-free).

Block i is owned by process i mod W: only that process keeps its lower state (y_i, u_i, H_i or v_i, s_i).
Every process draws the same blocks and batches from the same seed, refreshes the estimators of the
sampled blocks it owns, and one all-reduce of the 2 d_x numbers sum Phi_new, sum Phi_old gives every
process the same upper direction z, so every process keeps the same x. With W = 1 this is ``BSVRB``;
with W > 1 it performs the same arithmetic on the same samples (up to the order of a floating sum).
By default the blocks are drawn by groups (``block_groups = W``): I / W of them from every process's
share, so each process refreshes exactly I / W blocks per iteration; ``BSVRB(block_groups=W)`` in one
process is the same algorithm on the same samples.
"""

from __future__ import annotations

import numpy as np

from ..base import State
from .bsvrb import BSVRB

LOCAL = ("Y", "Y_prev", "U", "H", "H_prev", "V", "V_prev", "S", "k")


class DistributedBSVRB(BSVRB):
    """``BSVRB`` (same options, ``version`` 1 or 2) run by every process of the default process group
    (or ``group``). Call it from each process after ``torch.distributed.init_process_group``."""

    name = "bsvrb-distributed"

    def __init__(self, *, group=None, **options):
        super().__init__(**options)
        self.group = group
        self._groups_given = "block_groups" in options

    def _dist(self):
        import torch.distributed as dist

        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError("DistributedBSVRB needs torch.distributed.init_process_group() first")
        return dist

    def init(self, problem, x0=None) -> State:
        dist = self._dist()
        world = dist.get_world_size(self.group)
        if not self._groups_given:
            self.block_groups = world
        st = super().init(problem, x0)
        st.world, st.rank = world, dist.get_rank(self.group)
        st.owned = np.arange(st.rank, problem.m, st.world)
        for key in LOCAL:  # keep only the blocks this process owns
            if hasattr(st, key):
                setattr(st, key, np.array(getattr(st, key)[st.owned]))
        return st

    def local_blocks(self, st, J, bg, bf):
        mine = J % st.world == st.rank
        pick = lambda b: None if b is None else b[mine]  # noqa: E731
        return J[mine], pick(bg), pick(bf), J[mine] // st.world

    def reduce_sums(self, st, g_new, g_old):
        import torch

        buf = torch.from_numpy(np.concatenate([g_new, g_old]))
        self._dist().all_reduce(buf, group=self.group)
        out = buf.numpy()
        return out[: g_new.size].copy(), out[g_new.size :].copy()

    def _upper_value(self, problem, st) -> float:
        import torch

        with problem.counts.paused():
            local = float(np.sum(problem.f(st.owned, st.x, st.Y, None))) if st.owned.size else 0.0
        buf = torch.tensor([local], dtype=torch.float64)
        self._dist().all_reduce(buf, group=self.group)
        return float(buf.item()) / problem.m

    def objective(self, problem, state: State) -> float:
        return float(problem.F(state.x)) if problem.has_exact else self._upper_value(problem, state)

    def report(self, problem, state: State) -> dict:
        return {}
