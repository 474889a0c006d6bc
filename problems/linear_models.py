"""Regularized linear models: least squares, binary and multinomial logistic regression.

All three minimise, in scikit-learn's scaling (``scale="mean"``, the default),

    F(x) = (1/n) sum_i loss_i(a_i^T x) + (l2/2) ||x||_2^2 + l1 ||x||_1,

with ``scale="sum"`` dropping the 1/n (the papers' own fixtures, e.g. the greedy BCD data sets, are in sum
scale). The smooth part is ``value``/``grad`` (l2 included); the L1 term is the separable
``reg_value``/``prox`` of a composite problem. No intercept is fitted (as in the BCD paper; centre
the data, or append a column of ones, to get one).

* least squares: loss_i(z) = (z - b_i)^2 / 2, as ``sklearn.linear_model.Lasso(fit_intercept=False)``;
* logistic: loss_i(z) = log(1 + exp(-y_i z)), labels in {-1, 1} or {0, 1};
* multinomial: x is the p x K weight matrix flattened row-major (variable ``feature * K + class``),
  every class parameterised, loss_i(z) = logsumexp(z) - z_{y_i} (the softmax cross-entropy).

Work is counted in gradient evaluations (``work_unit = "grad"``); ``value`` calls are counted too.
``optimality(x)`` is the natural (prox-gradient) residual ``||x - prox_{l1}(x - grad f(x))||_inf``,
zero exactly at a minimiser; ``kkt_violation(x)`` gives the subgradient KKT violation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logsumexp

from .base import Problem, counted
from .validation import as_choice, as_matrix, as_nonnegative, as_vector, check_rows


def soft_threshold(z: np.ndarray, threshold: float) -> np.ndarray:
    """prox of ``threshold * ||.||_1``: ``sign(z) max(|z| - threshold, 0)``."""
    return np.sign(z) * np.maximum(np.abs(z) - threshold, 0.0)


class RegularizedLinearModel(Problem):
    """Base of the three models: data, scaling, penalties, prox, residuals and the cvxpy reference.

    A subclass gives the data loss through ``loss_and_dloss`` (and ``_cvxpy_loss`` for the reference);
    the smooth part is then f(x) = ``loss_weight`` * loss(A x) + (l2/2) ||x||^2.
    """

    work_unit = "grad"
    _curvature = 1.0  # sup of loss'' (1 for squares, 1/4 logistic, 1/2 Boehning bound for softmax)

    def __init__(self, A, l1=0.0, l2=0.0, scale="mean", name=None):
        super().__init__()
        self.A = as_matrix(A, "A")
        self.n_samples, self.n_features = self.A.shape
        if self.n_samples == 0 or self.n_features == 0:
            raise ValueError(f"A must have at least one row and one column, got shape {self.A.shape}")
        self.l1 = as_nonnegative(l1, "l1")
        self.l2 = as_nonnegative(l2, "l2")
        self.scale = as_choice(scale, "scale", ("mean", "sum"))
        self._weight = 1.0 / self.n_samples if self.scale == "mean" else 1.0
        self.name = name or type(self).__name__
        self._lipschitz = None
        self._reference = None

    # ---------------------------------------------------------------- model specific
    @property
    def loss_weight(self) -> float:
        """The factor w in front of the summed data loss: 1/n for ``scale="mean"``, 1 for ``"sum"``."""
        return self._weight

    def loss_and_dloss(
        self, Z: np.ndarray, need_value: bool = True, need_grad: bool = True
    ) -> tuple[float | None, np.ndarray | None]:  # pragma: no cover - interface
        """The summed data loss sum_i loss_i(Z_i) at the linear predictor Z = A W (unweighted, no
        penalties) and its derivative dloss/dZ (shape of Z); either is None when not asked for."""
        raise NotImplementedError

    def _as_weights(self, x):
        return x

    def _from_weights(self, W):
        return W

    # ---------------------------------------------------------------- oracles
    @property
    def dim(self) -> int:
        return self.n_features

    @counted("value")
    def value(self, x) -> float:
        """Smooth part f(x): scaled data loss plus (l2/2)||x||^2."""
        loss, _ = self.loss_and_dloss(self.A @ self._as_weights(x), need_grad=False)
        return self._weight * loss + 0.5 * self.l2 * float(x @ x)

    @counted("grad")
    def grad(self, x) -> np.ndarray:
        """Gradient of the smooth part: scale * A^T loss'(Ax) + l2 x."""
        _, dZ = self.loss_and_dloss(self.A @ self._as_weights(x), need_value=False)
        return self._weight * self._from_weights(self.A.T @ dZ) + self.l2 * x

    def value_and_grad(self, x):
        """Both at the cost of one data pass (counted as one value and one gradient)."""
        self.counts.add("value")
        self.counts.add("grad")
        loss, dZ = self.loss_and_dloss(self.A @ self._as_weights(x))
        f = self._weight * loss + 0.5 * self.l2 * float(x @ x)
        return f, self._weight * self._from_weights(self.A.T @ dZ) + self.l2 * x

    def reg_value(self, x) -> float:
        """Separable non-smooth part g(x) = l1 ||x||_1."""
        return self.l1 * float(np.abs(x).sum())

    def prox(self, x, step: float) -> np.ndarray:
        """prox_{step g}(x): soft-thresholding at step * l1."""
        return soft_threshold(x, step * self.l1) if self.l1 > 0 else np.array(x, dtype=float)

    def objective(self, x) -> float:
        """F(x) = f(x) + g(x)."""
        return self.value(x) + self.reg_value(x)

    @property
    def lipschitz(self) -> float:
        """Global Lipschitz constant of grad f: curvature * scale * sigma_max(A)^2 + l2."""
        if self._lipschitz is None:
            self._lipschitz = self._curvature * self._weight * _spectral_norm_sq(self.A) + self.l2
        return self._lipschitz

    # ---------------------------------------------------------------- optimality
    def optimality(self, x) -> float:
        """Natural residual ||x - prox_g(x - grad f(x))||_inf (not charged as oracle work)."""
        with self.counts.paused():
            g = self.grad(x)
        return float(np.max(np.abs(x - self.prox(x - g, 1.0)), initial=0.0))

    def kkt_violation(self, x) -> float:
        """``max_i dist(0, grad_i f(x) + l1 * subdifferential |x_i|)``."""
        with self.counts.paused():
            g = self.grad(x)
        nz = x != 0
        viol = np.where(nz, np.abs(g + self.l1 * np.sign(x)), np.maximum(np.abs(g) - self.l1, 0.0))
        return float(np.max(viol, initial=0.0))

    def l1_max(self) -> float:
        """The smallest l1 for which x = 0 is optimal: ||grad f(0)||_inf (l2 does not matter at 0)."""
        with self.counts.paused():
            return float(np.max(np.abs(self.grad(np.zeros(self.dim)))))

    def suboptimality(self, x) -> float:
        """Relative suboptimality (F(x) - F*) / max(1, |F*|) against ``reference_solution()``."""
        _, f_star = self.reference_solution()
        with self.counts.paused():
            f = self.objective(x)
        return (f - f_star) / max(1.0, abs(f_star))

    # ---------------------------------------------------------------- reference
    def reference_solution(self):
        """(x*, F*) from cvxpy (Clarabel, tolerances tightened to 1e-12), cached.

        Independent of every solver in this library; tests and comparisons measure against it.
        """
        if self._reference is None:
            import cvxpy as cp

            x = cp.Variable(self.dim)
            loss = self._cvxpy_loss(x)
            obj = self._weight * loss + 0.5 * self.l2 * cp.sum_squares(x) + self.l1 * cp.norm1(x)
            prob = cp.Problem(cp.Minimize(obj))
            prob.solve(
                solver=cp.CLARABEL,
                tol_gap_abs=1e-12,
                tol_gap_rel=1e-12,
                tol_feas=1e-12,
                tol_ktratio=1e-10,
                max_iter=500,
            )
            if x.value is None:
                raise RuntimeError(f"cvxpy could not solve the reference problem: {prob.status}")
            x_star = np.asarray(x.value, dtype=float)
            with self.counts.paused():
                self._reference = (x_star, self.objective(x_star))
        x_star, f_star = self._reference
        return x_star.copy(), f_star

    def _cvxpy_loss(self, x):  # pragma: no cover - interface
        raise NotImplementedError


