"""optim.compare, its outputs, and the optim console script."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import optim
import problems
from optim.cli import main


def test_compare_records_table_json_and_plots(tmp_path, lasso_diabetes):
    rng = np.random.default_rng(0)
    ls = problems.LeastSquares(rng.standard_normal((20, 5)), rng.standard_normal(20), name="random-ls")
    comp = optim.compare({"lasso": lasso_diabetes, "ls": ls}, ["gd", "fista"], max_iter=500, tol=1e-9, seed=1)
    assert [(r["problem"], r["method"]) for r in comp.records] == [
        ("lasso", "gd"),
        ("lasso", "fista"),
        ("ls", "gd"),
        ("ls", "fista"),
    ]
    table = comp.table()
    assert table.count("\n") == 5 and "| lasso | fista | converged |" in table
    paths = comp.save(tmp_path, stem="cmp")
    data = json.loads(paths["json"].read_text())  # strict JSON (NaN written as null)
    assert len(data["records"]) == 4 and data["records"][0]["history"]["nit"][0] == 0
    assert len(paths["plots"]) == 2 and all(p.stat().st_size > 1000 for p in paths["plots"])
    # the same budget for every method: each record's history is in gradient evaluations
    assert all(r["work_unit"] == "grad" for r in data["records"])


def test_cli_list_and_solve(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "fista" in out and "lasso-diabetes" in out and "a8a/a8a_training.txt" in out
    assert (
        main(
            [
                "solve",
                "lasso-diabetes",
                "--method",
                "fista",
                "--option",
                "tol=1e-10",
                "--problem-option",
                "l1_fraction=0.2",
            ]
        )
        == 0
    )
    assert "converged" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["solve", "lasso-diabetes", "--method", "fsta"], "did you mean 'fista'"),
        (["solve", "lasso-diabtes", "--method", "fista"], "did you mean 'lasso-diabetes'"),
        (["solve", "lasso-diabetes", "--method", "gd", "--option", "stepsize=1"], "did you mean"),
        (["solve", "lasso-diabetes", "--method", "gd", "--option", "step"], "expects key=value"),
        (["compare", "gml"], "did you mean 'glm'"),
    ],
)
def test_cli_errors_are_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_demo_console_script_writes_report_and_plots(tmp_path):
    """`optim demo` as a user runs it after installing: every suite, report.md and PNGs."""
    script = Path(sys.executable).with_name("optim")  # installed next to this interpreter
    script = str(script) if script.exists() else shutil.which("optim")
    assert script, "the optim console script is not installed"
    proc = subprocess.run(
        [script, "demo", "--out", str(tmp_path / "demo")], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = (tmp_path / "demo" / "report.md").read_text()
    for name in optim.SUITES:
        assert f"## {name}" in report
    assert list((tmp_path / "demo").glob("*.png"))
    assert str(tmp_path / "demo" / "report.md") in proc.stdout


def test_python_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "optim.cli", "list"], capture_output=True, text=True)
    assert proc.returncode == 0 and "Suites" in proc.stdout
