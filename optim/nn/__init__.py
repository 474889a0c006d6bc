"""Torch optimizers: real ``torch.optim.Optimizer`` subclasses, and ``Train`` to run them as solvers.

* ``Lion``, ``LionK`` (the Lion-K family; ``K_TABLE``), ``AuON``, ``HybridAuON``: ``docs/optimizers.md``.
* ``MKOR``, ``MKORH`` (rank-1 Kronecker-factor inverses, Mozaffari et al. 2023) and ``KFAC`` (modes
  "kaisa" and "asdl"): second-order preconditioners around a first-order backbone; ``docs/second_order.md``.
* ``split_params(model)``: hidden matrices for Muon/AuON, the rest for AdamW.
* ``Train(optimizer_cls, **hyper)``: any torch optimizer (ours, AdamW, SGD, Muon) as a ``Solver`` of a
  ``problems.TrainingProblem``; registered as methods "lion", "lion-k", "auon", "hybrid-auon",
  "adamw", "sgd", "muon", "mkor", "mkor-h", "kfac".

Importing this package imports torch (``import optim`` does not).
"""

from .auon import AuON, HybridAuON, auon_transform, newton_schulz
from .kfac import KFAC
from .lion import K_TABLE, Lion, LionK
from .mkor import MKOR
from .mkor_hybrid import MKORH
from .params import split_params
from .train import Train

__all__ = [
    "KFAC",
    "MKOR",
    "MKORH",
    "AuON",
    "HybridAuON",
    "auon_transform",
    "newton_schulz",
    "K_TABLE",
    "Lion",
    "LionK",
    "split_params",
    "Train",
]