class LeastSquares(RegularizedLinearModel):
    """(1/2n)||Ax - b||^2 + (l2/2)||x||^2 + l1||x||_1 (``sklearn.linear_model.Lasso`` scaling).

    Parameters: ``A`` (n x p, dense or scipy.sparse), ``b`` (n,), ``l1``, ``l2`` >= 0,
    ``scale`` "mean" (default) or "sum" (drops the 1/n).
    """

    _curvature = 1.0

    def __init__(self, A, b, l1=0.0, l2=0.0, scale="mean", name=None):
        super().__init__(A, l1=l1, l2=l2, scale=scale, name=name)
        self.b = as_vector(b, "b")
        check_rows(self.n_samples, self.b, "b")

    def loss_and_dloss(
        self, Z: np.ndarray, need_value: bool = True, need_grad: bool = True
    ) -> tuple[float | None, np.ndarray | None]:
        r = Z - self.b
        return (0.5 * float(r @ r) if need_value else None), r

    def _cvxpy_loss(self, x):
        import cvxpy as cp

        return 0.5 * cp.sum_squares(self.A @ x - self.b)


class Logistic(RegularizedLinearModel):
    """mean_i log(1 + exp(-y_i a_i^T x)) + (l2/2)||x||^2 + l1||x||_1, labels in {-1,1} or {0,1}.

    Labels {0, 1} are mapped to {-1, 1}. The curvature bound 1/4 gives ``lipschitz``.
    """

    _curvature = 0.25

    def __init__(self, A, y, l1=0.0, l2=0.0, scale="mean", name=None):
        super().__init__(A, l1=l1, l2=l2, scale=scale, name=name)
        labels = as_vector(y, "y")
        check_rows(self.n_samples, labels, "y")
        values = set(np.unique(labels).tolist())
        if not (values <= {-1.0, 1.0} or values <= {0.0, 1.0}):
            raise ValueError(f"y must hold labels in {{-1, 1}} or {{0, 1}}, got values {sorted(values)[:5]}")
        self.y = np.where(labels > 0, 1.0, -1.0)

    def loss_and_dloss(
        self, Z: np.ndarray, need_value: bool = True, need_grad: bool = True
    ) -> tuple[float | None, np.ndarray | None]:
        margins = self.y * Z
        value = float(np.logaddexp(0.0, -margins).sum()) if need_value else None
        return value, (-self.y * expit(-margins) if need_grad else None)

    def _cvxpy_loss(self, x):
        import cvxpy as cp

        return cp.sum(cp.logistic(-cp.multiply(self.y, self.A @ x)))


