"""The multi-block bilevel capability and the base class its problems share.

A multi-block bilevel problem (Hu, Qiu, Guo, Zhang and Yang, ICML 2023) is

    min_x F(x) = (1/m) sum_i f_i(x, y_i*(x)),   y_i*(x) = argmin_y g_i(x, y),   i = 1..m,

with every g_i(x, .) mu_g-strongly convex. Each block i owns two finite data sets: ``n_lower``
samples for g_i and ``n_upper`` samples for f_i; a minibatch is an integer array of sample indices.

Oracles take the sampled blocks together, one vectorised call per iteration::

    oracle(blocks, x, Y, batch)        blocks: (I,) ints, x: (dim_x,), Y: (I, dim_y), batch: (I, B) ints or None

``batch=None`` means the block's whole data set. Outputs stack the blocks on axis 0:
``grad_y_g`` / ``grad_y_f`` / ``hvp_yy_g(blocks, x, Y, V, batch)`` are (I, dim_y), ``grad_x_f`` and
``jvp_xy_g(blocks, x, Y, V, batch)`` = grad^2_xy g_i V_i are (I, dim_x), ``hess_yy_g`` is
(I, dim_y, dim_y) and ``f``, ``g`` are (I,). Every oracle charges I x B samples to
``counts["samples"]`` (the work unit) and I block calls to ``counts[<oracle>]``.

Exact quantities (where a problem has them): ``y_star(x)`` (m, dim_y), ``F(x)``, ``hypergrad(x)``,
``x_star()``. ``upper_value(x, Y)`` = (1/m) sum_i f_i(x, y_i) on full upper data is always there.
"""

from __future__ import annotations

import numpy as np

from ..base import Capability, Problem
from ..validation import as_int

MultiBlockBilevel = Capability(
    "MultiBlockBilevel",
    (
        "m",
        "dim_x",
        "dim_y",
        "n_lower",
        "n_upper",
        "mu_g",
        "L_g",
        "sample_lower",
        "sample_upper",
        "grad_x_f",
        "grad_y_f",
        "grad_y_g",
        "hvp_yy_g",
        "jvp_xy_g",
        "hess_yy_g",
        "upper_value",
    ),
    "m lower-level problems coupled through a shared upper variable, with blockwise minibatch oracles",
)

#: the exact-reference oracles a problem may add
ExactHypergradient = Capability("ExactHypergradient", ("F", "hypergrad", "y_star"), "exact F and grad F")


