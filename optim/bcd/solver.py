"""``BCD``: block coordinate descent with swappable partition, selection rule and update.

J. Nutini, I. Laradji, M. Schmidt, "Let's Make Block Coordinate Descent Converge Faster: Faster
Greedy Rules, Message-Passing, Active-Set Complexity, and Superlinear Convergence", JMLR 23(131), 2022;
proximal rules from Nutini et al., ICML 2015. One iteration is

    x^{k+1} = x^k + U_{b_k} d^k,

b_k chosen by the ``selection`` rule among the blocks of the ``partition`` (or any tau-subset for
``partition="vb"``) and d^k given by the ``update`` (see ``optim.bcd.rules`` and ``optim.bcd.updates``
for the formulas). The iterate lives in the problem's incremental state (``problems.bcd``), so a step
costs O(rows x |b|) and greedy rules add one O(nnz) full-gradient pass.
"""

from __future__ import annotations

import numpy as np

from problems.bcd import block_problem
from problems.validation import as_choice, as_int, as_real

from ..base import Solver, State
from . import rules, updates
from .forest import forest_partition, forest_solve, greedy_colouring, greedy_forest

PARTITIONS = ("order", "random", "sort", "avg", "vb", "forest_fixed", "forest_greedy")
FIXED_PARTITIONS = ("order", "random", "sort", "avg")
SELECTIONS = (
    "cyclic",
    "random",
    "lipschitz",
    "gs",
    "gsl",
    "gsd",
    "gsq",
    "gs_s",
    "gs_r",
    "gs_q",
    "greedy_tree",
    "red_black",
)
UPDATES = (
    "gradient",
    "lipschitz_search",
    "matrix",
    "newton_ls",
    "exact_quadratic",
    "prox_gradient",
    "pg_nn",
    "tmp_nn",
    "pn_nn",
)
#: rules that ignore the non-smooth term: smooth problems only
SMOOTH_ONLY_SELECTIONS = ("gs", "gsl", "gsd", "gsq")
SMOOTH_UPDATES = ("gradient", "lipschitz_search", "matrix", "newton_ls", "exact_quadratic", "prox_gradient")
NONNEGATIVE_UPDATES = ("prox_gradient", "pg_nn", "tmp_nn", "pn_nn")
#: signed L1: two-metric projection and projected Newton in the orthant of the current signs
L1_UPDATES = ("prox_gradient", "tmp_nn", "pn_nn")
#: floor of the Lipschitz constants: a coordinate (block) with L = 0 (an all-zero column of A) has a zero
#: gradient, so the floor turns 0/0 scores and steps into 0 (and the prox step into the exact minimiser)
TINY = np.finfo(float).tiny
FOREST_SELECTIONS = {"forest_fixed": ("cyclic", "red_black"), "forest_greedy": ("greedy_tree", "gsl", "gsd", "random")}


