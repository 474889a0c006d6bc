"""A LIBSVM / svmlight text-format reader with line-numbered errors.

Format: one sample per line, ``label index:value index:value ... [# comment]``, indices strictly
increasing. scikit-learn's ``load_svmlight_file`` reads the same files; ours differs in that a
malformed line raises ``ValueError`` naming its line number and the offending token.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp


def load_libsvm(path, n_features: int | None = None, zero_based="auto"):
    """Read a LIBSVM file into ``(A, y)``: A a CSR float64 matrix, y a float64 label vector.

    ``n_features``: the number of columns (default: the largest index seen); needed when a test
    file never uses the last feature. ``zero_based``: True, False or "auto" (zero-based if any index
    is 0, the same rule as scikit-learn).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    if zero_based not in (True, False, "auto"):
        raise ValueError(f"zero_based must be True, False or 'auto', got {zero_based!r}")
    if n_features is not None and (isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1):
        raise ValueError(f"n_features must be a positive integer or None, got {n_features!r}")
    labels, indptr, indices, data = [], [0], [], []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            body = line.split("#", 1)[0].strip()
            if not body:
                continue
            tokens = body.split()
            labels.append(parse_number(tokens[0], path, lineno, "label"))
            last = -1
            for tok in tokens[1:]:
                if tok.startswith("qid:"):
                    continue
                idx_str, sep, val_str = tok.partition(":")
                if not sep:
                    raise ValueError(f"{path}, line {lineno}: expected 'index:value', got {tok!r}")
                try:
                    idx = int(idx_str)
                except ValueError:
                    raise ValueError(f"{path}, line {lineno}: feature index {idx_str!r} is not an integer") from None
                if idx < 0:
                    raise ValueError(f"{path}, line {lineno}: negative feature index {idx}")
                if idx <= last:
                    raise ValueError(f"{path}, line {lineno}: feature indices must increase, got {idx} after {last}")
                last = idx
                indices.append(idx)
                data.append(parse_number(val_str, path, lineno, f"value of feature {idx}"))
            indptr.append(len(indices))
    if not labels:
        raise ValueError(f"{path}: no samples found")
    cols = np.asarray(indices, dtype=np.int64)
    if zero_based == "auto":
        zero_based = bool(cols.size) and cols.min() == 0
    if not zero_based:
        if cols.size and cols.min() == 0:
            raise ValueError(f"{path}: index 0 found but zero_based=False")
        cols = cols - 1
    width = int(cols.max()) + 1 if cols.size else 0
    if n_features is not None:
        if width > n_features:
            raise ValueError(f"{path}: a feature index needs {width} columns but n_features={n_features}")
        width = n_features
    A = sp.csr_matrix((np.asarray(data, dtype=np.float64), cols, np.asarray(indptr)), shape=(len(labels), width))
    A.sum_duplicates()
    return A, np.asarray(labels, dtype=np.float64)


def parse_number(token: str, path: str | os.PathLike, lineno: int, what: str) -> float:
    """``float(token)``, or ``ValueError`` naming the file, the line and ``what`` the token is when it is
    not a finite number (the check every text loader shares)."""
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"{path}, line {lineno}: {what} {token!r} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"{path}, line {lineno}: {what} is not finite")
    return value
