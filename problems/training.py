"""Training problems for torch optimizers: a model factory, data, a loss and a metric.

``TrainingProblem`` is what ``optim.nn.Train`` (and so ``optim.solve(p, method="lion")``) trains.
Minibatches are drawn from seeded epoch permutations, so two runs with the same seed see the same
batches; work is counted in minibatch gradient evaluations (``counts["grad"]``). The stopping error
(``optimality``) is the norm of the gradient of the training loss over the evaluation items of the
training split (all of them unless ``eval_size`` is set): zero exactly at a stationary point and known
to the solver. ``value`` is that training loss; the held-out loss and metric are reporting columns
(``report``), never a stopping rule. ``recommended`` maps a registered method name to the
hyper-parameters it should use on this problem (``optim.nn.Train`` applies them under the caller's
options).

Built-in problems (real data, no download):

* ``digits_mlp``: scikit-learn's digits (1797 8x8 images, pixels / 16), fixed permutation
  (``default_rng(0)``), first 1500 train / 297 test, MLP 64-128-64-10 with tanh, cross-entropy.
* ``char_gpt``: next-character prediction on the Python standard library's own sources (the
  sorted ``[a-m]*.py`` files of the interpreter's stdlib folder, first 1 MB, 96 symbols, 90/10
  split) with a tiny GPT (2 layers, d = 128, 4 heads,
  context 64, MLP 4x, LayerNorm, no biases in matrices; 0.43 M parameters).

torch is imported only when a problem is built, so ``import problems`` stays light.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import cast

import numpy as np

from problems.base import Capability, Problem, counted
from problems.validation import as_choice, as_generator, as_int

#: what ``optim.nn.Train`` needs from a problem
Trainable = Capability(
    "TrainingProblem",
    ("model", "batches", "batch_loss", "evaluate"),
    "a model factory, minibatches, a loss and a metric",
)

LOSSES = ("cross_entropy", "mse")
METRICS = ("accuracy", None)
DTYPES = ("float32", "float64")


class TensorData:
    """Rows of ``inputs`` with their ``targets`` (any leading-dimension-aligned arrays/tensors)."""

    def __init__(self, inputs, targets, name: str = "data"):

        self.inputs, self.targets = _private_tensor(inputs, name), _private_tensor(targets, name)
        if self.inputs.shape[0] != self.targets.shape[0] or self.inputs.shape[0] == 0:
            raise ValueError(
                f"{name}: inputs and targets must have the same positive number of rows, got "
                f"{self.inputs.shape[0]} and {self.targets.shape[0]}"
            )
        self.n = int(self.inputs.shape[0])

    def batch(self, idx):
        import torch

        idx = torch.as_tensor(idx)
        return self.inputs[idx], self.targets[idx]

    def to(self, dtype):
        if self.inputs.is_floating_point():
            self.inputs = self.inputs.to(dtype)
        if self.targets.is_floating_point():
            self.targets = self.targets.to(dtype)
        return self


def _private_tensor(value, name):
    """A tensor copy of ``value`` (so later changes to the caller's array do not reach the problem)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    arr = np.array(value, copy=True)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return torch.from_numpy(arr)


class TokenStream:
    """A token sequence cut into windows: item i is (tokens[i : i+context], tokens[i+1 : i+context+1])."""

    def __init__(self, tokens, context: int, name: str = "tokens"):
        import torch

        self.context = as_int(context, "context", low=1)
        self.tokens = torch.from_numpy(np.array(tokens, dtype=np.int64, copy=True))
        if self.tokens.ndim != 1 or self.tokens.numel() <= self.context + 1:
            raise ValueError(f"{name} must be a 1-D sequence longer than context + 1 = {self.context + 1}")
        self.n = int(self.tokens.numel()) - self.context
        self._offsets = torch.arange(self.context + 1)

    def batch(self, idx):
        import torch

        windows = self.tokens[torch.as_tensor(idx).unsqueeze(1) + self._offsets]
        return windows[:, :-1], windows[:, 1:]

    def to(self, dtype):
        return self


class TrainingProblem(Problem):
    """A supervised training task for torch optimizers.

    Parameters
    ----------
    model_factory : callable () -> torch.nn.Module; called under ``torch.manual_seed(seed)`` by ``model(seed)``
    train, test : ``TensorData``, ``TokenStream`` or a pair ``(inputs, targets)``
    loss : "cross_entropy" (logits of any shape ``(..., classes)``) or "mse"
    metric : "accuracy" or None
    batch_size : minibatch size
    eval_size : at most this many test (and train) items enter ``evaluate`` (evenly spaced, fixed)
    dtype : "float32" or "float64" (model and float data)
    recommended : ``{method: {option: value}}``, hyper-parameters a registered method uses on this
        problem unless the caller overrides them
    """

    work_unit = "grad"

    def __init__(
        self,
        model_factory,
        train,
        test,
        *,
        loss="cross_entropy",
        metric="accuracy",
        batch_size=64,
        eval_size=None,
        dtype="float32",
        name="training",
        recommended=None,
    ):
        super().__init__()
        import torch

        if not callable(model_factory):
            raise TypeError(f"model_factory must be callable, got {type(model_factory).__name__}")
        self.model_factory = model_factory
        self.dtype = getattr(torch, as_choice(dtype, "dtype", DTYPES))
        self.train_data = _as_data(train, "train").to(self.dtype)
        self.test_data = _as_data(test, "test").to(self.dtype)
        self.loss_name = as_choice(loss, "loss", LOSSES)
        self.metric_name = as_choice(metric, "metric", METRICS)
        self.batch_size = as_int(batch_size, "batch_size", low=1)
        self.eval_size = None if eval_size is None else as_int(eval_size, "eval_size", low=1)
        self.name = name
        self.recommended = _check_recommended(recommended)
        self._dim = None

    # ------------------------------------------------------------------ models and data
    def model(self, seed: int = 0):
        """A fresh model built under ``torch.manual_seed(seed)`` (the global RNG is restored)."""
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(as_int(seed, "seed", low=0))
            model = self.model_factory()
        return model.to(self.dtype)

    def batches(self, seed):
        """Endless minibatches from epoch permutations of the training items, drawn from ``seed``."""

        rng = as_generator(seed)
        n, b = self.train_data.n, min(self.batch_size, self.train_data.n)
        while True:
            order = rng.permutation(n)
            for start in range(0, n - b + 1, b):
                yield self.train_data.batch(order[start : start + b])

    @counted("grad")
    def batch_loss(self, model, batch):
        """Loss of ``model`` on ``batch`` (a graph-carrying scalar tensor; one counted gradient)."""
        inputs, targets = batch
        return self.loss(model(inputs), targets)

    def loss(self, output, target):
        import torch.nn.functional as F

        if self.loss_name == "mse":
            return F.mse_loss(output, target)
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))

    def metric(self, output, target) -> float:
        return float((output.argmax(-1) == target).to(float).mean()) if self.metric_name else math.nan

    def gradient_norm(self, model) -> float:
        """``||grad f_train||_2`` of the mean training loss over the training evaluation items
        (model in eval mode; one backward per chunk of 512 items, gradients written to a private copy)."""
        import torch

        data = self.train_data
        idx = _eval_indices(data.n, self.eval_size)
        params = [p for p in model.parameters() if p.requires_grad]
        total = [torch.zeros_like(p) for p in params]
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad():
                for chunk in np.array_split(idx, max(1, math.ceil(len(idx) / 512))):
                    inputs, targets = data.batch(chunk)
                    loss = self.loss(model(inputs), targets) * (len(chunk) / len(idx))
                    grads = torch.autograd.grad(loss, params, allow_unused=True)
                    for t, g in zip(total, grads, strict=True):
                        if g is not None:
                            t.add_(g)
        finally:
            model.train(was_training)
        # a tensor: the model has at least one parameter, so the sum is not the int start 0
        return float(torch.sqrt(cast(torch.Tensor, sum((t.double() ** 2).sum() for t in total))))

    def evaluate(self, model, split: str = "test") -> dict:
        """``{"loss", "metric"}`` of ``model`` on the fixed evaluation items of ``split``."""
        import torch

        data = {"test": self.test_data, "train": self.train_data}[as_choice(split, "split", ("test", "train"))]
        idx = _eval_indices(data.n, self.eval_size)
        was_training = model.training
        model.eval()
        total_loss, total_metric, count = 0.0, 0.0, 0
        try:
            with torch.no_grad():
                for chunk in np.array_split(idx, max(1, math.ceil(len(idx) / 512))):
                    inputs, targets = data.batch(chunk)
                    out = model(inputs)
                    total_loss += float(self.loss(out, targets)) * len(chunk)
                    total_metric += self.metric(out, targets) * len(chunk)
                    count += len(chunk)
        finally:
            model.train(was_training)
        return {"loss": total_loss / count, "metric": total_metric / count}

    # ------------------------------------------------------------------ Problem oracles on flat vectors
    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.initial_point().size)
        return self._dim

    def initial_point(self):
        return flat_parameters(self.model(0))

    def _model_at(self, x):
        model = self.model(0)
        load_flat_parameters(model, x)
        return model

    def value(self, x) -> float:
        """Training loss (on the evaluation items) at the flat parameter vector ``x``."""
        return self.evaluate(self._model_at(x), "train")["loss"]

    def objective(self, x) -> float:
        return self.value(x)

    def optimality(self, x) -> float:
        """Stopping error: norm of the training-loss gradient at the flat parameter vector ``x``."""
        return self.gradient_norm(self._model_at(x))

    def report(self, x) -> dict:
        """Reporting columns at ``x``: held-out loss and (if the problem has one) the held-out metric."""
        return report_columns(self, self.evaluate(self._model_at(x), "test"))


