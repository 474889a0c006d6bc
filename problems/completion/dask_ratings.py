"""``MatrixCompletion`` from ratings held in a Dask DataFrame (e.g. parquet files read by ``dd.read_parquet``).

The table stays on the cluster until it has been reduced to what the problem needs:

1. one aggregation per id column (``Series.unique``, a tree reduction over the partitions) plus a
   count of missing values per column; only the distinct ids come back to the client, which sorts
   them with ``numpy.unique`` exactly as ``from_ratings`` does, so the id mapping is the same;
2. one task per partition encodes its ids as row/column indices (``searchsorted`` against the two
   sorted id arrays, sent once to the workers) and returns ``(rows, cols, vals)`` as int64/int64/float64;
   the pieces are concatenated in partition order.

So the entries of the problem are the rows of the table in its own order (partition by partition,
the order ``df.compute()`` would give), and the problem is identical to ``from_ratings`` on the
columns of ``df.compute()``. The COO arrays (24 bytes per rating) live on the client afterwards, as
every ``MatrixCompletion`` does; string ids never travel except the distinct ones.
"""

from __future__ import annotations

import numpy as np

from ..validation import as_vector
from .builders import as_id_array, assemble_ratings
from .problem import MatrixCompletion


def _select(df, cols: tuple[str, str, str], what: str):
    import dask.dataframe as dd
    import pandas as pd

    if not isinstance(df, dd.DataFrame):
        raise TypeError(
            f"{what} must be a dask.dataframe.DataFrame, got {type(df).__name__} "
            "(use from_ratings for arrays, or dd.from_pandas for a pandas DataFrame)"
        )
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what} has no column(s) {missing}; its columns are {list(df.columns)}")
    if not pd.api.types.is_numeric_dtype(df[cols[2]].dtype) or pd.api.types.is_bool_dtype(df[cols[2]].dtype):
        raise TypeError(f"{what} rating column {cols[2]!r} must be numeric, got dtype {df[cols[2]].dtype}")
    return df[list(cols)]


def _encode(part, cols: tuple[str, str, str], row_ids: np.ndarray, col_ids: np.ndarray):
    """Worker side: one partition's ids as 0-based row/column indices, and its ratings as floats."""
    rows = np.searchsorted(row_ids, part[cols[0]].to_numpy()).astype(np.int64)
    cols_ = np.searchsorted(col_ids, part[cols[1]].to_numpy()).astype(np.int64)
    return rows, cols_, part[cols[2]].to_numpy(dtype=np.float64)


def _check_nulls(nulls, what: str) -> None:
    bad = {str(c): int(v) for c, v in nulls.items() if v}
    if bad:
        raise ValueError(f"{what} has missing values (NaN/null) in column(s) {bad} (column: count)")


