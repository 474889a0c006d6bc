"""optim.compare as a grid: not-applicable pairs, several seeds, executors (process pool, Dask)."""

import json
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import optim
import problems
from optim.cli import main
from optim.linear import CostTable
from optim.plotting import band
from optim.result import json_safe

TIMING = {"time", "solve_time"}


class NoGradient(problems.Problem):
    name = "no-gradient"
    dim = 3

    def optimality(self, x):
        return 0.0


def _table_problem():
    rng = np.random.default_rng(0)
    costs = rng.integers(20, 60, size=(40, 5))
    costs[:, 2] -= 15  # one clearly best column
    return CostTable(costs, [1.0, 1.2, 1.4, 1.6, 1.8], contexts=np.linspace(0, 1, 40), method="sor", name="table")


def _least_squares():
    rng = np.random.default_rng(1)
    return problems.LeastSquares(rng.standard_normal((20, 4)), rng.standard_normal(20), name="ls")


def _strip_timing(records):
    out = []
    for r in records:
        r = {k: v for k, v in r.items() if k not in TIMING}
        if "history" in r:
            r["history"] = {k: v for k, v in r["history"].items() if k not in TIMING}
        out.append(r)
    return json_safe(out)  # NaN -> None, so NaN entries compare equal


def test_incompatible_pair_is_not_applicable_and_the_grid_runs():
    comp = optim.compare([_least_squares(), NoGradient()], ["gd", "fista"], max_iter=50)
    by = {(r["problem"], r["method"]): r for r in comp.records}
    # gradient descent with step 1/L on this strongly convex quadratic contracts the gradient by at
    # least 1 - mu/L per step: within 50 steps it falls far below the default tol, so only "converged" can occur
    ls = _least_squares()
    mu, L = np.linalg.eigvalsh(ls.A.T @ ls.A / ls.A.shape[0])[[0, -1]]
    assert (1 - mu / L) ** 50 * np.linalg.norm(ls.A.T @ ls.b / ls.A.shape[0]) < 1e-9
    x_star = np.linalg.lstsq(ls.A, ls.b, rcond=None)[0]
    for method in ("gd", "fista"):
        record = by[("ls", method)]
        assert record["status"] == "converged" and record["nit"] < 50 and record["optimality"] <= 1e-8
        assert record["fun"] == pytest.approx(ls.objective(x_star), rel=1e-12)
    na = by[("no-gradient", "fista")]
    assert na["status"] == "not applicable" and "needs a Smooth problem" in na["reason"]
    table = comp.table()
    assert "| no-gradient | gd | not applicable |" in table and "lacks value, grad, lipschitz" in table
    json.loads(comp.to_json())  # still strict JSON


def test_several_seeds_give_mean_and_spread(tmp_path):
    seeds = [0, 1, 2]
    comp = optim.compare(_table_problem(), ["tsallis-inf", "best-fixed-omega"], seeds=seeds)
    assert len(comp.records) == 6 and [r["seed"] for r in comp.records[:3]] == seeds
    tsallis = [r for r in comp.records if r["method"] == "tsallis-inf"]
    totals = [r["fun"] for r in tsallis]
    assert len(set(totals)) > 1  # the seeds matter for a bandit
    entry = next(e for e in comp.summary() if e["method"] == "tsallis-inf")
    assert entry["fun_mean"] == pytest.approx(np.mean(totals)) and entry["fun_std"] == pytest.approx(np.std(totals))
    table = comp.table()
    assert "over 3 seeds" in table and "objective sd" in table and table.count("| table |") == 2
    paths = comp.save(tmp_path, stem="seeds")
    assert json.loads(paths["json"].read_text())["seeds"] == seeds
    assert len(paths["plots"]) == 1 and paths["plots"][0].stat().st_size > 1000


def test_band_is_mean_and_envelope_of_step_curves():
    grid, mean, lo, hi = band([[0, 2], [0, 1, 3]], [[4.0, 2.0], [2.0, 6.0, 0.0]], log=False)
    np.testing.assert_array_equal(grid, [0, 1, 2, 3])
    np.testing.assert_allclose(mean, [3, 5, 4, 1])
    np.testing.assert_array_equal(lo, [2, 4, 2, 0])
    np.testing.assert_array_equal(hi, [4, 6, 6, 2])
    _, gmean, _, _ = band([[0], [0]], [[1e-2], [1e-6]], log=True)
    np.testing.assert_allclose(gmean, [1e-4])


