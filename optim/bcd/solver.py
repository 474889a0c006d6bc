"""``BCD``: block coordinate descent with swappable partition, selection rule and update.

J. Nutini, I. Laradji, M. Schmidt, "Let's Make Block Coordinate Descent Converge Faster: Faster
Greedy Rules, Message-Passing, Active-Set Complexity, and Superlinear Convergence", JMLR 23(131), 2022;
proximal rules from Nutini et al., ICML 2015. One iteration is

    x^{k+1} = x^k + U_{b_k} d^k,

b_k chosen by the ``selection`` among the blocks of the ``partition`` (any tau-subset for
``partition="vb"``) and d^k given by the ``update``: strategy objects (``optim.bcd.selections``,
``optim.bcd.partitions``, ``optim.bcd.updates``) named by strings. Greedy single-coordinate and
small-block rules on quadratic problems (``optim.bcd.gram``) and single-coordinate rules on sparse
logistic regression (``optim.bcd.glm``) run in compiled kernels with the gradient kept current;
everything else runs on the problem's incremental state (``problems.bcd``).
User guide: ``docs/bcd.md``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from problems.bcd import block_problem
from problems.validation import as_choice, as_int, as_real

from ..base import Solver, State
from .checks import combination_error, default_block_size, problem_error, resolve
from .glm import GLMEngine, glm_eligible
from .gram import GramEngine, gram_eligible
from .partitions import PARTITIONS
from .selections import SELECTIONS, selection_for
from .updates import UPDATES

#: floor of the Lipschitz constants: a coordinate (block) with L = 0 (an all-zero column of A) has a zero
#: gradient, so the floor turns 0/0 scores and steps into 0 (and the prox step into the exact minimiser)
TINY = np.finfo(float).tiny


class BCD(Solver):
    """Greedy block coordinate descent (``method="bcd"``).

    Parameters
    ----------
    selection : "cyclic", "random", "lipschitz" (sampling prop. to L), "gs", "gsl", "gsd", "gsq"
        (exact on fixed blocks, iterative hard thresholding on variable blocks), proximal "gs_s",
        "gs_r", "gs_q", and for forest partitions "greedy_tree", "gsl", "gsd", "random" (grown forest)
        or "cyclic" (tree partition), "red_black" (independent-set colouring).
        Default: "greedy_tree" on sparse quadratics with a dependency graph, otherwise "gs_q".
    update : "gradient", "lipschitz_search", "matrix", "newton_ls", "exact_quadratic" (smooth
        problems), "prox_gradient" (any), "pg_nn" (non-negative), "tmp_nn", "pn_nn" (non-negative and
        signed L1). Default: "exact_quadratic" on forest partitions, "prox_gradient" on other
        quadratics, "newton_ls" (smooth) or "tmp_nn" (L1, non-negative) on other losses.
    partition : "order", "random", "sort", "avg" (fixed blocks), "vb" (variable blocks),
        "forest_fixed", "forest_greedy" (sparse quadratic problems). Default: "forest_greedy" on
        sparse quadratics with a dependency graph, otherwise "vb".
    block_size : tau (default 1; with the default Newton-type updates min(n, 50) or min(n, 10)).
    block_norm : 2 (paper: squared 2-norm block scores) or 1 (official code: 1-norms).
    iht_iters, iht_tol, iht_init : GSQ for variable blocks ("code": start at g/sqrt(L); "gsd").
    forest_order : "lipschitz" or "order" for greedy forest partitions and colourings.
    reshuffle_every_pass : variable-block cyclic rule: new permutation every pass (default: every n
        iterations, as the official code).
    engine : "auto" (compiled Gram-form kernels where they apply), "compiled" (require them) or "numpy".
    gram_budget_mb : memory for the Gram matrix of a least squares (default 256 MB): the whole H when it
        fits and the problem is smooth, otherwise a cache of columns computed on demand; ``result.gram_form``
        says which (``docs/bcd.md``, "Gram form").
    f_star : caller's target; the stopping error becomes ``(F(x) - f_star) / max(1, |f_star|)``.
    reference_support : optimal support; ``result.identified_at`` is the first iteration whose support
        {x_i != 0} equals it. ``result.support_settled_at``: the last support change.

    ``max_iter`` defaults to max(1000, 100 n / tau) and ``check_every`` to about sqrt(n) / tau for the
    compiled path (its stopping error costs O(n)), one epoch for cyclic/random rules and 10 for greedy
    numpy rules. Invalid combinations raise ``ValueError``.

    Example
    -------
    >>> import optim, problems
    >>> p = problems.lasso_diabetes(0.1)
    >>> optim.solve(p, method="bcd").status
    'converged'
    """

    name = "bcd"
    requires = ()
    default_max_iter = 1000
    error_name = "the problem's stopping error (prox-gradient residual ||x - prox(x - grad f(x))||_inf)"
    # set on the copy that ``configured`` returns (declared, not assigned: ``hasattr(self, "_bp")``
    # tells a configured copy from the caller's solver)
    glm: bool  # the compiled logistic-regression engine runs
    compiled: bool  # a compiled engine (Gram form or logistic regression) runs
    _bp: Any  # the block view of the problem the copy was configured for

    def __init__(
        self,
        selection: str | None = None,
        update: str | None = None,
        partition: str | None = None,
        block_size: int | None = None,
        block_norm: int = 2,
        iht_iters: int = 10,
        iht_tol: float = 1e-10,
        iht_init: str = "code",
        forest_order: str = "lipschitz",
        reshuffle_every_pass: bool = False,
        engine: str = "auto",
        gram_budget_mb: float = 256.0,
        f_star: float | None = None,
        reference_support: Any = None,
        **options: Any,
    ) -> None:
        self._auto_iter = options.get("max_iter") is None
        self._auto_check = options.get("check_every") is None
        super().__init__(**options)
        self.selection = None if selection is None else as_choice(selection, "selection", tuple(SELECTIONS))
        self.update = None if update is None else as_choice(update, "update", tuple(UPDATES))
        self.partition = None if partition is None else as_choice(partition, "partition", tuple(PARTITIONS))
        self.block_size = None if block_size is None else as_int(block_size, "block_size", low=1)
        if block_norm not in (1, 2) or isinstance(block_norm, bool):
            raise ValueError(
                f"block_norm must be 2 (squared 2-norm, paper) or 1 (1-norm, official code), got {block_norm!r}"
            )
        self.block_norm = int(block_norm)
        self.iht_iters = as_int(iht_iters, "iht_iters", low=0)
        self.iht_tol = as_real(iht_tol, "iht_tol", low=0.0)
        self.iht_init = as_choice(iht_init, "iht_init", ("code", "gsd"))
        self.forest_order = as_choice(forest_order, "forest_order", ("lipschitz", "order"))
        if not isinstance(reshuffle_every_pass, bool):
            raise TypeError("reshuffle_every_pass must be a bool")
        self.reshuffle_every_pass = reshuffle_every_pass
        self.engine = as_choice(engine, "engine", ("auto", "compiled", "numpy"))
        self.gram_budget_mb = as_real(gram_budget_mb, "gram_budget_mb", low=0.0)
        self.f_star = None if f_star is None else as_real(f_star, "f_star")
        if self.f_star is not None:
            self.error_name = "relative suboptimality (F(x) - f_star) / max(1, |f_star|) to the caller's f_star"
        self.reference_support = reference_support
        err = combination_error(*resolve(self.selection, self.update, self.partition, None))
        if err:
            raise ValueError(err)

    # ------------------------------------------------------------------ configuration
    def configured(self, problem: Any) -> BCD:
        """A copy with every default resolved for ``problem`` (``ValueError`` if it cannot run)."""
        bp = block_problem(problem)
        cfg = copy.copy(self)
        cfg.selection, cfg.update, cfg.partition = resolve(self.selection, self.update, self.partition, bp)
        err = combination_error(cfg.selection, cfg.update, cfg.partition) or problem_error(
            cfg.selection, cfg.update, cfg.partition, bp
        )
        if err:
            raise ValueError(err)
        if self.block_size is None:
            cfg.block_size = default_block_size(cfg.update, bp, chosen=self.update is None)
        else:
            cfg.block_size = self.block_size
        n = bp.dim
        forest = PARTITIONS[cfg.partition].forest
        if not forest and cfg.block_size > n:
            raise ValueError(f"block_size must be <= the problem dimension {n}, got {cfg.block_size}")
        tau = min(cfg.block_size, n)
        cfg.glm = self.engine != "numpy" and glm_eligible(cfg.selection, cfg.update, cfg.partition, tau, bp)
        cfg.compiled = cfg.glm or (
            self.engine != "numpy" and gram_eligible(cfg.selection, cfg.update, cfg.partition, bp)
        )
        if self.engine == "compiled" and not cfg.compiled:
            raise ValueError(
                "engine='compiled' needs a greedy rule in gs, gsl, gsd, gs_s, gs_r, gs_q with update gradient, "
                "prox_gradient or pg_nn, on a quadratic problem with a Gram form or (single coordinates) a sparse "
                "binary logistic regression"
            )
        if self._auto_iter:
            cfg.max_iter = max(1000, n) if forest else max(1000, 100 * math.ceil(n / tau))
        if self._auto_check:
            if cfg.compiled:
                cfg.check_every = int(min(1000, max(1, math.isqrt(n) // tau)))
            elif forest or SELECTIONS[cfg.selection].greedy:
                cfg.check_every = 1 if forest else 10
            else:
                cfg.check_every = int(min(1000, math.ceil(n / tau)))
        cfg._bp = bp
        return cfg

    @classmethod
    def accepts(cls, problem: Any) -> bool:
        """True when ``problem`` has block oracles and the default rules run on it."""
        try:
            cls().configured(problem)
            return True
        except (TypeError, ValueError):
            return False

    def check(self, problem: Any) -> None:
        if not hasattr(self, "_bp"):
            block_problem(problem)  # TypeError naming the missing block oracles

    def solve(self, problem: Any, x0: Any = None) -> Any:
        """Run with the defaults resolved for ``problem`` (the solver object itself is not changed)."""
        return Solver.solve(self.configured(problem), problem, x0)

    # ------------------------------------------------------------------ set-up
    def init(self, problem: Any, x0: Any = None) -> State:
        cfg = self if hasattr(self, "_bp") else self.configured(problem)
        bp = cfg._bp if cfg is self else block_problem(problem)
        x = cfg.initial_point(problem, x0)
        n = bp.dim
        st = State(x=None, bp=bp, bs=None, k=0, rng=cfg.new_rng(), cfg=cfg, perm=None, lam_max=None)
        st.L = np.maximum(np.asarray(bp.coord_lipschitz, float), TINY)
        st.rowsums = st.Lb = None
        st.chol = {}
        st.last_block = np.zeros(0, dtype=np.int64)
        st.tau = min(cfg.block_size, n)
        # configured() resolved every default
        assert cfg.selection is not None and cfg.update is not None and cfg.partition is not None
        sel, upd, part = selection_for(cfg.selection, cfg.partition), UPDATES[cfg.update], PARTITIONS[cfg.partition]
        st.sel, st.upd = sel, upd
        if cfg.update == "lipschitz_search":
            st.Lhat = np.ones(n)
        part.prepare(cfg, bp, st)
        if part.fixed:
            if cfg.selection in ("gsl", "lipschitz") or upd.needs_block_lipschitz:
                st.Lb = np.maximum([bp.block_lipschitz(b) for b in st.blocks], TINY)
            if cfg.selection == "gsq":
                st.Linv = _inverse_factors(bp, st)
        if (cfg.selection == "gsl" and cfg.partition == "vb" and cfg.update != "lipschitz_search") or (
            cfg.selection == "gsd" and cfg.partition == "forest_greedy"
        ):
            st.rowsums = np.maximum(np.asarray(bp.bound_rowsums(), float), TINY)
        if cfg.selection == "gsq" and cfg.partition == "vb":
            st.lam_max = float(bp.bound_lambda_max())
        st.track = bool(bp.l1 > 0 or bp.nonnegative or cfg.reference_support is not None)
        if cfg.compiled:
            if cfg.glm:
                st.engine = GLMEngine(bp, x)
            else:
                st.engine = GramEngine(bp, x, budget_mb=cfg.gram_budget_mb, tau=st.tau)
            st.x, st.bs, st.window_end = x, None, 0
            st.info = np.array([0, 0, -1, 0, -1, 0, 0], dtype=np.int64)
        else:
            st.engine = None
            st.bs = bp.block_state(x)
            st.x = st.bs.x
        _init_support(cfg, st, n)
        return st

    # ------------------------------------------------------------------ one iteration
    def step(self, problem: Any, st: State) -> State:
        cfg, bp = st.cfg, st.bp
        if st.engine is not None:
            return _compiled_step(cfg, bp, st)
        b, j = st.sel.select(cfg, bp, st)
        gb = bp.block_grad(st.bs, b)
        delta = st.upd.delta(cfg, bp, st, b, j, gb)
        bp.block_step(st.bs, b, delta)
        st.k += 1
        st.last_block = b
        if st.track:
            _track_support(cfg, st, b)
        return st

    def block_lipschitz(self, bp: Any, st: State, b: np.ndarray, j: int | None) -> float:
        """L_b: cached for fixed blocks, lambda_max(M_bb) otherwise (floored at the smallest float)."""
        if j is not None and st.Lb is not None:
            return st.Lb[j]
        return max(bp.block_lipschitz(b), TINY)

    # ------------------------------------------------------------------ hooks of the loop
    def objective(self, problem: Any, st: State) -> float:
        """F(x) from the incremental state (smooth part) plus the separable term."""
        f = st.engine.value(st.x) if st.engine is not None else st.bp.state_value(st.bs)
        reg = getattr(problem, "reg_value", None)
        return float(f + (reg(st.x) if reg is not None else 0.0))

    def optimality(self, problem: Any, st: State) -> float:
        cfg = st.cfg
        if cfg.f_star is not None:
            return (self.objective(problem, st) - cfg.f_star) / max(1.0, abs(cfg.f_star))
        eng = st.engine
        if eng is None or not hasattr(st.bp, "stopping_error"):
            return float(problem.optimality(st.x))
        est = st.bp.stopping_error(st.x, eng.g)
        if est > 2 * cfg.tol:  # the maintained gradient is exact to rounding: far from a verdict
            return est
        eng.resync(st.x)  # a verdict near tol uses the exact gradient, not the maintained one
        return st.bp.stopping_error(st.x, eng.g)

    def extra_history(self, problem: Any, st: State) -> dict:
        size = int(st.info[5]) if st.engine is not None else len(st.last_block)
        out = {"block_size": size, "coordinates": float(problem.counts["coordinates"])}
        if st.track:
            out["support_size"] = int(np.count_nonzero(st.x))
        return out

    def make_result(self, problem: Any, state: State, **kwargs: Any) -> Any:
        result = super().make_result(problem, state, **kwargs)
        if state.engine is not None:
            _sync_support(state)
            result["gram_columns"] = state.engine.columns_computed
            result["gram_form"] = getattr(state.engine, "form", None)
        if state.track:
            result["support_settled_at"] = state.settled_at
            result["identified_at"] = state.identified_at
        return result


# ---------------------------------------------------------------------------------- helpers
def _compiled_step(cfg: BCD, bp: Any, st: State) -> State:
    """One loop iteration of the compiled path: the kernel runs the whole stretch up to the next
    optimality check (or ``max_iter``) at the first iteration of the stretch, the others only count."""
    if st.k >= st.window_end:
        ce = cfg.check_every
        end = min((st.k // ce + 1) * ce, cfg.max_iter)
        before = int(st.info[6])
        done = st.engine.run(end - st.k, st.x, st, cfg.selection, cfg.update != "gradient", cfg.block_norm == 2)
        coords = int(st.info[6]) - before
        bp.counts.add("coordinates", coords)
        bp.counts.add("grad", coords / bp.dim)
        st.window_end = st.k + done
        st.last_block = st.engine.block[: st.info[5]].copy()
    st.k += 1
    return st


def _init_support(cfg: BCD, st: State, n: int) -> None:
    st.support = st.x != 0
    st.settled_at, st.identified_at, st.mismatch = 0, None, 0
    st.has_ref = cfg.reference_support is not None
    st.ref = np.zeros(n, bool)
    if st.has_ref:
        ref = np.asarray(cfg.reference_support)
        mask = None
        if ref.dtype == bool:
            mask = ref
        elif (
            ref.ndim == 1 and (ref.size == 0 or np.issubdtype(ref.dtype, np.integer)) and np.all((ref >= 0) & (ref < n))
        ):
            mask = np.isin(np.arange(n), ref)
        if mask is None or mask.shape != (n,):
            raise ValueError(f"reference_support must be integer indices in [0, {n}) or a boolean mask of length {n}")
        st.ref = mask
        st.mismatch = int(np.count_nonzero(st.support != mask))
        if st.mismatch == 0:
            st.identified_at = 0
    if st.engine is not None:
        st.support_u8, st.ref_u8 = st.support.copy(), st.ref.copy()
        st.info[1], st.info[2], st.info[3] = 0, -1 if st.identified_at is None else 0, st.mismatch


def _sync_support(st: State) -> None:
    st.settled_at = int(st.info[1])
    st.identified_at = None if st.info[2] < 0 else int(st.info[2])


def _track_support(cfg: BCD, st: State, b: np.ndarray) -> None:
    new = st.x[b] != 0
    old = st.support[b]
    if np.any(new != old):
        st.settled_at = st.k
        if st.has_ref:
            ref = st.ref[b]
            st.mismatch += int(np.count_nonzero(new != ref)) - int(np.count_nonzero(old != ref))
        st.support[b] = new
    if st.has_ref and st.identified_at is None and st.mismatch == 0:
        st.identified_at = st.k


def _inverse_factors(bp: Any, st: State) -> np.ndarray:
    """Stacked inverse Cholesky factors of H_b + 1e-10 I (GSQ on fixed blocks): score_k =
    ||L_k^{-1} g_b||^2 for all blocks in one einsum."""
    nb, tau = st.index.shape
    Linv = np.tile(np.eye(tau), (nb, 1, 1))
    for k, b in enumerate(st.blocks):
        H = bp.bound_block(b) + 1e-10 * np.eye(len(b))
        try:
            C = np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            w, V = np.linalg.eigh(H)
            C = V * np.sqrt(np.maximum(w, 1e-300))
        Linv[k, : len(b), : len(b)] = np.linalg.inv(C)
    return Linv
