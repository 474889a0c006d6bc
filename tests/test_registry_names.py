"""Method names are case-insensitive; `optim list` prints whole sentences that cite no file outside the docs."""

import re

import numpy as np
import pytest

import optim
import problems
from optim.cli import main
from problems.catalog import summary_sentence

CITATION = re.compile(
    r"\bsp[e]cs?\b|(vr_halpern|greedy_bcd|bandit_sor|lion_auon|qubo_lagrangian|bilevel_bsvrb"
    r"|matrix_completion_am|mkor|icbs_pruning)\.md|shared[/]"
)


@pytest.fixture
def least_squares():
    rng = np.random.default_rng(4)
    return problems.LeastSquares(rng.standard_normal((12, 3)), rng.standard_normal(12))


@pytest.mark.parametrize("spelling", ["FISTA", "Fista", " fista "])
def test_method_names_are_case_insensitive(least_squares, spelling):
    r = optim.solve(least_squares, method=spelling, tol=1e-10)
    assert r.status == "converged" and r.method == "fista"
    assert optim.solver_class(spelling) is optim.FISTA
    assert optim.make_solver(spelling, max_iter=3).max_iter == 3


def test_misspellings_still_get_suggestions(least_squares):
    with pytest.raises(ValueError, match="did you mean 'fista'"):
        optim.solve(least_squares, method="FSTA")
    assert main(["solve", "lasso-diabetes", "--method", "GD", "--option", "max_iter=3"]) == 0


def test_summary_sentence():
    assert summary_sentence("Solve a thing.\n\nMore text.") == "Solve a thing."
    assert summary_sentence("Extra-anchored gradient (Yoon and Ryu 2021,\n  Alg. 1), e.g. for games. More.") == (
        "Extra-anchored gradient (Yoon and Ryu 2021, Alg. 1), e.g. for games."
    )
    assert summary_sentence("A bandit (spec Sec. 3.1) over omegas") == "A bandit over omegas."
    assert summary_sentence(None) == ""


def test_list_prints_whole_sentences_without_file_citations(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    section = out.split("\nBundled instance files")[0]
    lines = [line for line in section.splitlines() if line.startswith("  ")]
    assert len(lines) >= len(optim.METHODS) + len(optim.SUITES)
    for line in lines:
        name, _, text = line.strip().partition(" ")
        text = text.strip()
        assert text.endswith("."), f"{name}: {text!r} is not a whole sentence"
        assert not CITATION.search(text), f"{name} cites a file outside the docs: {text!r}"
