"""Fixtures shared by tests/test_bilevel_*.py (imported by name into each module)."""

import pytest
from threadpoolctl import threadpool_limits

from problems.bilevel import MultiTaskRidge


@pytest.fixture(autouse=True)
def one_thread():
    """One BLAS thread: small matrices, and immune to oversubscription on a shared machine."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    return MultiTaskRidge.digits()
