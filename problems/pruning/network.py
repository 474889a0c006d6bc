"""A whole network to prune: ``NetworkPruning`` (torch model, prunable Linear layers, loss, data) and the
digits MLP of the iterative CBS reproduction (``digits_pruning``).

The problem never changes the caller's model: it keeps a private copy and the original weights ``w0``
of every prunable layer (float64 numpy). Solvers hand it weight dictionaries ``{layer: W}``; it runs the
model with them (``evaluate``, ``layer_inputs``, ``per_sample_grads``). torch is imported only when a
problem is built.
"""

from __future__ import annotations

import contextlib
import copy
import functools

import numpy as np

from problems.base import Problem
from problems.validation import as_choice, as_int

from .layer import LayerPruning, as_density, swap_gap

LOSSES = ("cross_entropy", "mse")


@contextlib.contextmanager
def torch_threads(n: int = 1):
    """Run a block with ``n`` torch threads (tiny models are several times slower with more)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class NetworkPruning(Problem):
    """Prune the ``torch.nn.Linear`` layers ``layers`` of ``model`` (all of them when None).

    Parameters
    ----------
    model : a ``torch.nn.Module`` (copied; biases are never pruned)
    layers : names of prunable Linear sub-modules (``model.named_modules()`` names) or None for all
    loss : "cross_entropy" or "mse" (per-sample losses for the empirical Fisher)
    input_mask : optional callable ``inputs -> bool (B, T)`` of real token positions (padding rows are
        dropped from 3-D layer inputs)
    data : training pair ``(inputs, targets)``; its first ``calibration`` rows calibrate the one-shot
        pruners and its rows in order, ``batch_size`` at a time, feed the iterative steps
    test : optional held-out pair for ``evaluate`` (accuracy for cross-entropy)
    density : kept fraction per layer, in (0, 1]

    The loop iterate is the flat keep mask over all layers (in ``layers`` order); ``optimality`` is the
    sum over layers of ``LayerPruning.optimality`` on the dense model's calibration inputs (largest
    single-swap decrease of each layer's relative reconstruction error). Work unit: block solves.
    """

    work_unit = "block"

    def __init__(
        self,
        model,
        layers=None,
        loss="cross_entropy",
        data=None,
        *,
        test=None,
        density=0.5,
        calibration=512,
        batch_size=200,
        input_mask=None,
        name="network",
    ):
        super().__init__()
        import torch

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        linear = {k: m for k, m in self.model.named_modules() if isinstance(m, torch.nn.Linear)}
        if not linear:
            raise ValueError("model has no prunable layers (no torch.nn.Linear sub-module)")
        if layers is None:
            layers = list(linear)
        if isinstance(layers, str) or not all(isinstance(x, str) for x in layers) or not layers:
            raise TypeError("layers must be a non-empty list of layer names")
        for x in layers:
            as_choice(x, "layers", list(linear))
        self.layers = list(layers)
        self.modules = {k: linear[k] for k in self.layers}
        self.w0 = {k: m.weight.detach().to(torch.float64).numpy().copy() for k, m in self.modules.items()}
        self.loss_name = as_choice(loss, "loss", LOSSES)
        if data is None:
            raise ValueError("data must be a training pair (inputs, targets)")
        self.inputs, self.targets = _pair(data, "data", self.model)
        self.test = None if test is None else _pair(test, "test", self.model)
        self.density = as_density(density)
        self.calibration = min(as_int(calibration, "calibration", low=1), self.inputs.shape[0])
        self.batch_size = min(as_int(batch_size, "batch_size", low=1), self.inputs.shape[0])
        if input_mask is not None and not callable(input_mask):
            raise TypeError("input_mask must be callable (inputs -> bool tensor of valid token positions)")
        self.input_mask = input_mask
        self.name = name
        self._dense_inputs = None
        self._dense_grams = None

    # ------------------------------------------------------------------ sizes
    @property
    def sizes(self) -> dict:
        return {k: w.size for k, w in self.w0.items()}

    @property
    def dim(self) -> int:
        return sum(self.sizes.values())

    def initial_point(self) -> np.ndarray:
        return np.ones(self.dim)

    def split(self, x) -> dict:
        """Flat vector -> ``{layer: array of the layer's shape}``."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        out, start = {}, 0
        for k, w in self.w0.items():
            out[k] = x[start : start + w.size].reshape(w.shape)
            start += w.size
        return out

    # ------------------------------------------------------------------ running the model
    @contextlib.contextmanager
    def weights_applied(self, weights: dict | None):
        """The private model with ``weights`` (``{layer: W}``, missing layers dense) loaded."""
        import torch

        with torch.no_grad():
            for k, m in self.modules.items():
                w = self.w0[k] if weights is None or k not in weights else weights[k]
                m.weight.copy_(torch.as_tensor(np.asarray(w), dtype=m.weight.dtype))
        yield self.model

    def layer_inputs(self, weights: dict | None = None, rows=None) -> dict:
        """Inputs of every prunable layer (float64, one row per sample or real token) on the calibration
        rows (or ``rows``). With ``input_mask`` the rows run in length-sorted chunks with the padding
        tail cut, and padding positions are dropped (row order then follows the chunks)."""
        import torch

        X = self.inputs[slice(0, self.calibration) if rows is None else rows]
        if self.input_mask is None:
            chunks = [(X, None)]
        else:
            lengths = self.input_mask(X).sum(-1)
            order = torch.argsort(lengths, stable=True)
            chunks = []
            for start in range(0, X.shape[0], 32):
                idx = order[start : start + 32]
                part = X[idx][..., : int(lengths[idx].max())]
                chunks.append((part, self.input_mask(part).reshape(-1)))
        got: dict[str, list[torch.Tensor]] = {k: [] for k in self.modules}
        hooks = []
        keep = [None]

        def hook(mod, args, k):
            v = args[0]
            r = v.reshape(-1, v.shape[-1])
            got[k].append(r[keep[0]] if keep[0] is not None and v.ndim == 3 else r)

        for k, m in self.modules.items():
            hooks.append(m.register_forward_pre_hook(lambda mod, a, k=k: hook(mod, a, k)))
        try:
            with self.weights_applied(weights) as model, torch.no_grad(), torch_threads():
                for part, mask in chunks:
                    keep[0] = mask
                    model(part)
        finally:
            for h in hooks:
                h.remove()
        return {k: torch.cat(v).to(torch.float64).numpy() for k, v in got.items()}

    def dense_inputs(self) -> dict:
        if self._dense_inputs is None:
            self._dense_inputs = self.layer_inputs(None)
        return self._dense_inputs

    def dense_grams(self) -> dict:
        """``X^T X`` of every layer's dense calibration inputs (computed once)."""
        if self._dense_grams is None:
            self._dense_grams = {k: X.T @ X for k, X in self.dense_inputs().items()}
        return self._dense_grams

    def layer_problem(self, layer: str, weights: dict | None = None) -> LayerPruning:
        """The ``LayerPruning`` of ``layer`` with its calibration inputs under ``weights``."""
        as_choice(layer, "layer", self.layers)
        X = self.dense_inputs()[layer] if weights is None else self.layer_inputs(weights)[layer]
        return LayerPruning(self.w0[layer], X, density=self.density, name=layer)

    def _loss(self, out, target, reduction="mean"):
        import torch.nn.functional as F

        if self.loss_name == "mse":
            return F.mse_loss(out, target, reduction=reduction)
        return F.cross_entropy(out, target, reduction=reduction)

    def evaluate(self, weights: dict | None = None, split: str = "test") -> dict:
        """``{"loss", "accuracy"}`` (accuracy only for cross-entropy) on ``split`` ("test" or "train")."""
        import torch

        if as_choice(split, "split", ("test", "train")) == "test" and self.test is None:
            raise ValueError("this problem has no test data")
        X, y = self.test if split == "test" else (self.inputs, self.targets)
        with self.weights_applied(weights) as model, torch.no_grad(), torch_threads():
            out = self._forward(model, X)
            res = {"loss": float(self._loss(out, y))}
            if self.loss_name == "mse" and out.ndim == 2:
                res["cosine"] = float(torch.nn.functional.cosine_similarity(out, y, dim=1).mean())
            if self.loss_name == "cross_entropy":
                res["accuracy"] = float((out.argmax(-1) == y).double().mean())
        return res

    def _forward(self, model, X, chunk: int = 64):
        """``model(X)``; with ``input_mask`` (token axis last), rows are run in chunks of similar length
        with the all-padding tail positions cut off (the output does not depend on them)."""
        import torch

        if self.input_mask is None:
            return model(X)
        lengths = self.input_mask(X).sum(-1)
        order = torch.argsort(lengths, stable=True)
        parts = []
        for start in range(0, X.shape[0], chunk):
            idx = order[start : start + chunk]
            parts.append(model(X[idx][..., : int(lengths[idx].max())]))
        out = torch.empty((X.shape[0], *parts[0].shape[1:]), dtype=parts[0].dtype)
        out[order] = torch.cat(parts)
        return out

    def batch(self, step: int):
        """Pruning batch ``step``: training rows in order, ``batch_size`` at a time, cycling."""
        n, b = self.inputs.shape[0], self.batch_size
        per = max(1, n // b)
        start = (step % per) * b
        return self.inputs[start : start + b], self.targets[start : start + b]

    def per_sample_grads(self, layer: str, weights: dict, batch) -> np.ndarray:
        """Per-sample loss gradients w.r.t. ``layer``'s weight at ``weights``: (N, m*n) float64."""
        import torch
        from torch.func import functional_call, grad, vmap

        X, y = batch
        pname = self._param_name(layer)
        with self.weights_applied(weights) as model, torch_threads():
            params = {k: v.detach() for k, v in model.named_parameters()}
            w = params.pop(pname)

            def loss_one(wl, xi, yi):
                out = functional_call(model, {**params, pname: wl}, (xi[None],))
                return self._loss(out, yi[None])

            g = vmap(grad(loss_one), in_dims=(None, 0, 0))(w, X, y)
        return g.reshape(g.shape[0], -1).to(torch.float64).numpy()

    def per_sample_factors(self, layer: str, weights: dict, batch):
        """``(A, D)`` with per-sample gradients ``grad_s W = D_s A_s^T`` (``A``: N x n layer inputs, ``D``:
        N x m loss gradients at the layer's outputs), for layers applied once per sample (2-D inputs).
        One forward and one backward pass; ``None`` when the layer sees more than one row per sample."""
        import torch

        X, y = batch
        mod, got = self.modules[layer], {}

        def hook(module, args, out):
            got["a"] = args[0].detach()
            got["out"] = out.detach().requires_grad_(True)
            return got["out"]

        handle = mod.register_forward_hook(hook)
        try:
            with self.weights_applied(weights) as model, torch_threads(), torch.enable_grad():
                out = model(X)
                if got["a"].ndim != 2 or got["a"].shape[0] != X.shape[0]:
                    return None
                self._loss(out, y, reduction="sum").backward(inputs=[got["out"]])
        finally:
            handle.remove()
        A = got["a"].to(torch.float64).numpy()
        D = got["out"].grad.to(torch.float64).numpy()
        return A, D

    @contextlib.contextmanager
    def _batch_loss(self, layer: str, weights: dict, batch):
        """``(loss, w)``: the mean batch loss at ``weights`` with ``layer``'s weight ``w`` requiring grad."""
        import torch

        X, y = batch
        with self.weights_applied(weights) as model, torch_threads(), torch.enable_grad():
            w = self.modules[layer].weight
            w.requires_grad_(True)
            try:
                yield self._loss(model(X), y), w
            finally:
                w.requires_grad_(False)

    def loss_grad(self, layer: str, weights: dict, batch) -> np.ndarray:
        """Mean batch loss gradient w.r.t. ``layer``'s weight at ``weights`` (flat, float64): one backward pass."""
        import torch

        with self._batch_loss(layer, weights, batch) as (loss, w):
            (g,) = torch.autograd.grad(loss, w)
        return g.reshape(-1).to(torch.float64).numpy()

    def loss_hessian_block(self, layer: str, weights: dict, batch, block):
        """Mean batch gradient and exact Hessian of the mean loss w.r.t. ``layer``'s weights on the flat
        indices ``block`` (one backward pass per block index): ``(g_B, H_BB)``."""
        import torch

        with self._batch_loss(layer, weights, batch) as (loss, w):
            (g,) = torch.autograd.grad(loss, w, create_graph=True)
            g = g.reshape(-1)
            rows = [torch.autograd.grad(g[int(t)], w, retain_graph=True)[0].reshape(-1)[block] for t in block]
        H = torch.stack(rows).to(torch.float64).numpy()
        return g.detach()[block].to(torch.float64).numpy(), (H + H.T) / 2.0

    def _param_name(self, layer):
        return f"{layer}.weight" if layer else "weight"

    # ------------------------------------------------------------------ loop oracles
    def objective(self, x) -> float:
        """Training loss of the masked model (mask-only) on the calibration rows."""
        masks = self.split(x)
        w = {k: self.w0[k] * masks[k] for k in self.layers}
        import torch

        with self.weights_applied(w) as model, torch.no_grad(), torch_threads():
            return float(self._loss(model(self.inputs[: self.calibration]), self.targets[: self.calibration]))

    def optimality(self, x) -> float:
        masks, grams = self.split(x), self.dense_grams()
        total = 0.0
        for k in self.layers:
            G = grams[k]
            dense = float(np.sum((self.w0[k] @ G) * self.w0[k]))
            total += swap_gap(self.w0[k], masks[k], G) / max(dense, 1e-300)
        return total


def _pair(data, name, model):
    import torch

    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (inputs, targets)")
    dtype = next(model.parameters()).dtype
    X = torch.as_tensor(np.array(data[0], copy=True) if not isinstance(data[0], torch.Tensor) else data[0].clone())
    y = torch.as_tensor(np.array(data[1], copy=True) if not isinstance(data[1], torch.Tensor) else data[1].clone())
    if X.is_floating_point():
        if not torch.isfinite(X).all():
            raise ValueError(f"{name} inputs contain NaN or infinite entries")
        X = X.to(dtype)
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"{name}: inputs and targets must have the same positive number of rows")
    return X, y


# ----------------------------------------------------------------------------- the digits MLP
@functools.lru_cache(maxsize=4)
def _trained_digits(seed: int, epochs: int):
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    with torch.random.fork_rng(devices=[]), torch_threads():
        torch.manual_seed(seed)
        model = digits_relu_mlp()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        Xt, yt = torch.from_numpy(Xtr), torch.from_numpy(ytr.astype(np.int64))
        for _ in range(epochs):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt), yt).backward()
            opt.step()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return state, (Xtr, ytr.astype(np.int64)), (Xte, yte.astype(np.int64))


