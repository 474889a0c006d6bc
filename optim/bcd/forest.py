"""Forest-structured blocks: the linear-time tree solve and the forest/colouring constructions.

Paper Section 6 (Nutini, Laradji, Schmidt, JMLR 2022).

* ``forest_solve(Q, rhs)``: solves Q z = rhs when the off-diagonal pattern of the symmetric positive
  definite Q is a forest, by Gaussian elimination in a perfect elimination order (leaves first), which
  is Gaussian belief propagation on a tree made exact by one upward and one downward sweep. O(n).
* ``greedy_forest(indptr, indices, order)``: the variable forest block grown greedily (the
  official ``get_tree_slow``): visit nodes in ``order`` and add a node when its neighbours already in
  the block lie in pairwise different trees (union-find). The result is a maximal induced forest.
* ``forest_partition`` / ``greedy_colouring``: fixed partitions into forests / independent sets
  ("Tree Partitions" and "Red Black").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit


@njit(cache=True)
def _eliminate(order, parent, diag, up, rhs):
    """Leaf-to-root elimination then root-to-leaf substitution.

    ``order`` lists nodes parents-before-children (BFS order); ``parent[i]`` is -1 at roots and
    ``up[i]`` = Q[i, parent[i]]. Returns (z, ok) with ok False if a pivot is not positive."""
    n = len(order)
    D = diag.copy()
    h = rhs.copy()
    for k in range(n - 1, -1, -1):
        i = order[k]
        if D[i] <= 0.0:
            return h, False
        p = parent[i]
        if p >= 0:
            D[p] -= up[i] * up[i] / D[i]
            h[p] -= up[i] * h[i] / D[i]
    z = np.empty(n)
    for k in range(n):
        i = order[k]
        p = parent[i]
        if p >= 0:
            z[i] = (h[i] - up[i] * z[p]) / D[i]
        else:
            z[i] = h[i] / D[i]
    return z, True


def _as_sparse_symmetric(Q, name="Q", check_symmetry=True):
    try:
        import networkx as nx
    except ImportError:  # pragma: no cover - networkx is a dependency
        nx = None
    if nx is not None and isinstance(Q, nx.Graph):
        if Q.is_directed():
            raise ValueError(f"{name} must be an undirected graph")
        nodes = sorted(Q.nodes)
        if nodes != list(range(len(nodes))):
            raise ValueError(f"{name} must have nodes 0..n-1 (self-loop weights are the diagonal)")
        Q = nx.to_scipy_sparse_array(Q, nodelist=nodes, weight="weight", format="csr")
    if not sp.issparse(Q):
        Q = np.asarray(Q, dtype=float)
        if Q.ndim != 2:
            raise ValueError(f"{name} must be a square matrix, got shape {Q.shape}")
    Q = sp.csr_matrix(Q, dtype=float)
    if Q.shape[0] != Q.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {Q.shape}")
    if not np.all(np.isfinite(Q.data)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    if check_symmetry and Q.nnz and abs(Q - Q.T).max() > 1e-12 * abs(Q).max():
        raise ValueError(f"{name} must be symmetric")
    return Q


def forest_solve(Q: Any, rhs: np.ndarray, check_symmetry: bool = True) -> np.ndarray:
    """Solve Q z = rhs in O(n) when the graph of Q's off-diagonal nonzeros is a forest.

    ``Q``: symmetric positive definite, dense, scipy.sparse, or a ``networkx.Graph`` on nodes 0..n-1
    whose edge attribute ``weight`` holds Q_ij (self-loops hold the diagonal). Raises ``ValueError``
    if the graph has a cycle or Q is not positive definite (a non-positive pivot appears), and if Q
    is not symmetric (``check_symmetry=False`` skips that O(nnz) test for blocks of a symmetric Q).
    """
    Q = _as_sparse_symmetric(Q, check_symmetry=check_symmetry)
    n = Q.shape[0]
    rhs = np.asarray(rhs, dtype=float)
    if rhs.shape != (n,):
        raise ValueError(f"rhs must have shape ({n},), got {rhs.shape}")
    diag = Q.diagonal()
    off = Q - sp.diags(diag)
    off.eliminate_zeros()
    n_edges = off.nnz // 2
    n_comp, comp = sp.csgraph.connected_components(off, directed=False)
    if n_edges != n - n_comp:
        raise ValueError(
            f"the graph of Q has a cycle ({n_edges} edges on {n} nodes in {n_comp} components; "
            f"a forest has {n - n_comp}): use a dense solve for this block"
        )
    if n_edges == 0:  # independent set (red-black blocks): a diagonal solve
        if np.any(diag <= 0):
            raise ValueError("Q is not positive definite (a non-positive diagonal entry)")
        return rhs / diag
    # one BFS from a virtual root joined to the first node of every component
    roots = np.unique(comp, return_index=True)[1]
    link = sp.csr_matrix((np.ones(n_comp), (np.zeros(n_comp, int), roots)), shape=(1, n))
    aug = sp.bmat([[off, link.T], [link, None]], format="csr")
    order, pred = sp.csgraph.breadth_first_order(aug, n, directed=False, return_predecessors=True)
    order = order[1:]
    parent = pred[:n].astype(np.int64)
    parent[parent == n] = -1
    up = np.zeros(n)
    has = parent >= 0
    up[has] = np.asarray(off[np.flatnonzero(has), parent[has]]).ravel()
    z, ok = _eliminate(order.astype(np.int64), parent, diag, up, rhs)
    if not ok:
        raise ValueError("Q is not positive definite (a non-positive pivot in the tree elimination)")
    return z


@njit(cache=True)
def _find(uf, i):
    root = i
    while uf[root] != root:
        root = uf[root]
    while uf[i] != root:
        nxt = uf[i]
        uf[i] = root
        i = nxt
    return root


@njit(cache=True)
def _tree_roots(indptr, indices, i, forest, f, uf, roots):
    """Number of distinct trees of forest ``f`` adjacent to node i (stored in ``roots``), or -1 if two
    neighbours share a tree (adding i would close a cycle)."""
    k = 0
    for e in range(indptr[i], indptr[i + 1]):
        j = indices[e]
        if forest[j] == f:
            r = _find(uf, j)
            for t in range(k):
                if roots[t] == r:
                    return -1
            roots[k] = r
            k += 1
    return k


@njit(cache=True)
def _grow(indptr, indices, order, only_one):
    """Forest id of every node: the first forest where it closes no cycle (a new one if none). With
    ``only_one`` nodes that fit nowhere are left out (-1): the greedy variable forest."""
    n = len(indptr) - 1
    forest = -np.ones(n, np.int64)
    uf = np.arange(n)
    roots = np.empty(n, np.int64)
    n_forests = 1 if only_one else 0
    for i in order:
        for f in range(n_forests + (0 if only_one else 1)):
            k = _tree_roots(indptr, indices, i, forest, f, uf, roots)
            if k >= 0:
                forest[i] = f
                for t in range(k):
                    uf[roots[t]] = i
                n_forests = max(n_forests, f + 1)
                break
    return forest


def greedy_forest(indptr: np.ndarray, indices: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Boolean mask of the forest grown greedily over ``order`` (official
    ``get_tree_slow``): a node joins when no two of its in-forest neighbours share a tree."""
    return _grow(np.asarray(indptr, np.int64), np.asarray(indices, np.int64), np.asarray(order, np.int64), True) == 0


