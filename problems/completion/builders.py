"""Builders of ``MatrixCompletion`` problems: incoherent synthetic matrices, rating lists, MovieLens-100k."""

from __future__ import annotations

import math

import numpy as np

from ..movielens import grouplens_split, load_movielens100k
from ..validation import as_choice, as_generator, as_int, as_real, as_vector
from .problem import MatrixCompletion


def synthetic_incoherent(
    m: int = 500,
    n: int = 500,
    k: int = 5,
    *,
    c: float = 2.0,
    n_obs: int | None = None,
    kappa: float = 1.0,
    noise_std: float = 0.0,
    n_test: int = 10_000,
    seed=0,
) -> MatrixCompletion:
    """A random rank-k matrix ``M = U* diag(s) V*^T`` with uniformly sampled observed entries.

    Draws, in this order from ``rng = default_rng(seed)``: ``U* = qr(randn(m, k)).Q``,
    ``V* = qr(randn(n, k)).Q``; then ``|Omega| = round(c max(m, n) k ln max(m, n))`` positions (or
    ``n_obs``) without replacement from the ``m n`` (``rng.choice``, row-major ``divmod``); then up to
    ``n_test`` held-out positions from the complement; then ``N(0, noise_std^2)`` noise on the observed
    values only. Singular values ``linspace(1, 1/kappa, k) sqrt(m n / k)`` keep entries of order 1
    (condition number ``kappa``). The truth is kept factored; ``meta`` records the incoherence
    ``mu = max(max_i ||U*_i|| sqrt(m/k), max_j ||V*_j|| sqrt(n/k))``.
    """
    m, n = as_int(m, "m", low=1), as_int(n, "n", low=1)
    k = as_int(k, "k", low=1, high=min(m, n))
    c = as_real(c, "c", low=0.0, low_open=True)
    kappa = as_real(kappa, "kappa", low=1.0)
    noise_std = as_real(noise_std, "noise_std", low=0.0)
    n_test = as_int(n_test, "n_test", low=0)
    rng = as_generator(seed)
    big = max(m, n)
    if n_obs is None:
        n_obs = int(round(c * big * k * math.log(big))) if big > 1 else 1
    n_obs = as_int(n_obs, "n_obs", low=1, high=m * n)
    ustar = np.linalg.qr(rng.standard_normal((m, k)))[0]
    vstar = np.linalg.qr(rng.standard_normal((n, k)))[0]
    sing = np.linspace(1.0, 1.0 / kappa, k) * math.sqrt(m * n / k)
    idx = rng.choice(m * n, size=n_obs, replace=False)
    rows, cols = np.divmod(idx, n)
    a = ustar * sing
    vals = np.einsum("ij,ij->i", a[rows], vstar[cols])
    rest = np.setdiff1d(np.arange(m * n), idx, assume_unique=True)
    tidx = rng.choice(rest, size=min(n_test, rest.size), replace=False) if rest.size and n_test else rest[:0]
    trows, tcols = np.divmod(tidx, n)
    tvals = np.einsum("ij,ij->i", a[trows], vstar[tcols])
    if noise_std > 0:
        vals = vals + noise_std * rng.standard_normal(n_obs)
    mu = max(
        np.max(np.linalg.norm(ustar, axis=1)) * math.sqrt(m / k),
        np.max(np.linalg.norm(vstar, axis=1)) * math.sqrt(n / k),
    )
    meta = {
        "mu": float(mu),
        "kappa": kappa,
        "noise_std": noise_std,
        "seed": seed if isinstance(seed, int) else None,
        "p": n_obs / (m * n),
        "c": c,
        "source": "synthetic_incoherent",
    }
    return MatrixCompletion(
        (m, n),
        rows,
        cols,
        vals,
        k,
        test=(trows, tcols, tvals),
        truth=(a, vstar),
        meta=meta,
        name=f"synthetic-{m}x{n}-k{k}-c{c:g}",
    )


