"""Selection rules of BCD as small strategy objects (formulas in ``optim.bcd.rules``).

A ``Selection`` declares what it needs and what it combines with, in the way skglm's datafits and
penalties declare their quantities: ``greedy`` (it reads the full gradient), ``smooth_only`` (it ignores
the non-smooth term, so it is refused on composite problems), ``partitions`` (the partitions it runs
on), ``needs`` (extra problem oracles) and ``select(solver, bp, st) -> (block, fixed block index)``.
The public spelling stays the string name: ``SELECTIONS["gs_q"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from . import rules
from .forest import greedy_forest

FIXED = ("order", "random", "sort", "avg")
BLOCKS = ("vb", *FIXED)


@dataclass(frozen=True)
class Selection:
    """Base class: a named block selection rule."""

    name: str
    greedy: bool = False
    smooth_only: bool = False
    partitions: tuple[str, ...] = BLOCKS
    needs: tuple[str, ...] = ()
    kind: ClassVar[str] = "selection"

    def select(self, solver: Any, bp: Any, st: Any) -> tuple[np.ndarray, int | None]:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Cyclic(Selection):
    """Blocks in order (fixed); a random permutation cut into tau-blocks (variable, official code:
    reshuffled every n iterations, or every pass with ``reshuffle_every_pass=True``)."""

    def select(self, solver: Any, bp: Any, st: Any) -> tuple[np.ndarray, int | None]:
        k = st.k
        if st.blocks is not None:
            j = k % len(st.blocks)
            return st.blocks[j], j
        n, tau = bp.dim, st.tau
        per_pass = n // tau
        period = per_pass if solver.reshuffle_every_pass else n
        if k % period == 0 or st.perm is None:
            st.perm = st.rng.permutation(n)
        e = k % per_pass
        return np.sort(st.perm[e * tau : (e + 1) * tau]), None


@dataclass(frozen=True)
class Uniform(Selection):
    """A uniformly random block (fixed) or tau-subset (variable)."""

    def select(self, solver: Any, bp: Any, st: Any) -> tuple[np.ndarray, int | None]:
        if st.blocks is not None:
            j = int(st.rng.integers(len(st.blocks)))
            return st.blocks[j], j
        return np.sort(st.rng.choice(bp.dim, st.tau, replace=False)), None


@dataclass(frozen=True)
class LipschitzSampling(Selection):
    """Sampling with probability proportional to L_b (fixed) or L_i without replacement (variable)."""

    def select(self, solver: Any, bp: Any, st: Any) -> tuple[np.ndarray, int | None]:
        if st.blocks is not None or st.tau == 1:
            # one draw by inverting the cumulative weights, built once per run: O(log n) a step
            cdf = getattr(st, "lipschitz_cdf", None)
            if cdf is None:
                cdf = st.lipschitz_cdf = np.cumsum(st.Lb if st.blocks is not None else st.L)
            j = min(int(np.searchsorted(cdf, st.rng.random() * cdf[-1], side="right")), len(cdf) - 1)
            return (st.blocks[j], j) if st.blocks is not None else (np.array([j]), None)
        return np.sort(st.rng.choice(bp.dim, st.tau, replace=False, p=st.L / st.L.sum())), None


@dataclass(frozen=True)
class Greedy(Selection):
    """Gauss-Southwell rules on the full gradient g (Nutini, Laradji, Schmidt 2022, Section 4;
    proximal GS-s / GS-r / GS-q from Nutini et al., ICML 2015). Per-coordinate scores for variable
    blocks, block sums for fixed blocks (table in ``optim.bcd.rules``)."""

    def select(self, solver: Any, bp: Any, st: Any) -> tuple[np.ndarray, int | None]:
        g = bp.full_grad(st.bs)
        sel, tau, fixed = self.name, st.tau, st.blocks is not None
        L = st.Lhat if solver.update == "lipschitz_search" else st.L
        if sel in ("gs_s", "gs_r", "gs_q"):
            d, q, s = rules.prox_scores(g, st.x, st.L, bp.l1, bp.nonnegative)
            per = {"gs_s": s, "gs_r": np.abs(d), "gs_q": -q}[sel]
            if not fixed:
                return rules.top(per, tau), None
            contrib = per if sel == "gs_q" else (per * per if solver.block_norm == 2 else per)
            j = int(np.argmax(rules.block_sums(contrib, st.index)))
            return st.blocks[j], j
        if not fixed:
            if sel == "gs":
                score = np.abs(g)
            elif sel == "gsd" or (sel == "gsl" and solver.update == "lipschitz_search"):
                score = np.abs(g) / np.sqrt(L)
            elif sel == "gsl":
                score = np.abs(g) / np.sqrt(st.rowsums)
            else:  # gsq: iterative hard thresholding
                bp.counts.add("matvec", solver.iht_iters)
                b = rules.iht_block(
                    g, bp.bound_matvec, st.lam_max, st.L, tau, solver.iht_iters, solver.iht_tol, solver.iht_init
                )
                return b, None
            return rules.top(score, tau), None
        two = solver.block_norm == 2
        if sel == "gsq":
            G = np.append(g, 0.0)[st.index]
            score = np.einsum("kij,kj->ki", st.Linv, G)
            score = (score * score).sum(axis=1)
        elif sel == "gs":
            score = rules.block_sums(g * g if two else np.abs(g), st.index)
        elif sel == "gsd":
            score = rules.block_sums(g * g / L if two else np.abs(g) / np.sqrt(L), st.index)
        else:  # gsl
            Lb = np.append(L, 0.0)[st.index].max(axis=1) if solver.update == "lipschitz_search" else st.Lb
            score = rules.block_sums(g * g if two else np.abs(g), st.index) / (Lb if two else np.sqrt(Lb))
        j = int(np.argmax(score))
        return st.blocks[j], j


@dataclass(frozen=True)
class ForestCycle(Selection):
    """Fixed forest partitions (or a red-black colouring) visited in order."""

    def select(self, solver: Any, bp: Any, st: Any) -> tuple[np.ndarray, int | None]:
        j = st.k % len(st.blocks)
        return st.blocks[j], j


@dataclass(frozen=True)
class GreedyForest(Selection):
    """A maximal forest grown greedily in the order of decreasing score (|g_i|, |g_i|/sqrt(L_i),
    |g_i|/sqrt(sum_j |Q_ij|)) or a random order (Nutini et al. 2022, Section 6)."""

    def select(self, solver: Any, bp: Any, st: Any) -> tuple[np.ndarray, int | None]:
        if self.name == "random":
            order = st.rng.permutation(bp.dim)
        else:
            g = np.abs(bp.full_grad(st.bs))
            score = g if self.name == "greedy_tree" else g / np.sqrt(st.L if self.name == "gsl" else st.rowsums)
            order = np.argsort(-score, kind="stable")
        mask = greedy_forest(st.graph[0], st.graph[1], order.astype(np.int64))
        return np.flatnonzero(mask), None


FOREST_GREEDY = ("forest_greedy",)
#: the public names, in the order of the documentation
SELECTIONS: dict[str, Selection] = {
    "cyclic": Cyclic("cyclic", partitions=(*BLOCKS, "forest_fixed")),
    "random": Uniform("random", partitions=(*BLOCKS, "forest_greedy")),
    "lipschitz": LipschitzSampling("lipschitz"),
    "gs": Greedy("gs", greedy=True, smooth_only=True),
    "gsl": Greedy("gsl", greedy=True, smooth_only=True, partitions=(*BLOCKS, "forest_greedy")),
    "gsd": Greedy("gsd", greedy=True, smooth_only=True, partitions=(*BLOCKS, "forest_greedy")),
    "gsq": Greedy("gsq", greedy=True, smooth_only=True, needs=("bound_matvec", "bound_lambda_max")),
    "gs_s": Greedy("gs_s", greedy=True),
    "gs_r": Greedy("gs_r", greedy=True),
    "gs_q": Greedy("gs_q", greedy=True),
    "greedy_tree": GreedyForest("greedy_tree", greedy=True, partitions=FOREST_GREEDY),
    "red_black": ForestCycle("red_black", partitions=("forest_fixed",)),
}
FOREST_SELECTIONS: dict[str, Selection] = {
    "cyclic": ForestCycle("cyclic", partitions=("forest_fixed",)),
    "random": GreedyForest("random", partitions=FOREST_GREEDY),
    "gsl": GreedyForest("gsl", greedy=True, partitions=FOREST_GREEDY),
    "gsd": GreedyForest("gsd", greedy=True, partitions=FOREST_GREEDY),
}


def selection_for(name: str, partition: str) -> Selection:
    """The strategy object behind the public name ``name`` on ``partition``."""
    if partition.startswith("forest") and name in FOREST_SELECTIONS:
        return FOREST_SELECTIONS[name]
    return SELECTIONS[name]
