"""KFAC: Kronecker-factored approximate curvature (Martens & Grosse 2015; Grosse & Martens 2016 for
convolutions) as a preconditioner in front of a first-order backbone.

Per preconditioned layer, on factor steps (``t % factor_every == 0``) the hooks give the batch factors
``A_b = a^T a / rows`` (layer inputs) and ``G_b = g^T g / rows`` (output gradients), averaged over ranks
under torch.distributed, and the running factors follow ``A <- decay A + (1 - decay) A_b`` (``decay=None``
replaces them). On inverse steps (``t % inv_every == 0``) the factors are inverted or decomposed; every
step the gradient matrix is preconditioned and handed to the backbone. Two numerically distinct modes:

* ``mode="kaisa"`` (the conventions of KAISA, Pauloski et al., SC 2021, gpauloski/kfac-pytorch): input
  rows carry the bias coordinate 1, output gradients are used as they are; a convolution contributes one
  row per output position, both sides divided by the number of positions ``P``. Running factors start
  from ``I``. Under torch.distributed the output gradients are those of the loss averaged over all ranks
  (divided by the world size, as DDP averages the weight gradients).
  ``A = Q_A diag(d_A) Q_A^T``, ``G = Q_G diag(d_G) Q_G^T`` (eigenvalues clamped at 0) and
  ``V = Q_G [(Q_G^T Gmat Q_A) / (d_G d_A^T + damping)] Q_A^T``; the KL clip scales every ``V`` by
  ``nu = min(1, sqrt(kl_clip / |sum_l lr_l^2 <V_l, Gmat_l>|))``, lr_l the learning rate of layer l's parameter
  group (``kl_clip=None`` disables it).
* ``mode="asdl"`` (equal to ASDL's ``KfacGradientMaker(fisher_type="fisher_emp")``, Osawa et al. 2023):
  input rows without the bias coordinate, per-sample output gradients ``n grad_output``, pi-damping
  ``pi = sqrt((tr A / d_A) / (tr G / d_G))``, ``delta_A = max(sqrt(damping) pi, 1e-7)``,
  ``delta_G = max(sqrt(damping) / pi, 1e-7)``; the weight gradient becomes
  ``(G + delta_G I)^{-1} W.grad (A + delta_A I)^{-1}`` and the bias gradient ``(G + delta_G I)^{-1} b.grad``
  (Cholesky inverses); no KL clip. A convolution contributes one input row per output position with
  ``A = a^T a / (N P)`` and ``G = sum (N g)(N g)^T / N`` over samples and positions, as ASDL.

See ``docs/second_order.md``.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
from torch import nn

from problems.validation import as_choice, as_int, as_real

from ._kron import KroneckerOptimizer, Layer, stat_dtype, with_ones

MODES = ("kaisa", "asdl")


class KFAC(KroneckerOptimizer):
    """KFAC preconditioning of ``nn.Linear`` / ``nn.Conv2d`` (groups=1) layers, then ``backbone.step()``.

    Parameters
    ----------
    model : the ``nn.Module`` to precondition
    backbone : an optimizer instance, or "sgd", "adamw", "adam", "lion", "lamb" with ``**backbone_options``
    mode : "kaisa" (eigendecompositions, KL clip) or "asdl" (pi-damped Cholesky inverses)
    damping : Tikhonov damping (> 0); default 1e-3
    decay : weight of the old factors in the running average, in [0, 1), or None to replace them
        (default 0.95 in "kaisa" mode, None in "asdl" mode)
    factor_every, inv_every : periods of the factor and inverse updates (defaults 10 and 100 for
        "kaisa", 1 and 1 for "asdl")
    kl_clip : KL clip of "kaisa" mode (default 1e-3; None disables it)
    exclude, max_factor_dim, grad_scaler, process_group : as for ``MKOR``
    """

    def __init__(
        self,
        model: nn.Module,
        backbone="sgd",
        *,
        mode: str = "kaisa",
        damping: float = 1e-3,
        decay="default",
        factor_every=None,
        inv_every=None,
        kl_clip="default",
        exclude=(),
        max_factor_dim: int = 8192,
        grad_scaler=None,
        process_group=None,
        **backbone_options,
    ):
        self.mode = as_choice(mode, "mode", MODES)
        kaisa = self.mode == "kaisa"
        self.damping = as_real(damping, "damping", low=0.0, low_open=True)
        decay = (0.95 if kaisa else None) if decay == "default" else decay
        self.decay = None if decay is None else as_real(decay, "decay", low=0.0, high=1.0, high_open=True)
        self.factor_every = as_int(
            (10 if kaisa else 1) if factor_every is None else factor_every, "factor_every", low=1
        )
        self.inv_every = as_int((100 if kaisa else 1) if inv_every is None else inv_every, "inv_every", low=1)
        if not kaisa and kl_clip not in ("default", None):
            raise ValueError("kl_clip applies only to mode='kaisa' (ASDL's gradient maker has no KL clip)")
        kl_clip = (1e-3 if kaisa else None) if kl_clip == "default" else kl_clip
        self.kl_clip = None if kl_clip is None else as_real(kl_clip, "kl_clip", low=0.0, low_open=True)
        super().__init__(
            model,
            backbone,
            backbone_options,
            exclude=exclude,
            max_factor_dim=max_factor_dim,
            grad_scaler=grad_scaler,
            process_group=process_group,
        )
        self.failed_inverses = 0
        for layer in self.layers:
            layer.d_a = layer.d_in if kaisa else layer.d_in - int(layer.has_bias)
            layer.stats = {"A": None, "G": None, "inv_A": None, "inv_G": None, "eig_A": None, "eig_G": None}

    # ------------------------------------------------------------------ statistics
    def _collecting(self, t: int) -> bool:
        return t % self.factor_every == 0

    def _input_rows(self, layer: Layer, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        if layer.conv:
            patches = layer.patches(x)  # N x K x P
            P = patches.shape[2]
            rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
        else:
            P, rows = 1, x.reshape(-1, x.shape[-1])
        rows = rows.to(stat_dtype(rows))
        if self.mode == "kaisa":
            rows = (with_ones(rows) if layer.has_bias else rows) / P
        return rows, P

    def _input_stat(self, layer: Layer, x: torch.Tensor):
        rows, _ = self._input_rows(layer, x)
        return rows.T @ rows, rows.shape[0]

    def _grad_stat(self, layer: Layer, grad: torch.Tensor):
        g = grad.to(stat_dtype(grad)) / self.loss_scale()
        if self.mode == "kaisa":
            # output gradients of the loss DDP optimizes (the mean over all ranks' samples), so that P ranks
            # x B samples give the factors of one process with P B samples; per-sample rows (asdl) need not
            g = g / self.world_size()
        if layer.conv:
            N, C = g.shape[0], g.shape[1]
            P = g[0, 0].numel()
            rows = g.reshape(N, C, P).transpose(1, 2).reshape(-1, C)
            if self.mode == "asdl":  # as ASDL: G = sum over samples and positions of (N g)(N g)^T, over N
                rows = rows * N
                return rows.T @ rows, N
            rows = rows / P
        else:
            rows = g.reshape(-1, g.shape[-1])
            if self.mode == "asdl":
                rows = rows * rows.shape[0]
        return rows.T @ rows, rows.shape[0]

    # ------------------------------------------------------------------ factors and inverses
    def _update_factors(self) -> None:
        if self._collecting(self.t):
            kept = self._reduced_round(
                self._take_ready(),
                lambda buf: [_batch_factor(*buf["a"]), _batch_factor(*buf["g"])],
                lambda layer: [layer.d_a**2, layer.d_out**2],
            )
            for layer, (A, G) in kept:
                self._running(layer, "A", A.reshape(layer.d_a, layer.d_a))
                self._running(layer, "G", G.reshape(layer.d_out, layer.d_out))
        if self.t % self.inv_every == 0:
            for layer in self.layers:
                if layer.stats["A"] is not None:
                    self._invert(layer)

    def _running(self, layer: Layer, key: str, batch: torch.Tensor) -> None:
        old = layer.stats[key]
        if self.decay is None:
            layer.stats[key] = batch.clone()
        elif old is None and self.mode == "kaisa":
            eye = torch.eye(batch.shape[0], dtype=batch.dtype, device=batch.device)
            layer.stats[key] = self.decay * eye + (1 - self.decay) * batch
        elif old is None:
            layer.stats[key] = batch.clone()
        else:
            layer.stats[key] = self.decay * old + (1 - self.decay) * batch

    def _invert(self, layer: Layer) -> None:
        A, G = layer.stats["A"], layer.stats["G"]
        if self.mode == "kaisa":
            dA, QA = torch.linalg.eigh(A)
            dG, QG = torch.linalg.eigh(G)
            layer.stats["eig_A"], layer.stats["eig_G"] = (dA.clamp_min(0), QA), (dG.clamp_min(0), QG)
            return
        mean_A, mean_G = float(A.trace()) / A.shape[0], float(G.trace()) / G.shape[0]
        pi = math.sqrt(mean_A / mean_G) if mean_G > 0 else math.inf
        r = math.sqrt(self.damping)
        delta_A, delta_G = (max(r * pi, 1e-7), max(r / pi, 1e-7)) if 0 < pi < math.inf else (self.damping,) * 2
        # as ASDL: an all-zero factor (a dead layer) keeps its previous inverse
        for key, M, delta in (("inv_A", A, delta_A), ("inv_G", G, delta_G)):
            inverse = _cholesky_inverse(M, delta) if bool((M != 0).any()) else None
            if inverse is not None:
                layer.stats[key] = inverse
            elif bool((M != 0).any()):
                self.failed_inverses += 1

    # ------------------------------------------------------------------ preconditioning
    def _precondition(self) -> None:
        pairs = []
        for layer in self.layers:
            if layer.module.weight.grad is None:
                continue
            if self.mode == "asdl":
                self._precondition_asdl(layer)
                continue
            if layer.stats["eig_A"] is None:
                continue
            G = layer.grad_matrix()
            (dA, QA), (dG, QG) = layer.stats["eig_A"], layer.stats["eig_G"]
            dA, QA, dG, QG = (t.to(G.dtype) for t in (dA, QA, dG, QG))
            V = QG @ ((QG.T @ G @ QA) / (torch.outer(dG, dA) + self.damping)) @ QA.T
            pairs.append((layer, G, V))
        if not pairs:
            return
        nu = 1.0
        if self.kl_clip is not None:
            lr = {id(p): float(group["lr"]) for group in self.param_groups for p in group["params"]}
            vg = abs(float(sum(lr.get(id(layer.module.weight), 0.0) ** 2 * (V * G).sum() for layer, G, V in pairs)))
            nu = min(1.0, math.sqrt(self.kl_clip / vg)) if vg > 0 else 1.0
        for layer, _, V in pairs:
            layer.write_grad(V * nu)

    def _precondition_asdl(self, layer: Layer) -> None:
        inv_A, inv_G = layer.stats["inv_A"], layer.stats["inv_G"]
        if inv_A is None or inv_G is None:
            return
        W = layer.module.weight
        grad = cast(torch.Tensor, W.grad)  # set: preconditioning runs after backward
        dtype = grad.dtype
        inv_A, inv_G = inv_A.to(dtype), inv_G.to(dtype)
        grad.copy_((inv_G @ grad.reshape(layer.d_out, -1) @ inv_A).reshape(W.shape))
        bias = cast(torch.Tensor, layer.module.bias)  # not None when has_bias
        if layer.has_bias and bias.grad is not None:
            bias.grad.copy_(inv_G @ bias.grad)

    # ------------------------------------------------------------------ state
    def _layer_state(self, layer: Layer) -> dict:
        out: dict[str, Any] = {}
        for key, value in layer.stats.items():
            if isinstance(value, tuple):
                out[key] = tuple(v.clone() for v in value)
            else:
                out[key] = None if value is None else value.clone()
        return out

    def _load_layer_state(self, layer: Layer, entry: dict) -> None:
        device = layer.module.weight.device
        for key, value in entry.items():
            if isinstance(value, (tuple, list)):
                layer.stats[key] = tuple(v.detach().to(device).clone() for v in value)
            else:
                layer.stats[key] = None if value is None else value.detach().to(device).clone()

    def communicated_elements(self) -> int:
        """Elements one factor step all-reduces: ``sum over layers (d_A^2 + d_G^2)``."""
        return sum(layer.d_a**2 + layer.d_out**2 for layer in self.layers)


def _batch_factor(total: torch.Tensor, count: int) -> torch.Tensor:
    """The symmetrised mean ``(S + S^T) / (2 count)`` of a summed outer-product statistic ``S``."""
    return 0.5 * (total + total.T) / count


def _cholesky_inverse(M: torch.Tensor, delta: float) -> torch.Tensor | None:
    """``(M + delta I)^{-1}`` by Cholesky; retried in float64 when the factorisation fails in low precision,
    None when it fails there too (the caller keeps the previous inverse; ASDL would raise)."""
    for dtype in (M.dtype, torch.float64):
        eye = torch.eye(M.shape[0], dtype=dtype, device=M.device)
        L, info = torch.linalg.cholesky_ex(M.to(dtype) + delta * eye)
        if int(info) == 0:
            return torch.cholesky_inverse(L).to(M.dtype)
    return None