def as_id_array(value, name: str) -> np.ndarray:
    """``value`` as a 1-D array of user or item ids: integers, strings, or finite floats."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite ids")
    elif arr.dtype.kind not in "iuUSO":
        raise TypeError(f"{name} must hold ids (integers or strings), got dtype {arr.dtype}")
    return arr


def from_ratings(
    user,
    item,
    rating,
    *,
    test=None,
    rank: int = 10,
    rating_range: tuple[float, float] | str | None = "auto",
    name: str = "ratings",
) -> MatrixCompletion:
    """A problem from rating triples; ``test=(user, item, rating)`` gives held-out ratings.

    Ids (any sortable values) are mapped to 0-based contiguous rows/columns in sorted order, over the
    union of the training and test ids: a user or item that appears only in the test part gets a row
    or column without training entries (cold start). Solvers give such rows zero factors, and the
    models they return predict the training mean there (documented fallback). ``problem.row_ids`` /
    ``col_ids`` map indices back to ids. ``rating_range="auto"`` takes (min, max) of the training
    ratings (predictions are clipped to it); None disables clipping. Duplicate (user, item) pairs
    raise ``ValueError``.
    """
    user, item = as_id_array(user, "user"), as_id_array(item, "item")
    vals = as_vector(rating, "rating")
    if not (len(user) == len(item) == len(vals)):
        raise ValueError(f"user, item, rating must have equal lengths, got {len(user)}, {len(item)}, {len(vals)}")
    if test is not None:
        try:
            tu, ti, tr = test
        except (TypeError, ValueError):
            raise TypeError("test must be a triple (user, item, rating)") from None
        tu, ti, tv = as_id_array(tu, "test user"), as_id_array(ti, "test item"), as_vector(tr, "test rating")
        if not (len(tu) == len(ti) == len(tv)):
            raise ValueError("test user, item, rating must have equal lengths")
    else:
        tu, ti, tv = user[:0], item[:0], vals[:0]
    row_ids, rows_all = np.unique(np.concatenate([user, tu]), return_inverse=True)
    col_ids, cols_all = np.unique(np.concatenate([item, ti]), return_inverse=True)
    nt = len(vals)
    train = (rows_all[:nt], cols_all[:nt], vals)
    test_part = (rows_all[nt:], cols_all[nt:], tv)
    return assemble_ratings(row_ids, col_ids, train, test_part, rank=rank, rating_range=rating_range, name=name)


def assemble_ratings(row_ids, col_ids, train, test, *, rank, rating_range, name: str) -> MatrixCompletion:
    """The problem from id maps and encoded entries (shared by ``from_ratings`` and ``from_dask``)."""
    rows, cols, vals = train
    clip_to: tuple[float, float] | None
    if isinstance(rating_range, str):
        as_choice(rating_range, "rating_range", ["auto"])
        clip_to = (float(vals.min()), float(vals.max())) if vals.size and vals.min() < vals.max() else None
    else:
        clip_to = rating_range
    problem = MatrixCompletion(
        (len(row_ids), len(col_ids)),
        rows,
        cols,
        vals,
        rank,
        test=test,
        rating_range=clip_to,
        meta={"source": "ratings", "cold_test_entries": 0},
        name=name,
    )
    problem.row_ids, problem.col_ids = row_ids, col_ids
    cold = (problem.row_counts[problem.test_rows] == 0) | (problem.col_counts[problem.test_cols] == 0)
    problem.meta["cold_test_entries"] = int(cold.sum())
    return problem


def movielens100k(split: str = "u1", seed=0, path=None, *, rank: int = 10) -> MatrixCompletion:
    """MovieLens-100k (943 users x 1682 movies, ratings 1-5) with a held-out part.

    ``split="u1"``: GroupLens' canonical ``u1.base`` / ``u1.test`` (80,000 / 20,000 ratings; 32 test
    movies are cold start). ``split="seeded"``: a uniformly random 80/20 split drawn with ``seed``.
    Reads the local parquet file (``problems.movielens``; never downloads).
    """
    split = as_choice(split, "split", ["u1", "seeded"])
    r = load_movielens100k(path)
    if split == "u1":
        train, test = grouplens_split(len(r.user), fold=1)
    else:
        perm = as_generator(seed).permutation(len(r.user))
        cut = len(r.user) * 4 // 5
        train, test = np.sort(perm[:cut]), np.sort(perm[cut:])
    problem = from_ratings(
        r.user[train],
        r.item[train],
        r.rating[train],
        test=(r.user[test], r.item[test], r.rating[test]),
        rank=rank,
        rating_range=(1.0, 5.0),
        name=f"movielens100k-{split}",
    )
    problem.meta.update(source="MovieLens-100k (GroupLens)", split=split)
    return problem