def report_columns(problem, test: dict) -> dict:
    out = {"test_loss": test["loss"]}
    if problem.metric_name:
        out[f"test_{problem.metric_name}"] = test["metric"]
    return out


def _check_recommended(recommended) -> dict:
    if recommended is None:
        return {}
    if not isinstance(recommended, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in recommended.items()
    ):
        raise TypeError("recommended must be a dict {method name: {option: value}}")
    return {k: dict(v) for k, v in recommended.items()}


def flat_parameters(model) -> np.ndarray:
    """All parameters of ``model`` as one float64 numpy vector (a copy)."""
    import torch

    with torch.no_grad():
        return torch.nn.utils.parameters_to_vector(model.parameters()).to(torch.float64).numpy().copy()


def load_flat_parameters(model, x, name: str = "x") -> None:
    """Copy the flat vector ``x`` (named ``name`` in errors) into the model's parameters."""
    import torch

    p0 = next(model.parameters())
    vec = torch.as_tensor(np.asarray(x, dtype=np.float64)).to(p0.dtype)
    n = sum(p.numel() for p in model.parameters())
    if vec.ndim != 1 or vec.numel() != n:
        raise ValueError(f"{name} must be a flat vector of the model's {n} parameters, got shape {tuple(vec.shape)}")
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(vec, model.parameters())


