"""Problems for greedy block coordinate descent (BCD) and their block oracles.

Nutini, Laradji, Schmidt, "Let's Make Block Coordinate Descent Converge Faster: Faster Greedy Rules,
Message-Passing, Active-Set Complexity, and Superlinear Convergence", JMLR 23(131), 2022 (the
"paper"); data-set recipes and conventions from its official code (IssamLaradji/BlockCoordinateDescent)
as documented in ``shared/specs/greedy_bcd.md``.

The BCD solver (``optim.bcd.BCD``) talks to a problem through the ``BlockSmooth`` capability:

``block_state(x)``          incremental state (iterate, residual / margins / logits, or the gradient)
``block_grad(s, b)``        grad_b f(x) from the state, O(rows x |b|) (O(|b|) for quadratics)
``full_grad(s)``            the whole gradient (greedy rules), one O(nnz) pass
``block_step(s, b, d)``     x_b += d and the state update, r += A_b d (spec section 9.1)
``state_value(s)``          f(x); ``trial_value(s, b, d)``: f(x + U_b d) without moving
``coord_lipschitz``         L_i (coordinate-wise Lipschitz constants of grad f)
``bound_block(b)``          H_b = M_bb, a matrix upper bound on the block Hessian (spec section 1.1)
``block_lipschitz(b)``      L_b = lambda_max(M_bb), the block Lipschitz constant of grad f
``hessian_block(s, b)``     the true block Hessian at x (Newton updates)
``bound_matvec(v)``, ``bound_rowsums()``, ``bound_lambda_max()``: the global bound M, matrix-free
``l1``, ``nonnegative``, ``is_quadratic``, ``dependency_graph()``

Counts: ``counts["coordinates"]`` is the number of coordinate updates, ``counts["grad"]`` the
full-gradient equivalents (a block gradient costs |b|/n of one).

* ``BlockLinearModel(model)`` gives these oracles to the foundation's ``LeastSquares``, ``Logistic``
  and ``MultinomialLogistic`` (and ``NonnegativeLasso``) without copying their data twice.
* ``NonnegativeLasso``: 0.5||Ax - y||^2 + l1 sum(x), x >= 0 (paper, Section 7 / Fig. 7).
* ``LabelPropagation``: the harmonic label-propagation quadratic (paper, Section 6; spec 1.1 item 4).
* ``bcd_paper_problem("A" ... "E")``: the paper's five data sets by the recipes of spec 8.1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401  (sp.csgraph)
import scipy.sparse.linalg  # noqa: F401  (sp.linalg)
from scipy.special import expit

from .base import Capability, Problem, counted
from .linear_models import LeastSquares, Logistic, MultinomialLogistic, _RegularizedLinearModel
from .validation import as_int, as_matrix, as_nonnegative, as_real, as_vector

BlockSmooth = Capability(
    "BlockSmooth",
    (
        "dim",
        "block_state",
        "block_grad",
        "full_grad",
        "block_step",
        "state_value",
        "trial_value",
        "coord_lipschitz",
        "bound_block",
        "block_lipschitz",
        "hessian_block",
        "bound_matvec",
        "bound_rowsums",
        "bound_lambda_max",
    ),
    "block oracles and incremental state hooks (problems.bcd)",
)


class BlockBounds:
    """Mixin: the block Lipschitz constant from the block bound ``bound_block``."""

    def block_lipschitz(self, b) -> float:
        """L_b = lambda_max(M_bb) (eigvalsh of the |b| x |b| bound; M_ii for one coordinate)."""
        H = self.bound_block(b)
        return float(H[0, 0]) if len(H) == 1 else float(np.linalg.eigvalsh(H)[-1])


class BlockState:
    """Incremental state of a block method: the iterate ``x`` plus problem-specific caches."""

    def __init__(self, x, **caches):
        self.x = x
        self.__dict__.update(caches)


def block_problem(problem):
    """``problem`` itself if it has the ``BlockSmooth`` oracles, a ``BlockLinearModel`` view of a
    foundation linear model, otherwise ``TypeError`` naming what is missing."""
    if BlockSmooth.satisfied_by(problem):
        return problem
    if isinstance(problem, _RegularizedLinearModel):
        view = getattr(problem, "_block_view", None)  # cached: keeps row sums and the like across runs
        if view is None or view.l1 != problem.l1 or view.l2 != problem.l2:
            view = problem._block_view = BlockLinearModel(problem)
        return view
    missing = BlockSmooth.missing(problem)
    raise TypeError(
        f"block coordinate descent needs a problem with block oracles ({BlockSmooth.description}); "
        f"{type(problem).__name__} lacks {', '.join(missing[:6])}"
        f"{' ...' if len(missing) > 6 else ''}"
    )


def _column_sq_norms(A) -> np.ndarray:
    if sp.issparse(A):
        return np.asarray(A.multiply(A).sum(axis=0)).ravel()
    return np.einsum("ij,ij->j", A, A)


def _gram_abs_rowsums(A, chunk: int = 512) -> np.ndarray:
    """sum_j |(A^T A)_ij| for every i, in column chunks (never the whole p x p Gram matrix)."""
    p = A.shape[1]
    out = np.empty(p)
    At = A.T.tocsr() if sp.issparse(A) else A.T
    for start in range(0, p, chunk):
        block = At @ A[:, start : start + chunk]
        out[start : start + chunk] = abs(block).sum(axis=0) if sp.issparse(block) else np.abs(block).sum(axis=0)
    return np.asarray(out).ravel()


class BlockLinearModel(BlockBounds):
    """Block oracles and incremental state for a foundation linear model (a view, sharing ``counts``).

    State: the linear predictor Z = A W (m, or m x K for softmax) and the loss derivative at Z,
    cached until the next step. A step on block b costs O(m |b|) (dense) or O(nnz(A_b)) (sparse):
    Z += A_b d (spec section 9.1). Curvature bounds (spec 1.1): M = c A^T A (+ l2 I) with c = 1
    (least squares), 1/4 (logistic); softmax: Boehning's 0.5 (I - 11^T/K) kron A^T A, with K replaced
    by K' = min(K, #classes in the block + 1) inside a block [official code]. L_i = c ||a_i||^2 with
    c = 1/4 for both logistic losses [official code].
    """

    def __init__(self, model):
        if not isinstance(model, _RegularizedLinearModel):
            raise TypeError(
                f"model must be a LeastSquares, Logistic or MultinomialLogistic problem, got {type(model).__name__}"
            )
        self.model = model
        self.counts = model.counts
        self.name = model.name
        self.A = model.A.tocsc() if sp.issparse(model.A) else np.asfortranarray(model.A)
        self.w, self.l1, self.l2 = model._weight, model.l1, model.l2
        self.nonnegative = bool(getattr(model, "nonnegative", False))
        self.K = model.n_classes if isinstance(model, MultinomialLogistic) else None
        self.dim = model.dim
        self.is_quadratic = isinstance(model, LeastSquares)
        self._bound_curv = 1.0 if isinstance(model, LeastSquares) else 0.25
        coord_curv = 1.0 if isinstance(model, LeastSquares) else 0.25
        col = _column_sq_norms(self.A)
        if self.K is not None:
            col = np.repeat(col, self.K)
        self.coord_lipschitz = coord_curv * self.w * col + self.l2
        self._rowsums = None

    # -------------------------------------------------------------- plumbing
    def _columns(self, features) -> np.ndarray:
        cols = self.A[:, features]
        return cols.toarray() if sp.issparse(cols) else cols

    def _split(self, b):
        return (b, None) if self.K is None else (b // self.K, b % self.K)

    def _loss_and_dloss(self, state):
        if state.dZ is None:
            state.loss, state.dZ = self.model._loss_and_dloss(state.Z)
        return state.loss, state.dZ

    def _added(self, Z, b, delta):
        """Z + A_b delta (a new array)."""
        f, c = self._split(b)
        if self.K is None:
            return Z + self.A[:, f] @ delta
        D = self._columns(f) * delta
        classes, where = np.unique(c, return_inverse=True)
        out = Z.copy()
        out[:, classes] += D @ (where[:, None] == np.arange(len(classes)))
        return out

    # -------------------------------------------------------------- state hooks
    def block_state(self, x) -> BlockState:
        x = np.array(x, dtype=float)
        W = x if self.K is None else x.reshape(-1, self.K)
        Z = np.asarray(self.A @ W, dtype=float)
        return BlockState(x, Z=Z, dZ=None, loss=None, xsq=float(x @ x))

    def state_value(self, state) -> float:
        loss, _ = self._loss_and_dloss(state)
        return self.w * loss + 0.5 * self.l2 * state.xsq

    def trial_value(self, state, b, delta) -> float:
        loss, _ = self.model._loss_and_dloss(self._added(state.Z, b, delta), need_grad=False)
        xb = state.x[b]
        return self.w * loss + 0.5 * self.l2 * (state.xsq + float((xb + delta) @ (xb + delta) - xb @ xb))

    def full_grad(self, state) -> np.ndarray:
        self.counts.add("grad")
        _, dZ = self._loss_and_dloss(state)
        return self.w * np.asarray(self.A.T @ dZ).ravel() + self.l2 * state.x

    def block_grad(self, state, b) -> np.ndarray:
        self.counts.add("grad", len(b) / self.dim)
        _, dZ = self._loss_and_dloss(state)
        f, c = self._split(b)
        if self.K is None:
            gb = self.A[:, f].T @ dZ
        else:
            gb = np.einsum("ij,ij->j", self._columns(f), dZ[:, c])
        return self.w * np.asarray(gb).ravel() + self.l2 * state.x[b]

    def block_step(self, state, b, delta) -> None:
        self.counts.add("coordinates", len(b))
        xb = state.x[b]
        state.xsq += float((xb + delta) @ (xb + delta) - xb @ xb)
        state.x[b] = xb + delta
        state.Z = self._added(state.Z, b, delta)
        state.dZ = None

    # -------------------------------------------------------------- curvature
    def bound_block(self, b) -> np.ndarray:
        """H_b = M_bb (|b| x |b|), M the global Hessian upper bound."""
        f, c = self._split(b)
        cols = self._columns(f)
        G = self.w * (cols.T @ cols)
        if self.K is None:
            H = self._bound_curv * G
        else:
            K = min(self.K, len(np.unique(c)) + 1)
            H = np.where(c[:, None] == c[None, :], 0.5 * (1 - 1 / K), -0.5 / K) * G
        return H + self.l2 * np.eye(len(b))

    def hessian_block(self, state, b) -> np.ndarray:
        """The true block Hessian of f at the state's x."""
        f, c = self._split(b)
        cols = self._columns(f)
        if isinstance(self.model, LeastSquares):
            H = cols.T @ cols
        elif self.K is None:
            s = expit(state.Z)
            H = cols.T @ (cols * (s * (1 - s))[:, None])
        else:
            _, dZ = self._loss_and_dloss(state)
            Pb = (dZ + self.model.Y)[:, c]
            CP = cols * Pb
            H = (CP.T @ cols) * (c[:, None] == c[None, :]) - CP.T @ CP
        return self.w * H + self.l2 * np.eye(len(b))

    def bound_matvec(self, v) -> np.ndarray:
        """M v without forming M."""
        if self.K is None:
            nz = np.flatnonzero(v)
            Av = self.A[:, nz] @ v[nz] if len(nz) < 0.1 * len(v) else self.A @ v  # IHT iterates are sparse
            return self._bound_curv * self.w * np.asarray(self.A.T @ Av).ravel() + self.l2 * v
        T = np.asarray(self.A.T @ (self.A @ v.reshape(-1, self.K)))
        return 0.5 * self.w * (T - T.mean(axis=1, keepdims=True)).ravel() + self.l2 * v

    def bound_rowsums(self) -> np.ndarray:
        """sum_j |M_ij| (the row-sum diagonal bound, spec 4.6(b)), computed once in column chunks."""
        if self._rowsums is None:
            rs = _gram_abs_rowsums(self.A)
            if self.K is None:
                self._rowsums = self._bound_curv * self.w * rs + self.l2
            else:
                self._rowsums = np.repeat((1 - 1 / self.K) * self.w * rs, self.K) + self.l2
        return self._rowsums

    def bound_lambda_max(self) -> float:
        """lambda_max(M): c * scale * sigma_max(A)^2 + l2 (the model's own ``lipschitz``)."""
        return float(self.model.lipschitz)

    def dependency_graph(self):
        """Sparse pattern of the Hessian (variables i != j interact iff (A^T A)_ij != 0)."""
        A = sp.csc_matrix(self.A)
        G = (abs(A).T @ abs(A)).tocsr()
        if self.K is not None:
            G = sp.kron(G, np.ones((self.K, self.K)), format="csr")
        G.setdiag(0)
        G.eliminate_zeros()
        return G


