"""Multiplier methods for slack-free Lagrangian QUBOs, as solvers under the common loop (Sharma and
Lau, "Cutting Slack", arXiv 2507.12159). The full description is in ``docs/qubo.md``.

For ``min f(x)`` s.t. ``g_j(x) <= 0`` (j in I), ``g_j(x) = 0`` (j in E), ``x`` binary::

    H(x; lam, rho) = f(x) + sum_j lam_j g_j(x) + (rho/2) sum_j g_j(x)^2,    theta(lam) = min_x H(x; lam, rho)

and ``Pi`` projects ``lam_I >= 0``. ``s = g(x^)`` at the sampler's best sample ``x^``.

===========================  ===========================================================================
method                       update
===========================  ===========================================================================
``subgradient``              ``lam+ = Pi(lam + t_k s)``; ``t_k = t0/sqrt(k+1)`` (default), ``t0``,
                             ``t0/(k+1)`` or Polyak ``eta (UB - theta^)/||s||^2``
``stochastic-subgradient``   the same with ``s`` of one sample drawn by its count (or a random half of
                             the rows); answer: the average of the second half of the multipliers
``dual-averaging``           ``S += s``; ``lam+ = Pi(lam0 + S / (gamma sqrt(k+1)))`` (Nesterov 2009)
``cutting-plane``            Kelley: ``lam+ = argmax z`` s.t. ``z <= theta^_i + s_i.(lam - lam_i)`` in a box
``bundle``                   proximal bundle: ``max z - ||lam - c||^2/(2t)`` over the cuts; serious or null
                             step by the gain ratio
``augmented-lagrangian``     ``lam+ = Pi(lam + rho g(x^))``; ``rho`` doubles when the violation did not fall
                             below a quarter of the previous one
===========================  ===========================================================================
"""

from .augmented import AugmentedLagrangian
from .base import REPAIR_MEMORY, SAMPLERS, MultiplierMethod, as_sampler
from .bundle import Bundle
from .cutting_plane import CuttingPlane
from .dual_averaging import DualAveraging
from .stochastic import StochasticSubgradient
from .subgradient import Subgradient

__all__ = [
    "AugmentedLagrangian",
    "Bundle",
    "CuttingPlane",
    "DualAveraging",
    "MultiplierMethod",
    "REPAIR_MEMORY",
    "SAMPLERS",
    "StochasticSubgradient",
    "Subgradient",
    "as_sampler",
]
