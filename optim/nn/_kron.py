"""What MKOR and KFAC share: the layers they precondition, the hooks that read each layer's inputs and
output gradients, the backbone optimizer they wrap, and the torch.distributed averaging.

A preconditioned layer is an ``nn.Linear`` or an ``nn.Conv2d`` with ``groups == 1`` whose weight the
backbone optimizes. Its gradient matrix is ``Gmat = [W.grad.reshape(d_out, -1) | b.grad]``
(``d_out x d_in``, ``d_in`` counting the bias as a homogeneous coordinate). Everything else (norms,
embeddings, grouped convolutions, layers above ``max_factor_dim``, layers in ``exclude``) is stepped by
the backbone on its raw gradient.

Hooks: a forward hook reads the layer input (only while gradients are enabled and statistics are
being collected) and registers a hook on the output tensor; the statistics of that call are committed
when the output's gradient arrives in backward. A forward pass that is never followed by backward (a
validation loss computed with gradients on) therefore leaves no trace; a module called several times
per step commits one contribution per call; an in-place activation after the layer (``ReLU(inplace=True)``)
does not disturb the tensor hook, which receives the gradient of the layer's own output.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import cast

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F

from problems.validation import as_int, suggest

from ._common import evaluate_closure

BACKBONES = ("sgd", "adamw", "adam", "lion", "lamb")


class Layer:
    """One preconditioned module: its shape bookkeeping, gradient matrix and input rows."""

    def __init__(self, name: str, module: nn.Linear | nn.Conv2d):
        self.name = name
        self.module: nn.Linear | nn.Conv2d = module
        self.conv = isinstance(module, nn.Conv2d)
        self.has_bias = module.bias is not None
        self.d_out = int(module.weight.shape[0])
        self.d_in = int(module.weight[0].numel()) + int(self.has_bias)
        self.d_a = self.d_in  # size of an input-side factor (KFAC's asdl mode leaves out the bias coordinate)
        self.stats: dict = {}  # persistent state (factors, flags, counters), saved by state_dict
        self.buf: dict = {}  # statistics of the current step, cleared after each factor round
        self.fired = False  # whether ``buf`` holds statistics committed since the last factor round

    def grad_matrix(self) -> torch.Tensor:
        """``[W.grad.reshape(d_out, -1) | b.grad]`` (a new tensor)."""
        g = cast(torch.Tensor, self.module.weight.grad).reshape(self.d_out, -1)  # set: called after backward
        if self.has_bias:
            bias = cast(torch.Tensor, self.module.bias).grad
            g = torch.cat([g, (torch.zeros_like(g[:, :1]) if bias is None else bias.reshape(-1, 1))], dim=1)
        return g

    def write_grad(self, D: torch.Tensor, scale=None) -> None:
        """Split ``D`` (times ``scale``, a 0-d tensor) like ``grad_matrix`` into ``W.grad`` and ``b.grad``."""
        W = self.module.weight
        k = self.d_in - int(self.has_bias)
        targets = [(cast(torch.Tensor, W.grad), D[:, :k])]  # set: called after backward
        bias = cast(torch.Tensor, self.module.bias)  # not None when has_bias
        if self.has_bias and bias.grad is not None:
            targets.append((bias.grad, D[:, k]))
        for grad, part in targets:
            if not grad.is_contiguous():
                grad.copy_((part if scale is None else part * scale).reshape(grad.shape))
            elif scale is None:
                grad.view(part.shape).copy_(part)
            else:
                torch.mul(part, scale, out=grad.view(part.shape))

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Conv2d: the unfolded input, ``N x K x P`` (``K = C_in kh kw``, ``P`` output positions)."""
        m = cast(nn.Conv2d, self.module)  # called only when self.conv
        padding = conv_padding(m)
        assert padding is not None  # find_layers keeps only convolutions with a symmetric padding
        return F.unfold(x, m.kernel_size, dilation=m.dilation, padding=padding, stride=m.stride)