class NonnegativeLasso(LeastSquares):
    """Non-negative L1 least squares: (s/2)||Ax - y||^2 + l1 sum(x) subject to x >= 0.

    s = 1/m for ``scale="mean"`` (``sklearn.linear_model.Lasso(positive=True)``'s objective with
    alpha = l1) and 1 for ``scale="sum"`` (the paper's Fig. 7 problem, A with l1 = 50000).
    ``prox`` is the projection max(0, x - step * l1), so ``optimality`` (the natural residual) is
    zero exactly at the minimiser.
    """

    nonnegative = True

    def __init__(self, A, y, l1, scale="mean", name=None):
        super().__init__(A, y, l1=l1, l2=0.0, scale=scale, name=name or "nonnegative-lasso")

    def reg_value(self, x) -> float:
        return self.l1 * float(np.sum(x)) if np.all(np.asarray(x) >= 0) else np.inf

    def prox(self, x, step: float) -> np.ndarray:
        return np.maximum(np.asarray(x, dtype=float) - step * self.l1, 0.0)

    def kkt_violation(self, x) -> float:
        with self.counts.paused():
            gt = self.grad(x) + self.l1
        viol = np.where(x > 0, np.abs(gt), np.maximum(-gt, 0.0))
        return float(np.max(viol, initial=0.0))

    def reference_solution(self):
        """(x*, F*) from cvxpy (Clarabel, tolerances 1e-12), cached."""
        if self._reference is None:
            import cvxpy as cp

            x = cp.Variable(self.dim, nonneg=True)
            obj = self._weight * 0.5 * cp.sum_squares(self.A @ x - self.b) + self.l1 * cp.sum(x)
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
            x_star = np.maximum(np.asarray(x.value, dtype=float), 0.0)
            with self.counts.paused():
                self._reference = (x_star, self.objective(x_star))
        x_star, f_star = self._reference
        return x_star.copy(), f_star


