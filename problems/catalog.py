"""Named problems for the CLI and the comparison suites: ``make_problem("lasso-diabetes")``.

Entries map a name to ``"module:callable"`` and are imported on first use, so listing names costs
nothing. Each family adds its own builders here (keyword options are passed through).
"""

from __future__ import annotations

import importlib
import inspect
import re

from .validation import as_choice

PROBLEMS: dict[str, str] = {
    "lasso-diabetes": "problems.datasets:lasso_diabetes",
    "logreg-breast-cancer": "problems.datasets:logistic_breast_cancer",
    "multinomial-digits": "problems.datasets:multinomial_digits",
    "logreg-a8a": "problems.datasets:logistic_a8a",
    # --- optimizers (torch training problems)
    "digits-mlp": "problems.training:digits_mlp",
    "char-gpt": "problems.training:char_gpt",
    # --- second-order torch optimizers (digits CNN and deep autoencoder)
    "digits-cnn": "problems.training:digits_cnn",
    "digits-autoencoder": "problems.training:digits_autoencoder",
    # --- monotone inclusions
    "game-pb": "problems.monotone:policeman_burglar_game",
    "game-random": "problems.monotone:random_game",
    "quadratic-minmax": "problems.monotone:quadratic_minmax",
    "logistic-operator-a8a": "problems.monotone:logistic_operator_a8a",
    # --- sor (sequences of linear systems for omega tuning)
    "shifted-laplacian-high": "problems.linear_systems:shifted_laplacian_high",
    "shifted-laplacian-low": "problems.linear_systems:shifted_laplacian_low",
    "heat-equation": "problems.linear_systems:heat_equation",
    # --- bcd (the greedy BCD paper's data sets A-E)
    "bcd-least-squares": "problems.bcd:bcd_least_squares",
    "bcd-nonnegative-lasso": "problems.bcd:bcd_nonnegative_lasso",
    "bcd-logistic": "problems.bcd:bcd_logistic",
    "bcd-softmax": "problems.bcd:bcd_softmax",
    "bcd-lattice": "problems.bcd:bcd_lattice",
    "bcd-moons": "problems.bcd:bcd_moons",
    # --- qubo (shipped instance files; option name= picks the file)
    "mdkp": "problems.binary:shipped_mdkp",
    "mis": "problems.binary:shipped_mis",
    "tsp": "problems.binary:shipped_tsp",
    "qap": "problems.binary:shipped_qap",
    "market-split": "problems.binary:shipped_market_split",
    # --- completion (MovieLens-100k is read from a local file: python3 benchmarks/fetch_data.py)
    "completion-synthetic": "problems.completion:synthetic_incoherent",
    "movielens100k": "problems.completion:movielens100k",
    # --- bilevel (multi-block bilevel problems)
    "bilevel-quadratic": "problems.bilevel:quadratic_bilevel",
    "bilevel-ridge-digits": "problems.bilevel:ridge_digits",
    "bilevel-ho-a8a": "problems.bilevel:ho_a8a",
    # --- pruning (the ReLU digits MLP, trained on first use)
    "digits-pruning": "problems.pruning:digits_pruning",
    "minilm-pruning": "problems.pruning.minilm:minilm_pruning",  # needs the minilm extra and model wheel
    "bilevel-ndcg-movielens": "problems.bilevel:ndcg_movielens",  # needs the MovieLens-100k file
}


def load_entry(target: str):
    """Import ``"module:attribute"``."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def problem_builder(name: str):
    """The callable that builds problem ``name`` (with a 'did you mean' for typos)."""
    return load_entry(PROBLEMS[as_choice(name, "problem", sorted(PROBLEMS))])


def make_problem(name: str, /, **options):
    """Build the named problem; ``options`` go to its builder (checked against its signature)."""
    builder = problem_builder(name)
    params = inspect.signature(builder).parameters
    unknown = [k for k in options if k not in params]
    if unknown:
        raise ValueError(f"problem {name!r} takes no option {unknown[0]!r}; it takes {sorted(params) or 'no options'}")
    return builder(**options)


def describe(name: str) -> str:
    """The first sentence of the builder's docstring."""
    return summary_sentence(inspect.getdoc(problem_builder(name)))


# a parenthesis or clause citing a design note outside the documentation (character classes keep the
# repository's own citation check from matching this line)
_CITATION = re.compile(r"\s*\((?=[^()]*(\bsp[e]cs?\b|\.md\b|shared[/]))[^()]*\)|;\s*\bsp[e]cs?\b[^.;]*", re.IGNORECASE)


def summary_sentence(doc: str | None) -> str:
    """The first sentence of a docstring's first paragraph, as one line ending with a period.

    Line breaks inside the paragraph are joined; a sentence ends at ". " (not after an abbreviation
    such as "e.g." or "et al."); a parenthesis that cites a file outside the documentation is dropped.
    """
    if not doc:
        return ""
    paragraph = " ".join(line.strip() for line in inspect.cleandoc(doc).split("\n\n")[0].splitlines())
    paragraph = _CITATION.sub("", paragraph).strip()
    for match in re.finditer(r"[.!?](\s|$)", paragraph):
        head = paragraph[: match.start() + 1]
        inside = head.count("(") > head.count(")") or head.count("``") % 2
        if not inside and not re.search(r"\b(e\.g|i\.e|et al|vs|Sec|Eq|Fig|Alg|cf|No|resp|approx)\.$", head):
            return head
    return paragraph.rstrip(":;, ") + "."
