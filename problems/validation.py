"""Validation helpers shared by every problem and loader.

Each helper raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, bad value),
naming the argument and what was expected, so a user never gets a traceback from deep inside numpy.
Validated arrays are copies (or read-only views) the caller cannot mutate through us, and we never
mutate the caller's arrays.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp


def as_matrix(value, name: str, *, allow_sparse: bool = True, copy: bool = True):
    """Return ``value`` as a 2-D float64 array (or CSR matrix), checked finite."""
    if sp.issparse(value):
        if not allow_sparse:
            raise TypeError(f"{name} must be a dense array, got a scipy.sparse matrix")
        mat = sp.csr_matrix(value, dtype=np.float64, copy=copy)
        if mat.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {mat.shape}")
        if not np.all(np.isfinite(mat.data)):
            raise ValueError(f"{name} contains NaN or infinite entries")
        mat.sum_duplicates()
        return mat
    arr = _as_float_array(value, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {arr.shape}")
    _check_finite(arr, name)
    return np.array(arr, dtype=np.float64, copy=copy)


def as_vector(value, name: str, *, size: int | None = None, copy: bool = True) -> np.ndarray:
    """Return ``value`` as a 1-D float64 array of length ``size`` (if given), checked finite."""
    arr = _as_float_array(value, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise ValueError(f"{name} must have length {size}, got {arr.shape[0]}")
    _check_finite(arr, name)
    return np.array(arr, dtype=np.float64, copy=copy)


def as_nonnegative(value, name: str) -> float:
    """Return ``value`` as a finite float >= 0."""
    return as_real(value, name, low=0.0)


def as_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float inside the given (closed unless ``*_open``) bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (out < low or (low_open and out == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (out > high or (high_open and out == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return out


def as_interval(value, name: str) -> tuple[float, float]:
    """Return ``value`` as a pair of finite floats ``(a, b)`` with ``a < b``."""
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (a, b), got {value!r}") from None
    a, b = as_real(a, name), as_real(b, name)
    if not a < b:
        raise ValueError(f"{name} must be (a, b) with a < b, got {value!r}")
    return a, b


def as_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int inside ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    out = int(value)
    if low is not None and out < low:
        raise ValueError(f"{name} must be >= {low}, got {out}")
    if high is not None and out > high:
        raise ValueError(f"{name} must be <= {high}, got {out}")
    return out


def as_choice(value, name: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise name them (and the closest)."""
    choices = list(choices)
    if value in choices:
        return value
    raise ValueError(f"{name} must be one of {choices}, got {value!r}{suggest(value, choices)}")


def suggest(value, choices) -> str:
    """A ' (did you mean ...?)' hint for a misspelt name, or ''."""
    import difflib

    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_rows(n_rows: int, other, name: str, other_name: str = "A") -> None:
    """Check that ``other`` has ``n_rows`` entries along axis 0."""
    if other.shape[0] != n_rows:
        raise ValueError(f"{name} has {other.shape[0]} entries but {other_name} has {n_rows} rows; they must match")


def _as_float_array(value, name: str) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}")
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")


def as_generator(seed) -> np.random.Generator:
    """``numpy.random.Generator`` from an int, None or a Generator (a Generator is used as it is).

    The seed convention of the whole library: every randomized component takes ``seed``.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be a non-negative int, None or a numpy.random.Generator, got {seed!r}")
