"""MKOR's conv input statistic (mean of each unfolded patch entry over output positions) against torch's unfold."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from optim.nn._kron import Layer
from optim.nn.mkor import _max_abs, _patch_means


@settings(max_examples=25, deadline=None)
@given(
    k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    pad=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    seed=st.integers(0, 1000),
)
def test_patch_means_match_unfold(k, stride, dilation, pad, seed):
    conv = nn.Conv2d(2, 3, k, stride=stride, dilation=dilation, padding=pad).double()
    x = torch.randn(4, 2, 9, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    expected = F.unfold(x, k, dilation=dilation, padding=pad, stride=stride).mean(dim=2)
    cache: dict = {}
    for _ in range(2):  # the second call reuses the cached averaging matrix
        torch.testing.assert_close(_patch_means(Layer("c", conv), x, cache), expected, rtol=1e-12, atol=1e-12)


def test_max_abs_matches_abs_max_and_propagates_nan():
    J = torch.tensor([[1.0, -5.0], [3.0, 2.0]])
    assert _max_abs(J) == float(J.abs().max()) == 5.0
    assert _max_abs(torch.tensor([[1.0, float("-inf")]])) == float("inf")
    assert _max_abs(torch.tensor([[1.0, float("nan")]])) != _max_abs(torch.tensor([[1.0, float("nan")]]))


def test_patch_mean_cache_keeps_a_few_input_sizes_per_layer_and_stays_exact():
    """Inputs of many sizes (multi-scale training) keep at most PATCH_SIZES_KEPT averaging matrices per
    layer, least recently used evicted, and every call still equals torch's unfold."""
    from optim.nn.mkor import PATCH_SIZES_KEPT

    conv = nn.Conv2d(2, 3, 3, padding=1, stride=2).double()
    layer, cache = Layer("c", conv), {}
    gen = torch.Generator().manual_seed(0)
    for size in [5, 6, 7, 8, 9, 10, 6, 11, 12, 5, 13]:
        x = torch.randn(2, 2, size, size + 1, dtype=torch.float64, generator=gen)
        expected = F.unfold(x, 3, padding=1, stride=2).mean(dim=2)
        torch.testing.assert_close(_patch_means(layer, x, cache), expected, rtol=1e-12, atol=1e-12)
        assert len(cache["c"]) <= PATCH_SIZES_KEPT
    assert [k[:2] for k in cache["c"]] == [(11, 12), (12, 13), (5, 6), (13, 14)]
