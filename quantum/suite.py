"""The ``qubo`` comparison suite: the six multiplier methods on real MDKP and MIS instances.

With the exact inner oracle (rho = 0) every dual method's optimality is its certified primal-dual gap
``(UB - LB) / max(1, |UB|)`` (cutting plane and bundle: or their dual residual, reported as "dual
converged"); the augmented Lagrangian uses simulated annealing, and MDKP's separable plain
Lagrangian still gives it a certified bound. The gap to the proven optimum is a reporting column.
"""

from __future__ import annotations

from optim.compare import Suite
from problems import MDKP, MIS, instance_path, list_instances
from problems.binary import BinaryProblem


def qubo_suite(quick: bool = True) -> Suite:
    """Multiplier methods (subgradient, stochastic subgradient, dual averaging, cutting plane, bundle,
    augmented Lagrangian + SA) on SAC-94 MDKP files and a DIMACS MIS graph."""
    problems: dict[str, BinaryProblem]
    if quick:
        problems = {
            p.name: p
            for p in (
                MDKP.from_file(instance_path("mdkp", "pet3.dat")),
                MDKP.from_file(instance_path("mdkp", "hp1.dat")),
            )
        }
    else:
        problems = {p.name: p for p in map(MDKP.from_file, list_instances("mdkp"))}
        problems["1tc.32"] = MIS.from_file(instance_path("mis", "1tc.32.txt"))
    anneal = {"sampler": "simulated-annealing", "sampler_options": {"num_reads": 32, "num_sweeps": 500}}
    methods = {
        "subgradient (polyak)": ("subgradient", {"step": "polyak", "sampler": "exact"}),
        "subgradient (diminishing)": ("subgradient", {"sampler": "exact"}),
        "stochastic subgradient": ("stochastic-subgradient", {"sampler": "exact", "noise": "constraints"}),
        "dual averaging": ("dual-averaging", {"sampler": "exact"}),
        "cutting plane": ("cutting-plane", {"sampler": "exact"}),
        "bundle": ("bundle", {"sampler": "exact"}),
        "augmented lagrangian + SA": ("augmented-lagrangian", {**anneal, "max_iter": 20}),
    }
    return Suite(
        name="qubo",
        description=(qubo_suite.__doc__ or "").split("\n")[0],
        problems=problems,
        methods=methods,
        settings={"max_iter": 100 if quick else 300, "tol": 1e-6},
    )