def digits_relu_mlp():
    """MLP 64-128-64-10 with ReLU (layers ``fc1``, ``fc2``, ``fc3``)."""
    from collections import OrderedDict

    from torch import nn

    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(64, 128), act1=nn.ReLU(), fc2=nn.Linear(128, 64), act2=nn.ReLU(), fc3=nn.Linear(64, 10)
        )
    )


def digits_pruning(seed: int = 0, density: float = 0.5, epochs: int = 300) -> NetworkPruning:
    """The digits MLP of the iterative-CBS CPU reproduction, trained and ready to prune.

    scikit-learn's digits (1797 8x8 images, pixels / 16, float32), stratified 75/25 split with
    ``random_state=seed``; MLP 64-128-64-10 ReLU, torch default init under ``manual_seed(seed)``,
    full-batch Adam (lr 1e-2, ``epochs`` epochs, one thread). Calibration: the first 512 training rows;
    pruning batches: the training rows in order, 200 per step; all three Linear layers pruned."""
    seed = as_int(seed, "seed", low=0)
    state, train, test = _trained_digits(seed, as_int(epochs, "epochs", low=1))
    model = digits_relu_mlp()
    model.load_state_dict(state)
    return NetworkPruning(
        model,
        None,
        "cross_entropy",
        train,
        test=test,
        density=density,
        calibration=512,
        batch_size=200,
        name=f"digits-mlp-relu(seed={seed})",
    )
