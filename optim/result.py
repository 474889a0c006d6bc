"""``Result``: what every solver returns, in the manner of ``scipy.optimize.OptimizeResult``."""

from __future__ import annotations

import math
import os

import numpy as np
from scipy.optimize import OptimizeResult

#: every status a run can end with, and what it means to a person
STATUS_MESSAGES = {
    "converged": "the solver's own stopping error fell to tol or below",
    "dual_converged": "the dual iteration converged but the certified primal-dual gap is above tol (not optimal)",
    "target": "every column the caller named in target reached its target value",
    "max_iter": "iteration cap max_iter reached",
    "budget": "oracle budget spent",
    "time_limit": "time limit reached",
    "callback": "stopped by the callback",
    "diverged": "NaN or inf appeared; the last finite iterate is returned",
    "infeasible": "no feasible point was found",
}

#: statuses that count as success: the solver's own test passed, or the caller's target was met
SUCCESS = ("converged", "target")

#: the history columns every run records (families may add more)
BASE_COLUMNS = ("nit", "work", "time", "optimality", "fun")


class Result(OptimizeResult):
    """Outcome of a run: a dict with attribute access, like ``scipy.optimize.OptimizeResult``.

    Attributes
    ----------
    x : the final iterate (the last finite one if the run diverged)
    fun : objective at ``x`` (NaN where a problem has none, e.g. an operator equation)
    optimality : the stopping error at ``x`` (what the solver knows from its own iterate; the solver's
        ``error_name`` says what it is)
    report : the last values of the reporting columns (outside knowledge such as ``"gap"`` to a
        reference optimum or a test metric; empty where the problem and solver report none)
    success : ``status`` is ``"converged"`` or ``"target"``
    status : one of ``STATUS_MESSAGES``
    message : a sentence a person understands (``"converged: <error_name> <value> <= tol <tol>"``)
    nit : iterations taken
    counts : oracle calls by name (plus ``work``, in the problem's ``work_unit``)
    time : wall-clock seconds (optimality evaluations for the history excluded)
    history : dict of equally long numpy arrays, one entry per recorded iteration:
        ``nit``, ``work``, ``time``, ``optimality``, ``fun``, the reporting columns and any
        solver-specific columns
    method, problem : names, for tables
    """

    def __init__(self, *, status: str, message: str | None = None, **fields):
        if status not in STATUS_MESSAGES:
            raise ValueError(f"status must be one of {list(STATUS_MESSAGES)}, got {status!r}")
        super().__init__(
            status=status,
            success=status in SUCCESS,
            message=message or STATUS_MESSAGES[status],
            **fields,
        )

    def __repr__(self) -> str:
        parts = [
            f"status={self.status!r}",
            f"nit={self.get('nit')}",
            f"optimality={self.get('optimality', float('nan')):.3e}",
        ]
        if "fun" in self and self.fun is not None:
            parts.append(f"fun={self.fun:.10g}")
        return f"Result({', '.join(parts)})"

    __str__ = __repr__

    def to_dict(self) -> dict:
        """A JSON-safe copy: arrays become lists, NaN and inf become None, numpy scalars Python numbers;
        objects JSON cannot hold (a learned policy, a torch model) become ``"<TypeName>"``.
        ``json.dumps(result.to_dict(), allow_nan=False)`` always works."""
        return {str(k): json_safe(v) for k, v in self.items()}

    def plot(self, ax=None):
        """The matplotlib ``Figure`` of this run: the stopping error against work and against time
        (log y; an online run: cumulative iterations and regret against instances). ``ax``: one Axes
        (the left panel only) or two to draw on; by default a new Figure, made without pyplot."""
        from .plotting import plot_result

        return plot_result(self, ax)


def json_safe(obj):
    """``obj`` with arrays as lists, NaN/inf as None, numpy scalars as Python numbers, paths as strings,
    recursively; anything else becomes the string ``"<TypeName>"``. The output always passes
    ``json.dumps(..., allow_nan=False)`` (results, comparisons and benchmark files all use it)."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray) and obj.dtype != object:
        return json_safe(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    tolist = getattr(obj, "tolist", None)  # torch tensors, scipy/numpy-like arrays
    if callable(tolist) and not isinstance(obj, type):
        try:
            return json_safe(tolist())
        except (TypeError, ValueError, RuntimeError):
            pass
    return f"<{type(obj).__name__}>"


class History:
    """Column store for per-iteration records; ``as_arrays()`` gives the final dict of arrays."""

    def __init__(self) -> None:
        self._columns: dict[str, list] = {}
        self._rows = 0

    def record(self, **values) -> None:
        for key, value in values.items():
            col = self._columns.get(key)
            if col is None:  # a column that appears late is back-filled with NaN
                col = self._columns[key] = [np.nan] * self._rows
            col.append(value)
        self._rows += 1
        for col in self._columns.values():
            if len(col) < self._rows:
                col.append(np.nan)

    def __len__(self) -> int:
        return self._rows

    def last(self) -> dict:
        """The last recorded row as a dict (empty before the first record)."""
        return {k: v[-1] for k, v in self._columns.items()} if self._rows else {}

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self._columns.items()}
