"""Which partition x selection x update combinations run, and on which problems, read from the
declarations of the strategy objects (``selections``, ``updates``, ``partitions``), and the defaults
chosen from a problem's capabilities."""

from __future__ import annotations

from typing import Any

from .partitions import PARTITIONS
from .selections import SELECTIONS, selection_for
from .updates import UPDATES


def _forest_ready(bp: Any) -> bool:
    return bool(getattr(bp, "is_quadratic", False)) and all(
        hasattr(bp, name) for name in PARTITIONS["forest_greedy"].needs
    )


def resolve(selection: str | None, update: str | None, partition: str | None, bp: Any) -> tuple[str, str, str]:
    """Fill the unset names: message passing on greedy forests for sparse quadratics with a dependency
    graph (``bp`` None: a quadratic without one); otherwise the GS-q rule with, on quadratics, the
    proximal gradient update (single coordinates: exact coordinate minimisation), and on other losses
    Newton blocks (``newton_ls``, smooth) or two-metric projection blocks (``tmp_nn``, L1 or
    non-negative), whose block Hessians capture the curvature a 1/L step misses."""
    if partition is None:
        only = [p for p in SELECTIONS[selection].partitions if p in PARTITIONS] if selection else []
        if selection is not None and "vb" not in only:
            partition = only[0]
        elif selection is None and update in (None, "exact_quadratic") and bp is not None and _forest_ready(bp):
            partition = "forest_greedy"
        else:
            partition = "vb"
    if selection is None:
        selection = {"forest_greedy": "greedy_tree", "forest_fixed": "cyclic"}.get(partition, "gs_q")
    if update is None:
        if PARTITIONS[partition].forest:
            update = "exact_quadratic"
        else:
            update = "gradient" if SELECTIONS[selection].smooth_only else "prox_gradient"
            if bp is not None and not getattr(bp, "is_quadratic", False) and selection == "gs_q":
                update = "newton_ls" if not (bp.l1 > 0 or bp.nonnegative) else "tmp_nn"
    return selection, update, partition


def default_block_size(update: str, bp: Any, chosen: bool) -> int:
    """1, or for default Newton-type blocks on non-quadratic losses min(n, 50) (``newton_ls``) and
    min(n, 10) (``tmp_nn``)."""
    if chosen and not getattr(bp, "is_quadratic", False):
        return min(bp.dim, 50 if update == "newton_ls" else 10)
    return 1


def combination_error(selection: str, update: str, partition: str) -> str | None:
    """Why this triple cannot run on any problem (None if it can)."""
    part = PARTITIONS[partition]
    sel = selection_for(selection, partition)
    if part.forest:
        allowed = [s for s in SELECTIONS if partition in selection_for(s, partition).partitions]
        if partition not in sel.partitions:
            return f"partition {partition!r} takes selection in {allowed}, got {selection!r}"
        if part.updates is not None and update not in part.updates:
            return f"partition {partition!r} needs update={part.updates[0]!r} (message passing), got {update!r}"
        return None
    if partition not in sel.partitions:
        return (
            f"selection {selection!r} needs a forest partition ('forest_greedy' or 'forest_fixed'), got {partition!r}"
        )
    if sel.smooth_only and "smooth" not in UPDATES[update].problems:
        return (
            f"selection {selection!r} ignores the non-smooth term; with update {update!r} use "
            f"'gs_s', 'gs_r', 'gs_q' or a random/cyclic rule"
        )
    return None


def problem_error(selection: str, update: str, partition: str, bp: Any) -> str | None:
    """Why this triple cannot run on ``bp`` (None if it can)."""
    kind = "nonnegative" if bp.nonnegative else "l1" if bp.l1 > 0 else "smooth"
    words = {"nonnegative": "non-negative", "l1": "L1-regularised", "smooth": "smooth"}
    sel, upd, part = selection_for(selection, partition), UPDATES[update], PARTITIONS[partition]
    if kind != "smooth" and sel.smooth_only:
        return (
            f"selection {selection!r} ignores the non-smooth term of {bp.name}; use the proximal "
            f"rules 'gs_s', 'gs_r', 'gs_q' (or cyclic/random/lipschitz)"
        )
    if kind not in upd.problems:
        allowed = [u for u, o in UPDATES.items() if kind in o.problems]
        return f"update {update!r} does not apply to the {words[kind]} problem {bp.name}; use one of {allowed}"
    if upd.quadratic and not getattr(bp, "is_quadratic", False):
        return f"update {update!r} (exact block minimisation) needs a quadratic problem; {bp.name} is not"
    if part.forest and not _forest_ready(bp):
        return (
            f"partition {partition!r} needs a sparse quadratic problem with "
            f"sparse_block and dependency_graph (e.g. problems.LabelPropagation)"
        )
    missing = [name for name in (*sel.needs, *part.needs) if not hasattr(bp, name)]
    if missing:
        return f"selection {selection!r} / partition {partition!r} need {missing}, which {bp.name} lacks"
    return None
