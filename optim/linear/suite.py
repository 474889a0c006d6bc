"""The "sor" comparison suite: omega tuners on the shifted-Laplacian sequences (and, in full mode,
the heat equation), run live with SOR / SSOR-CG. Work is total solver iterations; the plot's
"optimality" is the number of instances still to solve, i.e. the paper's learning curves
(instances remaining against cumulative iterations)."""

from __future__ import annotations

from problems.linear_systems import HeatEquationSequence, ShiftedLaplacianSequence

from ..compare import Suite, compare

NOTES = (
    "Each run solves a whole sequence of linear systems, one instance per iteration: `work` is the "
    "total SOR (SSOR-CG for the heat equation) iterations, the headline cost; `objective` repeats it. "
    "best fixed omega and Young's omega are oracles (hindsight / spectral radius per instance)."
)


def sor_suite(quick: bool = True) -> Suite:
    """Bandit tuning of SOR's omega (Tsallis-INF, ChebCB) against fixed and oracle omegas."""
    T = 300 if quick else 5000
    problems = {f"shifted-laplacian-{v}": ShiftedLaplacianSequence(variance=v, T=T, seed=0) for v in ("high", "low")}
    methods = {
        "best fixed omega (oracle)": ("best-fixed-omega", {}),
        "omega = 1 (Gauss-Seidel)": ("fixed-omega", {"omega": 1.0}),
        "tsallis-inf": ("tsallis-inf", {}),
        "tsallis-inf-cb (5 bins)": ("tsallis-inf-cb", {"bins": 5, "interval": (-0.15, 0.65)}),
        "chebcb": ("chebcb", {}),
        "young omega (oracle)": ("young-omega", {}),
    }
    if not quick:
        problems["heat-nx25"] = HeatEquationSequence(nx=25, T=1000)

    def run():
        out = compare(problems, methods, seed=0, title="sor")
        out.notes = NOTES
        return out

    return Suite(
        name="sor", description=sor_suite.__doc__.split("\n")[0], problems=problems, methods=methods, runner=run
    )