class LabelPropagation(BlockBounds, Problem):
    """Harmonic label propagation as a quadratic (paper Section 6; Zhu, Ghahramani, Lafferty 2003).

    Given a weighted undirected graph W (n x n, symmetric, non-negative, zero diagonal), labelled nodes
    S with values y_S, minimise over the unlabelled values x = x_U

        (1/2) sum_{edges {i,j}} w_ij (x_i - x_j)^2  =  (1/2) x^T Q x - c^T x + const,

    Q = (D - W)[U, U] (D = diag of the degrees over ALL nodes), c = W[U, S] y_S. Q is positive definite
    iff every connected component contains a labelled node (checked with a connected-components pass).
    The minimiser is x* = Q^{-1} c (a sparse direct solve), with f* = -c^T x* / 2.

    Block oracles: the state keeps the gradient g = Q x - c and updates it by g += Q[:, b] d,
    O(sum of the block's degrees) (spec 9.2). ``forest_partitions`` may hold named fixed partitions
    (the lattice's two "combs" and its red-black colouring for data set D).
    ``optimality(x)`` is the relative suboptimality (f(x) - f*)/max(1, |f*|) (the entries of data set
    D are ~1e5 and f* ~ -1e9, so absolute gaps say little); ``gradient_residual(x)`` is ||Q x - c||_inf.
    """

    work_unit = "epochs"
    is_quadratic = True
    nonnegative = False
    l1 = 0.0

    def __init__(self, W, labelled, y_labelled, name="label-propagation", forest_partitions=None):
        super().__init__()
        W = as_matrix(W, "W")
        n = W.shape[0]
        if W.shape != (n, n) or n < 2:
            raise ValueError(f"W must be a square matrix with at least 2 nodes, got shape {W.shape}")
        W = sp.csr_matrix(W)
        if W.nnz and W.data.min() < 0:
            raise ValueError("W must have non-negative edge weights")
        if abs(W - W.T).max() > 1e-12 * max(1.0, abs(W).max()):
            raise ValueError("W must be symmetric (an undirected graph)")
        if np.any(W.diagonal() != 0):
            raise ValueError("W must have a zero diagonal (no self-loops)")
        labelled = np.asarray(labelled)
        if labelled.ndim != 1 or not np.issubdtype(labelled.dtype, np.integer):
            raise TypeError("labelled must be a 1-D array of integer node indices")
        if len(np.unique(labelled)) != len(labelled) or labelled.min(initial=0) < 0 or labelled.max(initial=0) >= n:
            raise ValueError(f"labelled must hold distinct node indices in [0, {n})")
        if not 0 < len(labelled) < n:
            raise ValueError("labelled must name at least one node and leave at least one unlabelled")
        y = as_vector(y_labelled, "y_labelled", size=len(labelled))
        n_comp, comp = sp.csgraph.connected_components(W, directed=False)
        bad = np.setdiff1d(np.arange(n_comp), comp[labelled])
        if len(bad):
            raise ValueError(
                f"every connected component of W must contain a labelled node; "
                f"{len(bad)} component(s) have none (e.g. nodes "
                f"{np.flatnonzero(comp == bad[0])[:5].tolist()}), so Q is singular"
            )
        self.W, self.labelled, self.y_labelled = W, labelled, y
        self.unlabelled = np.setdiff1d(np.arange(n), labelled)
        deg = np.asarray(W.sum(axis=0)).ravel()
        U, S = self.unlabelled, labelled
        self.Q = (sp.diags(deg[U]) - W[U][:, U]).tocsc()
        self.Q.sort_indices()
        self.c = np.asarray(W[U][:, S] @ y).ravel()
        self.dim = len(U)
        self.name = name
        self.coord_lipschitz = self.Q.diagonal().copy()
        self.forest_partitions = dict(forest_partitions or {})
        self._lambda_max = None
        self._reference = None
        self._graph = None

    # ------------------------------------------------------------ Problem oracles
    @property
    def work(self) -> float:
        """Epochs: coordinate updates / n."""
        return self.counts["coordinates"] / self.dim

    def initial_point(self) -> np.ndarray:
        return np.zeros(self.dim)

    @counted("value")
    def value(self, x) -> float:
        return float(0.5 * x @ (self.Q @ x) - self.c @ x)

    @counted("grad")
    def grad(self, x) -> np.ndarray:
        return self.Q @ x - self.c

    def objective(self, x) -> float:
        return self.value(x)

    @property
    def lipschitz(self) -> float:
        return self.bound_lambda_max()

    def optimality(self, x) -> float:
        """Relative suboptimality (f(x) - f*) / max(1, |f*|) (f* by a sparse direct solve, spec 9.9)."""
        return max(self.suboptimality(x), 0.0)

    def gradient_residual(self, x) -> float:
        """||Q x - c||_inf."""
        return float(np.max(np.abs(self.Q @ x - self.c)))

    def reference_solution(self):
        """(x*, f*) by a sparse direct solve (cached)."""
        if self._reference is None:
            x = sp.linalg.spsolve(self.Q, self.c)
            self._reference = (x, float(-0.5 * self.c @ x))
        x, f = self._reference
        return x.copy(), f

    def suboptimality(self, x) -> float:
        _, f_star = self.reference_solution()
        return (self.value.__wrapped__(self, x) - f_star) / max(1.0, abs(f_star))

    def all_labels(self, x) -> np.ndarray:
        """The n node values: x on the unlabelled nodes, y on the labelled ones."""
        out = np.empty(self.W.shape[0])
        out[self.unlabelled], out[self.labelled] = x, self.y_labelled
        return out

    # ------------------------------------------------------------ block oracles
    def block_state(self, x) -> BlockState:
        x = np.array(x, dtype=float)
        g = self.Q @ x - self.c
        return BlockState(x, g=g, f=float(0.5 * x @ (g - self.c)))

    def state_value(self, state) -> float:
        return state.f  # maintained by block_step: f = x^T (g - c) / 2

    def trial_value(self, state, b, delta) -> float:
        Qbb = self.bound_block(b)
        return state.f + float(state.g[b] @ delta + 0.5 * delta @ (Qbb @ delta))

    def _column_entries(self, b):
        """(rows, position in b, value) of the nonzeros of Q[:, b], O(sum of the block's degrees)
        (scipy's fancy indexing of Q[b] walks all of Q)."""
        b = np.asarray(b, dtype=np.int64)
        start, stop = self.Q.indptr[b], self.Q.indptr[b + 1]
        counts = stop - start
        col = np.repeat(np.arange(len(b)), counts)
        idx = np.arange(counts.sum()) + np.repeat(start - (np.cumsum(counts) - counts), counts)
        return self.Q.indices[idx], col, self.Q.data[idx]

    def full_grad(self, state) -> np.ndarray:
        return state.g  # maintained incrementally: no recomputation

    def block_grad(self, state, b) -> np.ndarray:
        return state.g[b]

    def block_step(self, state, b, delta) -> None:
        """x_b += d, g += Q[:, b] d and f += (x^T Q U_b d + d^T (g_b+ - c_b)) / 2, O(degrees)."""
        self.counts.add("coordinates", len(b))
        rows, col, vals = self._column_entries(b)
        dg = vals * delta[col]
        xdg = float(state.x[rows] @ dg)
        state.x[b] += delta
        np.add.at(state.g, rows, dg)
        state.f += 0.5 * (xdg + float(delta @ (state.g[b] - self.c[b])))

    def sparse_block(self, b):
        """Q_bb as a sparse matrix (forest blocks are solved from it by message passing)."""
        return self.Q[b][:, b]

    def bound_block(self, b) -> np.ndarray:
        """Q_bb (dense), O(sum of the block's degrees + |b|^2)."""
        rows, col, vals = self._column_entries(b)
        b = np.asarray(b, dtype=np.int64)
        order = np.argsort(b, kind="stable")
        k = np.minimum(np.searchsorted(b[order], rows), len(b) - 1)
        hit = b[order][k] == rows
        H = np.zeros((len(b), len(b)))
        H[order[k[hit]], col[hit]] = vals[hit]
        return H

    def hessian_block(self, state, b) -> np.ndarray:
        return self.bound_block(b)

    def bound_matvec(self, v) -> np.ndarray:
        return self.Q @ v

    def bound_rowsums(self) -> np.ndarray:
        return np.asarray(abs(self.Q).sum(axis=1)).ravel()

    def bound_lambda_max(self) -> float:
        if self._lambda_max is None:
            if self.dim <= 500:
                self._lambda_max = float(np.linalg.eigvalsh(self.Q.toarray())[-1])
            else:
                self._lambda_max = float(
                    sp.linalg.eigsh(self.Q, k=1, which="LA", tol=1e-10, return_eigenvectors=False)[0]
                ) * (1 + 1e-10)
        return self._lambda_max

    def dependency_graph(self):
        """Off-diagonal pattern of Q as a CSR matrix (the unlabelled part of the graph)."""
        if self._graph is None:
            G = self.Q.tocsr(copy=True)
            G.setdiag(0)
            G.eliminate_zeros()
            G.sort_indices()
            self._graph = G
        return self._graph


