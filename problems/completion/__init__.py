"""Low-rank matrix completion problems (see ``docs/completion.md``)."""

from .builders import from_ratings, movielens100k, synthetic_incoherent
from .problem import MatrixCompletion, MatrixCompletionCapability

__all__ = ["MatrixCompletion", "MatrixCompletionCapability", "from_ratings", "movielens100k", "synthetic_incoherent"]
