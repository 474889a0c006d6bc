"""Low-rank matrix completion problems (see ``docs/completion.md``)."""

from .builders import from_ratings, movielens100k, synthetic_incoherent
from .dask_ratings import from_dask, from_parquet
from .problem import MatrixCompletion, MatrixCompletionCapability

__all__ = [
    "MatrixCompletion",
    "MatrixCompletionCapability",
    "from_dask",
    "from_parquet",
    "from_ratings",
    "movielens100k",
    "synthetic_incoherent",
]