# ---------------------------------------------------------------------------------- data sets
PAPER_DATA_SETS = ("A", "A-L1", "B", "C", "D", "E")


def _paper_design(rs, m, p):
    """The common random design of sets A, B, C (spec 8.1): bias 1, column scales 10 N(0,1),
    each entry kept with probability 10 log(m) / m. Draw order: randn(m,p), randn(p), rand(m,p)."""
    A0 = rs.randn(m, p) + 1
    A0 = A0 * (10 * rs.randn(p))[None, :]
    return A0 * (rs.rand(m, p) < 10 * np.log(m) / m)


def lattice_partitions(nrows, ncols, labelled):
    """Data set D's fixed partitions (official code): two combs ("tree") and red-black.

    Node i = c * nrows + r (column-major). Labelled nodes are dropped and the rest re-indexed to the
    unlabelled numbering (dropping nodes from a tree leaves a forest)."""
    r, c = np.arange(nrows * ncols) % nrows, np.arange(nrows * ncols) // nrows
    white = (r == 0) | ((c % 2 == 0) & (r <= nrows - 2))
    red = (r % 2) == (c % 2)
    keep = np.ones(nrows * ncols, bool)
    keep[labelled] = False
    new_index = np.cumsum(keep) - 1

    def reindex(mask):
        return new_index[np.flatnonzero(mask & keep)]

    return {"tree": [reindex(white), reindex(~white)], "red_black": [reindex(red), reindex(~red)]}


