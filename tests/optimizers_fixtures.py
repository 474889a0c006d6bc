"""Fixture shared by tests/test_optimizers*.py (imported by name into each module)."""

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small tensors: one intra-op thread (faster, and immune to oversubscription on a shared box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
