"""The "sor" comparison suite: omega tuners on the shifted-Laplacian sequences (and, in full mode,
the heat equation), run live with SOR / SSOR-CG. Work is total solver iterations; the plots show the
paper's learning curves: cumulative iterations and regret against instances solved."""

from __future__ import annotations

from typing import Any

from problems.linear_systems import HeatEquationSequence, ShiftedLaplacianSequence

from ..compare import Comparison, Suite, compare
from .table import cost_table

NOTES = (
    "Each run solves a whole sequence of linear systems, one instance per iteration: `work` is the "
    "total SOR (SSOR-CG for the heat equation) iterations, the headline cost; `objective` repeats it. "
    "An online pass has no stopping error (optimality `-`); every run ends when the sequence is exhausted. "
    "Regret is against the best fixed grid omega in hindsight, from a cost table built once per sequence. "
    "Best fixed omega and Young's omega are oracles (hindsight / spectral radius per instance)."
)


def sor_suite(quick: bool = True) -> Suite:
    """Bandit tuning of SOR's omega (Tsallis-INF, ChebCB) against fixed and oracle omegas."""
    T = 300 if quick else 5000
    sequences: dict[str, ShiftedLaplacianSequence | HeatEquationSequence] = {
        f"shifted-laplacian-{v}": ShiftedLaplacianSequence(variance=v, T=T, seed=0) for v in ("high", "low")
    }
    if not quick:
        sequences["heat-nx25"] = HeatEquationSequence(nx=25, T=1000)
    methods: dict[str, tuple[str, dict[str, Any]]] = {
        "best fixed omega (oracle)": ("best-fixed-omega", {}),
        "omega = 1 (Gauss-Seidel)": ("fixed-omega", {"omega": 1.0}),
        "tsallis-inf": ("tsallis-inf", {}),
        "tsallis-inf-cb (5 bins)": ("tsallis-inf-cb", {"bins": 5, "interval": (-0.15, 0.65)}),
        "chebcb": ("chebcb", {}),
        "young omega (oracle)": ("young-omega", {}),
    }

    def run() -> Comparison:
        records = []
        for label, seq in sequences.items():
            # the hindsight table is built once per sequence, passed explicitly (nothing is cached on
            # the sequence) so every run reports regret and the oracle needs no solves of its own
            table = cost_table(seq)
            with_table = {m: (name, {**opts, "table": table}) for m, (name, opts) in methods.items()}
            records += compare({label: seq}, with_table, seed=0, title="sor").records
        return Comparison(records, title="sor", notes=NOTES)

    return Suite(
        name="sor",
        description=(sor_suite.__doc__ or "").split("\n")[0],
        problems=sequences,
        methods=methods,
        runner=run,
        notes=NOTES,
    )