def lattice_label_propagation(grid=50, n_labelled=100, weight=1e5, seed=1) -> LabelPropagation:
    """Data set D: grid x grid 4-neighbour lattice, weights 1e5, labels 10 N(0,1) on a random set."""
    grid = as_int(grid, "grid", low=2)
    n = grid * grid
    n_labelled = as_int(n_labelled, "n_labelled", low=1, high=n - 1)
    idx = np.arange(n).reshape(grid, grid, order="F")  # idx[r, c] = c * grid + r
    rows = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    cols = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    W = sp.coo_matrix((np.full(len(rows), as_real(weight, "weight", low=0, low_open=True)), (rows, cols)), shape=(n, n))
    W = (W + W.T).tocsr()
    rs = np.random.RandomState(seed)
    S = rs.choice(n, n_labelled, replace=False)
    y = 10 * rs.randn(n_labelled)
    return LabelPropagation(
        W, S, y, name=f"D-lattice{grid}x{grid}", forest_partitions=lattice_partitions(grid, grid, S)
    )


def moons_points(n_points, seed):
    """Two interleaved half-circles (the paper's MATLAB generator re-implemented, spec 8.1 E):
    class 1 at (cos t, sin t), class 2 at (1 + cos t, 0.5 - sin t), t ~ U(0, pi), noise 0.2 N(0, 1)."""
    rs = np.random.RandomState(seed)
    cls = np.where(rs.rand(n_points) < 0.5, 1, 2)
    phi = rs.rand(n_points) * np.pi
    X = np.where((cls == 1)[:, None], np.c_[np.cos(phi), np.sin(phi)], np.c_[1 + np.cos(phi), 0.5 - np.sin(phi)])
    return X + 0.2 * rs.randn(n_points, 2), cls, rs


