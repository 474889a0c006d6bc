"""Side-by-side runs: several solvers on several problems under the same budget and seed(s).

``compare(problems, methods, budget=..., seeds=[...], executor=...)`` returns a ``Comparison``: one
record per run (with its whole history), a markdown table (mean and spread over seeds), JSON, and
PNG plots (``optim.plotting``). A pair whose solver refuses the problem is recorded as
"not applicable" with the reason. ``Suite`` bundles problems, methods and settings under a name so
the CLI (``optim compare NAME``, ``optim demo``) can run it.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from problems.validation import as_int

from .registry import make_solver
from .result import json_safe

#: the status of a record whose solver refused the problem
NOT_APPLICABLE = "not applicable"


@dataclass
class Suite:
    """A named comparison: ``problems`` (label -> problem), ``methods`` (label -> (method, options)),
    shared ``settings`` (budget, max_iter, tol, time_limit, ...), the ``seed`` and ``notes``.

    ``runner`` replaces the default ``compare`` call for families whose runs are not
    problem-by-method grids (it must return a ``Comparison``); the ``seeds`` and ``executor`` given to
    ``run`` reach the ``compare`` calls it makes.
    """

    name: str
    description: str
    problems: dict = field(default_factory=dict)
    methods: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    seed: int = 0
    runner: Callable[[], Comparison] | None = None
    notes: str = ""

    def run(self, *, seeds=None, executor=None) -> Comparison:
        """Run the suite (``seeds``: several seeds instead of ``seed``; ``executor``: see ``compare``)."""
        with compare_defaults(seeds=seeds, executor=executor):
            if self.runner is not None:
                return self.runner()
            out = compare(self.problems, self.methods, seed=self.seed, title=self.name, **self.settings)
        out.notes = out.notes or self.notes
        return out


class Comparison:
    """Records of a comparison, with ``table()``, ``summary()``, ``to_json()``, ``plot()`` and ``save()``."""

    def __init__(self, records: list[dict], title: str = "comparison", notes: str = "", seeds=None):
        self.records = records
        self.title = title
        self.notes = notes
        self.seeds = list(seeds) if seeds is not None else sorted({r.get("seed", 0) for r in records})

    def summary(self) -> list[dict]:
        """One entry per (problem, method): the statuses and, over seeds, the mean and standard
        deviation of iterations, work, time, stopping error and objective."""
        groups: dict[tuple, list[dict]] = {}
        for r in self.records:
            groups.setdefault((r["problem"], r["method"]), []).append(r)
        out = []
        for (problem, method), runs in groups.items():
            entry = {"problem": problem, "method": method, "runs": len(runs)}
            entry["statuses"] = dict(Counter(r["status"] for r in runs))
            done = [r for r in runs if r["status"] != NOT_APPLICABLE]
            if not done:
                entry["reason"] = runs[0].get("reason", "")
            for key in ("nit", "work", "time", "optimality", "fun"):
                values = np.array([r[key] for r in done], dtype=float)
                finite = values[np.isfinite(values)]
                entry[f"{key}_mean"] = float(finite.mean()) if finite.size else math.nan
                entry[f"{key}_std"] = float(finite.std()) if finite.size > 1 else (0.0 if finite.size else math.nan)
            entry["work_unit"] = runs[0].get("work_unit", "work")
            out.append(entry)
        return out

    def table(self) -> str:
        """Markdown table: one row per run (one seed), or per (problem, method) with mean and
        standard deviation over seeds (several seeds)."""
        if len(self.seeds) > 1:
            return self._seed_table()
        head = (
            "| problem | method | status | iterations | work | time (s) | optimality | objective |\n"
            "|---|---|---|---:|---:|---:|---:|---:|"
        )
        rows = [head]
        for r in self.records:
            if r["status"] == NOT_APPLICABLE:
                rows.append(f"| {r['problem']} | {r['method']} | {NOT_APPLICABLE} | - | - | - | - | - |")
                continue
            rows.append(
                f"| {r['problem']} | {r['method']} | {r['status']} | {r['nit']} | "
                f"{format_number(r['work'])} {r['work_unit']} | {r['time']:.3g} | "
                f"{format_number(r['optimality'])} | {format_number(r['fun'], 10)} |"
            )
        return "\n".join(rows + self._reasons())

    def _seed_table(self) -> str:
        rows = [
            f"Mean and standard deviation over {len(self.seeds)} seeds ({', '.join(map(str, self.seeds))}).",
            "",
            "| problem | method | statuses | iterations | work | work sd | time (s) | time sd | "
            "optimality | optimality sd | objective | objective sd |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for e in self.summary():
            statuses = ", ".join(f"{k} {v}/{e['runs']}" for k, v in e["statuses"].items())
            if "reason" in e:
                rows.append(f"| {e['problem']} | {e['method']} | {statuses} |" + " - |" * 9)
                continue
            rows.append(
                f"| {e['problem']} | {e['method']} | {statuses} | {format_number(e['nit_mean'])} | "
                f"{format_number(e['work_mean'])} {e['work_unit']} | {format_number(e['work_std'])} | "
                f"{format_number(e['time_mean'])} | {format_number(e['time_std'])} | "
                f"{format_number(e['optimality_mean'])} | {format_number(e['optimality_std'])} | "
                f"{format_number(e['fun_mean'], 10)} | {format_number(e['fun_std'])} |"
            )
        return "\n".join(rows + self._reasons())

    def _reasons(self) -> list[str]:
        seen = dict.fromkeys(
            f"- {r['problem']} / {r['method']}: not applicable ({r['reason']})"
            for r in self.records
            if r["status"] == NOT_APPLICABLE
        )
        return ["", *seen] if seen else []

    def to_json(self, path=None) -> str:
        payload = {
            "title": self.title,
            "notes": self.notes,
            "seeds": self.seeds,
            "summary": self.summary(),
            "records": self.records,
        }
        text = json.dumps(json_safe(payload), indent=1, allow_nan=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    def plot(self, out_dir, stem: str | None = None) -> list[Path]:
        """One PNG per problem (``optim.plotting.plot_runs``): the stopping error against work and
        time (log y), or, for online runs, cumulative iterations and regret against instances; several
        seeds of a method are a mean line with a shaded min-max band."""
        from .plotting import plot_runs

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for problem in dict.fromkeys(r["problem"] for r in self.records):
            runs = [r for r in self.records if r["problem"] == problem and r["status"] != NOT_APPLICABLE]
            if not runs:
                continue
            fig = plot_runs(runs, f"{self.title}: {problem}")
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


#: defaults that ``compare`` picks up when called without ``seeds``/``executor`` (set by ``Suite.run``)
_DEFAULTS: ContextVar[dict | None] = ContextVar("optim_compare_defaults", default=None)


@contextmanager
def compare_defaults(*, seeds=None, executor=None) -> Iterator[None]:
    """Within this block, ``compare`` calls that do not pass ``seeds``/``executor`` use these; this is
    how ``optim compare NAME --seeds ... --workers N`` reaches suites that build their own grids."""
    token = _DEFAULTS.set({k: v for k, v in dict(seeds=seeds, executor=executor).items() if v is not None})
    try:
        yield
    finally:
        _DEFAULTS.reset(token)


def compare(
    problems,
    methods,
    *,
    budget=None,
    max_iter=None,
    tol=None,
    time_limit=None,
    seed=0,
    seeds=None,
    executor=None,
    title="comparison",
    verbose=False,
) -> Comparison:
    """Run every method on every problem with the same budget, iteration cap, tolerance and seed(s).

    ``problems``: a problem, a list of problems, or a dict label -> problem.
    ``methods``: a method name, a list of names, or a dict label -> name or (name, options).
    ``seeds``: a list of seeds; each pair runs once per seed and the table reports mean and spread
    (default: the single ``seed``).
    ``executor``: run the grid in parallel on any ``concurrent.futures.Executor`` or a
    ``dask.distributed.Client`` (through ``client.get_executor()``); the records equal the serial
    run's (all but the timings), in the same order.

    A pair whose solver refuses the problem (``TypeError``/``ValueError`` from its capability check)
    is recorded with status ``"not applicable"`` and the reason, and the rest of the grid runs.
    """
    defaults = _DEFAULTS.get() or {}
    seeds = defaults.get("seeds") if seeds is None else seeds
    executor = defaults.get("executor") if executor is None else executor
    seeds = [seed] if seeds is None else _as_seeds(seeds)
    problems = _labelled(problems, lambda p: getattr(p, "name", type(p).__name__))
    methods = {
        label: (entry, {}) if isinstance(entry, str) else (entry[0], dict(entry[1]))
        for label, entry in _labelled(methods, str).items()
    }
    common = {
        k: v for k, v in dict(budget=budget, max_iter=max_iter, tol=tol, time_limit=time_limit).items() if v is not None
    }
    tasks: list[tuple] = []
    slots: list[int | dict] = []  # a task's index in ``tasks``, or the record of a refused pair
    for p_label, problem in problems.items():
        for m_label, (method, options) in methods.items():
            options = {**common, "verbose": verbose, **options}
            solver = make_solver(method, **options)  # bad option names abort the grid at once
            try:
                solver.check(problem)
            except (TypeError, ValueError) as exc:
                slots += [_not_applicable(p_label, m_label, method, problem, s, exc) for s in seeds]
                continue
            for s in seeds:
                slots.append(len(tasks))
                tasks.append((p_label, m_label, method, options, problem, s))
    outputs = _execute(tasks, executor)
    records = [outputs[slot] if isinstance(slot, int) else slot for slot in slots]
    return Comparison(records, title=title, seeds=seeds)


def run_task(task: tuple) -> dict:
    """One run of the grid: ``(problem label, method label, method, options, problem, seed)`` -> record;
    ``problem`` may arrive pickled (``bytes``, see ``_execute``) and is then unpickled here, a fresh copy
    per run. A module-level function so that process pools and Dask workers can import it."""
    p_label, m_label, method, options, problem, seed = task
    if isinstance(problem, bytes):
        problem = pickle.loads(problem)
    solver = make_solver(method, **{**options, "seed": seed})
    result = solver.solve(problem)
    return result_record(p_label, m_label, method, problem, result, seed, getattr(solver, "plot_kind", "convergence"))


def _execute(tasks: list, executor) -> list[dict]:
    if executor is None:
        return [run_task(t) for t in tasks]
    client = executor if callable(getattr(executor, "get_executor", None)) else None  # a dask.distributed.Client
    if client is not None:
        executor = client.get_executor()
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            "executor must be a concurrent.futures.Executor or a dask.distributed.Client, "
            f"got {type(executor).__name__}"
        )
    if isinstance(executor, ThreadPoolExecutor):  # each run its own copy: no shared counters between threads
        tasks = [(*t[:4], copy.deepcopy(t[4]), t[5]) for t in tasks]
    else:  # tasks travel to other processes
        tasks = _ship_problems(tasks, client)
    futures = [executor.submit(run_task, t) for t in tasks]
    return [f.result() for f in futures]


def _ship_problems(tasks: list, client) -> list:
    """The tasks with each problem pickled ONCE (not once per task): the same bytes travel with every
    task of that problem and are unpickled by the worker (a fresh copy per run, as before). With a Dask
    ``client`` the bytes are scattered once, so each worker fetches them once and the tasks carry a
    reference. A problem that cannot be pickled is a ``TypeError`` naming it."""
    shipped: dict[int, Any] = {}
    for label, _, _, _, problem, _ in tasks:
        if id(problem) in shipped:
            continue
        try:
            blob = pickle.dumps(problem, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - any pickling failure means the same thing
            raise TypeError(
                f"problem {label!r} cannot be sent to worker processes ({type(exc).__name__}: {exc}); "
                "run it without an executor or with a ThreadPoolExecutor"
            ) from exc
        shipped[id(problem)] = blob if client is None else client.scatter(blob, hash=False)
    return [(*t[:4], shipped[id(t[4])], t[5]) for t in tasks]


def _as_seeds(seeds) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple, range, np.ndarray)):
        raise TypeError(f"seeds must be a list of integers, got {seeds!r}")
    out = [as_int(s, "seeds[i]", low=0) for s in seeds]
    if not out:
        raise ValueError("seeds must hold at least one seed")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct, got {out}")
    return out


def _not_applicable(p_label, m_label, method, problem, seed, exc) -> dict:
    return {
        "problem": p_label,
        "method": m_label,
        "solver": method,
        "seed": seed,
        "status": NOT_APPLICABLE,
        "reason": f"{type(exc).__name__}: {exc}",
        "work_unit": getattr(problem, "work_unit", "work"),
    }


def result_record(
    p_label: str, m_label: str, method: str, problem: Any, result: Any, seed: Any, kind: str = "convergence"
) -> dict[str, Any]:
    """The record of one run, as ``Comparison.records`` holds it: labels, status, iterations, work,
    time, final value and stopping error, the reporting columns and the history as lists."""
    return {
        "problem": p_label,
        "method": m_label,
        "solver": method,
        "seed": seed,
        "kind": kind,
        "status": result.status,
        "message": result.message,
        "nit": int(result.nit),
        "work": float(result.counts["work"]),
        "work_unit": getattr(problem, "work_unit", "work"),
        "time": float(result.time),
        "fun": _float(result.fun),
        "optimality": _float(result.optimality),
        "report": {k: _float(v) for k, v in result.get("report", {}).items()},
        "counts": result.counts,
        "history": {k: v.tolist() for k, v in result.history.items()},
    }


def _labelled(items, default_label) -> dict:
    if isinstance(items, dict):
        return dict(items)
    if isinstance(items, (list, tuple)):
        out: dict = {}
        for item in items:
            label = default_label(item)
            out[label if label not in out else f"{label}#{len(out)}"] = item
        return out
    return {default_label(items): items}


def _float(v):
    return float(v) if v is not None else math.nan


def format_number(v: float | None, digits: int = 3) -> str:
    """``v`` with ``digits`` significant digits, or "-" for None and NaN (the tables' empty cell)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text)).strip("_") or "run"
