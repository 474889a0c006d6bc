"""Real data sets: scikit-learn's bundled ones and the LIBSVM files shipped in ``problems/data``.

``load_dataset(name)`` returns ``(A, y)``; the ``*_problem`` builders below turn them into the
problems the foundation's tests, comparisons and CLI use. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .libsvm import load_libsvm
from .linear_models import LeastSquares, Logistic, MultinomialLogistic
from .validation import as_choice, as_real

DATA_DIR = Path(__file__).resolve().parent / "data"

DATASETS = ("diabetes", "breast_cancer", "digits", "a8a", "a8a_test")


def data_path(*parts: str) -> Path:
    """Path of a file bundled under ``problems/data``."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"no bundled data file {'/'.join(parts)!r} under problems/data")
    return path


def standardize(A):
    """Columns scaled to unit variance, and centred when dense (sparse data stay sparse).

    Constant columns are left at zero rather than divided by zero.
    """
    if sp.issparse(A):
        A = sp.csr_matrix(A, dtype=float)
        sq_mean = np.asarray(A.multiply(A).mean(axis=0)).ravel()
        mean = np.asarray(A.mean(axis=0)).ravel()
        std = np.sqrt(np.maximum(sq_mean - mean**2, 0.0))
        return A @ sp.diags(np.where(std > 0, 1.0 / np.where(std > 0, std, 1.0), 0.0))
    A = np.asarray(A, dtype=float)
    std = A.std(axis=0)
    return (A - A.mean(axis=0)) / np.where(std > 0, std, 1.0)


def load_dataset(name: str, standardized: bool = True):
    """``(A, y)`` for one of ``DATASETS``; dense features standardized unless told otherwise."""
    name = as_choice(name, "name", DATASETS)
    if name.startswith("a8a"):
        file = "a8a_training.txt" if name == "a8a" else "a8a_testing.txt"
        return load_libsvm(data_path("a8a", file), n_features=123)
    import sklearn.datasets as skd

    loader = {"diabetes": skd.load_diabetes, "breast_cancer": skd.load_breast_cancer, "digits": skd.load_digits}[name]
    A, y = loader(return_X_y=True)
    A = standardize(A) if standardized else np.asarray(A, dtype=float)
    return A, np.asarray(y, dtype=float)


def _l1_from_fraction(problem, l1_fraction: float) -> None:
    """Set ``problem.l1 = l1_fraction * l1_max`` (l1_max: the smallest l1 that zeroes the solution)."""
    problem.l1 = as_real(l1_fraction, "l1_fraction", low=0.0) * problem.l1_max()


def lasso_diabetes(l1_fraction: float = 0.1, scale: str = "mean") -> LeastSquares:
    """Lasso on scikit-learn's diabetes data (standardized, centred target), l1 = fraction x l1_max."""
    A, b = load_dataset("diabetes")
    problem = LeastSquares(A, b - b.mean(), scale=scale, name=f"lasso-diabetes({l1_fraction:g})")
    _l1_from_fraction(problem, l1_fraction)
    return problem


def logistic_breast_cancer(l1_fraction: float = 0.1, l2: float = 0.0, scale: str = "mean") -> Logistic:
    """L1 logistic regression on the breast-cancer data (standardized), l1 = fraction x l1_max."""
    A, y = load_dataset("breast_cancer")
    problem = Logistic(A, y, l2=l2, scale=scale, name=f"logreg-breast-cancer({l1_fraction:g})")
    _l1_from_fraction(problem, l1_fraction)
    return problem


def multinomial_digits(l2: float = 1e-2, l1: float = 0.0, scale: str = "mean") -> MultinomialLogistic:
    """Softmax regression on the 8x8 digits (standardized), 64 x 10 weights."""
    A, y = load_dataset("digits")
    return MultinomialLogistic(A, y, l1=l1, l2=l2, scale=scale, name="multinomial-digits")


def logistic_a8a(l2: float = 1e-3, scale: str = "mean") -> Logistic:
    """L2-regularized logistic regression on LIBSVM a8a (22,696 x 123, sparse, no bias)."""
    A, y = load_dataset("a8a")
    return Logistic(A, y, l2=l2, scale=scale, name="logreg-a8a")
