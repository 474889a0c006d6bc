"""Shared fixtures: the foundation's real-data problems, built once per test session."""

import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("TQDM_DISABLE", "1")

import problems  # noqa: E402


@pytest.fixture(scope="session")
def lasso_diabetes():
    return problems.lasso_diabetes(0.1)


@pytest.fixture(scope="session")
def logreg_breast_cancer():
    return problems.logistic_breast_cancer(0.1)
