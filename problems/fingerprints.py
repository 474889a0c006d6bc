"""Fingerprints: short digests that identify data (arrays, sparse matrices, numbers, strings), used to
tie a cost table to the sequence of linear systems it was computed from."""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp


def digest(*parts) -> str:
    """A hex digest of numbers, strings and arrays (arrays by dtype, shape and bytes)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray) or sp.issparse(part):
            if sp.issparse(part):
                part = sp.csr_matrix(part, copy=True)  # canonical form, the caller's matrix untouched
                part.sum_duplicates()
                part.eliminate_zeros()
                arrays = [np.asarray(part.shape), part.indptr, part.indices, part.data]
            else:
                arrays = [np.asarray(part.shape), part]
            for a in arrays:
                a = np.ascontiguousarray(a)
                h.update(f"{a.dtype.str}{a.shape}".encode())
                h.update(a.tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"|")
    return h.hexdigest()


def sequence_fingerprint(sequence) -> str:
    """A digest identifying a sequence's instances and stopping rule: two sequences with the same
    fingerprint give the same systems, starts, contexts, method, ``rtol`` and ``max_iter``.

    Uses ``sequence.fingerprint()`` when the sequence has one (ours hash their defining data, which
    costs no solves), else hashes every ``(A_t, b_t, x0_t, c_t)`` of one pass over ``instances()``."""
    own = getattr(sequence, "fingerprint", None)
    if callable(own):
        return str(own())
    parts = [getattr(sequence, key, None) for key in ("method", "rtol", "max_iter", "T")]
    for A, b, x0, c in sequence.instances():
        parts.append(digest(A, np.asarray(b, dtype=float), np.asarray(x0, dtype=float), float(c)))
    return digest(type(sequence).__qualname__, *parts)


__all__ = ["digest", "sequence_fingerprint"]