class MultinomialLogistic(RegularizedLinearModel):
    """Mean softmax cross-entropy of A W (W = x reshaped p x K, row-major) plus the penalties.

    ``y`` holds class labels (any integers); ``classes`` lists them in sorted order. The Lipschitz
    bound uses Boehning's curvature bound 1/2 (lambda_max of the softmax Hessian bound).
    """

    _curvature = 0.5

    def __init__(self, A, y, l1=0.0, l2=0.0, scale="mean", name=None):
        super().__init__(A, l1=l1, l2=l2, scale=scale, name=name)
        labels = as_vector(y, "y")
        check_rows(self.n_samples, labels, "y")
        if not np.all(labels == np.round(labels)):
            raise ValueError("y must hold integer class labels")
        self.classes, self.labels = np.unique(labels.astype(np.int64), return_inverse=True)
        self.n_classes = len(self.classes)
        if self.n_classes < 2:
            raise ValueError(f"y must contain at least 2 classes, got {self.n_classes}")
        self.Y = np.zeros((self.n_samples, self.n_classes))
        self.Y[np.arange(self.n_samples), self.labels] = 1.0

    @property
    def dim(self) -> int:
        return self.n_features * self.n_classes

    def _as_weights(self, x):
        return x.reshape(self.n_features, self.n_classes)

    def _from_weights(self, W):
        return np.asarray(W).ravel()

    def loss_and_dloss(
        self, Z: np.ndarray, need_value: bool = True, need_grad: bool = True
    ) -> tuple[float | None, np.ndarray | None]:
        Z = np.asarray(Z)
        lse = logsumexp(Z, axis=1)
        value = float(lse.sum() - (Z * self.Y).sum()) if need_value else None
        return value, (np.exp(Z - lse[:, None]) - self.Y if need_grad else None)

    def _cvxpy_loss(self, x):
        import cvxpy as cp

        W = cp.reshape(x, (self.n_features, self.n_classes), order="C")
        Z = self.A @ W
        return cp.sum(cp.log_sum_exp(Z, axis=1)) - cp.sum(cp.multiply(self.Y, Z))


def _spectral_norm_sq(A) -> float:
    """sigma_max(A)^2, exactly for small dense A, by Lanczos (svds) otherwise."""
    if not sp.issparse(A) and min(A.shape) <= 2000:
        return float(np.linalg.norm(A, 2) ** 2)
    from scipy.sparse.linalg import svds

    s = svds(sp.csr_matrix(A), k=1, return_singular_vectors=False, random_state=0, tol=1e-10)
    return float(s[0] ** 2) * (1 + 1e-10)
