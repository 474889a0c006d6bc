"""Monotone inclusions 0 in F(x) + G(x) with F a finite sum: variance-reduced Halpern iteration
(Cai, Alacaoglu and Diakonikolas, ICLR 2024) and its baselines under one interface.

Every solver runs on a ``problems.FiniteSumOperator``; work is counted in component evaluations
and reported in epochs (component evaluations / n), the x-axis of the paper's figures.
"""

from .baselines import EAG, EG, FBF, Popov
from .halpern import Halpern, VRHalpern, anchor_weight, snapshot_probability
from .inexact_halpern import InexactHalpern
from .settings import official_options
from .variance_reduced import VREG, VRForb

__all__ = [
    "EAG",
    "FBF",
    "EG",
    "Popov",
    "Halpern",
    "VRHalpern",
    "InexactHalpern",
    "VREG",
    "VRForb",
    "anchor_weight",
    "snapshot_probability",
    "official_options",
]
