"""The "optimizers" comparison suite: ours (Lion, Lion-K, AuON, Hybrid-AuON) and torch's (AdamW, SGD,
Muon) on the same training problems, seeds, batches and schedules, through ``optim.nn.Train``."""

from __future__ import annotations

from typing import Any

from problems.training import char_gpt, digits_autoencoder, digits_cnn, digits_mlp

from ..compare import Suite

#: method label -> (method, options); Lion's lr ~ AdamW's / 3 and decay x 10 (Chen et al. 2023)
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "adamw": ("adamw", {"lr": 3e-3}),
    "sgd-momentum": ("sgd", {"lr": 0.1, "momentum": 0.9}),
    "muon + adamw": ("muon", {"lr": 0.02}),
    "lion": ("lion", {"lr": 2e-3, "weight_decay": 0.1}),
    "lion-k (l2)": ("lion-k", {"lr": 0.2, "weight_decay": 0.1, "K": "l2"}),
    "auon + adamw": ("auon", {"lr": 0.08}),
    "hybrid-auon + adamw": ("hybrid-auon", {"lr": 0.08}),
}


def optimizers_suite(quick: bool = True) -> Suite:
    """Lion, Lion-K, AuON, Hybrid-AuON vs AdamW, SGD, Muon: digits MLP (and the tiny char-GPT in full mode)."""
    problems = {"digits-mlp": digits_mlp()}
    if not quick:
        problems["char-gpt"] = char_gpt()
    return Suite(
        name="optimizers",
        description=(optimizers_suite.__doc__ or "").split("\n")[0],
        problems=problems,
        methods={label: (method, {**options, "threads": 1}) for label, (method, options) in METHODS.items()},
        settings={"max_iter": 120 if quick else 400, "tol": 0.0},
        seed=0,
    )


#: second-order methods and their first-order backbones; each takes the problem's recommended settings
SECOND_ORDER_METHODS = {
    "sgd-momentum": ("sgd", {}),
    "adamw": ("adamw", {}),
    "kfac (sgd-m)": ("kfac", {}),
    "mkor (sgd-m)": ("mkor", {}),
    "mkor-h (sgd-m)": ("mkor-h", {"window": 20}),
}


def second_order_suite(quick: bool = True) -> Suite:
    """MKOR, MKOR-H and KFAC against their SGD-momentum backbone and AdamW: digits MLP (+ CNN, autoencoder)."""
    problems = {"digits-mlp": digits_mlp()}
    if not quick:
        problems.update({"digits-cnn": digits_cnn(), "digits-autoencoder": digits_autoencoder()})
    return Suite(
        name="second-order",
        description=(second_order_suite.__doc__ or "").split("\n")[0],
        problems=problems,
        methods={
            label: (method, {**options, "threads": 1, "schedule": "constant"})
            for label, (method, options) in SECOND_ORDER_METHODS.items()
        },
        settings={"max_iter": 100 if quick else 400, "tol": 0.0},
        seed=0,
    )