def knn_graph(X, k=5):
    """Symmetrised k-nearest-neighbour graph with unit weights (stable sort of the distances)."""
    D2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    nbrs = np.argsort(D2, axis=0, kind="stable")[1 : k + 1]  # column s: the k nearest of point s
    n = len(X)
    W = sp.coo_matrix((np.ones(n * k), (np.tile(np.arange(n), k), nbrs.ravel())), shape=(n, n)).tocsr()
    W.data[:] = 1.0
    return W.maximum(W.T).tocsr()


def moons_label_propagation(n_points=2000, n_labelled=100, seed=2, max_tries=100) -> LabelPropagation:
    """Data set E (numpy fixture of spec 8.1): two moons, symmetrised 5-NN graph, 100 labels in {1, 2}.

    If a draw leaves a connected component without labels, the next seed is tried; ``seed_used``
    records the seed of the returned problem."""
    n_points = as_int(n_points, "n_points", low=10)
    n_labelled = as_int(n_labelled, "n_labelled", low=1, high=n_points - 1)
    for s in range(seed, seed + max_tries):
        X, cls, rs = moons_points(n_points, s)
        S = rs.permutation(n_points)[:n_labelled]
        W = knn_graph(X)
        n_comp, comp = sp.csgraph.connected_components(W, directed=False)
        if len(np.unique(comp[S])) == n_comp:
            problem = LabelPropagation(W, S, cls[S].astype(float), name=f"E-moons{n_points}")
            problem.points, problem.classes, problem.seed_used = X, cls, s
            return problem
    raise ValueError(f"no seed in [{seed}, {seed + max_tries}) gives a graph whose components are all labelled")


