"""SOR and SSOR-CG, and bandit tuning of their relaxation parameter across sequences of systems.

Khodak, Chow, Balcan, Talwalkar, "Learning to Relax: Setting Solver Parameters Across a Sequence of
Linear System Instances", ICLR 2024 (official code mkhodak/learning-to-relax).

* solvers: ``sor``, ``ssor_cg``, ``cg``, ``ssor_preconditioner``; spectral helpers ``rho_jacobi``,
  ``young_omega``, ``young_rho``;
* online tuners (solvers under the common loop, one iteration = one instance): ``TsallisINF``
  ("tsallis-inf"), ``ContextualTsallisINF`` ("tsallis-inf-cb"), ``ChebCB`` ("chebcb"); baselines
  ``FixedOmega`` ("fixed-omega"), ``BestFixedOmega`` ("best-fixed-omega"), ``InstanceOptimalOmega``
  ("instance-optimal-omega"), ``YoungOmega`` ("young-omega"), ``PlainCG`` ("plain-cg");
* ``cost_table`` / ``CostTable``: every (instance, omega) count once, replayed by the tuners
  (``sequence_fingerprint`` ties a table to its sequence);
* the learners themselves (``predict``/``update``): ``TsallisINFPolicy``, ``BinnedTsallisINFPolicy``,
  ``ChebCBPolicy``, ``FixedPolicy``.
"""

from problems.linear_systems import OMEGA_GRID as DEFAULT_GRID  # the official action set

from .online import (
    BestFixedOmega,
    ChebCB,
    ContextualTsallisINF,
    FixedOmega,
    InstanceOptimalOmega,
    OnlineTuner,
    PlainCG,
    TsallisINF,
    YoungOmega,
)
from .policies import BinnedTsallisINFPolicy, ChebCBPolicy, FixedPolicy, TsallisINFPolicy, golden_section_omega
from .solvers import cg, check_spd, rho_jacobi, sor, ssor_cg, ssor_preconditioner, young_omega, young_rho
from .table import CostTable, cost_table, sequence_fingerprint

__all__ = [
    "BestFixedOmega",
    "ChebCB",
    "ContextualTsallisINF",
    "FixedOmega",
    "InstanceOptimalOmega",
    "OnlineTuner",
    "PlainCG",
    "TsallisINF",
    "YoungOmega",
    "golden_section_omega",
    "BinnedTsallisINFPolicy",
    "ChebCBPolicy",
    "FixedPolicy",
    "TsallisINFPolicy",
    "DEFAULT_GRID",
    "cg",
    "check_spd",
    "rho_jacobi",
    "sor",
    "ssor_cg",
    "ssor_preconditioner",
    "young_omega",
    "young_rho",
    "CostTable",
    "cost_table",
    "sequence_fingerprint",
]
