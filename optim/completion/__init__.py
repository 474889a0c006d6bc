"""Low-rank matrix completion: exact and robust alternating minimization and the baselines users pick
(see ``docs/completion.md``)."""

from .als import ALS, BiasBaseline
from .altmin import AltMin, AltMinRobust
from .common import FactoredSolver, UnderdeterminedWarning
from .model import FactorModel
from .nuclear import NuclearNorm
from .sketch import preconditioned_cond, sketch_lstsq
from .softimpute import SVP, SoftImpute, soft_impute

__all__ = [
    "ALS",
    "BiasBaseline",
    "NuclearNorm",
    "SVP",
    "SoftImpute",
    "soft_impute",
    "AltMin",
    "AltMinRobust",
    "FactoredSolver",
    "FactorModel",
    "UnderdeterminedWarning",
    "preconditioned_cond",
    "sketch_lstsq",
]