def bcd_paper_problem(name, seed=None, n_rows=None, n_cols=None, l1=None, grid=50, n_points=2000, n_labelled=100):
    """The paper's data sets (spec 8.1), in the paper's sum scale, with l2 = 0.

    ``"A"`` least squares (m = 1000, p = 10000), ``"A-L1"`` the same with a non-negative L1 penalty
    (l1 = 50000), ``"B"`` logistic (10% label flips), ``"C"`` softmax with 50 classes (p = 1000),
    ``"D"`` label propagation on a 50 x 50 lattice, ``"E"`` label propagation on two moons (the numpy
    fixture, seed 2). ``seed`` defaults to the paper's 1 (2 for E); ``n_rows``/``n_cols`` shrink A-C,
    ``grid``/``n_points``/``n_labelled`` shrink D and E. A-C use numpy's legacy ``RandomState`` as the
    official code does, so B, C and D are bit-exact reproductions at full size.
    """
    if name not in PAPER_DATA_SETS:
        from .validation import as_choice

        as_choice(name, "name", PAPER_DATA_SETS)
    if name == "D":
        return lattice_label_propagation(grid, n_labelled, seed=1 if seed is None else seed)
    if name == "E":
        return moons_label_propagation(n_points, n_labelled, seed=2 if seed is None else seed)
    rs = np.random.RandomState(1 if seed is None else seed)
    m = as_int(1000 if n_rows is None else n_rows, "n_rows", low=2)
    p = as_int((1000 if name == "C" else 10000) if n_cols is None else n_cols, "n_cols", low=1)
    A0 = _paper_design(rs, m, p)
    if name == "C":
        W = rs.randn(p, 50)
        labels = np.argmax(A0 @ W + rs.randn(m, 50), axis=1)
        return MultinomialLogistic(sp.csc_matrix(A0), labels, scale="sum", name=f"C-softmax{m}x{p}")
    w = rs.randn(p) * (rs.rand(p) < 0.1)
    if name == "B":
        y = np.sign(A0 @ w)
        y = y * np.sign(rs.rand(m) - 0.1)
        y[y == 0] = 1.0
        return Logistic(sp.csc_matrix(A0), y, scale="sum", name=f"B-logistic{m}x{p}")
    y = A0 @ w + rs.randn(m)
    if name == "A":
        return LeastSquares(sp.csc_matrix(A0), y, scale="sum", name=f"A-least-squares{m}x{p}")
    lam = as_nonnegative(50000.0 if l1 is None else l1, "l1")
    return NonnegativeLasso(sp.csc_matrix(A0), y, l1=lam, scale="sum", name=f"A-L1{m}x{p}")