def forest_partition(graph: Any, order: np.ndarray) -> list[np.ndarray]:
    """Greedy partition of the nodes into forests ("Tree Partitions"): each node goes to
    the first forest where it closes no cycle; blocks in creation order."""
    graph = sp.csr_matrix(graph)
    forest = _grow(graph.indptr.astype(np.int64), graph.indices.astype(np.int64), np.asarray(order, np.int64), False)
    return [np.flatnonzero(forest == f) for f in range(forest.max() + 1)]


def greedy_colouring(graph: Any, order: np.ndarray) -> list[np.ndarray]:
    """Greedy colouring into independent sets ("Red Black"): each node takes, among the colours no
    coloured neighbour uses, the one with the fewest nodes so far (ties: lowest id); a new colour if
    none is allowed."""
    graph = sp.csr_matrix(graph)
    colour = -np.ones(graph.shape[0], np.int64)
    sizes: list[int] = []
    for i in np.asarray(order):
        used = set(colour[graph.indices[graph.indptr[i] : graph.indptr[i + 1]]].tolist())
        allowed = [c for c in range(len(sizes)) if c not in used]
        if allowed:
            c = min(allowed, key=lambda a: (sizes[a], a))
        else:
            c = len(sizes)
            sizes.append(0)
        colour[i] = c
        sizes[c] += 1
    return [np.flatnonzero(colour == c) for c in range(len(sizes))]