def from_dask(
    df,
    *,
    user: str = "user",
    item: str = "item",
    rating: str = "rating",
    test=None,
    rank: int = 10,
    rating_range: tuple[float, float] | str | None = "auto",
    name: str = "ratings",
    client=None,
) -> MatrixCompletion:
    """A problem from a Dask DataFrame of ratings; the same problem as ``from_ratings`` on ``df.compute()``.

    ``user``, ``item``, ``rating`` name the columns. ``test`` is a Dask DataFrame with the same
    columns (held-out ratings), a ``(user, item, rating)`` triple of arrays, or None. The id mapping
    (sorted distinct ids over training and test, cold-start rows/columns for test-only ids), the
    entries and their order (the table's row order), ``rating_range`` and the duplicate check are
    those of ``from_ratings``. The work runs on ``client`` (a ``dask.distributed.Client``) or, when
    None, on Dask's current scheduler (the active client if there is one). Missing columns, missing
    values and non-numeric ratings raise clear errors naming the column.
    """
    import dask
    import dask.dataframe as dd

    cols = (user, item, rating)
    if len(set(cols)) != 3:
        raise ValueError(f"user, item and rating must name three different columns, got {cols}")
    train = _select(df, cols, "df")
    scheduler = None if client is None else client.get
    lazy = [train.isna().sum(), train[user].unique(), train[item].unique()]
    test_arrays = None
    if test is not None and isinstance(test, dd.DataFrame):
        tdf = _select(test, cols, "test")
        lazy += [tdf.isna().sum(), tdf[user].unique(), tdf[item].unique()]
    elif test is not None:
        if hasattr(test, "columns"):
            raise TypeError(f"test must be a Dask DataFrame (dd.from_pandas) or a triple, got {type(test).__name__}")
        try:
            tu, ti, tr = test
        except (TypeError, ValueError):
            raise TypeError("test must be a Dask DataFrame or a triple (user, item, rating)") from None
        test_arrays = (as_id_array(tu, "test user"), as_id_array(ti, "test item"), as_vector(tr, "test rating"))
        if not (len(test_arrays[0]) == len(test_arrays[1]) == len(test_arrays[2])):
            raise ValueError("test user, item, rating must have equal lengths")
    got = dask.compute(*lazy, scheduler=scheduler)
    _check_nulls(got[0], "df")
    users, items = [as_id_array(np.asarray(got[1]), "user")], [as_id_array(np.asarray(got[2]), "item")]
    if len(got) > 3:
        _check_nulls(got[3], "test")
        users.append(as_id_array(np.asarray(got[4]), "test user"))
        items.append(as_id_array(np.asarray(got[5]), "test item"))
    elif test_arrays is not None:
        users.append(test_arrays[0])
        items.append(test_arrays[1])
    row_ids, col_ids = np.unique(np.concatenate(users)), np.unique(np.concatenate(items))

    rid, cid = dask.delayed(row_ids, pure=True), dask.delayed(col_ids, pure=True)
    encode = dask.delayed(_encode, pure=True)
    tasks = [[encode(p, cols, rid, cid) for p in train.to_delayed()]]
    if len(got) > 3:
        tasks.append([encode(p, cols, rid, cid) for p in tdf.to_delayed()])
    pieces = dask.compute(*tasks, scheduler=scheduler)
    train_coo = _concat(pieces[0], "rating")
    if len(pieces) > 1:
        test_coo = _concat(pieces[1], "test rating")
    elif test_arrays is not None:
        tv = test_arrays[2]
        tr_, tc_ = np.searchsorted(row_ids, test_arrays[0]), np.searchsorted(col_ids, test_arrays[1])
        test_coo = (tr_.astype(np.int64), tc_.astype(np.int64), tv)
    else:
        test_coo = None
    return assemble_ratings(row_ids, col_ids, train_coo, test_coo, rank=rank, rating_range=rating_range, name=name)


def _concat(pieces, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.int64)
    cols = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, np.int64)
    vals = np.concatenate([p[2] for p in pieces]) if pieces else np.zeros(0)
    return rows, cols, as_vector(vals, name, copy=False)


def from_parquet(
    path,
    *,
    user: str = "user",
    item: str = "item",
    rating: str = "rating",
    test=None,
    storage_options: dict | None = None,
    **kwargs,
) -> MatrixCompletion:
    """``from_dask`` on ``dd.read_parquet(path)``; ``test`` may be a path too. Other options go to ``from_dask``.

    ``path`` is what ``dask.dataframe.read_parquet`` takes: a directory, a glob (``"data/*.parquet"``), a
    list of files or a remote URL (``"s3://bucket/ratings/"``, with ``storage_options`` for credentials).
    Only the three named columns are read.
    """
    import dask.dataframe as dd

    def read(p):
        return dd.read_parquet(p, storage_options=storage_options)

    def is_path(p) -> bool:
        return isinstance(p, str) or hasattr(p, "__fspath__")

    if is_path(test) or (isinstance(test, list) and test and all(is_path(p) for p in test)):
        test = read(test)
    return from_dask(read(path), user=user, item=item, rating=rating, test=test, **kwargs)