def conv_padding(m: nn.Conv2d) -> tuple[int, int] | None:
    """The integer padding ``unfold`` needs for ``m``: ``"valid"`` is 0, ``"same"`` is half the dilated
    kernel extent per side; None where that is not symmetric (an even extent) or the mode is not zeros."""
    if m.padding_mode != "zeros":
        return None
    if m.padding == "valid":
        return (0, 0)
    if m.padding == "same":
        extent = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size, strict=True)]
        return None if any(e % 2 for e in extent) else (extent[0] // 2, extent[1] // 2)
    pad = cast(tuple[int, int], m.padding)
    return (int(pad[0]), int(pad[1]))


def with_ones(rows: torch.Tensor) -> torch.Tensor:
    """``[rows | 1]``: the homogeneous coordinate of the bias."""
    return torch.cat([rows, rows.new_ones(rows.shape[0], 1)], dim=1)


def stat_dtype(t: torch.Tensor) -> torch.dtype:
    """Statistics are computed in at least float32 (float64 models keep float64)."""
    return torch.promote_types(t.dtype, torch.float32)


def make_backbone(backbone, params, options: dict) -> torch.optim.Optimizer:
    """An optimizer instance as is, or one built by name on ``params`` with ``options``."""
    if isinstance(backbone, torch.optim.Optimizer):
        if options:
            raise TypeError(f"backbone options {sorted(options)} apply only to a backbone given by name")
        return backbone
    if not isinstance(backbone, str):
        raise TypeError(f"backbone must be a torch.optim.Optimizer or one of {BACKBONES}, got {backbone!r}")
    name = backbone.lower()
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}{suggest(name, BACKBONES)}; choose one of {BACKBONES}")
    if name == "lamb":
        try:
            from pytorch_optimizer import Lamb
        except ImportError:  # pragma: no cover - the peers extra installs it
            raise ImportError("backbone='lamb' needs pytorch-optimizer: pip install pytorch-optimizer") from None
        return Lamb(params, **options)
    if name == "lion":
        from .lion import Lion

        return Lion(params, **options)
    cls = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW, "adam": torch.optim.Adam}[name]
    return cls(params, **({"lr": 0.1} if name == "sgd" and "lr" not in options else {}), **options)


def _check_exclude(model: nn.Module, exclude) -> tuple[set[str], set[int]]:
    """``exclude`` as (module names, module ids); a name or module that is not part of ``model`` is an error
    (a misspelt name would otherwise leave the layer preconditioned without a word)."""
    if isinstance(exclude, (str, nn.Module)):
        exclude = (exclude,)
    try:
        items = list(exclude)
    except TypeError:
        raise TypeError(f"exclude must be a module name, a module or a sequence of them, got {exclude!r}") from None
    named = dict(model.named_modules())
    ids = {id(m) for m in named.values()}
    names: set[str] = set()
    modules: set[int] = set()
    unknown = []
    for item in items:
        if isinstance(item, str):
            if item in named:
                names.add(item)
            else:
                unknown.append(repr(item) + suggest(item, [n for n in named if n]))
        elif isinstance(item, nn.Module):
            if id(item) in ids:
                modules.add(id(item))
            else:
                unknown.append(f"a {type(item).__name__} that is not part of the model")
        else:
            raise TypeError(f"exclude entries must be module names or modules, got {item!r}")
    if unknown:
        raise ValueError(f"exclude names modules the model does not have: {', '.join(unknown)}")
    return names, modules


def _excluded(name: str, module: nn.Module, names: set[str], modules: set[int], parents: dict[str, int]) -> bool:
    """Whether ``module`` or one of its ancestors (by name) is excluded."""
    if id(module) in modules or name in names:
        return True
    parts = name.split(".")
    return any(
        ".".join(parts[:i]) in names or parents.get(".".join(parts[:i])) in modules for i in range(1, len(parts))
    )


def find_layers(model: nn.Module, optimized: set[int], exclude, max_factor_dim: int) -> tuple[list, list]:
    """``(preconditioned, excluded)`` layers of ``model`` (see the module docstring). An excluded module
    excludes every layer inside it."""
    names, modules = _check_exclude(model, exclude)
    parents = {name: id(m) for name, m in model.named_modules()}
    layers, excluded, too_big = [], [], []
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            continue
        if isinstance(module, nn.Conv2d) and (module.groups != 1 or conv_padding(module) is None):
            continue  # grouped, asymmetrically padded or non-zero-padded convolutions keep the raw gradient
        if id(module.weight) not in optimized or not module.weight.requires_grad:
            continue
        layer = Layer(name, module)
        if _excluded(name, module, names, modules, parents):
            excluded.append(layer)
        elif max(layer.d_in, layer.d_out) > max_factor_dim:
            too_big.append(name)
            excluded.append(layer)
        else:
            layers.append(layer)
    if too_big:
        warnings.warn(f"layers above max_factor_dim={max_factor_dim} use the raw gradient: {too_big}", stacklevel=3)
    if not layers:
        raise ValueError(
            "model has no layer to precondition: it needs an nn.Linear or nn.Conv2d (groups=1) whose weight the "
            "backbone optimizes, not excluded and not above max_factor_dim"
        )
    return layers, excluded