def _as_data(data, name):
    if isinstance(data, (TensorData, TokenStream)):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return TensorData(*data, name=name)
    raise TypeError(f"{name} must be TensorData, TokenStream or a pair (inputs, targets), got {type(data).__name__}")


def _eval_indices(n: int, size: int | None) -> np.ndarray:
    if size is None or size >= n:
        return np.arange(n)
    return np.linspace(0, n - 1, size).round().astype(np.int64)


# ----------------------------------------------------------------------------- built-in problems
#: hyper-parameters per registered method on ``char_gpt``: the tiny-GPT base values (batch 16, warm-up
#: and cosine), Lion at ~AdamW's lr / 10 with 10x the decay (Chen et al. 2023)
CHAR_GPT_RECOMMENDED = {
    "lion": {"lr": 3e-4, "weight_decay": 1.0},
    "lion-k": {"lr": 0.2, "weight_decay": 0.1, "K": "l2"},
    "auon": {"lr": 0.08},
    "hybrid-auon": {"lr": 0.08},
    "adamw": {"lr": 3e-3, "betas": (0.9, 0.95), "weight_decay": 0.1},
    "sgd": {"lr": 0.1, "momentum": 0.9},
    "muon": {"lr": 0.02, "weight_decay": 0.1},
}
CHAR_GPT_RECOMMENDED.update(
    {
        "mkor": {"backbone": "adamw", "lr": 3e-3, "betas": (0.9, 0.95), "weight_decay": 0.1},
        "mkor-h": {"backbone": "adamw", "lr": 3e-3, "betas": (0.9, 0.95), "weight_decay": 0.1},
        "kfac": {"backbone": "adamw", "lr": 3e-3, "betas": (0.9, 0.95), "weight_decay": 0.1},
    }
)


VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))


@functools.lru_cache(maxsize=2)
def stdlib_corpus(n_bytes: int = 1_000_000) -> str:
    """The first ``n_bytes`` characters of the sorted ``[a-m]*.py`` files of the stdlib, in ``VOCAB``."""
    folder = Path(os.__file__).parent
    files = sorted(f for f in folder.glob("*.py") if f.name[0] in "abcdefghijklm")
    allowed = set(VOCAB)
    parts, size = [], 0
    for f in files:
        text = "".join(ch for ch in f.read_text(encoding="utf-8", errors="ignore") if ch in allowed)
        parts.append(text)
        size += len(text)
        if size >= n_bytes:
            break
    return "".join(parts)[:n_bytes]


def char_gpt(
    layers: int = 2,
    d_model: int = 128,
    heads: int = 4,
    context: int = 64,
    batch_size: int = 16,
    corpus_bytes: int = 1_000_000,
    eval_size: int = 320,
    dtype: str = "float32",
) -> TrainingProblem:
    """Tiny character-level GPT (2 x 128, 4 heads, context 64; 0.43 M params) on the stdlib's sources."""
    layers, heads = as_int(layers, "layers", low=1), as_int(heads, "heads", low=1)
    d_model = as_int(d_model, "d_model", low=1)
    if d_model % heads:
        raise ValueError(f"d_model ({d_model}) must be a multiple of heads ({heads})")
    text = stdlib_corpus(as_int(corpus_bytes, "corpus_bytes", low=10 * (context + 2)))
    lut = np.zeros(128, dtype=np.int64)
    lut[[ord(c) for c in VOCAB]] = np.arange(len(VOCAB))
    tokens = lut[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    split = int(0.9 * len(tokens))

    def factory():
        from problems.training_models import CharGPT

        return CharGPT(len(VOCAB), context=context, d_model=d_model, heads=heads, layers=layers)

    return TrainingProblem(
        factory,
        TokenStream(tokens[:split], context, "train"),
        TokenStream(tokens[split:], context, "test"),
        batch_size=batch_size,
        eval_size=eval_size,
        dtype=dtype,
        name="char-gpt",
        recommended=CHAR_GPT_RECOMMENDED,
    )


# the digits problems (MLP, CNN, autoencoder) live in their own module; re-exported here
from problems.training_digits import (  # noqa: E402, F401
    DIGITS_RECOMMENDED,
    digits_autoencoder,
    digits_cnn,
    digits_mlp,
)
