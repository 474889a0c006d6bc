"""Helpers shared by the benchmark scripts: the results folder, strict JSON output and markdown tables.

Each script runs as ``python benchmarks/<family>.py`` (so this folder is on ``sys.path``) and imports
``from _common import ...``. numpy is imported lazily here so that ``pin_threads()`` can run before it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def pin_threads() -> None:
    """One thread for BLAS/OpenMP/numba (unless the caller's environment says otherwise), so ours and
    single-threaded peers (HiGHS, scikit-learn's CD) run like for like and a busy machine does not
    oversubscribe. Call it before numpy is imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def write_json(family: str, payload) -> Path:
    """Write ``payload`` to ``benchmarks/results/<family>.json`` (NaN/inf -> null, numpy -> lists)."""
    from optim.result import json_safe

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{family}.json"
    path.write_text(json.dumps(json_safe(payload), indent=1, allow_nan=False))
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