# named builders for problems/catalog.py (small sizes by default where the paper's take minutes)
def bcd_least_squares(n_rows=1000, n_cols=10000, seed=1):
    """Data set A of the BCD paper: sparse least squares, sum scale (spec 8.1)."""
    return bcd_paper_problem("A", seed=seed, n_rows=n_rows, n_cols=n_cols)


def bcd_nonnegative_lasso(n_rows=1000, n_cols=10000, l1=50000.0, seed=1):
    """Data set A with a non-negative L1 penalty (the paper's Fig. 7 problem)."""
    return bcd_paper_problem("A-L1", seed=seed, n_rows=n_rows, n_cols=n_cols, l1=l1)


def bcd_logistic(n_rows=1000, n_cols=10000, seed=1):
    """Data set B of the BCD paper: sparse logistic regression with 10% label flips."""
    return bcd_paper_problem("B", seed=seed, n_rows=n_rows, n_cols=n_cols)


def bcd_softmax(n_rows=1000, n_cols=1000, seed=1):
    """Data set C of the BCD paper: softmax regression with 50 classes."""
    return bcd_paper_problem("C", seed=seed, n_rows=n_rows, n_cols=n_cols)


def bcd_lattice(grid=50, n_labelled=100, seed=1):
    """Data set D of the BCD paper: label propagation on a 50 x 50 lattice (f* = -1045999575.227)."""
    return bcd_paper_problem("D", seed=seed, grid=grid, n_labelled=n_labelled)


def bcd_moons(n_points=2000, n_labelled=100, seed=2):
    """Data set E of the BCD paper: label propagation on a two-moons 5-NN graph."""
    return bcd_paper_problem("E", seed=seed, n_points=n_points, n_labelled=n_labelled)
