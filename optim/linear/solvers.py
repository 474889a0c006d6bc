"""SOR and SSOR-preconditioned CG with the exact iteration semantics of the official code.

Khodak, Chow, Balcan, Talwalkar, "Learning to Relax: Setting Solver Parameters Across a Sequence
of Linear System Instances", ICLR 2024 (official code: mkhodak/learning-to-relax, final commit
973a880). With ``A = D + L + U`` (diagonal, strictly lower, strictly upper part, natural ordering):

* SOR (Sec. 2 of the paper): ``x_{k+1} = x_k + (D/omega + L)^{-1} (b - A x_k)``, i.e. one forward
  sweep ``x_i <- (1 - omega) x_i + omega (b_i - sum_{j != i} a_ij x_j) / a_ii``; stop at the first
  k with ``||b - A x_k|| / ||b - A x_0|| < rtol`` (true residual, strict), at least one sweep, at
  most ``max_iter`` (a capped run reports ``nit = max_iter`` and ``converged = False``).
  Both methods also stop, converged, once the residual is at the rounding floor
  ``(m + 1) eps (||b|| + ||A||_F ||x||)`` (``m`` the most nonzeros in a row), where no relative test
  can be met: a start at the solution (zero residual included) is converged after 0 iterations.
* SSOR-PCG: conjugate gradients preconditioned by
  ``M = (D + omega U) D^{-1} (D + omega L) / (omega (2 - omega))`` (the code's ordering; the textbook
  ``(D + omega L) D^{-1} (D + omega U) / (omega (2 - omega))`` with ``variant="textbook"``), stop when
  the recurrence residual satisfies ``||r_k|| < rtol ||b||`` -- the loop of
  ``scipy.sparse.linalg.cg`` (and of MATLAB's pcg up to its final true-residual check), so the
  iteration counts equal scipy's for the same preconditioner; 0 iterations if ``x0`` already passes.

Both return an ``optim.Result`` with ``x``, ``nit``, ``converged`` and ``residual`` (relative).
Sweeps and triangular solves are numba kernels over CSR rows (``optim.linear.kernels``).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from problems.validation import as_choice, as_int, as_matrix, as_real, as_vector

from ..result import Result
from . import kernels


class CSRSystem:
    """A validated square CSR matrix with its diagonal, the form every kernel takes."""

    __slots__ = ("A", "diag", "n")

    def __init__(self, A, name: str = "A", *, need_diagonal: bool = True):
        mat = as_matrix(A, name)
        if not sp.issparse(mat):
            mat = sp.csr_matrix(mat)
        if mat.shape[0] != mat.shape[1]:
            raise ValueError(f"{name} must be square, got shape {mat.shape}")
        mat = sp.csr_matrix(mat)
        mat.sort_indices()
        diag = mat.diagonal()
        if need_diagonal:
            zero = np.flatnonzero(diag == 0)
            if zero.size:
                raise ValueError(
                    f"{name} has a zero on the diagonal (row {int(zero[0])}); "
                    "SOR and SSOR divide by a_ii and need a nonzero diagonal"
                )
        self.A, self.diag, self.n = mat, np.ascontiguousarray(diag, dtype=np.float64), mat.shape[0]

    @classmethod
    def trusted(cls, A: sp.csr_matrix, diag: np.ndarray) -> CSRSystem:
        """Wrap an already validated, canonical CSR matrix (no copies, no checks)."""
        out = cls.__new__(cls)
        out.A, out.diag, out.n = A, diag, A.shape[0]
        return out

    @property
    def arrays(self):
        return self.A.indptr, self.A.indices, self.A.data, self.diag


def check_omega(omega, name: str = "omega") -> float:
    """omega as a float in the open interval (0, 2) (SOR and SSOR diverge outside it for SPD A)."""
    return as_real(omega, name, low=0.0, high=2.0, low_open=True, high_open=True)


def _rhs_and_start(system: CSRSystem, b, x0):
    b = as_vector(b, "b", size=system.n)
    x = np.zeros(system.n) if x0 is None else as_vector(x0, "x0", size=system.n)
    return b, x


def check_spd(system: CSRSystem, name: str = "A", dense_limit: int = 2000) -> None:
    """Raise ``ValueError`` unless ``A`` is symmetric with a positive diagonal and, for
    ``n <= dense_limit``, positive definite (dense Cholesky). Larger matrices are checked during CG:
    a search direction with ``p^T A p <= 0`` is a certificate of indefiniteness."""
    A = system.A
    asym = abs(A - A.T)
    scale = max(abs(A).max(), 1e-300)
    if asym.nnz and asym.max() > 1e-12 * scale:
        raise ValueError(
            f"{name} must be symmetric positive definite for SSOR-CG; it is not symmetric "
            f"(max |a_ij - a_ji| = {asym.max():.3g})"
        )
    if np.any(system.diag <= 0):
        row = int(np.flatnonzero(system.diag <= 0)[0])
        raise ValueError(
            f"{name} must be symmetric positive definite for SSOR-CG; diagonal entry "
            f"{row} is {system.diag[row]:.3g} <= 0"
        )
    if system.n <= dense_limit:
        try:
            np.linalg.cholesky(A.toarray())
        except np.linalg.LinAlgError:
            raise ValueError(
                f"{name} must be symmetric positive definite for SSOR-CG; "
                "its Cholesky factorization fails (it is indefinite)"
            ) from None


def sor(A, b, omega, x0=None, rtol=1e-8, max_iter=10_000) -> Result:
    """Solve ``A x = b`` by SOR with relaxation ``omega`` (see the module docstring and ``docs/sor.md``).

    Returns a ``Result`` with ``x``, ``nit`` (sweeps; ``max_iter`` when capped), ``converged``,
    ``residual`` = ||b - A x|| / ||b - A x0|| (0 when ``b = A x0`` exactly: 0 sweeps, converged) and
    ``status``: "converged" (relative test or rounding floor), "max_iter", or "diverged"
    when the iterates overflow (then ``x`` is the last finite iterate and ``nit`` its sweep count).
    ``A`` need not be symmetric but needs a nonzero diagonal.
    Example: ``optim.linear.sor(problems.poisson2d(10), np.ones(100), 1.5).nit``.
    """
    system = CSRSystem(A)
    omega = check_omega(omega)
    b, x = _rhs_and_start(system, b, x0)
    rtol = as_real(rtol, "rtol", low=0.0, low_open=True)
    max_iter = as_int(max_iter, "max_iter", low=1)
    return sor_solve(system, b, x, omega, rtol, max_iter)


def sor_solve(system: CSRSystem, b, x, omega, rtol=1e-8, max_iter=10_000) -> Result:
    """``sor`` on validated data; ``x`` (the start) is overwritten with the solution (or, if the
    sweeps overflow, the last finite iterate, status ``"diverged"``)."""
    indptr, indices, data, diag = system.arrays
    nit, code, rel = kernels.sor_loop(indptr, indices, data, diag, b, x, omega, rtol, max_iter)
    code = int(code)
    status = {kernels.CONVERGED: "converged", kernels.FLOOR: "converged", kernels.CAPPED: "max_iter"}
    return _linear_result(x, int(nit), status.get(code, "diverged"), float(rel), "sor", floor=code == kernels.FLOOR)


def ssor_preconditioner(A, omega, variant: str = "code") -> spla.LinearOperator:
    """The SSOR preconditioner ``z = M^{-1} r`` as a ``LinearOperator`` (module docstring; two triangular
    sweeps over CSR rows, no factorization). ``variant``: "code" (official ordering) or "textbook"."""
    system = A if isinstance(A, CSRSystem) else CSRSystem(A)
    omega = check_omega(omega)
    code_order = as_choice(variant, "variant", ("code", "textbook")) == "code"
    indptr, indices, data, diag = system.arrays
    work = np.empty(system.n)

    def apply(r):
        r = np.ascontiguousarray(np.ravel(r), dtype=np.float64)
        z = np.empty(system.n)
        kernels.ssor_apply(indptr, indices, data, diag, r, omega, code_order, work, z)
        return z

    return spla.LinearOperator((system.n, system.n), matvec=apply, dtype=np.float64)


def ssor_cg(A, b, omega, x0=None, rtol=1e-8, max_iter=10_000, variant: str = "code", check: bool = True) -> Result:
    """Solve SPD ``A x = b`` by CG preconditioned with SSOR(``omega``) (see module doc).

    ``check=False`` skips the up-front SPD test (symmetry, positive diagonal, dense Cholesky for
    n <= 2000); a non-positive curvature ``p^T A p`` met during CG raises ``ValueError`` either way.
    """
    system = CSRSystem(A)
    if check:
        check_spd(system)
    omega = check_omega(omega)
    b, x = _rhs_and_start(system, b, x0)
    rtol = as_real(rtol, "rtol", low=0.0, low_open=True)
    max_iter = as_int(max_iter, "max_iter", low=1)
    return pcg_solve(system, b, x, ssor_preconditioner(system, omega, variant), rtol, max_iter, "ssor-cg")


def cg(A, b, x0=None, rtol=1e-8, max_iter=10_000) -> Result:
    """Plain (unpreconditioned) CG with the same loop and stopping rule as ``ssor_cg``."""
    system = CSRSystem(A, need_diagonal=False)
    b, x = _rhs_and_start(system, b, x0)
    rtol = as_real(rtol, "rtol", low=0.0, low_open=True)
    max_iter = as_int(max_iter, "max_iter", low=1)
    return pcg_solve(system, b, x, None, rtol, max_iter, "cg")


def pcg_solve(system: CSRSystem, b, x, M, rtol, max_iter, method="pcg") -> Result:
    """Preconditioned CG on validated data (``M`` a LinearOperator for M^{-1}, or None); the loop of
    scipy.sparse.linalg.cg: ``r = b - A x0``; per iteration test ``||r|| < rtol ||b||``, then
    ``z = M^{-1} r``, ``rho = r.z``, ``p = z + (rho/rho_prev) p``, ``alpha = rho / p.Ap``,
    ``x += alpha p``, ``r -= alpha A p``. ``x`` is overwritten."""
    A = system.A
    gamma, anrm, bnrm = (float(v) for v in kernels.floor_scale(A.indptr, A.data, b))
    if bnrm == 0:
        x[:] = 0.0
        return _linear_result(x, 0, "converged", 0.0, method)
    atol = rtol * bnrm
    r = b - A @ x if x.any() else b.copy()
    p = None
    rho_prev = 1.0
    saved, saved_it, saved_rel = x.copy(), 0, math.inf  # the last finite iterate, kept once r grows
    for it in range(max_iter):
        rnrm = float(np.linalg.norm(r))
        if rnrm < atol:
            return _linear_result(x, it, "converged", rnrm / bnrm, method)
        if rnrm <= gamma * (bnrm + anrm * float(np.linalg.norm(x))):  # rounding floor (module docstring)
            return _linear_result(x, it, "converged", rnrm / bnrm, method, floor=True)
        if not math.isfinite(rnrm):
            x[:] = saved
            return _linear_result(x, saved_it, "diverged", saved_rel, method)
        if rnrm > kernels.GUARD * bnrm:
            saved[:], saved_it, saved_rel = x, it, rnrm / bnrm
        z = r if M is None else M.matvec(r)
        rho = np.dot(r, z)
        if p is None:
            p = z.copy()
        else:
            p *= rho / rho_prev
            p += z
        q = A @ p
        curvature = np.dot(p, q)
        if not curvature > 0:
            raise ValueError(
                f"A is not positive definite: CG met a direction with p^T A p = "
                f"{curvature:.3g} <= 0 (iteration {it + 1})"
            )
        alpha = rho / curvature
        x += alpha * p
        r -= alpha * q
        rho_prev = rho
    rnrm = float(np.linalg.norm(r))
    return _linear_result(x, max_iter, "converged" if rnrm < atol else "max_iter", rnrm / bnrm, method)


_FLOOR_MESSAGE = (
    "converged: the residual is at the rounding floor (relative residual {residual:.3g}, "
    "no smaller residual is measurable) after {nit} iterations"
)
_MESSAGES = {
    "converged": "converged: relative residual {residual:.3g} < rtol after {nit} iterations",
    "max_iter": "iteration cap reached: relative residual {residual:.3g} after {nit} iterations",
    "diverged": "the iterates overflowed; the last finite iterate (iteration {nit}, relative residual "
    "{residual:.3g}) is returned",
}


def _linear_result(x, nit, status, residual, method, floor: bool = False) -> Result:
    message = _FLOOR_MESSAGE if floor else _MESSAGES[status]
    return Result(
        x=x,
        nit=nit,
        converged=status == "converged",
        residual=residual,
        optimality=residual,
        fun=math.nan,
        status=status,
        message=message.format(residual=residual, nit=nit),
        method=method,
    )


# ---------------------------------------------------------------------------- spectral helpers
def rho_jacobi(A) -> float:
    """beta = rho(I - D^{-1} A), the Jacobi spectral radius, from the two extreme eigenvalues of the
    symmetric ``D^{-1/2} A D^{-1/2}``: ``beta = max(|1 - lambda_min|, |lambda_max - 1|)``
    (dense ``eigvalsh`` for n <= 500, ``eigsh`` otherwise). Needs symmetric A, positive diagonal."""
    system = A if isinstance(A, CSRSystem) else CSRSystem(A)
    if np.any(system.diag <= 0):
        raise ValueError("rho_jacobi needs a positive diagonal")
    s = sp.diags(1.0 / np.sqrt(system.diag))
    S = (s @ system.A @ s).tocsr()
    if system.n <= 500:
        ev = np.linalg.eigvalsh(S.toarray())
        lo, hi = ev[0], ev[-1]
    else:
        hi = spla.eigsh(S, k=1, which="LA", return_eigenvectors=False, tol=1e-10)[0]
        # the smallest eigenvalue of S is the largest of 2I - S (the spectrum of S lies in (0, 2))
        lo = 2.0 - spla.eigsh(2.0 * sp.identity(system.n) - S, k=1, which="LA", return_eigenvectors=False, tol=1e-10)[0]
    return float(max(abs(1.0 - lo), abs(hi - 1.0)))


def young_omega(beta) -> float:
    """Young's optimal relaxation ``omega* = 2 / (1 + sqrt(1 - beta^2))`` (consistently ordered A,
    real Jacobi spectrum, ``beta < 1``)."""
    beta = as_real(beta, "beta", low=0.0, high=1.0, high_open=True)
    return 2.0 / (1.0 + math.sqrt(1.0 - beta * beta))


def young_rho(omega, beta) -> float:
    """Young's spectral radius of the SOR iteration matrix: for ``omega <= omega*``
    ``((omega beta + sqrt(omega^2 beta^2 - 4 (omega - 1))) / 2)^2``, else ``omega - 1``."""
    omega = check_omega(omega)
    beta = as_real(beta, "beta", low=0.0, high=1.0, high_open=True)
    if omega >= young_omega(beta):
        return omega - 1.0
    return ((omega * beta + math.sqrt(omega * omega * beta * beta - 4.0 * (omega - 1.0))) / 2.0) ** 2
