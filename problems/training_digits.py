"""The scikit-learn digits training problems (real data, bundled with scikit-learn, no download).

Data: 1797 8x8 images, pixels / 16, fixed permutation (``default_rng(0)``), first 1500 train / 297 test.

* ``digits_mlp``: MLP 64-128-64-10 with tanh, cross-entropy, batch 64.
* ``digits_cnn``: 1x8x8 input; Conv(1->16, 3, pad 1) ReLU; Conv(16->32, 3, pad 1, stride 2) ReLU;
  Linear(512->10); cross-entropy, batch 64.
* ``digits_autoencoder``: the classic deep-autoencoder benchmark of the KFAC literature in miniature,
  64-256-128-16-128-256-64, tanh on hidden layers, linear code layer and output, MSE, batch 128.

These are the small problems on which Mozaffari et al. (2023)'s MKOR is compared with SGD, Adam and KFAC
in ``docs/second_order.md``.
"""

from __future__ import annotations

import functools

import numpy as np

from problems.training import TrainingProblem
from problems.validation import as_int


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    return X[order] / 16.0, y[order].astype(np.int64)


def digits_mlp(hidden=(128, 64), batch_size: int = 64, dtype: str = "float32") -> TrainingProblem:
    """MLP 64-128-64-10 (tanh) on scikit-learn's digits: 1500 train / 297 test, cross-entropy."""
    hidden = tuple(as_int(h, "hidden", low=1) for h in hidden)
    X, y = _digits()

    def factory():
        from problems.training_models import mlp

        return mlp((64, *hidden, 10))

    return TrainingProblem(
        factory,
        (X[:1500], y[:1500]),
        (X[1500:], y[1500:]),
        batch_size=batch_size,
        dtype=dtype,
        name="digits-mlp",
        recommended=DIGITS_RECOMMENDED,
    )


def digits_cnn(batch_size: int = 64, dtype: str = "float32") -> TrainingProblem:
    """Small CNN (two 3x3 convolutions, 16 and 32 channels, then Linear 512->10) on the digits images."""
    X, y = _digits()
    X = X.reshape(-1, 1, 8, 8)

    def factory():
        from problems.training_models import small_cnn

        return small_cnn()

    return TrainingProblem(
        factory,
        (X[:1500], y[:1500]),
        (X[1500:], y[1500:]),
        batch_size=as_int(batch_size, "batch_size", low=1),
        dtype=dtype,
        name="digits-cnn",
        recommended=CNN_RECOMMENDED,
    )


def digits_autoencoder(batch_size: int = 128, dtype: str = "float32") -> TrainingProblem:
    """Deep autoencoder 64-256-128-16-128-256-64 (tanh, linear code and output) on the digits, MSE."""
    X, _ = _digits()

    def factory():
        from problems.training_models import autoencoder

        return autoencoder()

    return TrainingProblem(
        factory,
        (X[:1500], X[:1500]),
        (X[1500:], X[1500:]),
        loss="mse",
        metric=None,
        batch_size=as_int(batch_size, "batch_size", low=1),
        dtype=dtype,
        name="digits-autoencoder",
        recommended=AUTOENCODER_RECOMMENDED,
    )


#: hyper-parameters per registered method on ``digits_mlp`` (300 steps, cosine): Lion's default lr
#: (3e-4, tuned for the tiny GPT) reaches only ~0.88 test accuracy here; 2e-3 with decay 0.1 reaches
#: 0.98-0.99 over seeds 0-2 (measured with ``optim.solve(digits_mlp(), method="lion", seed=s)``).
DIGITS_RECOMMENDED = {
    "lion": {"lr": 2e-3, "weight_decay": 0.1},
    "lion-k": {"lr": 0.2, "weight_decay": 0.1, "K": "l2"},
    "auon": {"lr": 0.08},
    "hybrid-auon": {"lr": 0.08},
    "adamw": {"lr": 3e-3, "weight_decay": 0.1},
    "sgd": {"lr": 0.1, "momentum": 0.9},
    "muon": {"lr": 0.02},
    "mkor": {"lr": 0.3, "momentum": 0.9},
    "mkor-h": {"lr": 0.3, "momentum": 0.9},
    "kfac": {"lr": 0.3, "momentum": 0.9},
}

#: on the CNN: SGD-momentum and the second-order methods at lr 0.1, Adam-type at 1e-2 / 3e-3
CNN_RECOMMENDED = {
    **DIGITS_RECOMMENDED,
    "sgd": {"lr": 0.1, "momentum": 0.9},
    "mkor": {"lr": 0.1, "momentum": 0.9},
    "mkor-h": {"lr": 0.1, "momentum": 0.9},
    "kfac": {"lr": 0.1, "momentum": 0.9},
}

#: on the autoencoder: SGD-momentum 0.3 (MKOR on it too), KFAC 0.1, AdamW 3e-3
AUTOENCODER_RECOMMENDED = {
    **DIGITS_RECOMMENDED,
    "adamw": {"lr": 3e-3, "weight_decay": 0.0},
    "sgd": {"lr": 0.3, "momentum": 0.9},
    "mkor": {"lr": 0.3, "momentum": 0.9},
    "mkor-h": {"lr": 0.3, "momentum": 0.9},
    "kfac": {"lr": 0.1, "momentum": 0.9},
}
