"""Half-steps on a Dask cluster: the same solvers, for data beyond one machine.

A half-step is embarrassingly parallel over output rows: output ``j`` needs only its observed
entries and the rows of the fixed factor they touch. ``DaskSides`` cuts each side (rows of
``P_Omega(M)`` and its columns) into contiguous partitions of output indices, sends every partition to
the cluster once (``client.scatter``: the entries live on the workers from then on), and per
half-step

1. broadcasts the small fixed factor (n x k floats) to every worker,
2. maps the batched exact or sketched solver over the partitions (``client.submit``, one task per
   partition), and gathers the new factor;

the tall QR of the new factor runs as ``dask.array.linalg.tsqr`` (tall-skinny QR over row chunks) and
the SVD start as ``dask.array.linalg.svd_compressed`` (randomized, with power iterations) on row
blocks of ``P_Omega(M) / p``. With the same start the iterates equal the in-process ones up to
rounding (QR routines may flip column signs, which leaves the fit ``U_hat V^T`` unchanged).

Pointing it at a real cluster: ``from dask.distributed import Client; client =
Client("tcp://scheduler:8786")`` and ``optim.solve(problem, method="altmin", client=client)``; the
workers need this package installed (same version).
"""

from __future__ import annotations

import math

import numpy as np

from .common import clip_incoherent
from .sides import Side, shifted, solve_exact
from .sketch import solve_sketched


def _exact_task(part, F, reg, reg_mask, mu, other_bias):
    return solve_exact(shifted(part, mu, other_bias), F, reg=reg, reg_mask=reg_mask)


def _sketch_task(part, F, seed, opts):
    X, info = solve_sketched(part, F, rng=np.random.default_rng(seed), **opts)
    return X, info


class DaskSides:
    """The two sides of a completion problem, partitioned over a ``dask.distributed`` cluster."""

    def __init__(self, client, sides: dict, partitions: int | None = None):
        self.client = client
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        self.partitions = partitions or 2 * workers
        self.bounds, self.parts = {}, {}
        for which, side in sides.items():
            bounds = self._cut(side, self.partitions)
            pieces = [side.subset(np.arange(lo, hi)) for lo, hi in bounds]
            self.bounds[which] = bounds
            self.parts[which] = client.scatter(pieces, hash=False)

    @staticmethod
    def _cut(side: Side, parts: int):
        """Contiguous output ranges with about equal numbers of entries."""
        targets = np.linspace(0, side.indptr[-1], parts + 1)[1:-1]
        cuts = np.unique(np.concatenate([[0], np.searchsorted(side.indptr, targets), [side.n_out]]))
        return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]

    def solve_exact(self, which, F, *, reg=0.0, reg_mask=None, mu=0.0, other_bias=None):
        client = self.client
        bounds = self.bounds[which]
        n_out = bounds[-1][1]
        reg = np.broadcast_to(np.asarray(reg, dtype=np.float64), (n_out,))
        Ff = client.scatter(np.ascontiguousarray(F), broadcast=True, hash=False)
        bf = None if other_bias is None else client.scatter(other_bias, broadcast=True, hash=False)
        futures = [
            client.submit(_exact_task, part, Ff, np.array(reg[lo:hi]), reg_mask, mu, bf, pure=False)
            for part, (lo, hi) in zip(self.parts[which], bounds, strict=True)
        ]
        results = client.gather(futures)
        X = np.vstack([r[0] for r in results])
        under = np.concatenate([r[1] + lo for r, (lo, _) in zip(results, bounds, strict=True)])
        return X, under

    def solve_sketched(self, which, F, *, seed: int, **opts):
        client = self.client
        bounds = self.bounds[which]
        seeds = np.random.SeedSequence(seed).spawn(len(bounds))
        Ff = client.scatter(np.ascontiguousarray(F), broadcast=True, hash=False)
        futures = [
            client.submit(_sketch_task, part, Ff, s, opts, pure=False)
            for part, s in zip(self.parts[which], seeds, strict=True)
        ]
        results = client.gather(futures)
        X = np.vstack([r[0] for r in results])
        under = np.concatenate([r[1]["under"] + lo for r, (lo, _) in zip(results, bounds, strict=True)])
        inner = max(r[1]["inner"] for r in results)
        return X, {"inner": inner, "under": under, "fallback": sum(r[1]["fallback"] for r in results)}

    def _chunks(self, n: int, k: int) -> int:
        return max(k, math.ceil(n / self.partitions))

    def qr(self, X):
        """Orthonormal basis of the tall ``X`` by ``dask.array.linalg.tsqr``."""
        import dask.array as da

        Xd = da.from_array(np.asarray(X), chunks=(self._chunks(X.shape[0], X.shape[1]), X.shape[1]))
        Q, _ = da.linalg.tsqr(Xd)
        return Q.compute(scheduler=self.client.get)

    def svd_init(self, problem, k, rng, mu=None, clip="entry"):
        """Top-k SVD of ``P_Omega(M)/p`` by ``dask.array.linalg.svd_compressed`` (4 power iterations)."""
        import dask
        import dask.array as da

        csr = problem.csr() * (1.0 / problem.density)
        m, n = problem.shape
        step = self._chunks(m, k)
        blocks = [
            da.from_delayed(dask.delayed(lambda a: a.toarray())(csr[lo : lo + step]), (min(step, m - lo), n), float)
            for lo in range(0, m, step)
        ]
        A = da.concatenate(blocks, axis=0)
        U, s, Vt = da.linalg.svd_compressed(A, k, n_power_iter=4, seed=int(rng.integers(2**31)), compute=False)
        U, s, Vt = dask.compute(U, s, Vt, scheduler=self.client.get)
        if mu is not None:
            U = clip_incoherent(U, mu, k, clip)
        return U, s, Vt.T
