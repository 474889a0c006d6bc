"""Abstract solver base, capabilities as runtime-checkable typing protocols, py.typed markers."""

from pathlib import Path

import numpy as np
import pytest

import optim
import problems
from optim.linear import CostTable
from problems.base import (
    Composite,
    CompositeProblem,
    HasReference,
    Objective,
    ObjectiveProblem,
    ReferenceProblem,
    Smooth,
    SmoothProblem,
)

ROOT = Path(__file__).resolve().parents[1]


def test_solver_without_step_cannot_be_instantiated():
    class Half(optim.Solver):
        def init(self, problem, x0=None):
            return optim.State(x=np.zeros(1))

    with pytest.raises(TypeError, match="abstract"):
        Half()


def test_protocols_agree_with_capabilities():
    rng = np.random.default_rng(0)
    ls = problems.LeastSquares(rng.standard_normal((6, 3)), rng.standard_normal(6), l1=0.1)
    table = CostTable([[1, 2]], [1.0, 1.5], [0.0], method="sor")
    pairs = [
        (Smooth, SmoothProblem),
        (Composite, CompositeProblem),
        (Objective, ObjectiveProblem),
        (HasReference, ReferenceProblem),
    ]
    for cap, proto in pairs:
        for p in (ls, table):
            assert isinstance(p, proto) == cap.satisfied_by(p)
    assert isinstance(ls, CompositeProblem) and not isinstance(table, SmoothProblem)


def test_py_typed_markers_ship_as_package_data():
    for pkg in ("optim", "problems", "quantum"):
        assert (ROOT / pkg / "py.typed").is_file()
    text = (ROOT / "pyproject.toml").read_text()
    package_data = text.split("[tool.setuptools.package-data]")[1].split("\n[")[0]
    assert '"py.typed"' in package_data
