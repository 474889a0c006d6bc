"""Sequences of linear systems ``A_t x = b_t`` for online tuning of SOR / SSOR-CG, and a Matrix
Market loader.

Khodak, Chow, Balcan, Talwalkar, "Learning to Relax", ICLR 2024 (official code
mkhodak/learning-to-relax): a learner picks the relaxation ``omega_t`` before each instance and sees
only the iteration count. A ``LinearSystemSequence`` yields ``(A_t, b_t, x0_t, context_t)`` from
``instances()``, a generator that also accepts the solver's solution through ``send(x)`` (sequences
whose next instance depends on the last solution use it; ``for`` loops advance with exact solves).
The solving itself is done by ``optim.linear`` (problems never import solvers); the problem only
counts the work: ``counts["iterations"]`` (the unit of ``work``).

* ``poisson2d(m)``: the 5-point Laplacian on an m x m interior grid (diagonal 4, natural order),
  ``= delsq(numgrid('S', m + 2))`` in MATLAB and ``pyamg.gallery.poisson((m, m))``.
* ``ShiftedSequence(A, shifts, seed)``: ``A_t = A + c_t I`` with truncated-Gaussian ``b_t``, x0 = 0.
* ``ShiftedLaplacianSequence(m_grid, variance, T, seed)``: the paper's Sec. 4.1 experiment,
  ``c_t = -0.15 + 0.6 B_t``, ``B_t ~ Beta(0.5, 1.5)`` ("high" variance) or ``Beta(2, 6)`` ("low").
* ``HeatEquationSequence(nx, T, dt)``: the 2-D heat equation with time-varying diffusion, Crank-
  Nicolson steps solved by SSOR-CG (the official h2d.m experiment).
* ``load_matrix_market(path)``: a CSR matrix from a Matrix Market file (line-numbered errors).
"""

from __future__ import annotations

import math
import os

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .base import Capability, Problem
from .fingerprints import digest as _digest
from .libsvm import parse_number  # the shared line-numbered number check
from .validation import as_choice, as_generator, as_int, as_matrix, as_real, as_vector

LinearSystemSequence = Capability(
    "LinearSystemSequence",
    ("T", "grid", "instances", "method"),
    "a sequence of linear systems yielding (A_t, b_t, x0_t, context_t)",
)

#: the official action set of the final code: linspace(1, 1.95, 20)
OMEGA_GRID = np.round(np.linspace(1.0, 1.95, 20), 10)