def test_process_pool_equals_serial():
    args = ({"table": _table_problem(), "ls": _least_squares()}, ["tsallis-inf", "gd"])
    serial = optim.compare(*args, seeds=[0, 1], max_iter=30)
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = optim.compare(*args, seeds=[0, 1], max_iter=30, executor=pool)
    assert _strip_timing(parallel.records) == _strip_timing(serial.records)
    assert sum(r["status"] == "not applicable" for r in serial.records) == 4


class CountedPickles(problems.LeastSquares):
    """Least squares that counts how often it is pickled (in the process that pickles it)."""

    pickled = 0

    def __reduce__(self):
        CountedPickles.pickled += 1
        return super().__reduce__()


def test_each_problem_is_pickled_once_not_once_per_task():
    rng = np.random.default_rng(1)
    problem = CountedPickles(rng.standard_normal((20, 4)), rng.standard_normal(20), name="counted")
    CountedPickles.pickled = 0
    with ProcessPoolExecutor(max_workers=2) as pool:
        comp = optim.compare({"counted": problem}, ["gd", "fista"], seeds=[0, 1, 2], max_iter=20, executor=pool)
    assert CountedPickles.pickled == 1  # 6 tasks, one pickling
    serial = optim.compare({"counted": problem}, ["gd", "fista"], seeds=[0, 1, 2], max_iter=20)
    assert _strip_timing(comp.records) == _strip_timing(serial.records)


def test_dask_cluster_equals_serial(tmp_path, monkeypatch):
    monkeypatch.setitem(optim.SUITES, "tiny", "test_compare_grid:tiny_suite")
    distributed = pytest.importorskip("distributed")
    args = (_table_problem(), ["tsallis-inf", "chebcb"])
    serial = optim.compare(*args, seeds=[0, 1])
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_client = optim.compare(*args, seeds=[0, 1], executor=client)
        on_executor = optim.compare(*args, seeds=[0, 1], executor=client.get_executor())
        assert main(["compare", "tiny", "--scheduler", cluster.scheduler_address, "--out", str(tmp_path)]) == 0
        assert json.loads((tmp_path / "tiny.json").read_text())["records"][0]["status"] == "converged"
    assert _strip_timing(on_client.records) == _strip_timing(serial.records)
    assert _strip_timing(on_executor.records) == _strip_timing(serial.records)


def test_bad_seeds_and_executor():
    with pytest.raises(TypeError, match="seeds must be a list"):
        optim.compare(_least_squares(), "gd", seeds=3)
    with pytest.raises(ValueError, match="seeds must be distinct"):
        optim.compare(_least_squares(), "gd", seeds=[1, 1])
    with pytest.raises(TypeError, match="executor must be"):
        optim.compare(_least_squares(), "gd", executor="pool")
    unpicklable = _least_squares()
    unpicklable.hook = lambda x: x  # a local function cannot travel to another process
    with ProcessPoolExecutor(max_workers=1) as pool, pytest.raises(TypeError, match="cannot be sent to worker"):
        optim.compare({"local": unpicklable}, "gd", executor=pool)
    with ThreadPoolExecutor(max_workers=2) as threads:  # threads share the objects: no pickling needed
        assert optim.compare({"local": unpicklable}, "gd", executor=threads, max_iter=5).records[0]["nit"] == 5


def tiny_suite(quick=True):
    """A small suite for the command-line test (registered by the test below)."""
    return optim.Suite(
        name="tiny", description="tiny", problems={"ls": _least_squares()}, methods=["gd", "fista"], settings={}
    )


def test_cli_compare_with_seeds_and_workers(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(optim.SUITES, "tiny", "test_compare_grid:tiny_suite")
    assert main(["compare", "tiny", "--seeds", "0", "1", "--workers", "2", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "tiny.json").read_text())
    assert data["seeds"] == [0, 1] and {r["seed"] for r in data["records"]} == {0, 1}
    assert "over 2 seeds" in capsys.readouterr().out
    assert main(["compare", "tiny", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2


def test_threads_give_each_run_its_own_problem_copy():
    problem = _least_squares()
    with ThreadPoolExecutor(max_workers=2) as threads:
        records = optim.compare({"ls": problem}, ["gd", "fista"], executor=threads, max_iter=5).records
    assert problem.counts.total() == 0  # the runs counted on their own copies
    serial = optim.compare({"ls": problem}, ["gd", "fista"], max_iter=5).records
    assert [r["counts"] for r in records] == [r["counts"] for r in serial]