class BilevelProblem(Problem):
    """Base class: block/batch validation, sampling, counting and the per-block wrappers.

    Subclasses set ``m, dim_x, dim_y, n_lower, n_upper, mu_g, L_g`` and implement the private
    kernels ``_f, _g, _grad_x_f, _grad_y_f, _grad_y_g, _hvp, _jvp, _hess`` on validated input.
    """

    work_unit = "samples"
    m: int
    dim_x: int
    dim_y: int
    n_lower: int
    n_upper: int
    mu_g: float
    L_g: float
    #: True when every block draws from one shared data set (sample j is the same row for all blocks)
    shared_samples = False

    # ------------------------------------------------------------------ validation and sampling
    def check_blocks(self, blocks) -> np.ndarray:
        """``blocks`` as an int array of block indices in [0, m) (``ValueError`` naming it otherwise)."""
        arr = np.asarray(blocks)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"blocks must be a 1-D array of integers, got {arr.dtype} with shape {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.m):
            raise ValueError(f"blocks must lie in [0, {self.m}), got values in [{arr.min()}, {arr.max()}]")
        return arr

    def _check_batch(self, batch, n_blocks: int, size: int, kind: str):
        if batch is None:
            return None
        arr = np.asarray(batch)
        if arr.ndim != 2 or arr.shape[0] != n_blocks or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"batch must be an integer array of shape ({n_blocks}, B), got shape {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= size):
            raise ValueError(f"batch indices must lie in [0, {size}) for the {kind} data, got max {arr.max()}")
        return arr

    def _sample(self, blocks, batch_size, rng, size: int, kind: str) -> np.ndarray | None:
        blocks = self.check_blocks(blocks)
        if batch_size is None:
            return None
        b = as_int(batch_size, "batch_size", low=1)
        if b > size:
            raise ValueError(f"batch_size must be <= {size} (the {kind} samples of a block), got {b}")
        if b == size:
            return np.broadcast_to(np.arange(size), (blocks.size, size)).copy()
        return np.argpartition(rng.random((blocks.size, size)), b - 1, axis=1)[:, :b]

    def sample_lower(self, blocks, batch_size: int | None, rng: np.random.Generator) -> np.ndarray | None:
        """Per block, batch_size distinct uniform sample indices for g, shape (I, batch_size); None = full."""
        return self._sample(blocks, batch_size, rng, self.n_lower, "lower")

    def sample_upper(self, blocks, batch_size: int | None, rng: np.random.Generator) -> np.ndarray | None:
        """Per block, batch_size distinct uniform sample indices for f, shape (I, batch_size); None = full."""
        return self._sample(blocks, batch_size, rng, self.n_upper, "upper")

    def _charge(self, oracle: str, blocks, batch, full: int) -> None:
        n = len(blocks)
        self.counts.add(oracle, n)
        self.counts.add("samples", n * (full if batch is None else batch.shape[1]))

    def _prep(self, oracle, blocks, Y, batch, kind, V=None):
        blocks = self.check_blocks(blocks)
        size = self.n_lower if kind == "lower" else self.n_upper
        batch = self._check_batch(batch, blocks.size, size, kind)
        Y = np.asarray(Y, dtype=float)
        if Y.shape != (blocks.size, self.dim_y):
            raise ValueError(f"Y must have shape ({blocks.size}, {self.dim_y}), got {Y.shape}")
        if V is not None:
            V = np.asarray(V, dtype=float)
            if V.shape != Y.shape:
                raise ValueError(f"V must have shape {Y.shape}, got {V.shape}")
        self._charge(oracle, blocks, batch, size)
        return blocks, batch, Y, V

    # ------------------------------------------------------------------ kernels subclasses implement
    def _f(self, blocks, x, Y, batch) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _g(self, blocks, x, Y, batch) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _grad_x_f(self, blocks, x, Y, batch) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _grad_y_f(self, blocks, x, Y, batch) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _grad_y_g(self, blocks, x, Y, batch) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _hvp(self, blocks, x, Y, V, batch) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _jvp(self, blocks, x, Y, V, batch) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _hess(self, blocks, x, Y, batch) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _hess_pair(self, blocks, x, Y, xp, Yp, batch, a, b) -> np.ndarray:
        """a grad^2_yy g(x, Y) + b grad^2_yy g(xp, Yp) on one batch; problems may fuse the two."""
        return a * self._hess(blocks, x, Y, batch) + b * self._hess(blocks, xp, Yp, batch)

    # ------------------------------------------------------------------ the public oracles
    def f(self, blocks, x, Y, batch=None) -> np.ndarray:
        """f_i(x, y_i; batch) for each sampled block, shape (I,)."""
        b, bt, Y, _ = self._prep("f", blocks, Y, batch, "upper")
        return self._f(b, x, Y, bt)

    def g(self, blocks, x, Y, batch=None) -> np.ndarray:
        """g_i(x, y_i; batch), shape (I,)."""
        b, bt, Y, _ = self._prep("g", blocks, Y, batch, "lower")
        return self._g(b, x, Y, bt)

    def grad_x_f(self, blocks, x, Y, batch=None) -> np.ndarray:
        """grad_x f_i(x, y_i; batch), shape (I, dim_x)."""
        b, bt, Y, _ = self._prep("grad_x_f", blocks, Y, batch, "upper")
        return self._grad_x_f(b, x, Y, bt)

    def grad_y_f(self, blocks, x, Y, batch=None) -> np.ndarray:
        """grad_y f_i(x, y_i; batch), shape (I, dim_y)."""
        b, bt, Y, _ = self._prep("grad_y_f", blocks, Y, batch, "upper")
        return self._grad_y_f(b, x, Y, bt)

    def grad_y_g(self, blocks, x, Y, batch=None) -> np.ndarray:
        """grad_y g_i(x, y_i; batch), shape (I, dim_y)."""
        b, bt, Y, _ = self._prep("grad_y_g", blocks, Y, batch, "lower")
        return self._grad_y_g(b, x, Y, bt)

    def hvp_yy_g(self, blocks, x, Y, V, batch=None) -> np.ndarray:
        """grad^2_yy g_i(x, y_i; batch) v_i, shape (I, dim_y)."""
        b, bt, Y, V = self._prep("hvp_yy_g", blocks, Y, batch, "lower", V)
        return self._hvp(b, x, Y, V, bt)

    def jvp_xy_g(self, blocks, x, Y, V, batch=None) -> np.ndarray:
        """grad^2_xy g_i(x, y_i; batch) v_i (the cross term applied to a lower vector), shape (I, dim_x)."""
        b, bt, Y, V = self._prep("jvp_xy_g", blocks, Y, batch, "lower", V)
        return self._jvp(b, x, Y, V, bt)

    def hess_yy_g(self, blocks, x, Y, batch=None) -> np.ndarray:
        """Dense grad^2_yy g_i(x, y_i; batch), shape (I, dim_y, dim_y) (for small dim_y)."""
        b, bt, Y, _ = self._prep("hess_yy_g", blocks, Y, batch, "lower")
        return self._hess(b, x, Y, bt)

    def hess_yy_g_pair(self, blocks, x, Y, xp, Yp, a: float, b: float, batch=None) -> np.ndarray:
        """a grad^2_yy g_i(x, y_i; batch) + b grad^2_yy g_i(xp, yp_i; batch), shape (I, dim_y, dim_y): the
        combination a variance-reduced Hessian estimator needs, charged as two ``hess_yy_g`` calls."""
        b_, bt, Y, _ = self._prep("hess_yy_g", blocks, Y, batch, "lower")
        _, _, Yp, _ = self._prep("hess_yy_g", blocks, Yp, batch, "lower")
        return self._hess_pair(b_, x, Y, xp, Yp, bt, float(a), float(b))

    def cross_xy_g(self, blocks, x, Y, batch=None) -> np.ndarray:
        """Dense grad^2_xy g_i, shape (I, dim_x, dim_y), from dim_y cross products (charged as such)."""
        b, bt, Y, _ = self._prep("cross_xy_g", blocks, Y, batch, "lower")
        eye = np.eye(self.dim_y)
        n = b.size
        rep = lambda a: None if a is None else np.repeat(a, self.dim_y, axis=0)  # noqa: E731
        cols = self._jvp(np.repeat(b, self.dim_y), x, np.repeat(Y, self.dim_y, axis=0), np.tile(eye, (n, 1)), rep(bt))
        return cols.reshape(n, self.dim_y, self.dim_x).transpose(0, 2, 1)

    # ------------------------------------------------------------------ whole-problem quantities
    def upper_value(self, x, Y) -> float:
        """(1/m) sum_i f_i(x, y_i) on the full upper data (the validation objective at the iterates Y)."""
        with self.counts.paused():
            return float(np.mean(self.f(np.arange(self.m), x, Y, None)))

    @property
    def dim(self) -> int:
        """Dimension of the upper variable x."""
        return self.dim_x

    def initial_point(self) -> np.ndarray:
        return np.zeros(self.dim_x)

    def initial_lower(self) -> np.ndarray:
        """Default lower iterates y_i = 0, shape (m, dim_y)."""
        return np.zeros((self.m, self.dim_y))

    @property
    def has_exact(self) -> bool:
        return ExactHypergradient.satisfied_by(self)

    def optimality(self, x) -> float:
        """||grad F(x)|| from the exact hypergradient."""
        if not self.has_exact:
            raise TypeError(f"{type(self).__name__} has no exact hypergradient; solvers report the upper value")
        return float(np.linalg.norm(getattr(self, "hypergrad")(x)))  # noqa: B009

    def __repr__(self) -> str:
        return f"{type(self).__name__}(m={self.m}, dim_x={self.dim_x}, dim_y={self.dim_y})"