class KroneckerOptimizer(torch.optim.Optimizer):
    """Base of MKOR and KFAC: precondition each layer's ``.grad`` in ``step()``, then ``backbone.step()``.

    ``self.param_groups`` is the backbone's list itself, so LR schedulers, ``GradScaler.unscale_`` and
    per-group options act on the backbone. Subclasses implement ``_input_stat``, ``_grad_stat``
    (each returns ``(sum, count)``), ``_collecting``, ``_update_factors`` and ``_precondition``.
    """

    #: ``optim.nn.Train`` builds this optimizer from the model (hooks), not from its parameters
    takes_model = True
    wants_loss = False

    def __init__(
        self,
        model: nn.Module,
        backbone,
        backbone_options: dict,
        *,
        exclude,
        max_factor_dim: int,
        grad_scaler,
        process_group,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module (hooks attach to its layers), got {type(model).__name__}")
        inner = make_backbone(backbone, model.parameters(), dict(backbone_options))
        super().__init__([torch.zeros(1, requires_grad=True)], {})
        self.backbone = inner
        self.param_groups = self.backbone.param_groups
        self.defaults = self.backbone.defaults
        self.state = self.backbone.state
        optimized = {id(p) for g in self.param_groups for p in g["params"]}
        self.max_factor_dim = as_int(max_factor_dim, "max_factor_dim", low=1)
        self.layers, self.excluded = find_layers(model, optimized, exclude, self.max_factor_dim)
        if grad_scaler is not None and not (isinstance(grad_scaler, (int, float)) or hasattr(grad_scaler, "get_scale")):
            raise TypeError(f"grad_scaler must be a GradScaler, a number or None, got {grad_scaler!r}")
        self.grad_scaler = grad_scaler
        self.process_group = process_group
        self.t = 0
        self._handles: list = []
        self._closed = False
        self._sync_hooks()

    # ------------------------------------------------------------------ subclass hooks
    def _collecting(self, t: int) -> bool:
        """Whether step ``t`` collects statistics (then the forward hooks are attached)."""
        raise NotImplementedError

    def _update_factors(self) -> None:
        """Fold the committed statistics into the Kronecker factors (and their inverses) when due."""
        raise NotImplementedError

    def _precondition(self) -> None:
        """Overwrite each registered layer's ``.grad`` with its preconditioned gradient."""
        raise NotImplementedError

    # ------------------------------------------------------------------ statistics
    def _commit(self, layer: Layer, a_stat: tuple, g_stat: tuple) -> None:
        """Add one call's ``(sum, count)`` statistics of the inputs (``a``) and output gradients (``g``)."""
        buf = layer.buf
        for side, (total, count) in (("a", a_stat), ("g", g_stat)):
            if side in buf:
                buf[side] = (buf[side][0] + total, buf[side][1] + count)
            else:
                buf[side] = (total, count)
        layer.fired = True

    def _take_ready(self) -> list[tuple[Layer, dict]]:
        """``(layer, statistics)`` of the layers whose statistics are complete (both sides committed), in
        order. Every layer's buffer and ``fired`` flag are cleared: a layer that goes silent afterwards
        contributes nothing stale to a later round."""
        ready = [(layer, layer.buf) for layer in self.layers if layer.fired and "a" in layer.buf and "g" in layer.buf]
        for layer in self.layers:
            layer.buf = {}
            layer.fired = False
        return ready

    def _reduced_round(
        self,
        taken: list[tuple[Layer, dict]],
        pieces: Callable[[dict], list[torch.Tensor]],
        sizes: Callable[[Layer], list[int]],
    ) -> list[tuple[Layer, list[torch.Tensor]]]:
        """The ready layers' statistics (``pieces(buf)``) averaged over the ranks in ONE all-reduce; returns the
        layers whose averages (flattened) are finite. On several ranks every layer takes part in a fixed order
        (ranks must agree on the layout): one that did not fire on this rank sends NaN of its ``sizes``, so a layer
        silent on some rank keeps its factors on all of them, as does one whose statistics overflowed (AMP)."""
        if self.world_size() > 1:
            have = {id(layer): buf for layer, buf in taken}
            layout = [(layer, self._pieces_or_nan(layer, have.get(id(layer)), pieces, sizes)) for layer in self.layers]
        else:
            layout = [(layer, pieces(buf)) for layer, buf in taken]
        if not layout:
            return []
        flat = self.all_reduce_mean(torch.cat([p if p.dim() == 1 else p.reshape(-1) for _, ps in layout for p in ps]))
        parts = iter(torch.split(flat, [p.numel() for _, ps in layout for p in ps]))
        out = [(layer, [next(parts) for _ in ps]) for layer, ps in layout]
        if torch.isfinite(flat).all():
            return out
        return [(layer, vs) for layer, vs in out if all(bool(torch.isfinite(v).all()) for v in vs)]

    @staticmethod
    def _pieces_or_nan(layer: Layer, buf: dict | None, pieces, sizes) -> list[torch.Tensor]:
        w = layer.module.weight
        if buf is None:
            return [torch.full((n,), float("nan"), dtype=stat_dtype(w), device=w.device) for n in sizes(layer)]
        return [p.to(stat_dtype(w)) for p in pieces(buf)]

    # ------------------------------------------------------------------ hooks
    def _make_forward_hook(self, layer: Layer):
        def forward_hook(module, inputs, output):
            if not (torch.is_grad_enabled() and self._collecting(self.t)):
                return None
            if not isinstance(output, torch.Tensor) or not output.requires_grad:
                return None
            a_stat = self._input_stat(layer, inputs[0].detach())
            step = self.t

            def output_grad_hook(grad):
                if self.t == step:
                    self._commit(layer, a_stat, self._grad_stat(layer, grad.detach()))

            output.register_hook(output_grad_hook)
            return None

        return forward_hook

    def loss_scale(self) -> float:
        """The current AMP loss scale (1 without one): output gradients are divided by it."""
        if self.grad_scaler is None:
            return 1.0
        if isinstance(self.grad_scaler, (int, float)):
            return float(self.grad_scaler)
        return float(self.grad_scaler.get_scale()) if self.grad_scaler.is_enabled() else 1.0

    def _sync_hooks(self) -> None:
        """Hooks are attached only while the coming step collects statistics (a module with forward hooks
        takes torch's slower call path, which would cost every step)."""
        want = not self._closed and self._collecting(self.t)
        if want and not self._handles:
            self._handles = [
                layer.module.register_forward_hook(self._make_forward_hook(layer)) for layer in self.layers
            ]
        elif not want and self._handles:
            for handle in self._handles:
                handle.remove()
            self._handles = []

    def close(self) -> None:
        """Remove every hook for good (the optimizer then only preconditions with its last factors)."""
        self._closed = True
        self._sync_hooks()

    # ------------------------------------------------------------------ distributed
    def world_size(self) -> int:
        if not (dist.is_available() and dist.is_initialized()):
            return 1
        return dist.get_world_size(self.process_group)

    def all_reduce_mean(self, buf: torch.Tensor) -> torch.Tensor:
        """Average ``buf`` over the ranks (one SUM all-reduce, then a division); no-op on one process."""
        world = self.world_size()
        if world > 1:
            dist.all_reduce(buf, op=dist.ReduceOp.SUM, group=self.process_group)
            buf.div_(world)
        return buf

    # ------------------------------------------------------------------ torch.optim API
    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """Precondition the registered layers' gradients, then step the backbone; returns the closure's loss."""
        loss = evaluate_closure(closure)
        if loss is not None:
            self._observe(loss)
        self._update_factors()
        self._precondition()
        self.backbone.step()
        self.t += 1
        self._sync_hooks()
        return loss

    def _observe(self, loss) -> None:
        """A hook for subclasses that watch the loss (MKOR-H)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.backbone.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group) -> None:
        if hasattr(self, "backbone"):
            self.backbone.add_param_group(param_group)
        else:  # the placeholder group of torch.optim.Optimizer.__init__
            super().add_param_group(param_group)

    def _layer_state(self, layer: Layer) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def _state_names(self) -> tuple[str, ...]:
        return ("t",)

    def state_dict(self) -> dict:
        """``{"state": {module name: {...}}, "param_groups", "backbone", "t", ...}``: layers keyed by name."""
        backbone = self.backbone.state_dict()
        out = {
            "state": {layer.name: self._layer_state(layer) for layer in self.layers},
            "param_groups": backbone["param_groups"],
            "backbone": backbone,
        }
        for name in self._state_names():
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, list) else value
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        self.backbone.load_state_dict(state_dict["backbone"])
        names = {layer.name: layer for layer in self.layers}
        missing = sorted(set(names) - set(state_dict["state"]))
        if missing:
            raise ValueError(f"state_dict has no entry for layers {missing}")
        for name, entry in state_dict["state"].items():
            if name in names:
                self._load_layer_state(names[name], entry)
        for name in self._state_names():
            value = state_dict[name]
            setattr(self, name, list(value) if isinstance(value, list) else value)
        self._sync_hooks()

    def _load_layer_state(self, layer: Layer, entry: dict) -> None:
        for key, value in entry.items():
            old = layer.stats.get(key)
            if isinstance(value, torch.Tensor) and isinstance(old, torch.Tensor):
                layer.stats[key] = value.detach().to(device=old.device, dtype=old.dtype).clone()
            else:
                layer.stats[key] = value.clone() if isinstance(value, torch.Tensor) else value

    def state_bytes(self) -> int:
        """Bytes of every state tensor (factors and the backbone's state)."""
        total = sum(
            v.numel() * v.element_size()
            for s in self.backbone.state.values()
            for v in s.values()
            if isinstance(v, torch.Tensor)
        )
        for layer in self.layers:
            total += sum(v.numel() * v.element_size() for v in layer.stats.values() if isinstance(v, torch.Tensor))
        return total
