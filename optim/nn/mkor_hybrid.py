"""MKOR-H: MKOR that hands over to its first-order backbone once the second-order steps stop paying.

Mozaffari et al. (NeurIPS 2023) describe the hybrid qualitatively: watch the decrease of the training
loss and, when second-order updates no longer speed it up, fall back to the backbone for the rest of
training. Neither the paper nor the authors' code gives a test (their runs switched at a hand-chosen
step by resuming the inner optimizer from a checkpoint). The automatic rule here is ours:

1. the loss of every step (the closure's value, or ``observe_loss(loss)`` from the training loop) is
   averaged over non-overlapping windows of ``window`` steps: ``L_0, L_1, ...``;
2. the relative decrease of window ``k >= 1`` is ``r_k = (L_{k-1} - L_k) / |L_{k-1}|``;
3. ``r_ref`` is the running maximum of ``r_k`` over the windows that end at or after ``min_steps``
   (default ``max(warmup_steps, 2 window)``);
4. the optimizer switches when ``r_k < ratio * r_ref`` for ``patience`` consecutive windows.

``switch="step"`` switches when the step counter reaches ``switch_step`` (how the paper's runs were
made); ``"never"`` is plain MKOR. On the switch the hooks are removed, the factors freed, and from then
on ``step()`` is exactly ``backbone.step()`` on the raw gradients, with the backbone's state (momentum,
Adam moments) kept. The switch is irreversible and saved by ``state_dict``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from problems.validation import as_choice, as_int, as_real

from ._common import evaluate_closure
from .mkor import MKOR

SWITCHES = ("auto", "step", "never")


class MKORH(MKOR):
    """MKOR with a switch to its backbone (rule in the module docstring).

    Parameters
    ----------
    model, backbone : as ``MKOR``
    switch : "auto" (the loss-window rule), "step" (at ``switch_step``) or "never"
    switch_step : step count at which ``switch="step"`` hands over (required there)
    window, ratio, patience, min_steps : the automatic rule's window length, relative-rate threshold,
        consecutive windows below it, and the first step whose windows count for the reference rate
    **mkor_options : every other ``MKOR`` option and the backbone's options
    """

    wants_loss = True

    def __init__(
        self,
        model: nn.Module,
        backbone="sgd",
        *,
        switch: str = "auto",
        switch_step=None,
        window: int = 50,
        ratio: float = 0.1,
        patience: int = 2,
        min_steps=None,
        **mkor_options,
    ):
        self.switch = as_choice(switch, "switch", SWITCHES)
        if self.switch == "step" and switch_step is None:
            raise ValueError("switch='step' needs switch_step (the step count at which the backbone takes over)")
        self.switch_step = None if switch_step is None else as_int(switch_step, "switch_step", low=0)
        self.window = as_int(window, "window", low=1)
        self.ratio = as_real(ratio, "ratio", low=0.0, high=1.0)
        self.patience = as_int(patience, "patience", low=1)
        super().__init__(model, backbone, **mkor_options)
        default_min = max(self.warmup_steps, 2 * self.window)
        self.min_steps = default_min if min_steps is None else as_int(min_steps, "min_steps", low=0)
        self.switched_at: int | None = None
        self.window_losses: list[float] = []
        self.window_means: list[float] = []
        self.r_ref = -math.inf
        self.below = 0

    # ------------------------------------------------------------------ the loss
    def observe_loss(self, loss: float) -> None:
        """Record this step's training loss (call once per step, before ``step()``)."""
        self.window_losses.append(float(loss))

    def _observe(self, loss) -> None:
        self.observe_loss(loss)

    def _end_of_step(self) -> None:
        """After step ``t`` completed: close a window and apply the automatic rule."""
        if self.switch != "auto" or self.t % self.window:
            return
        if not self.window_losses:
            raise RuntimeError(
                "MKORH(switch='auto') saw no loss in a window: pass a closure to step() or call observe_loss(loss)"
            )
        self.window_means.append(sum(self.window_losses) / len(self.window_losses))
        self.window_losses = []
        if len(self.window_means) < 2:
            return
        prev, cur = self.window_means[-2], self.window_means[-1]
        r = (prev - cur) / abs(prev) if prev != 0 else 0.0
        if self.t >= self.min_steps:
            self.r_ref = max(self.r_ref, r)
        if self.r_ref > 0 and r < self.ratio * self.r_ref:
            self.below += 1
        else:
            self.below = 0
        if self.below >= self.patience:
            self._switch()

    def _switch(self) -> None:
        self.close()
        for layer in self.layers:
            layer.stats = {"n_resets": layer.stats.get("n_resets", 0)}
            layer.buf = {}
            layer.fired = False
        self.switched_at = self.t

    # ------------------------------------------------------------------ torch.optim API
    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        # switch_step is not None when switch == "step" (checked in __init__)
        if self.switched_at is None and self.switch == "step" and self.t >= cast(int, self.switch_step):
            self._switch()
        if self.switched_at is not None:
            loss = evaluate_closure(closure)
            self.backbone.step()
            self.t += 1
            return loss
        loss = super().step(closure)
        self._end_of_step()
        return loss

    @property
    def switched(self) -> bool:
        return self.switched_at is not None

    def _state_names(self) -> tuple[str, ...]:
        return (*super()._state_names(), "switched_at", "window_losses", "window_means", "r_ref", "below")

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict.get("switched_at") is not None and self.switched_at is None:
            self._switch()
        super().load_state_dict(state_dict)