class BCD(Solver):
    """Greedy block coordinate descent (``method="bcd"``).

    Parameters
    ----------
    selection : "cyclic", "random", "lipschitz" (sampling prop. to L), "gs", "gsl", "gsd", "gsq"
        (exact on fixed blocks, iterative hard thresholding on variable blocks), proximal "gs_s",
        "gs_r", "gs_q", and for forest partitions "greedy_tree", "gsl", "gsd", "random" (grown forest)
        or "cyclic" (tree partition), "red_black" (independent-set colouring).
    update : "gradient", "lipschitz_search", "matrix", "newton_ls", "exact_quadratic" (smooth
        problems), "prox_gradient" (any), "pg_nn" (non-negative), "tmp_nn", "pn_nn" (non-negative and
        signed L1: two-metric projection / exact block minimisation in the current orthant).
    partition : "order", "random", "sort", "avg" (fixed blocks), "vb" (variable blocks),
        "forest_fixed", "forest_greedy" (sparse quadratic problems, update "exact_quadratic").
    block_size : tau.
    block_norm : 2 (paper: squared 2-norm block scores) or 1 (official code: 1-norms).
    iht_iters, iht_tol, iht_init : GSQ for variable blocks ("code": start at g/sqrt(L); "gsd").
    forest_order : "lipschitz" (visit nodes by decreasing L_i) or "order" for greedy forest
        partitions and colourings, when the problem supplies no ``forest_partitions``.
    reshuffle_every_pass : variable-block cyclic rule: new permutation every pass instead of every n
        iterations (the official code's behaviour, the default).
    f_star : if given, the optimality measure is (F(x) - f_star) / max(1, |f_star|).
    reference_support : indices (or a boolean mask) of the optimal support; ``result.identified_at``
        is the first iteration whose support {x_i != 0} equals it.

    ``result.support_settled_at`` is the iteration of the last support change (composite problems).
    Invalid combinations raise ``ValueError`` (at construction, or when a run starts for those that
    depend on the problem).

    Example
    -------
    >>> import optim, problems
    >>> p = problems.bcd_paper_problem("A", n_rows=100, n_cols=200)
    >>> r = optim.solve(p, method="bcd", selection="gsq", update="matrix", partition="vb",
    ...                 block_size=5, max_iter=50)
    """

    name = "bcd"
    requires = ()
    default_max_iter = 1000

    def __init__(
        self,
        selection="gsl",
        update="gradient",
        partition="vb",
        block_size=5,
        block_norm=2,
        iht_iters=10,
        iht_tol=1e-10,
        iht_init="code",
        forest_order="lipschitz",
        reshuffle_every_pass=False,
        f_star=None,
        reference_support=None,
        **options,
    ):
        super().__init__(**options)
        self.selection = as_choice(selection, "selection", SELECTIONS)
        self.update = as_choice(update, "update", UPDATES)
        self.partition = as_choice(partition, "partition", PARTITIONS)
        self.block_size = as_int(block_size, "block_size", low=1)
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
        self.f_star = None if f_star is None else as_real(f_star, "f_star")
        self.reference_support = reference_support
        self._check_combination()

    def _check_combination(self):
        sel, upd, part = self.selection, self.update, self.partition
        if part in FOREST_SELECTIONS:
            if sel not in FOREST_SELECTIONS[part]:
                raise ValueError(f"partition {part!r} takes selection in {list(FOREST_SELECTIONS[part])}, got {sel!r}")
            if upd != "exact_quadratic":
                raise ValueError(f"partition {part!r} needs update='exact_quadratic' (message passing), got {upd!r}")
            return
        if sel in ("greedy_tree", "red_black"):
            raise ValueError(
                f"selection {sel!r} needs a forest partition ('forest_greedy' or 'forest_fixed'), "
                f"got partition {part!r}"
            )
        if sel in SMOOTH_ONLY_SELECTIONS and upd in ("pg_nn", "tmp_nn", "pn_nn"):
            raise ValueError(
                f"selection {sel!r} ignores the non-smooth term; with update {upd!r} use "
                f"'gs_s', 'gs_r', 'gs_q' or a random/cyclic rule"
            )

    # ------------------------------------------------------------------ set-up
    def check(self, problem) -> None:
        block_problem(problem)  # TypeError naming the missing block oracles

    @classmethod
    def accepts(cls, problem) -> bool:
        try:
            block_problem(problem)
            return True
        except TypeError:
            return False

    def _check_problem(self, bp):
        n, sel, upd = bp.dim, self.selection, self.update
        composite = bp.l1 > 0 or bp.nonnegative
        if self.partition not in FOREST_SELECTIONS and self.block_size > n:
            raise ValueError(f"block_size must be <= the problem dimension {n}, got {self.block_size}")
        if composite and sel in SMOOTH_ONLY_SELECTIONS:
            raise ValueError(
                f"selection {sel!r} ignores the non-smooth term of {bp.name}; use the proximal "
                f"rules 'gs_s', 'gs_r', 'gs_q' (or cyclic/random/lipschitz)"
            )
        allowed = NONNEGATIVE_UPDATES if bp.nonnegative else L1_UPDATES if composite else SMOOTH_UPDATES
        if upd not in allowed:
            kind = "non-negative" if bp.nonnegative else "L1-regularised" if composite else "smooth"
            raise ValueError(
                f"update {upd!r} does not apply to the {kind} problem {bp.name}; use one of {list(allowed)}"
            )
        if upd in ("exact_quadratic", "pn_nn") and not getattr(bp, "is_quadratic", False):
            raise ValueError(f"update {upd!r} (exact block minimisation) needs a quadratic problem; {bp.name} is not")
        if self.partition in FOREST_SELECTIONS and not (
            hasattr(bp, "sparse_block") and hasattr(bp, "dependency_graph")
        ):
            raise ValueError(
                f"partition {self.partition!r} needs a sparse quadratic problem with "
                f"sparse_block and dependency_graph (e.g. problems.LabelPropagation)"
            )

    def init(self, problem, x0=None) -> State:
        bp = block_problem(problem)
        self._check_problem(bp)
        x = self.initial_point(problem, x0)
        bs = bp.block_state(x)
        n = bp.dim
        st = State(
            x=bs.x,
            bp=bp,
            bs=bs,
            k=0,
            rng=self.new_rng(),
            L=np.maximum(np.asarray(bp.coord_lipschitz, float), TINY),
            last_block=np.zeros(0, dtype=np.int64),
            perm=None,
            lam_max=None,
            rowsums=None,
            Lb=None,
            chol={},
        )
        st.tau = min(self.block_size, n)
        if self.update == "lipschitz_search":
            st.Lhat = np.ones(n)
        if self.partition in FIXED_PARTITIONS:
            st.blocks = rules.fixed_partition(self.partition, st.L, st.tau, st.rng)
            st.index = rules.padded(st.blocks, n)
            if self.selection in ("gsl", "lipschitz") or self.update in ("gradient", "prox_gradient", "pg_nn"):
                st.Lb = np.maximum([bp.block_lipschitz(b) for b in st.blocks], TINY)
            if self.selection == "gsq":
                st.Linv = self._inverse_factors(bp, st)
        elif self.partition == "forest_fixed":
            st.blocks = self._forest_blocks(bp, st.L)
        elif self.partition == "forest_greedy":
            G = bp.dependency_graph()
            st.graph = (G.indptr.astype(np.int64), G.indices.astype(np.int64))
        if (self.selection == "gsl" and self.partition == "vb" and self.update != "lipschitz_search") or (
            self.selection == "gsd" and self.partition == "forest_greedy"
        ):
            st.rowsums = np.maximum(np.asarray(bp.bound_rowsums(), float), TINY)
        if self.selection == "gsq" and self.partition == "vb":
            st.lam_max = float(bp.bound_lambda_max())
        composite = bp.l1 > 0 or bp.nonnegative
        st.track = composite or self.reference_support is not None
        if st.track:
            self._init_support(st, n)
        return st

    def _inverse_factors(self, bp, st):
        """Stacked inverse Cholesky factors of H_b + 1e-10 I (GSQ on fixed blocks, spec 4.7):
        score_k = ||L_k^{-1} g_b||^2 for all blocks in one einsum."""
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

    def _forest_blocks(self, bp, L):
        named = getattr(bp, "forest_partitions", {}) or {}
        key = "red_black" if self.selection == "red_black" else "tree"
        if key in named:
            return [np.asarray(b, dtype=np.int64) for b in named[key]]
        order = np.argsort(-L, kind="stable") if self.forest_order == "lipschitz" else np.arange(bp.dim)
        graph = bp.dependency_graph()
        return (greedy_colouring if key == "red_black" else forest_partition)(graph, order)

    def _init_support(self, st, n):
        st.support = st.x != 0
        st.settled_at = 0
        st.identified_at = None
        ref = self.reference_support
        if ref is not None:
            ref = np.asarray(ref)
            if ref.dtype == bool:
                mask = ref
            elif (
                ref.ndim == 1
                and (ref.size == 0 or np.issubdtype(ref.dtype, np.integer))
                and np.all((ref >= 0) & (ref < n))
            ):
                mask = np.isin(np.arange(n), ref)
            else:
                mask = None
            if mask is None or mask.shape != (n,):
                raise ValueError(
                    f"reference_support must be integer indices in [0, {n}) or a boolean mask of length {n}"
                )
            st.ref = mask
            st.mismatch = int(np.count_nonzero(st.support != mask))
            if st.mismatch == 0:
                st.identified_at = 0

    # ------------------------------------------------------------------ one iteration
    def step(self, problem, st) -> State:
        bp, bs = st.bp, st.bs
        b, k_block = self._select(bp, st)
        gb = bp.block_grad(bs, b)
        delta = self._update(bp, st, b, k_block, gb)
        bp.block_step(bs, b, delta)
        st.k += 1
        st.last_block = b
        if st.track:
            self._track_support(st, b)
        return st

    def _select(self, bp, st):
        sel, part, n, tau, k = self.selection, self.partition, bp.dim, st.tau, st.k
        if part in ("forest_fixed",):
            j = k % len(st.blocks)
            return st.blocks[j], j
        if part == "forest_greedy":
            if sel == "random":
                order = st.rng.permutation(n)
            else:
                g = np.abs(bp.full_grad(st.bs))
                score = g if sel == "greedy_tree" else g / np.sqrt(st.L if sel == "gsl" else st.rowsums)
                order = np.argsort(-score, kind="stable")
            mask = greedy_forest(st.graph[0], st.graph[1], order.astype(np.int64))
            return np.flatnonzero(mask), None
        fixed = part != "vb"
        nb = len(st.blocks) if fixed else None
        if sel == "cyclic":
            if fixed:
                return st.blocks[k % nb], k % nb
            per_pass = n // tau
            period = per_pass if self.reshuffle_every_pass else n
            if k % period == 0 or st.perm is None:
                st.perm = st.rng.permutation(n)
            e = k % per_pass
            return np.sort(st.perm[e * tau : (e + 1) * tau]), None
        if sel == "random":
            if fixed:
                j = int(st.rng.integers(nb))
                return st.blocks[j], j
            return np.sort(st.rng.choice(n, tau, replace=False)), None
        if sel == "lipschitz":
            if fixed:
                j = int(st.rng.choice(nb, p=st.Lb / st.Lb.sum()))
                return st.blocks[j], j
            return np.sort(st.rng.choice(n, tau, replace=False, p=st.L / st.L.sum())), None
        g = bp.full_grad(st.bs)
        L = st.Lhat if self.update == "lipschitz_search" else st.L
        if sel in ("gs_s", "gs_r", "gs_q"):
            d, q, s = rules.prox_scores(g, st.x, st.L, bp.l1, bp.nonnegative)
            per = {"gs_s": s, "gs_r": np.abs(d), "gs_q": -q}[sel]
            if not fixed:
                return rules.top(per, tau), None
            contrib = per if sel == "gs_q" else (per * per if self.block_norm == 2 else per)
            j = int(np.argmax(rules.block_sums(contrib, st.index)))
            return st.blocks[j], j
        if not fixed:
            if sel == "gs":
                score = np.abs(g)
            elif sel == "gsd" or (sel == "gsl" and self.update == "lipschitz_search"):
                score = np.abs(g) / np.sqrt(L)
            elif sel == "gsl":
                score = np.abs(g) / np.sqrt(st.rowsums)
            else:  # gsq: iterative hard thresholding
                bp.counts.add("matvec", self.iht_iters)
                return rules.iht_block(
                    g, bp.bound_matvec, st.lam_max, st.L, tau, self.iht_iters, self.iht_tol, self.iht_init
                ), None
            return rules.top(score, tau), None
        two = self.block_norm == 2
        if sel == "gsq":
            G = np.append(g, 0.0)[st.index]
            score = np.einsum("kij,kj->ki", st.Linv, G)
            score = (score * score).sum(axis=1)
        elif sel == "gs":
            score = rules.block_sums(g * g if two else np.abs(g), st.index)
        elif sel == "gsd":
            score = rules.block_sums(g * g / L if two else np.abs(g) / np.sqrt(L), st.index)
        else:  # gsl
            if self.update == "lipschitz_search":
                Lb = np.append(L, 0.0)[st.index].max(axis=1)
            else:
                Lb = st.Lb
            score = rules.block_sums(g * g if two else np.abs(g), st.index) / (Lb if two else np.sqrt(Lb))
        j = int(np.argmax(score))
        return st.blocks[j], j

    def _block_lipschitz(self, bp, st, b, j):
        if j is not None and st.Lb is not None:
            return st.Lb[j]
        return max(bp.block_lipschitz(b), TINY)

    def _update(self, bp, st, b, j, gb):
        upd, bs = self.update, st.bs
        if upd == "gradient":
            return -gb / self._block_lipschitz(bp, st, b, j)
        if upd in ("prox_gradient", "pg_nn"):
            return updates.prox_step(bs.x[b], gb, self._block_lipschitz(bp, st, b, j), bp.l1, bp.nonnegative)
        if upd == "lipschitz_search":
            return updates.lipschitz_search(bp, bs, b, gb, st.Lhat)
        if upd == "newton_ls":
            return updates.newton_ls(bp, bs, b, gb)
        if upd == "tmp_nn":
            return updates.tmp_nn(bp, bs, b, gb, st.L[b])
        if upd == "pn_nn":
            return updates.pn_nn(bp, bs, b, gb)
        if self.partition in FOREST_SELECTIONS:
            return -forest_solve(bp.sparse_block(b), gb, check_symmetry=False)
        # matrix (U2) and exact_quadratic (U5) on dense blocks; the factor is cached for fixed blocks
        if j is not None and self.partition in FIXED_PARTITIONS:
            fac = st.chol.get(j)
            if fac is None:
                fac = st.chol[j] = _factor(bp.bound_block(b))
            return -_solve_factored(fac, gb)
        return -updates.solve_spd(bp.bound_block(b), gb)

    def _track_support(self, st, b):
        new = st.x[b] != 0
        old = st.support[b]
        if np.any(new != old):
            st.settled_at = st.k
            if self.reference_support is not None:
                ref = st.ref[b]
                st.mismatch += int(np.count_nonzero(new != ref)) - int(np.count_nonzero(old != ref))
            st.support[b] = new
        if self.reference_support is not None and st.identified_at is None and st.mismatch == 0:
            st.identified_at = st.k

    # ------------------------------------------------------------------ hooks of the loop
    def objective(self, problem, st) -> float:
        """F(x) from the incremental state (smooth part) plus the separable term."""
        f = st.bp.state_value(st.bs)
        reg = getattr(problem, "reg_value", None)
        return float(f + (reg(st.x) if reg is not None else 0.0))

    def optimality(self, problem, st) -> float:
        if self.f_star is not None:
            return (self.objective(problem, st) - self.f_star) / max(1.0, abs(self.f_star))
        return float(problem.optimality(st.x))

    def extra_history(self, problem, st) -> dict:
        out = {"block_size": len(st.last_block), "coordinates": float(problem.counts["coordinates"])}
        if st.track:
            out["support_size"] = int(np.count_nonzero(st.support))
        return out

    def make_result(self, problem, state, **kwargs):
        result = super().make_result(problem, state, **kwargs)
        if state.track:
            result["support_settled_at"] = state.settled_at
            result["identified_at"] = state.identified_at
        return result


def _factor(H):
    try:
        return ("chol", np.linalg.cholesky(H))
    except np.linalg.LinAlgError:
        return ("pinv", np.linalg.pinv(H))


def _solve_factored(fac, g):
    kind, F = fac
    if kind == "pinv":
        return F @ g
    import scipy.linalg as sla

    return sla.cho_solve((F, True), g, check_finite=False)
