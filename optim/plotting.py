"""Plots of runs, drawn on matplotlib ``Figure`` objects without pyplot (the user's backend is left alone).

Two kinds of run are drawn differently:

* an iterative run (``kind="convergence"``): the stopping error against work (in the problem's work
  unit) and against seconds, log y axis;
* an online run over a sequence (``kind="online"``, e.g. the SOR tuners): cumulative solver
  iterations and regret against instances solved, linear axes.

Several seeds of one method are drawn as one line with a shaded band: the geometric mean of the
stopping error (the arithmetic mean for online runs) and the band from the smallest to the largest
seed, each seed's curve held at its last value after it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: optimality values are clipped at this floor on log axes (an exact zero cannot be drawn)
LOG_FLOOR = 1e-17


def new_figure(width: float = 10.0, height: float = 3.8, panels: int = 2):
    """A pyplot-free ``Figure`` with ``panels`` side-by-side axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    axes = fig.subplots(1, panels)
    return fig, list(np.atleast_1d(axes))


def band(xs: Sequence, ys: Sequence, log: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and min/max envelope of step curves ``(xs[i], ys[i])`` on the union of their x values.

    Each curve is read as a step function (its last recorded value holds until the next record and
    after its end). ``log=True`` averages in log space (geometric mean). Returns (grid, mean, lo, hi).
    """
    curves = [(np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for x, y in zip(xs, ys, strict=True)]
    curves = [(x, y) for x, y in curves if x.size]
    if not curves:
        empty = np.array([])
        return empty, empty, empty, empty
    grid = np.unique(np.concatenate([x for x, _ in curves]))
    rows = []
    for x, y in curves:
        idx = np.clip(np.searchsorted(x, grid, side="right") - 1, 0, x.size - 1)
        rows.append(y[idx])
    values = np.vstack(rows)
    if log:
        values = np.log10(np.maximum(values, LOG_FLOOR))
        mean = 10.0 ** np.nanmean(values, axis=0)
        return grid, mean, 10.0 ** np.nanmin(values, axis=0), 10.0 ** np.nanmax(values, axis=0)
    return grid, np.nanmean(values, axis=0), np.nanmin(values, axis=0), np.nanmax(values, axis=0)


def draw(ax, xs: Sequence, ys: Sequence, label: str, log: bool) -> None:
    """One method on ``ax``: a plain line for one seed, mean line plus shaded band for several."""
    if len(xs) == 1:
        y = np.asarray(ys[0], dtype=float)
        ax.plot(xs[0], np.maximum(y, LOG_FLOOR) if log else y, label=label)
        return
    grid, mean, lo, hi = band(xs, ys, log)
    (line,) = ax.plot(grid, mean, label=f"{label} (mean of {len(xs)})")
    ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)


def plot_runs(runs: list[dict], title: str):
    """A two-panel ``Figure`` for the runs of one problem (records with ``method``, ``history``,
    ``work_unit`` and ``kind``); runs of the same method (several seeds) share a band."""
    fig, axes = new_figure()
    draw_runs(axes, runs)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def draw_runs(axes: list, runs: list[dict]) -> None:
    """Draw ``runs`` on one or two Axes: the stopping error against work (and against time), log y;
    online runs: cumulative iterations (and regret) against instances, linear axes."""
    online = all(r.get("kind") == "online" for r in runs)
    by_method: dict[str, list[dict]] = {}
    for r in runs:
        by_method.setdefault(r["method"], []).append(r)
    if online:
        _online_panels(axes, by_method)
    else:
        for label, group in by_method.items():
            hs = [g["history"] for g in group]
            ys = [h["optimality"] for h in hs]
            draw(axes[0], [h["work"] for h in hs], ys, label, log=True)
            if len(axes) > 1:
                draw(axes[1], [h["time"] for h in hs], ys, label, log=True)
        axes[0].set_xlabel(f"work ({runs[0].get('work_unit', 'work')})")
        if len(axes) > 1:
            axes[1].set_xlabel("time (s)")
        for ax in axes:
            ax.set_yscale("log")
            ax.set_ylabel("stopping error")
            ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)


def plot_result(result, ax=None):
    """The ``Figure`` of one ``Result``: stopping error against work and time (an online run:
    cumulative iterations and regret against instances). ``ax``: None (a new two-panel Figure), two
    Axes, or one Axes (then only the left panel: against work, or cumulative iterations)."""
    from matplotlib.axes import Axes

    h = {k: np.asarray(v, dtype=float) for k, v in result.history.items() if np.asarray(v).dtype.kind in "biuf"}
    record = {
        "method": result.get("method", "run"),
        "history": h,
        "work_unit": result.get("work_unit", "work"),
        "kind": "online" if "cumulative" in h else "convergence",
    }
    title = f"{result.get('method', 'run')} on {result.get('problem', 'problem')}: {result.status}"
    if ax is None:
        return plot_runs([record], title)
    axes = [ax] if isinstance(ax, Axes) else list(ax)
    if not 1 <= len(axes) <= 2 or not all(isinstance(a, Axes) for a in axes):
        raise TypeError("ax must be None, one matplotlib Axes or a pair of Axes")
    draw_runs(axes, [record])
    axes[0].set_title(title, fontsize=9)
    return axes[0].figure


def _online_panels(axes, by_method: dict[str, list[dict]]) -> None:
    """Cumulative iterations and regret (or iterations per instance if no regret is known)."""
    has_regret = any(
        np.any(np.isfinite(np.asarray(g["history"].get("regret", [math.nan]), dtype=float)))
        for group in by_method.values()
        for g in group
    )
    right = "regret" if has_regret else "iterations"
    for label, group in by_method.items():
        hs = [g["history"] for g in group]
        xs = [h["nit"] for h in hs]
        draw(axes[0], xs, [h["cumulative"] for h in hs], label, log=False)
        if len(axes) > 1:
            draw(axes[1], xs, [h.get(right, [math.nan] * len(h["nit"])) for h in hs], label, log=False)
    axes[0].set_ylabel("cumulative iterations")
    if len(axes) > 1:
        axes[1].set_ylabel("regret (iterations)" if has_regret else "iterations per instance")
    for ax in axes:
        ax.set_xlabel("instances solved")
        ax.grid(True, alpha=0.3)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
