"""Result.to_dict (strict JSON), Result.plot (pyplot-free Figure) and `optim solve --out`."""

import json
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

import optim
import problems
from optim.cli import main
from optim.linear import CostTable


@pytest.fixture
def least_squares():
    rng = np.random.default_rng(2)
    return problems.LeastSquares(rng.standard_normal((15, 4)), rng.standard_normal(15), name="ls")


def _table():
    rng = np.random.default_rng(0)
    return CostTable(rng.integers(5, 30, size=(12, 3)), [1.0, 1.4, 1.8], contexts=np.arange(12.0), method="sor")


def test_to_dict_is_strict_json(least_squares):
    r = optim.solve(least_squares, method="gd", max_iter=10, tol=0)
    d = r.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["status"] == "max_iter" and back["x"] == pytest.approx(r.x.tolist())
    assert back["history"]["fun"] == pytest.approx(r.history["fun"].tolist()) and back["work_unit"] == "grad"
    assert isinstance(d["nit"], int) and isinstance(d["history"]["nit"][0], int)


def test_to_dict_nan_inf_numpy_scalars_and_objects():
    r = optim.solve(_table(), method="tsallis-inf", seed=0)
    r["extra"] = {"inf": np.inf, "f32": np.float32(1.5), "i64": np.int64(3), "flag": np.bool_(True), "nan": math.nan}
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["extra"] == {"inf": None, "f32": 1.5, "i64": 3, "flag": True, "nan": None}
    assert d["history"]["omega"][0] is None  # the start row has no omega yet (NaN)
    assert d["policy"] == f"<{type(r.policy).__name__}>"


def test_plot_returns_a_figure_without_pyplot(least_squares):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    r = optim.solve(least_squares, method="fista", tol=1e-10)
    fig = r.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[0].get_yscale() == "log" and "grad" in fig.axes[0].get_xlabel()
    assert fig.axes[1].get_xlabel() == "time (s)"
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), np.maximum(r.history["optimality"], 1e-17))
    own = Figure()
    ax = own.subplots()
    assert r.plot(ax=ax) is own and len(ax.lines) == 1
    assert plt.get_fignums() == before  # no pyplot state touched
    with pytest.raises(TypeError, match="ax must be"):
        r.plot(ax="left")


def test_online_result_plots_cumulative_iterations_on_linear_axes():
    r = optim.solve(_table(), method="tsallis-inf", seed=0)
    fig = r.plot()
    left, right = fig.axes
    assert left.get_yscale() == right.get_yscale() == "linear"
    assert left.get_xlabel() == "instances solved" and left.get_ylabel() == "cumulative iterations"
    np.testing.assert_array_equal(left.lines[0].get_ydata(), r.history["cumulative"])


def test_cli_solve_out_writes_json_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["solve", "lasso-diabetes", "--method", "fista", "--out", str(out)]) == 0
    data = json.loads((out / "result.json").read_text())
    assert data["problem"].startswith("lasso-diabetes") and data["status"] == "converged" and len(data["x"]) == 10
    assert (out / "result.png").stat().st_size > 1000
    assert "result.json" in capsys.readouterr().out
