"""Solvers and comparison suites by name, imported on first use.

``METHODS`` maps a method name to ``"module:Class"`` and ``SUITES`` a suite name to
``"module:function"`` (a function ``suite(quick: bool) -> Suite``). Nothing is imported until a
name is used, so ``import optim`` never imports ``quantum`` or torch. Each family adds its lines
under its own heading.
"""

from __future__ import annotations

from problems.catalog import load_entry
from problems.validation import suggest

METHODS: dict[str, str] = {
    # --- foundation: first-order baselines
    "gd": "optim.first_order:GradientDescent",
    "fista": "optim.first_order:FISTA",
    # --- qubo: multiplier methods for slack-free Lagrangian QUBOs (quantum/multipliers.py)
    "subgradient": "quantum.multipliers:Subgradient",
    "stochastic-subgradient": "quantum.multipliers:StochasticSubgradient",
    "dual-averaging": "quantum.multipliers:DualAveraging",
    "bundle": "quantum.multipliers:Bundle",
    "cutting-plane": "quantum.multipliers:CuttingPlane",
    "augmented-lagrangian": "quantum.multipliers:AugmentedLagrangian",
    # --- optimizers (torch; optim.nn.Train on a problems.TrainingProblem)
    "lion": "optim.nn.train:LionTrainer",
    "lion-k": "optim.nn.train:LionKTrainer",
    "auon": "optim.nn.train:AuONTrainer",
    "hybrid-auon": "optim.nn.train:HybridAuONTrainer",
    "adamw": "optim.nn.train:AdamWTrainer",
    "sgd": "optim.nn.train:SGDTrainer",
    "muon": "optim.nn.train:MuonTrainer",
    # --- second-order torch optimizers (MKOR, MKOR-H, KFAC; optim.nn.Train on a TrainingProblem)
    "mkor": "optim.nn.train:MKORTrainer",
    "mkor-h": "optim.nn.train:MKORHTrainer",
    "kfac": "optim.nn.train:KFACTrainer",
    # --- monotone inclusions (VR-Halpern family)
    "vr-halpern": "optim.monotone:VRHalpern",
    "inexact-halpern": "optim.monotone:InexactHalpern",
    "halpern": "optim.monotone:Halpern",
    "eag": "optim.monotone:EAG",
    "eg": "optim.monotone:EG",
    "popov": "optim.monotone:Popov",
    "fbf": "optim.monotone:FBF",
    "vr-eg": "optim.monotone:VREG",
    "vr-forb": "optim.monotone:VRForb",
    # --- sor (bandit tuning of SOR / SSOR-CG across sequences of linear systems; optim.linear)
    "tsallis-inf": "optim.linear:TsallisINF",
    "tsallis-inf-cb": "optim.linear:ContextualTsallisINF",
    "chebcb": "optim.linear:ChebCB",
    "fixed-omega": "optim.linear:FixedOmega",
    "best-fixed-omega": "optim.linear:BestFixedOmega",
    "instance-optimal-omega": "optim.linear:InstanceOptimalOmega",
    "young-omega": "optim.linear:YoungOmega",
    "plain-cg": "optim.linear:PlainCG",
    # --- bcd: greedy block coordinate descent
    "bcd": "optim.bcd:BCD",
}

SUITES: dict[str, str] = {
    # --- foundation
    "glm": "optim.suites:glm_suite",
    # --- qubo
    "qubo": "quantum.suite:qubo_suite",
    # --- optimizers
    "optimizers": "optim.nn.suite:optimizers_suite",
    # --- second-order torch optimizers
    "second-order": "optim.nn.suite:second_order_suite",
    # --- monotone inclusions
    "monotone": "optim.monotone.suite:monotone_suite",
    # --- sor
    "sor": "optim.linear.suite:sor_suite",
    # --- bcd
    "bcd": "optim.bcd.suite:bcd_suite",
}


def solver_class(method: str):
    """The solver class registered as ``method`` (``ValueError`` with the closest name otherwise)."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    if method not in METHODS:
        raise ValueError(
            f"unknown method {method!r}{suggest(method, METHODS)}; known methods: {', '.join(sorted(METHODS))}"
        )
    return load_entry(METHODS[method])


def make_solver(method: str, **options):
    """Instantiate the solver ``method`` with ``options`` (unknown option names are named)."""
    cls = solver_class(method)
    known = cls.option_names()
    for key in options:
        if key not in known:
            raise ValueError(
                f"method {method!r} takes no option {key!r}{suggest(key, known)}; options: {', '.join(known)}"
            )
    return cls(**options)


def solve(problem, method: str = "fista", x0=None, **options):
    """Solve ``problem`` with the registered ``method``; ``options`` go to the solver.

    Returns a ``Result``. Example: ``optim.solve(p, method="fista", tol=1e-10, max_iter=5000)``.
    """
    return make_solver(method, **options).solve(problem, x0)


def solvers(problem=None) -> list[str]:
    """Names of the registered methods that accept ``problem`` (all of them if None)."""
    if problem is None:
        return sorted(METHODS)
    return sorted(name for name in METHODS if solver_class(name).accepts(problem))


def suite(name: str, quick: bool = True):
    """Build the comparison suite ``name``."""
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}{suggest(name, SUITES)}; known suites: {', '.join(sorted(SUITES))}")
    return load_entry(SUITES[name])(quick=quick)
