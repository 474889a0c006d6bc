"""MKOR: Kronecker-factored preconditioning kept as inverses and refreshed by rank-1 Sherman-Morrison updates.

M. Mozaffari, S. Li, Z. Zhang, M. Mehri Dehnavi, "MKOR: Momentum-Enabled Kronecker-Factor-Based Optimizer
Using Rank-1 Updates", NeurIPS 2023 (Algorithm 1), and the authors' code (Mohammad-Mozaffari/mkor).

For a layer with gradient matrix ``Gmat`` (``d_out x d_in``), MKOR keeps ``J_G ~ L^{-1}`` (``d_out x d_out``)
and ``J_A ~ R^{-1}`` (``d_in x d_in``) and hands ``D = J_G Gmat J_A``, rescaled to the raw gradient's norm,
to a first-order backbone. On collect steps (``t % inv_freq == 0`` or ``t < warmup_steps``) the hooks
record the batch means ``a_bar`` of the layer inputs and ``g_bar`` of the per-sample output gradients,
and each inverse takes one rank-1 update with ``v = a_bar`` or ``g_bar``:

* ``variant="code"`` (the authors' code, default): ``K = 0.95 J + 0.05 I``,
  ``J <- K - (K v)(K v)^T / (1 + v^T K v) = (K^{-1} + v v^T)^{-1}``: from ``J = I`` the eigenvalues stay in (0, 1].
* ``variant="paper"``: the exact inverse of the EMA ``F <- gamma F + (1 - gamma) v v^T`` by
  Sherman-Morrison, ``J <- J / gamma - ((1 - gamma) / gamma^2) u u^T / (1 + ((1 - gamma) / gamma) v^T u)``
  with ``u = J v``. (Algorithm 1 as printed has the sign and the gamma placement wrong; this is the
  correct inverse, checked against ``torch.linalg.inv`` in the tests.)

Norm-based stabilizer (``eps`` on the max-abs entry, ``zeta``): ``stabilizer="code"`` flags both factors
of a layer when an update leaves an entry above ``eps`` and replaces that factor's next update by a reset
to ``I`` (what the authors' code does in effect); ``"mix"`` uses ``zeta J + (1 - zeta) I`` instead
(the paper's form; in the paper variant it is applied before an update whenever ``max|J| > eps``);
``"none"`` disables it. The first collect round only initialises both factors to ``I``. See
``docs/second_order.md`` for every option and the deviations from the paper.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import cast

import torch
from torch import nn

from problems.validation import as_choice, as_int, as_real

from ._kron import KroneckerOptimizer, Layer, conv_padding, stat_dtype

VARIANTS = ("code", "paper")
STABILIZERS = ("code", "mix", "none")
RESCALES = ("sum", "joint", "none")
FACTOR_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def code_update(J: torch.Tensor, v: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """The authors' update: ``K = 0.95 J + 0.05 I``; ``K - (Kv)(Kv)^T / (1 + v^T K v)`` = ``(K^{-1} + v v^T)^{-1}``
    (two passes over the matrix: scale, rank-1 subtraction; ``inplace`` overwrites ``J`` instead of copying)."""
    K = J.mul_(0.95) if inplace else J * 0.95
    K.diagonal().add_(0.05)
    Kv = torch.mv(K, v)
    return K.addr_(Kv, Kv, alpha=-1.0 / (1.0 + float(torch.dot(v, Kv))))


def paper_update(J: torch.Tensor, v: torch.Tensor, gamma: float) -> torch.Tensor:
    """Sherman-Morrison inverse of ``gamma F + (1 - gamma) v v^T`` given ``J = F^{-1}``."""
    u = J @ v
    c = (1.0 - gamma) / gamma
    return J / gamma - (c / gamma) * torch.outer(u, u) / (1.0 + c * (v @ u))


def _position_weights(
    n_in: int, n_out: int, k: int, pad: int, stride: int, dil: int, like: torch.Tensor
) -> torch.Tensor:
    """``k x n_in`` matrix whose row ``i`` averages the input coordinates ``i dil + p stride - pad`` that the
    kernel offset ``i`` reads at the ``n_out`` output positions ``p`` (padding positions contribute zero)."""
    out = torch.zeros(k, n_in, dtype=like.dtype, device=like.device)
    for i in range(k):
        r = torch.arange(n_out) * stride + i * dil - pad
        out[i, r[(r >= 0) & (r < n_in)]] = 1.0 / n_out
    return out


#: averaging matrices kept per convolution, one per input size (H, W), least recently used evicted first
PATCH_SIZES_KEPT = 4


def _patch_means(layer: Layer, x: torch.Tensor, cache: dict) -> torch.Tensor:
    """Conv2d: the mean over output positions of each unfolded patch entry, ``N x (C_in kh kw)``, computed as
    ``A_h X A_w^T`` per sample and channel (``A`` from ``_position_weights``): one matrix product with
    ``kron(A_h, A_w)`` instead of unfolding every patch."""
    if x.dtype not in (torch.float32, torch.float64) or x.dim() != 4:
        return layer.patches(x).mean(dim=2)
    key = (x.shape[2], x.shape[3], x.dtype, x.device)
    sizes = cache.setdefault(layer.name, OrderedDict())  # the layer's input sizes, least recently used first
    if key in sizes:
        sizes.move_to_end(key)
    else:
        if len(sizes) >= PATCH_SIZES_KEPT:
            sizes.popitem(last=False)
        m = cast(nn.Conv2d, layer.module)
        pad = cast(tuple[int, int], conv_padding(m))
        ops = []
        for axis in range(2):
            n_in, k, d, st = x.shape[2 + axis], m.kernel_size[axis], m.dilation[axis], m.stride[axis]
            n_out = (n_in + 2 * pad[axis] - d * (k - 1) - 1) // st + 1
            ops.append(_position_weights(n_in, n_out, k, pad[axis], st, d, x))
        sizes[key] = torch.kron(ops[0], ops[1])  # (kh kw) x (H W)
    n, c = x.shape[:2]
    # the product with the flattened input on the right runs on a far faster CPU kernel than its transpose
    return torch.mm(sizes[key], x.reshape(n * c, -1).T).T.reshape(n, -1)


def _max_abs(J: torch.Tensor) -> float:
    """``max |J_ij|`` (NaN if any entry is NaN) from one min-max pass, without the ``|J|`` temporary."""
    lo, hi = torch.aminmax(J)
    return max(-float(lo), float(hi))


class MKOR(KroneckerOptimizer):
    """MKOR (Mozaffari et al. 2023) wrapped around a first-order backbone.

    Parameters
    ----------
    model : the ``nn.Module`` whose ``nn.Linear`` / ``nn.Conv2d`` (groups=1) layers are preconditioned
    backbone : an optimizer instance over the model's parameters, or "sgd", "adamw", "adam", "lion",
        "lamb" (pytorch-optimizer's LAMB) built on ``model.parameters()`` with ``**backbone_options``
    inv_freq : factor-update period f (collect statistics and update on ``t % f == 0``); default 10
    warmup_steps : update the factors on every step while ``t < warmup_steps``
    variant : "code" (authors' inverse-space mix, default) or "paper" (exact SM of the EMA)
    gamma : factor momentum of the paper variant, in (0, 1)
    eps, zeta : stabilizer threshold on ``max|J_ij|`` and mixing weight ``zeta J + (1 - zeta) I``
    stabilizer : "code" (flag both factors, reset to I on the next round), "mix" or "none"
    clamp : clamp every entry of the input rows and per-sample gradient rows to [-clamp, clamp]
    rescale : "sum" (``(||W.grad|| + ||b.grad||) / (||dW|| + ||db||)``, the code's), "joint" (norms of the
        joined matrices, the paper's) or "none"
    exclude : module names or modules to leave to the backbone alone
    max_factor_dim : layers with ``max(d_in, d_out)`` above it are left to the backbone (a warning names them)
    factor_dtype : storage dtype of ``J_A``, ``J_G`` (updates computed in at least float32)
    grad_scaler : a ``torch.amp.GradScaler`` (its scale is divided out of the output gradients) or a number
    grad_accum_steps : backward passes per ``step()``; the loss is assumed divided by it
    accum_g_scale : "mean" (``g_bar`` is the mean per-sample gradient of the unscaled loss) or "code"
        (the authors' ``grad_accum_steps`` times smaller value)
    process_group : torch.distributed group whose ranks average ``a_bar`` and ``g_bar`` (default: world)
    """

    def __init__(
        self,
        model: nn.Module,
        backbone="sgd",
        *,
        inv_freq: int = 10,
        warmup_steps: int = 0,
        variant: str = "code",
        gamma: float = 0.95,
        eps: float = 2.0,
        zeta: float = 0.9,
        stabilizer: str = "code",
        clamp: float = 100.0,
        rescale: str = "sum",
        exclude=(),
        max_factor_dim: int = 8192,
        factor_dtype: torch.dtype = torch.float32,
        grad_scaler=None,
        grad_accum_steps: int = 1,
        accum_g_scale: str = "mean",
        process_group=None,
        **backbone_options,
    ):
        self.inv_freq = as_int(inv_freq, "inv_freq", low=1)
        self.warmup_steps = as_int(warmup_steps, "warmup_steps", low=0)
        self.variant = as_choice(variant, "variant", VARIANTS)
        self.gamma = as_real(gamma, "gamma", low=0.0, high=1.0, low_open=True, high_open=True)
        self.eps = as_real(eps, "eps", low=0.0, low_open=True)
        self.zeta = as_real(zeta, "zeta", low=0.0, high=1.0)
        self.stabilizer = as_choice(stabilizer, "stabilizer", STABILIZERS)
        self.clamp = as_real(clamp, "clamp", low=0.0, low_open=True)
        self.rescale = as_choice(rescale, "rescale", RESCALES)
        if factor_dtype not in FACTOR_DTYPES:
            raise ValueError(f"factor_dtype must be one of {FACTOR_DTYPES}, got {factor_dtype!r}")
        self.factor_dtype = factor_dtype
        self.grad_accum_steps = as_int(grad_accum_steps, "grad_accum_steps", low=1)
        self.accum_g_scale = as_choice(accum_g_scale, "accum_g_scale", ("mean", "code"))
        self._position_ops: dict = {}  # layer -> {(H, W, dtype, device): averaging matrix of _patch_means}
        self._views: dict = {}  # layer name -> (J_A, its weight columns, its bias column)
        super().__init__(
            model,
            backbone,
            backbone_options,
            exclude=exclude,
            max_factor_dim=max_factor_dim,
            grad_scaler=grad_scaler,
            process_group=process_group,
        )
        self.n_rounds = 0
        self.skipped_rounds = 0
        for layer in self.layers:
            device = layer.module.weight.device
            layer.stats = {
                "J_A": torch.eye(layer.d_in, dtype=factor_dtype, device=device),
                "J_G": torch.eye(layer.d_out, dtype=factor_dtype, device=device),
                "initialised": False,
                "reset_A": False,
                "reset_G": False,
                "n_resets": 0,
            }

    # ------------------------------------------------------------------ statistics
    def collecting(self, t: int) -> bool:
        return t % self.inv_freq == 0 or t < self.warmup_steps

    _collecting = collecting

    def _rows(self, layer: Layer, x: torch.Tensor) -> torch.Tensor:
        """The input rows without the bias coordinate: patch means for a convolution."""
        rows = _patch_means(layer, x, self._position_ops) if layer.conv else x.reshape(-1, x.shape[-1])
        dtype = stat_dtype(rows)
        return rows if rows.dtype == dtype else rows.to(dtype)

    def _input_stat(self, layer: Layer, x: torch.Tensor):
        """Sum and count of the clamped rows ``[a | 1]`` (the bias coordinate's sum, ``count min(1, clamp)``,
        is appended to the column sums instead of widening every row)."""
        rows = self._rows(layer, x)
        total = rows.clamp(-self.clamp, self.clamp).sum(dim=0)  # out of place: rows may view the input
        if layer.has_bias:
            total = torch.cat([total, total.new_full((1,), rows.shape[0] * min(1.0, self.clamp))])
        return total, rows.shape[0]

    def _grad_stat(self, layer: Layer, grad: torch.Tensor):
        """Per-sample output gradients: ``n * grad`` (undoing a mean-reduced loss), positional mean for
        convolutions, divided by the loss scale, times the accumulation steps in "mean" mode, clamped."""
        n = grad.shape[0] if layer.conv else grad.numel() // grad.shape[-1]  # samples (rows of a sequence)
        dtype = stat_dtype(grad)
        g = grad if grad.dtype == dtype else grad.to(dtype)
        rows = g.flatten(2).mean(dim=2) if layer.conv else g.reshape(-1, g.shape[-1])
        scale = n / self.loss_scale()
        if self.accum_g_scale == "mean":
            scale *= self.grad_accum_steps
        rows = (rows * scale).clamp_(-self.clamp, self.clamp)
        return rows.sum(dim=0), rows.shape[0]

    # ------------------------------------------------------------------ factor round
    def _update_factors(self) -> None:
        if not self.collecting(self.t):
            return
        taken = self._take_ready()
        kept = self._reduced_round(
            taken,
            lambda buf: [buf["a"][0] / buf["a"][1], buf["g"][0] / buf["g"][1]],
            lambda layer: [layer.d_in, layer.d_out],
        )
        if len(kept) < len(taken):
            self.skipped_rounds += 1  # an overflow step (AMP), a NaN batch or a layer silent on some rank
        if not kept:
            return
        self.n_rounds += 1
        for side in (0, 1):  # all A-factors first, then all G-factors
            for layer, (a, g) in kept:
                self._update_one(layer, "AG"[side], (a, g)[side])
        for layer, _ in kept:
            layer.stats["initialised"] = True

    def _update_one(self, layer: Layer, side: str, v: torch.Tensor) -> None:
        st = layer.stats
        key = "J_" + side
        if not st["initialised"]:
            return  # the first round only initialises the factors to I
        J = st[key]
        work = torch.promote_types(J.dtype, torch.float32)
        Jw = J if J.dtype == work else J.to(work)
        vw = v if v.dtype == work else v.to(work)
        if self.variant == "code":
            if st["reset_" + side]:
                st["reset_" + side] = False
                st[key] = self._reset(Jw).to(J.dtype)
                return
            new = code_update(Jw, vw, inplace=True)  # Jw is a work copy or the stored factor, replaced below
        else:
            if self.stabilizer != "none" and _max_abs(Jw) > self.eps:
                Jw = self._reset(Jw)
            new = paper_update(Jw, vw, self.gamma)
        if J.dtype in (torch.float16, torch.bfloat16):
            new = 0.5 * (new + new.T)
        peak = _max_abs(new)  # NaN/inf show up here too
        if not math.isfinite(peak):
            st[key] = torch.eye(J.shape[0], dtype=J.dtype, device=J.device)
            st["n_resets"] += 1
            return
        st[key] = new if new.dtype == J.dtype else new.to(J.dtype)
        if self.variant == "code" and self.stabilizer != "none" and peak > self.eps:
            st["reset_A"] = st["reset_G"] = True
            st["n_resets"] += 1

    def _reset(self, J: torch.Tensor) -> torch.Tensor:
        if self.stabilizer == "code":
            return torch.eye(J.shape[0], dtype=J.dtype, device=J.device)
        out = J * self.zeta
        out.diagonal().add_(1.0 - self.zeta)
        return out

    # ------------------------------------------------------------------ preconditioning
    def _precondition(self) -> None:
        """``D = J_G Gmat J_A`` per layer, rescaled so that each layer keeps its gradient norm. The step's cost
        is dominated by per-op overhead, so the norms of all layers come from multi-tensor calls."""
        work: list[Layer] = []
        grads: list[torch.Tensor] = []  # W.grad, b.grad of each layer in work, while all are contiguous
        plain = self.rescale != "none"
        for layer in self.layers:
            params = layer.module._parameters  # read each step: a parameter may be replaced or tied later
            weight = params.get("weight")
            gw = None if weight is None else weight.grad
            if gw is None:
                continue
            work.append(layer)
            if plain:
                gb = cast(torch.Tensor, params["bias"]).grad if layer.has_bias else gw
                if gb is None or gb.dtype != gw.dtype or not (gw.is_contiguous() and gb.is_contiguous()):
                    plain = False
                else:
                    grads.append(gw)
                    if layer.has_bias:
                        grads.append(gb)
        if not work:
            return
        if plain and len({id(g) for g in grads}) == len(grads):
            self._precondition_in_place(work, grads)  # no two layers share a gradient tensor (tied weights)
            return
        done = []
        for layer in work:
            G = layer.grad_matrix()
            J_G, J_A = self._factors(layer, G.dtype)
            done.append((layer, G, J_G @ G @ J_A))
        if self.rescale == "none":
            for layer, _, D in done:
                layer.write_grad(D)
            return
        parts = []
        for layer, G, D in done:
            k = layer.d_in - int(layer.has_bias)
            if layer.has_bias:
                parts += [G[:, :k], G[:, k], D[:, :k], D[:, k]]
            else:
                parts += [G, G[:0], D, D[:0]]
        n = torch.stack(torch._foreach_norm(parts)).view(-1, 2, 2)  # layer, (raw, preconditioned), (W, b)
        for (layer, _, D), s in zip(done, self._scales(n.transpose(0, 1)), strict=True):
            layer.write_grad(D, s)

    def _factors(self, layer: Layer, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        J_G, J_A = layer.stats["J_G"], layer.stats["J_A"]
        return (J_G, J_A) if J_G.dtype == dtype else (J_G.to(dtype), J_A.to(dtype))

    def _scales(self, n: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer factors from the norms ``n[raw or preconditioned, layer, W or b]``."""
        raw, pre = n.sum(2) if self.rescale == "sum" else n.square().sum(2).sqrt()
        # a zero gradient gives s = 0 (D = 0 as well); a non-finite one stays non-finite
        return list((raw / pre.clamp_min(torch.finfo(pre.dtype).tiny)).unbind())

    def _precondition_in_place(self, work: list[Layer], grads: list[torch.Tensor]) -> None:
        """Contiguous ``.grad`` tensors (``grads``: W.grad, b.grad per layer): norms of the raw gradients (one
        multi-tensor call), ``D`` written straight into ``W.grad`` and ``b.grad`` by the matrix products, norms
        of ``D`` (one call), and one multi-tensor multiply by the per-layer factors, computed from the norms in
        Python floats."""
        raw = torch._foreach_norm(grads)
        views = self._views
        i = 0
        for layer in work:
            gw = grads[i]
            J_G, J_A = layer.stats["J_G"], layer.stats["J_A"]
            if J_G.dtype != gw.dtype:
                J_G, J_A = J_G.to(gw.dtype), J_A.to(gw.dtype)
            W2 = gw if gw.dim() == 2 else gw.view(layer.d_out, -1)
            if layer.has_bias:
                b = grads[i + 1]
                T = torch.mm(J_G, torch.cat((W2, b.view(-1, 1)), dim=1))  # J_G Gmat, d_out x d_in
                cached = views.get(layer.name)
                if cached is None or cached[0] is not J_A:  # a reset or a dtype conversion gives a new tensor
                    cached = views[layer.name] = (J_A, J_A[:, :-1], J_A[:, -1])
                torch.mm(T, cached[1], out=W2)  # D = T J_A, split like Gmat
                torch.mv(T, cached[2], out=b)
                i += 2
            else:
                torch.mm(torch.mm(J_G, W2), J_A, out=W2)
                i += 1
        norms = torch.stack(raw + torch._foreach_norm(grads)).tolist()
        half = len(grads)
        tiny = torch.finfo(grads[0].dtype).tiny
        scales: list[float] = []
        i = 0
        for layer in work:
            if layer.has_bias:
                before, after = norms[i] + norms[i + 1], norms[half + i] + norms[half + i + 1]
                if self.rescale != "sum":  # "joint"
                    wb, bb, wa, ba = norms[i], norms[i + 1], norms[half + i], norms[half + i + 1]
                    before, after = math.sqrt(wb * wb + bb * bb), math.sqrt(wa * wa + ba * ba)
                s = before / max(after, tiny)  # a zero gradient gives s = 0 (D = 0 as well); NaN stays NaN
                scales += (s, s)
                i += 2
            else:
                scales.append(norms[i] / max(norms[half + i], tiny))
                i += 1
        dtype = grads[0].dtype
        if grads[0].is_cpu and dtype in (torch.float32, torch.float64) and all(g.dtype == dtype for g in grads):
            # on the CPU, 0-d tensors of the gradients' dtype skip a conversion of each Python scalar (same results)
            torch._foreach_mul_(grads, torch.tensor(scales, dtype=dtype).unbind())
        else:
            torch._foreach_mul_(grads, scales)  # a GPU runs this as one fused kernel

    # ------------------------------------------------------------------ state
    def _layer_state(self, layer: Layer) -> dict:
        return {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in layer.stats.items()}

    def _state_names(self) -> tuple[str, ...]:
        return ("t", "n_rounds", "skipped_rounds")

    @property
    def n_resets(self) -> int:
        """Stabilizer resets and guard resets over all layers."""
        return sum(layer.stats["n_resets"] for layer in self.layers)

    def communicated_elements(self) -> int:
        """Elements one collect step all-reduces: ``sum over layers (d_in + d_out)``."""
        return sum(layer.d_in + layer.d_out for layer in self.layers)
