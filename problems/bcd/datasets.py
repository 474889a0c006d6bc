"""The data sets of the greedy BCD paper (Nutini, Laradji, Schmidt, JMLR 2022, Section 8), rebuilt
from the recipes of its official code (IssamLaradji/BlockCoordinateDescent); see ``docs/bcd.md``."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401  (sp.csgraph)

from ..linear_models import LeastSquares, Logistic, MultinomialLogistic
from ..validation import as_choice, as_int, as_nonnegative, as_real
from .label_propagation import LabelPropagation
from .linear import NonnegativeLasso

PAPER_DATA_SETS = ("A", "A-L1", "B", "C", "D", "E")


def _paper_design(rs, m, p):
    """The common random design of sets A, B, C (paper Section 8): bias 1, column scales 10 N(0,1),
    each entry kept with probability 10 log(m) / m. Draw order: randn(m,p), randn(p), rand(m,p)."""
    A0 = rs.randn(m, p) + 1
    A0 = A0 * (10 * rs.randn(p))[None, :]
    return A0 * (rs.rand(m, p) < 10 * np.log(m) / m)


def lattice_partitions(nrows: int, ncols: int, labelled: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Data set D's fixed partitions (official code): two combs ("tree") and red-black.

    Node i = c * nrows + r (column-major). Labelled nodes are dropped and the rest re-indexed to the
    unlabelled numbering (dropping nodes from a tree leaves a forest)."""
    r, c = np.arange(nrows * ncols) % nrows, np.arange(nrows * ncols) // nrows
    white = (r == 0) | ((c % 2 == 0) & (r <= nrows - 2))
    red = (r % 2) == (c % 2)
    keep = np.ones(nrows * ncols, bool)
    keep[labelled] = False
    new_index = np.cumsum(keep) - 1

    def reindex(mask):
        return new_index[np.flatnonzero(mask & keep)]

    return {"tree": [reindex(white), reindex(~white)], "red_black": [reindex(red), reindex(~red)]}


def lattice_label_propagation(
    grid: int = 50, n_labelled: int = 100, weight: float = 1e5, seed: int | None = 1
) -> LabelPropagation:
    """Data set D: grid x grid 4-neighbour lattice, weights 1e5, labels 10 N(0,1) on a random set."""
    grid = as_int(grid, "grid", low=2)
    n = grid * grid
    n_labelled = as_int(n_labelled, "n_labelled", low=1, high=n - 1)
    idx = np.arange(n).reshape(grid, grid, order="F")  # idx[r, c] = c * grid + r
    rows = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    cols = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    W = sp.coo_matrix((np.full(len(rows), as_real(weight, "weight", low=0, low_open=True)), (rows, cols)), shape=(n, n))
    W = (W + W.T).tocsr()
    rs = np.random.RandomState(seed)
    S = rs.choice(n, n_labelled, replace=False)
    y = 10 * rs.randn(n_labelled)
    return LabelPropagation(
        W, S, y, name=f"D-lattice{grid}x{grid}", forest_partitions=lattice_partitions(grid, grid, S)
    )


def moons_points(n_points: int, seed: int | None) -> tuple[np.ndarray, np.ndarray, Any]:
    """Two interleaved half-circles (the paper's MATLAB generator re-implemented):
    class 1 at (cos t, sin t), class 2 at (1 + cos t, 0.5 - sin t), t ~ U(0, pi), noise 0.2 N(0, 1)."""
    rs = np.random.RandomState(seed)
    cls = np.where(rs.rand(n_points) < 0.5, 1, 2)
    phi = rs.rand(n_points) * np.pi
    X = np.where((cls == 1)[:, None], np.c_[np.cos(phi), np.sin(phi)], np.c_[1 + np.cos(phi), 0.5 - np.sin(phi)])
    return X + 0.2 * rs.randn(n_points, 2), cls, rs


def knn_graph(X: Any, k: int = 5) -> Any:
    """Symmetrised k-nearest-neighbour graph with unit weights (stable sort of the distances)."""
    D2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    nbrs = np.argsort(D2, axis=0, kind="stable")[1 : k + 1]  # column s: the k nearest of point s
    n = len(X)
    W = sp.coo_matrix((np.ones(n * k), (np.tile(np.arange(n), k), nbrs.ravel())), shape=(n, n)).tocsr()
    W.data[:] = 1.0
    return W.maximum(W.T).tocsr()


def moons_label_propagation(
    n_points: int = 2000, n_labelled: int = 100, seed: int = 2, max_tries: int = 100
) -> LabelPropagation:
    """Data set E (numpy re-implementation of the paper's MATLAB generator): two moons, symmetrised
    5-NN graph, 100 labels in {1, 2}.

    If a draw leaves a connected component without labels, the next seed is tried; ``seed_used``
    records the seed of the returned problem."""
    n_points = as_int(n_points, "n_points", low=10)
    n_labelled = as_int(n_labelled, "n_labelled", low=1, high=n_points - 1)
    seed = as_int(seed, "seed", low=0)  # the first of the seeds tried, in order
    for s in range(seed, seed + max_tries):
        X, cls, rs = moons_points(n_points, s)
        S = rs.permutation(n_points)[:n_labelled]
        W = knn_graph(X)
        n_comp, comp = sp.csgraph.connected_components(W, directed=False)
        if len(np.unique(comp[S])) == n_comp:
            problem = LabelPropagation(W, S, cls[S].astype(float), name=f"E-moons{n_points}")
            problem.points, problem.classes, problem.seed_used = X, cls, s
            return problem
    raise ValueError(f"no seed in [{seed}, {seed + max_tries}) gives a graph whose components are all labelled")


