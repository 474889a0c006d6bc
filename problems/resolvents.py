"""Resolvents J_{eta G} = (I + eta G)^{-1} of common maximal monotone operators G.

A resolvent is a callable ``J(x, step) -> array`` (it never modifies ``x``). For the normal cone of a
closed convex set C the resolvent is the Euclidean projection onto C for every step; for G = the
subdifferential of a convex g it is prox_{step g}. ``Product`` applies one resolvent per block of
coordinates (e.g. the two simplices of a matrix game).

* ``Zero``: G = 0, J = identity.
* ``Simplex(radius)``: normal cone of {x >= 0, sum x = radius}; Newton / Michelot passes on the
  threshold (compiled, warm-startable: ``simplex_threshold``), and the sort-based projection of Held,
  Wolfe and Crowder (1974; Duchi et al. 2008, Fig. 1) without numba.
* ``Box(lower, upper)``, ``Ball(radius, center)``: normal cones of a box and a Euclidean ball.
* ``L1(weight)``: G = weight * d||.||_1, J = soft-thresholding at step * weight.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .linear_models import soft_threshold
from .validation import as_int, as_real, as_vector


def project_simplex(v: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """Euclidean projection of ``v`` onto {x >= 0, sum(x) = radius}: x = max(v - tau, 0).

    The threshold tau by ``simplex_threshold`` started cold (Michelot's algorithm), compiled with numba
    on first use when numba is installed. A non-finite ``v`` gives all-NaN (so a diverging run is
    caught by the solver loop)."""
    if np.size(v) == 0:
        raise ValueError("v must be a non-empty vector to project onto the simplex")
    v = np.ascontiguousarray(v, dtype=np.float64)
    threshold = _simplex_kernel()
    if threshold is None:  # pragma: no cover - numba is a dependency of the project
        return _project_simplex_numpy(v, float(radius))
    tau = threshold(v, 0, v.size, float(radius), np.nan)
    return np.full(v.shape, np.nan) if np.isnan(tau) else np.maximum(v - tau, 0.0)


def _project_simplex_numpy(v: np.ndarray, radius: float) -> np.ndarray:
    if not np.all(np.isfinite(v)):
        return np.full(v.shape, np.nan)
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - radius
    k = np.arange(1, v.size + 1)
    support = np.nonzero(u * k > css)[0]
    rho = support[-1] if support.size else 0  # empty only when radius is lost to rounding
    return np.maximum(v - css[rho] / (rho + 1.0), 0.0)


#: numba fastmath flags of the compiled threshold: its sums may be reassociated (and so vectorized)
SUM_FREELY = {"reassoc"}
#: the exponent bits of a float64: all set for inf and NaN
EXPONENT = 0x7FF0000000000000


def simplex_threshold(v: np.ndarray, lo: int, hi: int, radius: float, tau0: float) -> float:
    """The threshold tau of the projection of v[lo:hi] onto {x >= 0, sum x = radius}: the root of
    f(tau) = sum_i max(v_i - tau, 0) - radius, so that the projection is max(v - tau, 0). NaN when
    an entry is not finite. Plain loops (numba compiles it; the solvers' kernels call it).

    Newton's method on the convex, decreasing, piecewise linear f, warm-started at ``tau0`` (the
    threshold of a nearby point: consecutive iterates of a stochastic method differ little, so one
    pass usually lands on the right kept set and a second one confirms it): tau+ = (sum of the v_i >
    tau - radius) / their number. From any start one step lands left of the root (f >= 0: the
    tangent of a convex f lies below it), and from there the steps are Michelot's passes (1986; Condat
    2016, Sect. 2): tau grows, the kept set shrinks and still holds the support, and a pass that keeps
    the same set ends with the exact threshold of that set. A start with nothing above it (tau0 =
    NaN, or above max v) starts at Michelot's (sum v - radius) / n. O(n) a pass, 2 passes warm,
    a few cold; the passes are branch-free sums, which numba vectorizes when allowed to reassociate
    them (``SUM_FREELY``: the result is the same threshold up to rounding)."""
    n = hi - lo
    bits = v.view(np.int64)  # the exponent bits tell non-finite entries whatever the compiler's float flags
    total, s, c, odd = 0.0, 0.0, 0, 0
    for i in range(lo, hi):
        x = v[i]
        total += x
        kept_i = x > tau0  # branch-free, so that the compiled sums vectorize
        s += x if kept_i else 0.0
        c += kept_i
        odd |= (bits[i] & EXPONENT) == EXPONENT
    if odd:
        return np.nan
    if not np.isfinite(total):  # finite entries whose sum overflows
        top = -np.inf
        for i in range(lo, hi):
            top = max(top, v[i])
        tau, kept = top - radius, n  # left of the root: f(top - radius) >= 0
    elif c == 0:
        tau, kept = (total - radius) / n, n
    else:
        tau, kept = (s - radius) / c, c
    first = True
    for _ in range(n + 1):  # after the first pass the kept set shrinks at every pass that does not stop
        s, c = 0.0, 0
        for i in range(lo, hi):
            x = v[i]
            kept_i = x > tau
            s += x if kept_i else 0.0
            c += kept_i
        if c == 0 or (c > kept and not first):  # rounding only: keep the last threshold
            break
        new_tau = (s - radius) / c
        if c == kept:  # the same set (consecutive kept sets are nested): its exact threshold
            return new_tau
        tau, kept, first = new_tau, c, False
    return tau


_KERNEL: list[Callable[[np.ndarray, int, int, float, float], float] | None] = []


def _simplex_kernel() -> Callable[[np.ndarray, int, int, float, float], float] | None:
    """``simplex_threshold`` compiled (None without numba)."""
    if not _KERNEL:
        try:
            import numba  # noqa: PLC0415 - lazy: no numba at ``import problems`` time

            _KERNEL.append(numba.njit(cache=True, fastmath=SUM_FREELY)(simplex_threshold))
        except ImportError:  # pragma: no cover - numba is a dependency of the project
            _KERNEL.append(None)
    return _KERNEL[0]


class Resolvent:
    """Base class: ``J(x, step)``; ``is_identity`` lets solvers skip a no-op."""

    is_identity = False

    def __call__(self, x: np.ndarray, step: float) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Zero(Resolvent):
    """G = 0: the identity."""

    is_identity = True

    def __call__(self, x: np.ndarray, step: float) -> np.ndarray:
        return np.array(x, dtype=float, copy=True)


class Simplex(Resolvent):
    """Normal cone of the simplex {x >= 0, sum x = radius}: projection onto it."""

    def __init__(self, radius: float = 1.0) -> None:
        self.radius = as_real(radius, "radius", low=0.0, low_open=True)

    def __call__(self, x: np.ndarray, step: float) -> np.ndarray:
        return project_simplex(np.asarray(x, dtype=float), self.radius)

    def __repr__(self) -> str:
        return f"Simplex(radius={self.radius:g})"


class Box(Resolvent):
    """Normal cone of the box {lower <= x <= upper} (scalars or vectors): clipping."""

    def __init__(self, lower: float | np.ndarray = -np.inf, upper: float | np.ndarray = np.inf) -> None:
        lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        if np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or np.any(lo > hi):
            raise ValueError("Box needs lower <= upper everywhere (no NaN)")
        self.lower, self.upper = lo, hi

    def __call__(self, x: np.ndarray, step: float) -> np.ndarray:
        return np.clip(x, self.lower, self.upper)


class Ball(Resolvent):
    """Normal cone of the Euclidean ball ||x - center|| <= radius: radial projection."""

    def __init__(self, radius: float = 1.0, center: np.ndarray | None = None) -> None:
        self.radius = as_real(radius, "radius", low=0.0)
        self.center = None if center is None else as_vector(center, "center")

    def __call__(self, x: np.ndarray, step: float) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.center is not None and self.center.shape != x.shape:
            raise ValueError(f"Ball: center has length {self.center.size} but the point has shape {x.shape}")
        d = x - (0.0 if self.center is None else self.center)
        norm = float(np.linalg.norm(d))
        if norm <= self.radius:
            return np.array(x, dtype=float, copy=True)
        return (0.0 if self.center is None else self.center) + d * (self.radius / norm)


class L1(Resolvent):
    """G = weight * subdifferential of ||.||_1: soft-thresholding at ``step * weight``."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = as_real(weight, "weight", low=0.0)

    def __call__(self, x: np.ndarray, step: float) -> np.ndarray:
        return soft_threshold(np.asarray(x, dtype=float), step * self.weight)


class Product(Resolvent):
    """G = G_1 x G_2 x ... on consecutive coordinate blocks: ``Product([(size, J1), (size, J2)])``."""

    def __init__(self, blocks: list) -> None:
        self.blocks = []
        for pos, block in enumerate(blocks):
            if not (isinstance(block, tuple) and len(block) == 2 and isinstance(block[1], Resolvent)):
                raise TypeError(f"blocks[{pos}] must be a (size, Resolvent) pair, got {block!r}")
            self.blocks.append((as_int(block[0], f"blocks[{pos}] size", low=1), block[1]))
        self.size = sum(size for size, _ in self.blocks)
        self.is_identity = all(r.is_identity for _, r in self.blocks)

    def __call__(self, x: np.ndarray, step: float) -> np.ndarray:
        if x.shape[0] != self.size:
            raise ValueError(f"Product resolvent expects length {self.size}, got {x.shape[0]}")
        out, start = np.empty(self.size), 0
        for size, res in self.blocks:
            out[start : start + size] = res(x[start : start + size], step)
            start += size
        return out

    def __repr__(self) -> str:
        return f"Product({self.blocks!r})"