def poisson2d(m: int) -> sp.csr_matrix:
    """5-point Laplacian on an m x m interior grid: diagonal 4, -1 per N/S/E/W neighbour,
    lexicographic order, no 1/h^2 factor; ``kron(I, T_m) + kron(T_m, I)``, ``T_m = tridiag(-1, 2, -1)``."""
    m = as_int(m, "m", low=1)
    T = sp.diags([-np.ones(m - 1), 2.0 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    eye = sp.identity(m)
    A = (sp.kron(eye, T) + sp.kron(T, eye)).tocsr()
    A.sort_indices()
    return A


def truncated_gaussian(rng: np.random.Generator, n: int) -> np.ndarray:
    """A standard Gaussian vector in R^n conditioned on ``||g||_2 <= sqrt(n)`` (rejection sampling)."""
    bound = n  # compare squared norms
    while True:
        g = rng.standard_normal(n)
        if g @ g <= bound:
            return g


class _Sequence(Problem):
    """Common parts: length ``T``, the action ``grid``, the intended ``method`` and stopping rule."""

    work_unit = "iterations"

    def __init__(self, T, method, rtol, max_iter, name):
        super().__init__()
        self.T = as_int(T, "T", low=1)
        self.method = as_choice(method, "method", ("sor", "ssor-cg"))
        self.rtol = as_real(rtol, "rtol", low=0.0, low_open=True)
        self.max_iter = as_int(max_iter, "max_iter", low=1)
        self.grid = OMEGA_GRID.copy()
        self.name = name

    def __iter__(self):
        return self.instances()

    def __len__(self) -> int:
        return self.T

    def optimality(self, x) -> float:
        """Not a single-solution problem: an online pass has no stopping error (NaN)."""
        return math.nan

    def instances(self):  # pragma: no cover - interface
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A digest of the instances and stopping rule (``sequence_fingerprint``); this default hashes
        one pass over ``instances()``, subclasses hash the data that defines them."""
        return _digest(type(self).__qualname__, self.method, self.rtol, self.max_iter, self.T, self._defining_data())

    def _defining_data(self) -> str:
        return _digest(*(_digest(A, b, x0, c) for A, b, x0, c in self.instances()))


class ShiftedSequence(_Sequence):
    """``A_t = A + c_t I`` (context ``c_t``), ``b_t`` a radially truncated standard Gaussian
    (``||b_t|| <= sqrt(n)``), ``x0 = 0``. Every ``A + c_t I`` must be SPD: checked at construction
    against ``lambda_min(A)`` (``ValueError`` naming the offending shift)."""

    def __init__(self, A, shifts, seed=0, method="sor", rtol=1e-8, max_iter=10_000, name="shifted", lambda_min=None):

        mat = as_matrix(A, "A")
        mat = sp.csr_matrix(mat)
        if mat.shape[0] != mat.shape[1]:
            raise ValueError(f"A must be square, got shape {mat.shape}")
        if abs(mat - mat.T).max() > 1e-12 * max(abs(mat).max(), 1e-300):
            raise ValueError("A must be symmetric (the sequence A + c_t I must be SPD)")
        mat.sort_indices()
        shifts = as_vector(shifts, "shifts")
        if shifts.size == 0:
            raise ValueError("shifts must hold at least one shift (one instance per shift), got an empty array")
        super().__init__(shifts.size, method, rtol, max_iter, name)
        self.A, self.shifts, self.n = mat, shifts, mat.shape[0]
        if lambda_min is None:
            lambda_min = _lambda_min(mat)
        self.lambda_min = float(lambda_min)
        worst = float(shifts.min())
        if self.lambda_min + worst <= 0:
            raise ValueError(
                f"shift {worst:.4g} makes A + c I indefinite: lambda_min(A) = "
                f"{self.lambda_min:.4g}, so every shift must exceed {-self.lambda_min:.4g}"
            )
        self._stream = int(as_generator(seed).integers(2**63 - 1))

    @property
    def contexts(self) -> np.ndarray:
        return self.shifts.copy()

    def jacobi_radius(self, c: float) -> float:
        """beta(c) = rho(I - D_c^{-1} (A + c I)), the Jacobi spectral radius of instance ``A + c I``.

        With a constant diagonal d the scaled matrix is ``(A + c I)/(d + c)``, so beta(c) =
        ``max(|1 - (l_min + c)/(d + c)|, |(l_max + c)/(d + c) - 1|)`` from the extreme eigenvalues of
        ``A``, computed once; otherwise a dense eigenvalue solve of ``D^{-1/2} (A + cI) D^{-1/2}``."""
        diag = self.A.diagonal() + c
        if np.all(diag == diag[0]):
            if not hasattr(self, "_extremes"):
                self._extremes = (self.lambda_min, _lambda_max(self.A))
            lo, hi = ((v + c) / diag[0] for v in self._extremes)
        else:
            s = sp.diags(1.0 / np.sqrt(diag))
            ev = np.linalg.eigvalsh((s @ self.shifted(c) @ s).toarray())
            lo, hi = ev[0], ev[-1]
        return float(max(abs(1.0 - lo), abs(hi - 1.0)))

    def _defining_data(self) -> str:
        # A, the shifts and the right-hand-side stream determine every instance
        return _digest(self.A, self.shifts, self._stream)

    def right_hand_sides(self) -> np.ndarray:
        """All ``b_t`` as a (T, n) array (the same draws ``instances()`` yields)."""
        rng = np.random.default_rng(self._stream)
        return np.stack([truncated_gaussian(rng, self.n) for _ in range(self.T)])

    def shifted(self, c: float) -> sp.csr_matrix:
        """``A + c I`` in CSR with the sparsity of ``A`` (plus the diagonal)."""
        out = (self.A + c * sp.identity(self.n, format="csr")).tocsr()
        out.sort_indices()
        return out

    def instances(self):
        """Yield ``(A_t, b_t, x0_t = 0, c_t)``; solutions sent back are not needed (ignored)."""
        rng = np.random.default_rng(self._stream)
        for c in self.shifts:
            b = truncated_gaussian(rng, self.n)
            yield self.shifted(float(c)), b, np.zeros(self.n), float(c)


class ShiftedLaplacianSequence(ShiftedSequence):
    """The shifted 2-D Laplacian sequence of the paper's Sec. 4.1 (SOR experiments).

    ``A_t = poisson2d(m_grid) + c_t I``, ``c_t = lo + (hi - lo) B_t`` with ``(lo, hi) = shift_range``
    (default ``(-0.15, 0.45)``) and ``B_t ~ Beta(0.5, 1.5)`` (``variance="high"``: mass near the
    nearly singular end) or ``Beta(2, 6)`` (``"low"``). For ``m_grid = 10``
    ``lambda_min = 4 (1 - cos(pi/11)) = 0.162 > 0.15`` so every instance is SPD; larger grids need a
    narrower ``shift_range`` (checked, ``ValueError``). Shifts and right-hand sides come from
    ``seed`` (numpy ``Generator``; MATLAB's streams cannot be matched).
    """

    BETA = {"high": (0.5, 1.5), "low": (2.0, 6.0)}

    def __init__(
        self,
        m_grid=10,
        variance="high",
        T=5000,
        seed=0,
        shift_range=(-0.15, 0.45),
        method="sor",
        rtol=1e-8,
        max_iter=10_000,
    ):

        m_grid = as_int(m_grid, "m_grid", low=2)
        variance = as_choice(variance, "variance", tuple(self.BETA))
        T = as_int(T, "T", low=1)
        lo, hi = (as_real(v, "shift_range") for v in _pair(shift_range, "shift_range"))
        if not lo < hi:
            raise ValueError(f"shift_range must be (low, high) with low < high, got {shift_range!r}")
        rng = as_generator(seed)
        shifts = lo + (hi - lo) * rng.beta(*self.BETA[variance], size=T)
        self.m_grid, self.variance = m_grid, variance
        lam = 4.0 * (1.0 - math.cos(math.pi / (m_grid + 1)))  # closed form
        if lo <= -lam:
            raise ValueError(
                f"shift_range low end {lo} makes A + c I indefinite for m_grid={m_grid} "
                f"(lambda_min = {lam:.4f}); use shift_range=(low, high) with low > {-lam:.4f}"
            )
        super().__init__(
            poisson2d(m_grid),
            shifts,
            seed=rng,
            method=method,
            rtol=rtol,
            max_iter=max_iter,
            name=f"shifted-laplacian-{variance}-m{m_grid}-T{T}",
            lambda_min=lam,
        )
        self.shift_range = (lo, hi)

    def context_interval(self) -> tuple[float, float]:
        """The support of the shifts, ``shift_range`` (what a learner may know in advance)."""
        return self.shift_range


class HeatEquationSequence(_Sequence):
    """2-D heat equation ``u_t = kappa(t) Lap u + f`` on (0,1)^2, Dirichlet, Crank-Nicolson
    (the official h2d.m experiment of Khodak et al. 2024), each step one SPD system for SSOR-CG.

    Unknowns at the ``(nx-1)^2`` interior nodes ``(i dx, j dx)`` (j fastest), ``Lap = -P/dx^2`` with
    ``P = poisson2d(nx - 1)``. Step t (time ``s = t dt``, half step ``h = s + dt/2``):
    ``A_t = I + (dt/2) kappa(h) P/dx^2``, ``b_t = (I - (dt/2) kappa(h) P/dx^2) u_t + dt f(h)``,
    ``x0 = u_t`` (warm start), context ``kappa(s)`` (the step START, as the code does);
    ``kappa(s) = max(0.1 sin(2 pi s), -10 sin(2 pi s))``,
    ``f(h, x) = 32 bump(x; (0.5 + cos(16 pi h)/4, 0.5 + sin(16 pi h)/4), 0.125)``,
    ``u_0 = bump(x; (0.5, 0.5), 0.25)``, ``bump(x; c, r) = exp(1 - 1/(1 - min(1, |x-c|^2/r^2)))``.
    ``kappa >= 0`` makes every ``A_t`` SPD (``lambda_min >= 1``; checked per step). The next state
    is the solution sent back into ``instances()``, else an exact (sparse LU) solve.
    """

    def __init__(self, nx=25, T=1000, dt=1e-3, method="ssor-cg", rtol=1e-8, max_iter=10_000):
        self.nx = as_int(nx, "nx", low=3)
        self.dt = as_real(dt, "dt", low=0.0, low_open=True)
        super().__init__(T, method, rtol, max_iter, name=f"heat-nx{self.nx}-T{as_int(T, 'T', low=1)}")
        self.P = poisson2d(self.nx - 1)
        self.n = self.P.shape[0]
        self.dx = 1.0 / self.nx
        coords = np.arange(1, self.nx) * self.dx
        xi, yj = np.meshgrid(coords, coords, indexing="ij")  # j fastest in the flattened order
        self.points = np.column_stack([xi.ravel(), yj.ravel()])
        self._identity = sp.identity(self.n, format="csr")

    def _defining_data(self) -> str:
        # the grid size and the time step determine every instance (u_0, kappa and f are fixed)
        return _digest(self.nx, self.dt)

    @staticmethod
    def kappa(s):
        """Diffusion coefficient ``max(0.1 sin(2 pi s), -10 sin(2 pi s))`` (in [0, 10])."""
        v = np.sin(2.0 * np.pi * np.asarray(s, dtype=float))
        return np.maximum(0.1 * v, -10.0 * v)

    def bump(self, centre, radius) -> np.ndarray:
        d2 = ((self.points - np.asarray(centre)) ** 2).sum(axis=1) / radius**2
        q = np.minimum(1.0, d2)
        out = np.zeros(self.n)
        inside = q < 1.0  # the removable 1/0 at the disc boundary: the bump is 0 there
        out[inside] = np.exp(1.0 - 1.0 / (1.0 - q[inside]))
        return out

    def forcing(self, h) -> np.ndarray:
        c = (0.5 + math.cos(16 * math.pi * h) / 4, 0.5 + math.sin(16 * math.pi * h) / 4)
        return 32.0 * self.bump(c, 0.125)

    def initial_state(self) -> np.ndarray:
        return self.bump((0.5, 0.5), 0.25)

    @property
    def contexts(self) -> np.ndarray:
        return self.kappa(np.arange(self.T) * self.dt)

    def context_interval(self) -> tuple[float, float]:
        """[min, max] of kappa over ``linspace(0, 5, 5000)`` (the code's interval for the learners)."""
        k = self.kappa(np.linspace(0.0, 5.0, 5000))
        return float(k.min()), float(k.max())

    def system(self, t: int):
        """``(A_t, B_t)`` with ``b_t = B_t u_t + dt f(h)``, both CSR."""
        h = t * self.dt + self.dt / 2
        k = float(self.kappa(h))
        if k < 0:  # cannot happen for this kappa; keeps the SPD guarantee explicit
            raise ValueError(f"kappa({h}) = {k} < 0 makes A_t indefinite")
        K = (0.5 * self.dt * k / self.dx**2) * self.P
        A = (self._identity + K).tocsr()
        A.sort_indices()
        return A, (self._identity - K).tocsr(), h

    def instances(self):
        """Yield ``(A_t, b_t, u_t, kappa(t dt))``; ``send(x)`` feeds the solution back as ``u_{t+1}``
        (otherwise the step is solved exactly by sparse LU)."""
        u = self.initial_state()
        for t in range(self.T):
            A, B, h = self.system(t)
            b = B @ u + self.dt * self.forcing(h)
            x = yield A, b, u.copy(), float(self.kappa(t * self.dt))
            if x is None:
                x = spla.splu(A.tocsc()).solve(b)
            u = as_vector(x, "solution sent to the heat sequence", size=self.n)


# ----------------------------------------------------------------------------- Matrix Market
_MM_FORMATS = ("coordinate", "array")
_MM_FIELDS = ("real", "integer", "pattern", "double")
_MM_SYMMETRY = ("general", "symmetric", "skew-symmetric")


def load_matrix_market(path) -> sp.csr_matrix:
    """Read a real Matrix Market file (``.mtx``) into a float64 CSR matrix via ``scipy.io.mmread``.

    The header, the size line and every entry line are checked first, so a malformed file raises
    ``ValueError`` naming the line (banner, size, entry count, integer indices in range, numeric
    values). Complex and Hermitian files are rejected (the solvers here are real).
    """
    import scipy.io

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    if not lines or not lines[0].lower().startswith("%%matrixmarket"):
        raise ValueError(f"{path}, line 1: expected a '%%MatrixMarket matrix ...' banner")
    banner = lines[0].lower().split()
    if len(banner) != 5 or banner[1] != "matrix":
        raise ValueError(
            f"{path}, line 1: banner must read '%%MatrixMarket matrix FORMAT FIELD SYMMETRY', got {lines[0]!r}"
        )
    fmt, field, symmetry = banner[2:]
    for value, allowed, what in (
        (fmt, _MM_FORMATS, "format"),
        (field, _MM_FIELDS, "field"),
        (symmetry, _MM_SYMMETRY, "symmetry"),
    ):
        if value not in allowed:
            raise ValueError(f"{path}, line 1: unsupported {what} {value!r} (expected one of {allowed})")
    body = [
        (no, ln.split())
        for no, ln in enumerate(lines, start=1)
        if no > 1 and ln.strip() and not ln.lstrip().startswith("%")
    ]
    if not body:
        raise ValueError(f"{path}: no size line after the banner")
    size_no, size = body[0]
    want = 3 if fmt == "coordinate" else 2
    if len(size) != want or not all(_is_int(s) and int(s) >= 0 for s in size):
        raise ValueError(
            f"{path}, line {size_no}: size line must hold {want} non-negative integers, got {' '.join(size)!r}"
        )
    rows, cols = int(size[0]), int(size[1])
    entries = body[1:]
    if fmt == "coordinate":
        nnz = int(size[2])
        if len(entries) != nnz:
            raise ValueError(
                f"{path}: the size line (line {size_no}) announces {nnz} entries, the file has {len(entries)}"
            )
        width = 2 if field == "pattern" else 3
        for no, tok in entries:
            if len(tok) != width:
                raise ValueError(f"{path}, line {no}: expected {width} fields, got {len(tok)}")
            if not (_is_int(tok[0]) and _is_int(tok[1])):
                raise ValueError(f"{path}, line {no}: row and column indices must be integers")
            i, j = int(tok[0]), int(tok[1])
            if not (1 <= i <= rows and 1 <= j <= cols):
                raise ValueError(f"{path}, line {no}: index ({i}, {j}) outside the {rows} x {cols} matrix")
            if width == 3:
                parse_number(tok[2], path, no, "value")
    else:
        expected = rows * cols if symmetry == "general" else cols * (cols + 1) // 2
        if symmetry == "skew-symmetric":
            expected = cols * (cols - 1) // 2
        if len(entries) != expected:
            raise ValueError(
                f"{path}: an array file of size {rows} x {cols} needs {expected} values, got {len(entries)}"
            )
        for no, tok in entries:
            if len(tok) != 1:
                raise ValueError(f"{path}, line {no}: expected one value, got {len(tok)}")
            parse_number(tok[0], path, no, "value")
    try:
        mat = scipy.io.mmread(path)
    except Exception as exc:  # scipy's own reader: report it as a file error
        raise ValueError(f"{path}: scipy.io.mmread failed: {exc}") from None
    out = sp.csr_matrix(mat, dtype=np.float64)
    out.sum_duplicates()
    out.sort_indices()
    return out


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def _pair(value, name):
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (low, high), got {value!r}") from None
    return lo, hi


def _lambda_max(A: sp.csr_matrix) -> float:
    """Largest eigenvalue of a symmetric matrix."""
    if A.shape[0] <= 2000:
        return float(np.linalg.eigvalsh(A.toarray())[-1])
    return float(spla.eigsh(A, k=1, which="LA", return_eigenvectors=False)[0])


def _lambda_min(A: sp.csr_matrix) -> float:
    """Smallest eigenvalue of a symmetric matrix (dense for n <= 2000, else shift-invert eigsh)."""
    if A.shape[0] <= 2000:
        return float(np.linalg.eigvalsh(A.toarray())[0])
    return float(spla.eigsh(A.tocsc(), k=1, sigma=0.0, which="LM", return_eigenvectors=False)[0])


# ----------------------------------------------------------------------------- named problems
def shifted_laplacian_high(T=1000, seed=0, m_grid=10) -> ShiftedLaplacianSequence:
    """Shifted 2-D Laplacian sequence, high-variance shifts Beta(0.5, 1.5) (Khodak et al. Sec. 4.1; SOR)."""
    return ShiftedLaplacianSequence(m_grid=m_grid, variance="high", T=T, seed=seed)


def shifted_laplacian_low(T=1000, seed=0, m_grid=10) -> ShiftedLaplacianSequence:
    """Shifted 2-D Laplacian sequence, low-variance shifts Beta(2, 6) (Khodak et al. Sec. 4.1; SOR)."""
    return ShiftedLaplacianSequence(m_grid=m_grid, variance="low", T=T, seed=seed)


def heat_equation(nx=25, T=200, dt=1e-3) -> HeatEquationSequence:
    """2-D heat equation with time-varying diffusion, Crank-Nicolson steps (SSOR-CG; Khodak et al.)."""
    return HeatEquationSequence(nx=nx, T=T, dt=dt)
