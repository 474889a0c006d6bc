"""Side-by-side runs: several solvers on several problems under the same budget and seed.

``compare(problems, methods, budget=..., seed=...)`` returns a ``Comparison``: one record per run
(with its whole history), a markdown table, JSON, and PNG plots of optimality against oracle work and
against time (log scale). ``Suite`` bundles problems, methods and settings under a name so the CLI
(``optim compare NAME``, ``optim demo``) can run it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .registry import make_solver


@dataclass
class Suite:
    """A named comparison: ``problems`` (label -> problem), ``methods`` (label -> (method, options)),
    shared ``settings`` (budget, max_iter, tol, time_limit, ...) and the ``seed``.

    ``runner`` replaces the default ``compare`` call for families whose runs are not
    problem-by-method grids (it must return a ``Comparison``).
    """

    name: str
    description: str
    problems: dict = field(default_factory=dict)
    methods: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    seed: int = 0
    runner: object = None

    def run(self) -> Comparison:
        if self.runner is not None:
            return self.runner()
        return compare(self.problems, self.methods, seed=self.seed, title=self.name, **self.settings)


class Comparison:
    """Records of a comparison, with ``table()``, ``to_json()``, ``plot()`` and ``save()``."""

    def __init__(self, records: list[dict], title: str = "comparison", notes: str = ""):
        self.records = records
        self.title = title
        self.notes = notes

    def table(self) -> str:
        """Markdown table: one row per run."""
        head = (
            "| problem | method | status | iterations | work | time (s) | optimality | objective |\n"
            "|---|---|---|---:|---:|---:|---:|---:|"
        )
        rows = [head]
        for r in self.records:
            rows.append(
                f"| {r['problem']} | {r['method']} | {r['status']} | {r['nit']} | "
                f"{_fmt(r['work'])} {r['work_unit']} | {r['time']:.3g} | {_fmt(r['optimality'])} | "
                f"{_fmt(r['fun'], 10)} |"
            )
        return "\n".join(rows)

    def to_json(self, path=None) -> str:
        text = json.dumps(
            _finite({"title": self.title, "notes": self.notes, "records": self.records}),
            indent=1,
            default=_jsonable,
            allow_nan=False,
        )
        if path is not None:
            Path(path).write_text(text)
        return text

    def plot(self, out_dir, stem: str | None = None) -> list[Path]:
        """One PNG per problem: optimality against work (left) and against time (right), log y."""
        from matplotlib.figure import Figure  # no pyplot: leaves the user's backend alone

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for problem in dict.fromkeys(r["problem"] for r in self.records):
            runs = [r for r in self.records if r["problem"] == problem]
            fig = Figure(figsize=(10, 3.8))
            axes = fig.subplots(1, 2)
            for r in runs:
                h = r["history"]
                y = np.maximum(np.asarray(h["optimality"], dtype=float), 1e-17)
                axes[0].semilogy(h["work"], y, label=r["method"])
                axes[1].semilogy(h["time"], y, label=r["method"])
            axes[0].set_xlabel(f"work ({runs[0]['work_unit']})")
            axes[1].set_xlabel("time (s)")
            for ax in axes:
                ax.set_ylabel("optimality")
                ax.grid(True, which="both", alpha=0.3)
            axes[0].legend(fontsize=8)
            fig.suptitle(f"{self.title}: {problem}")
            fig.tight_layout()
            path = out_dir / f"{stem or _slug(self.title)}_{_slug(problem)}.png"
            fig.savefig(path, dpi=90)
            paths.append(path)
        return paths

    def save(self, out_dir, stem: str | None = None) -> dict:
        """Write ``<stem>.md``, ``<stem>.json`` and the PNGs into ``out_dir``; return the paths."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = stem or _slug(self.title)
        md = out_dir / f"{stem}.md"
        md.write_text(self.markdown())
        js = out_dir / f"{stem}.json"
        self.to_json(js)
        return {"markdown": md, "json": js, "plots": self.plot(out_dir, stem)}

    def markdown(self) -> str:
        parts = [f"## {self.title}", ""]
        if self.notes:
            parts += [self.notes, ""]
        return "\n".join(parts + [self.table(), ""])

    def __repr__(self) -> str:
        return self.table()


def compare(
    problems,
    methods,
    *,
    budget=None,
    max_iter=None,
    tol=None,
    time_limit=None,
    seed=0,
    title="comparison",
    verbose=False,
) -> Comparison:
    """Run every method on every problem with the same budget, iteration cap, tolerance and seed.

    ``problems``: a problem, a list of problems, or a dict label -> problem.
    ``methods``: a method name, a list of names, or a dict label -> name or (name, options).
    """
    problems = _labelled(problems, lambda p: getattr(p, "name", type(p).__name__))
    methods = {
        label: (spec, {}) if isinstance(spec, str) else (spec[0], dict(spec[1]))
        for label, spec in _labelled(methods, str).items()
    }
    common = {
        k: v for k, v in dict(budget=budget, max_iter=max_iter, tol=tol, time_limit=time_limit).items() if v is not None
    }
    records = []
    for p_label, problem in problems.items():
        for m_label, (method, options) in methods.items():
            solver = make_solver(method, **{**common, "seed": seed, "verbose": verbose, **options})
            result = solver.solve(problem)
            records.append(_record(p_label, m_label, method, problem, result, seed))
    return Comparison(records, title=title)


def _record(p_label, m_label, method, problem, result, seed) -> dict:
    return {
        "problem": p_label,
        "method": m_label,
        "solver": method,
        "seed": seed,
        "status": result.status,
        "nit": int(result.nit),
        "work": float(result.counts["work"]),
        "work_unit": getattr(problem, "work_unit", "work"),
        "time": float(result.time),
        "fun": _float(result.fun),
        "optimality": _float(result.optimality),
        "counts": result.counts,
        "history": {k: v.tolist() for k, v in result.history.items()},
    }


def _labelled(items, default_label) -> dict:
    if isinstance(items, dict):
        return dict(items)
    if isinstance(items, (list, tuple)):
        out = {}
        for item in items:
            label = default_label(item)
            out[label if label not in out else f"{label}#{len(out)}"] = item
        return out
    return {default_label(items): items}


def _float(v):
    return float(v) if v is not None else math.nan


def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text)).strip("_") or "run"


def _finite(obj):
    """NaN and inf become null so the JSON is strict (every reader accepts it)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    return obj


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
