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
    # --- qubo: multiplier methods for slack-free Lagrangian QUBOs (quantum/multipliers/)
    "subgradient": "quantum.multipliers.subgradient:Subgradient",
    "stochastic-subgradient": "quantum.multipliers.stochastic:StochasticSubgradient",
    "dual-averaging": "quantum.multipliers.dual_averaging:DualAveraging",
    "bundle": "quantum.multipliers.bundle:Bundle",
    "cutting-plane": "quantum.multipliers.cutting_plane:CuttingPlane",
    "augmented-lagrangian": "quantum.multipliers.augmented:AugmentedLagrangian",
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
    # --- completion: low-rank matrix completion (optim.completion)
    "altmin": "optim.completion:AltMin",
    "altmin-robust": "optim.completion:AltMinRobust",
    "als": "optim.completion:ALS",
    "bias-baseline": "optim.completion:BiasBaseline",
    "softimpute": "optim.completion:SoftImpute",
    "svp": "optim.completion:SVP",
    "nuclear-norm": "optim.completion:NuclearNorm",
    # --- bilevel: multi-block bilevel optimization (BSVRB and baselines)
    "bsvrb-v1": "optim.bilevel:BSVRBv1",
    "bsvrb-v2": "optim.bilevel:BSVRBv2",
    "rsvrb": "optim.bilevel:RSVRB",
    "bsgd": "optim.bilevel:BSGD",
    "bsvrb-ma": "optim.bilevel:BSVRBMovingAverage",
    "soba": "optim.bilevel:SOBA",
    "stocbio": "optim.bilevel:StocBiO",
    "hypergradient-descent": "optim.bilevel:HypergradientDescent",
    # --- pruning (quantum/pruning: one-shot baselines, CBS selection, iterative CBS)
    "magnitude": "quantum.pruning:Magnitude",
    "wanda": "quantum.pruning:Wanda",
    "sparsegpt": "quantum.pruning:SparseGPT",
    "cbs": "quantum.pruning:CBS",
    "icbs": "quantum.pruning:ICBS",
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
    # --- completion
    "completion": "optim.completion.suite:completion_suite",
    # --- bilevel
    "bilevel": "optim.bilevel.suite:bilevel_suite",
    # --- pruning
    "pruning": "quantum.pruning.suite:pruning_suite",
}


def canonical_method(method: str) -> str:
    """The registered spelling of ``method``; names are case-insensitive (``"FISTA"`` is ``"fista"``).
    ``ValueError`` with the closest name for an unknown one."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    if method in METHODS:
        return method
    folded = {name.casefold(): name for name in METHODS}
    name = folded.get(method.strip().casefold())
    if name is None:
        raise ValueError(
            f"unknown method {method!r}{suggest(method.casefold(), METHODS)}; "
            f"known methods: {', '.join(sorted(METHODS))}"
        )
    return name


def solver_class(method: str):
    """The solver class registered as ``method`` (case-insensitive; ``ValueError`` with the closest
    name otherwise)."""
    return load_entry(METHODS[canonical_method(method)])


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
    """Build the comparison suite ``name`` (case-insensitive)."""
    if not isinstance(name, str):
        raise TypeError(f"suite must be a string, got {type(name).__name__}")
    key = {s.casefold(): s for s in SUITES}.get(name.strip().casefold())
    if key is None:
        raise ValueError(f"unknown suite {name!r}{suggest(name, SUITES)}; known suites: {', '.join(sorted(SUITES))}")
    return load_entry(SUITES[key])(quick=quick)
