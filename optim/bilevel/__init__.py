"""Multi-block bilevel optimisation: BSVRB v1/v2 (Hu et al., ICML 2023), its ablations and baselines.

See ``docs/bilevel.md`` for the update rules, the options and the measured comparisons.
"""

from .baselines import RSVRB, SOBA, HypergradientDescent, StocBiO
from .bsvrb import BSGD, BSVRB, BSVRBMovingAverage, BSVRBv1, BSVRBv2, code_faithful_options, project_hessians
from .distributed import DistributedBSVRB

__all__ = [
    "BSGD",
    "BSVRB",
    "BSVRBMovingAverage",
    "BSVRBv1",
    "BSVRBv2",
    "DistributedBSVRB",
    "HypergradientDescent",
    "RSVRB",
    "SOBA",
    "StocBiO",
    "code_faithful_options",
    "project_hessians",
]