def bcd_paper_problem(
    name: str,
    seed: int | None = None,
    n_rows: int | None = None,
    n_cols: int | None = None,
    l1: float | None = None,
    grid: int = 50,
    n_points: int = 2000,
    n_labelled: int = 100,
) -> Any:
    """The paper's data sets (paper Section 8), in the paper's sum scale, with l2 = 0.

    ``"A"`` least squares (m = 1000, p = 10000), ``"A-L1"`` the same with a non-negative L1 penalty
    (l1 = 50000), ``"B"`` logistic (10% label flips), ``"C"`` softmax with 50 classes (p = 1000),
    ``"D"`` label propagation on a 50 x 50 lattice, ``"E"`` label propagation on two moons (the numpy
    fixture, seed 2). ``seed`` defaults to the paper's 1 (2 for E); ``n_rows``/``n_cols`` shrink A-C,
    ``grid``/``n_points``/``n_labelled`` shrink D and E. A-C use numpy's legacy ``RandomState`` as the
    official code does, so B, C and D are bit-exact reproductions at full size.
    """
    if name not in PAPER_DATA_SETS:
        as_choice(name, "name", PAPER_DATA_SETS)
    if name == "D":
        return lattice_label_propagation(grid, n_labelled, seed=1 if seed is None else seed)
    if name == "E":
        return moons_label_propagation(n_points, n_labelled, seed=2 if seed is None else seed)
    rs = np.random.RandomState(1 if seed is None else seed)
    m = as_int(1000 if n_rows is None else n_rows, "n_rows", low=2)
    p = as_int((1000 if name == "C" else 10000) if n_cols is None else n_cols, "n_cols", low=1)
    A0 = _paper_design(rs, m, p)
    if name == "C":
        W = rs.randn(p, 50)
        labels = np.argmax(A0 @ W + rs.randn(m, 50), axis=1)
        return MultinomialLogistic(sp.csc_matrix(A0), labels, scale="sum", name=f"C-softmax{m}x{p}")
    w = rs.randn(p) * (rs.rand(p) < 0.1)
    if name == "B":
        y = np.sign(A0 @ w)
        y = y * np.sign(rs.rand(m) - 0.1)
        y[y == 0] = 1.0
        return Logistic(sp.csc_matrix(A0), y, scale="sum", name=f"B-logistic{m}x{p}")
    y = A0 @ w + rs.randn(m)
    if name == "A":
        return LeastSquares(sp.csc_matrix(A0), y, scale="sum", name=f"A-least-squares{m}x{p}")
    lam = as_nonnegative(50000.0 if l1 is None else l1, "l1")
    return NonnegativeLasso(sp.csc_matrix(A0), y, l1=lam, scale="sum", name=f"A-L1{m}x{p}")


# named builders for problems/catalog.py (small sizes by default where the paper's take minutes)
def bcd_least_squares(n_rows: int = 1000, n_cols: int = 10000, seed: int | None = 1) -> Any:
    """Data set A of the BCD paper: sparse least squares, sum scale (paper Section 8)."""
    return bcd_paper_problem("A", seed=seed, n_rows=n_rows, n_cols=n_cols)


def bcd_nonnegative_lasso(n_rows: int = 1000, n_cols: int = 10000, l1: float = 50000.0, seed: int | None = 1) -> Any:
    """Data set A with a non-negative L1 penalty (the paper's Fig. 7 problem)."""
    return bcd_paper_problem("A-L1", seed=seed, n_rows=n_rows, n_cols=n_cols, l1=l1)


def bcd_logistic(n_rows: int = 1000, n_cols: int = 10000, seed: int | None = 1) -> Any:
    """Data set B of the BCD paper: sparse logistic regression with 10% label flips."""
    return bcd_paper_problem("B", seed=seed, n_rows=n_rows, n_cols=n_cols)


def bcd_softmax(n_rows: int = 1000, n_cols: int = 1000, seed: int | None = 1) -> Any:
    """Data set C of the BCD paper: softmax regression with 50 classes."""
    return bcd_paper_problem("C", seed=seed, n_rows=n_rows, n_cols=n_cols)


def bcd_lattice(grid: int = 50, n_labelled: int = 100, seed: int | None = 1) -> Any:
    """Data set D of the BCD paper: label propagation on a 50 x 50 lattice (f* = -1045999575.227)."""
    return bcd_paper_problem("D", seed=seed, grid=grid, n_labelled=n_labelled)


def bcd_moons(n_points: int = 2000, n_labelled: int = 100, seed: int | None = 2) -> Any:
    """Data set E of the BCD paper: label propagation on a two-moons 5-NN graph."""
    return bcd_paper_problem("E", seed=seed, n_points=n_points, n_labelled=n_labelled)
