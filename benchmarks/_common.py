"""Helpers shared by the benchmark scripts: the results folder, strict JSON output and markdown tables.

Each script runs as ``python benchmarks/<family>.py`` (so this folder is on ``sys.path``) and imports
``from _common import ...``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from optim.compare import _finite, _jsonable

RESULTS = Path(__file__).resolve().parent / "results"


def write_json(family: str, payload) -> Path:
    """Write ``payload`` to ``benchmarks/results/<family>.json`` (NaN/inf -> null, numpy -> lists)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{family}.json"
    path.write_text(json.dumps(_finite(payload), indent=1, default=_jsonable))
    return path


def markdown_table(rows, cols, formats=None, missing="-") -> str:
    """A markdown table of ``rows`` (dicts) over ``cols``; floats use ``formats[col]`` (default ".3g"),
    ``None``/NaN print as ``missing`` and absent keys as "-"."""
    formats = formats or {}
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if c not in r:
                cells.append("-")
            elif v is None or (isinstance(v, float) and math.isnan(v)):
                cells.append(missing)
            elif isinstance(v, float):
                cells.append(format(v, formats.get(c, ".3g")))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
