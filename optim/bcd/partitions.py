"""Block partitions of BCD as small strategy objects.

``Partition.prepare(solver, bp, st)`` sets the run's blocks: ``st.blocks`` (a list of index arrays, or
None for variable blocks) and ``st.index`` (the padded n_blocks x tau index matrix of fixed blocks).
``needs`` lists the problem oracles a partition uses; ``updates`` the updates it combines with (None:
any update its selection and problem allow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from . import rules
from .forest import forest_partition, greedy_colouring


@dataclass(frozen=True)
class Partition:
    name: str
    needs: tuple[str, ...] = ()
    updates: tuple[str, ...] | None = None
    fixed: bool = False
    forest: bool = False
    kind: ClassVar[str] = "partition"

    def prepare(self, solver: Any, bp: Any, st: Any) -> None:
        st.blocks, st.index = None, None


@dataclass(frozen=True)
class FixedBlocks(Partition):
    """Fixed blocks of size tau: ``order``, ``random``, ``sort`` (by L_i), ``avg`` (similar mean L_i)."""

    fixed: bool = True

    def prepare(self, solver: Any, bp: Any, st: Any) -> None:
        st.blocks = rules.fixed_partition(self.name, st.L, st.tau, st.rng)
        st.index = rules.padded(st.blocks, bp.dim)


@dataclass(frozen=True)
class ForestPartition(Partition):
    """A fixed partition into forests (``selection="cyclic"``) or independent sets (``"red_black"``):
    the problem's named ``forest_partitions`` when it has them, otherwise built greedily."""

    def prepare(self, solver: Any, bp: Any, st: Any) -> None:
        named = getattr(bp, "forest_partitions", {}) or {}
        key = "red_black" if solver.selection == "red_black" else "tree"
        st.index = None
        if key in named:
            st.blocks = [np.asarray(b, dtype=np.int64) for b in named[key]]
            return
        order = np.argsort(-st.L, kind="stable") if solver.forest_order == "lipschitz" else np.arange(bp.dim)
        graph = bp.dependency_graph()
        st.blocks = (greedy_colouring if key == "red_black" else forest_partition)(graph, order)


@dataclass(frozen=True)
class GreedyForestPartition(Partition):
    """No fixed blocks: a forest is grown every iteration over the dependency graph."""

    def prepare(self, solver: Any, bp: Any, st: Any) -> None:
        st.blocks, st.index = None, None
        G = bp.dependency_graph()
        st.graph = (G.indptr.astype(np.int64), G.indices.astype(np.int64))


FOREST_NEEDS = ("sparse_block", "dependency_graph")
PARTITIONS: dict[str, Partition] = {
    "order": FixedBlocks("order"),
    "random": FixedBlocks("random"),
    "sort": FixedBlocks("sort"),
    "avg": FixedBlocks("avg"),
    "vb": Partition("vb"),
    "forest_fixed": ForestPartition("forest_fixed", FOREST_NEEDS, ("exact_quadratic",), forest=True),
    "forest_greedy": GreedyForestPartition("forest_greedy", FOREST_NEEDS, ("exact_quadratic",), forest=True),
}
