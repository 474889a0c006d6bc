"""Bad input found in review gets a clear error naming the argument (each failed before its fix)."""

import numpy as np
import pytest
import torch
from torch import nn

from optim.monotone import VREG
from optim.nn import KFAC
from problems.resolvents import project_simplex
from quantum.cardinality import CardinalityQUBO, solve_cardinality


def test_vr_eg_gamma_must_lie_below_one():
    with pytest.raises(ValueError, match="gamma"):
        VREG(gamma=5.0)


def test_projecting_an_empty_vector_is_named():
    with pytest.raises(ValueError, match="non-empty"):
        project_simplex(np.zeros(0))


def test_a_fractional_start_of_a_cardinality_solve_is_rejected():
    model = CardinalityQUBO(np.arange(4.0), np.zeros((4, 4)), k=2)
    with pytest.raises(ValueError, match="x0 must be a 0/1 vector"):
        solve_cardinality(model, x0=[1.7, 1.2, 0.3, 0.0])


def test_kl_clip_is_refused_where_it_would_be_ignored():
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="kl_clip"):
        KFAC(model, torch.optim.SGD(model.parameters(), lr=0.1), mode="asdl", kl_clip=1e-5)
