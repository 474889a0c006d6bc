"""Fixtures shared by tests/test_bilevel_*.py (imported by name into each module)."""

import pytest
from threadpoolctl import threadpool_limits

from problems.bilevel import MultiTaskRidge
from problems.movielens import movielens100k_path


@pytest.fixture(autouse=True)
def one_thread():
    """One BLAS thread: small matrices, and immune to oversubscription on a shared machine."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    return MultiTaskRidge.digits()


def have_movielens() -> bool:
    """Whether the MovieLens-100k parquet is on this machine (``python3 benchmarks/fetch_data.py``)."""
    try:
        movielens100k_path()
    except FileNotFoundError:
        return False
    return True
