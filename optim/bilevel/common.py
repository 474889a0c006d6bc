"""What every multi-block bilevel solver shares: block and minibatch sampling, steps, stopping error.

Stopping error: ||grad F(x)|| from the problem's exact hypergradient where it has one; otherwise the
upper objective at the solver's own lower iterates, (1/m) sum_i f_i(x, y_i) on the full upper data
(the validation loss the paper plots). That second number is not zero at a solution, so such runs end
on ``max_iter``, a ``budget`` (in oracle samples) or a caller's target.
"""

from __future__ import annotations

import numpy as np

from problems.bilevel.base import MultiBlockBilevel
from problems.validation import as_choice, as_int, as_real

from ..base import Solver, State

#: the default batch size of g and f (the official scripts' 32), capped at a block's sample count
AUTO_BATCH = 32
EXACT_ERROR = "||grad F(x)|| (exact hypergradient)"


class BilevelSolver(Solver):
    """Base class of the family.

    Options: ``blocks_per_iter`` I (default min(m, 10)), ``batch_size`` B for g (None: the block's
    whole data; "auto", the default: 32, or the whole data of blocks with fewer samples), ``upper_batch_size``
    for f (default B, capped like it when B is "auto"), ``upper_step`` eta, ``lower_step`` tau
    (default 0.5 / L_g), ``sampling`` "uniform" (I blocks without replacement, i.i.d. rows) or
    "epochs" (the official code: blocks in a reshuffled cyclic order, rows from per-epoch shuffles of a
    shared data set, disjoint between the blocks of an iteration); ``block_groups`` G: with G > 1 the
    blocks are split into the groups {i : i mod G = r} and each iteration draws I / G blocks from every
    group (uniform marginals when G divides m; the distributed mode uses G = W so that every process
    handles exactly I / W blocks).
    """

    requires = (MultiBlockBilevel,)
    default_check_every = 10
    default_max_iter = 1000
    error_name = EXACT_ERROR

    def __init__(
        self,
        *,
        blocks_per_iter=None,
        batch_size="auto",
        upper_batch_size=None,
        upper_step=0.1,
        lower_step=None,
        sampling="uniform",
        block_groups=1,
        **common,
    ):
        super().__init__(**common)
        self.blocks_per_iter = None if blocks_per_iter is None else as_int(blocks_per_iter, "blocks_per_iter", low=1)
        if isinstance(batch_size, str) and batch_size != "auto":
            raise ValueError(f"batch_size must be a positive integer, None (whole data) or 'auto', got {batch_size!r}")
        self.batch_size = (
            batch_size if batch_size is None or isinstance(batch_size, str) else as_int(batch_size, "batch_size", low=1)
        )
        self.upper_batch_size = (
            None if upper_batch_size is None else as_int(upper_batch_size, "upper_batch_size", low=1)
        )
        self.upper_step = as_real(upper_step, "upper_step", low=0.0, low_open=True)
        self.lower_step = None if lower_step is None else as_real(lower_step, "lower_step", low=0.0, low_open=True)
        self.sampling = as_choice(sampling, "sampling", ("uniform", "epochs"))
        self.block_groups = as_int(block_groups, "block_groups", low=1)

    # ------------------------------------------------------------------ set-up
    def setup(self, problem) -> State:
        """Resolved sizes and steps for ``problem`` (raises naming the option when they do not fit)."""
        m = problem.m
        n_blocks = min(m, 10) if self.blocks_per_iter is None else self.blocks_per_iter
        if not 1 <= n_blocks <= m:
            raise ValueError(f"blocks_per_iter must lie in [1, m = {m}], got {n_blocks}")
        auto = isinstance(self.batch_size, str)
        B = min(AUTO_BATCH, problem.n_lower) if auto else self.batch_size
        Bf = B if self.upper_batch_size is None else self.upper_batch_size
        if auto and self.upper_batch_size is None:
            Bf = min(AUTO_BATCH, problem.n_upper)
        if B is not None and B > problem.n_lower:
            raise ValueError(f"batch_size must be <= {problem.n_lower} (lower samples per block), got {B}")
        if Bf is not None and Bf > problem.n_upper:
            raise ValueError(f"upper_batch_size must be <= {problem.n_upper} (upper samples per block), got {Bf}")
        if not problem.mu_g > 0:
            raise ValueError(f"the lower level must be strongly convex: problem.mu_g must be > 0, got {problem.mu_g}")
        G = self.block_groups
        if G > 1 and (n_blocks % G or G > m):
            raise ValueError(f"block_groups = {G} must divide blocks_per_iter = {n_blocks} and be <= m = {m}")
        tau = 0.5 / problem.L_g if self.lower_step is None else self.lower_step
        st = State(I=n_blocks, B=B, Bf=Bf, tau=tau, rng=self.new_rng(), t=0)
        if self.sampling == "epochs":
            if not getattr(problem, "shared_samples", False) or B is None or Bf is None:
                raise ValueError('sampling="epochs" needs a problem with one shared data set and finite batch sizes')
            if n_blocks * B > problem.n_lower or n_blocks * Bf > problem.n_upper:
                raise ValueError("sampling='epochs' needs blocks_per_iter x batch_size rows per iteration")
            st.order = np.arange(m)
            st.rows_g, st.rows_f = np.arange(problem.n_lower), np.arange(problem.n_upper)
        # without an exact hypergradient nothing computable is zero at a solution: no stopping error (the
        # upper objective at the lower iterates is the ``fun`` column; runs end on a cap or a target)
        self.has_stopping_error = problem.has_exact
        return st

    def sample(self, problem, st: State):
        """(blocks, lower batch, upper batch) of iteration ``st.t``."""
        m, nb, B, Bf, rng = problem.m, st.I, st.B, st.Bf, st.rng
        if self.sampling == "uniform":
            G = self.block_groups
            if G > 1:
                J = np.concatenate([np.sort(rng.choice(np.arange(r, m, G), nb // G, replace=False)) for r in range(G)])
            else:
                J = np.arange(m) if nb == m else np.sort(rng.choice(m, nb, replace=False))
            return J, problem.sample_lower(J, B, rng), problem.sample_upper(J, Bf, rng)
        t = st.t
        per_g, per_f = problem.n_lower // (nb * B), problem.n_upper // (nb * Bf)
        if t % per_g == 0:  # the official order of the reshuffles: lower rows, upper rows, blocks
            rng.shuffle(st.rows_g)
        if t % per_f == 0:
            rng.shuffle(st.rows_f)
        k = t % (m // nb)
        if k == 0:
            rng.shuffle(st.order)
        a, c = (t % per_g) * nb * B, (t % per_f) * nb * Bf
        J = st.order[k * nb : (k + 1) * nb].copy()
        return J, st.rows_g[a : a + nb * B].reshape(nb, B), st.rows_f[c : c + nb * Bf].reshape(nb, Bf)

    # ------------------------------------------------------------------ stopping error and objective
    def optimality(self, problem, state: State) -> float:
        """``||grad F(x)||`` (only asked for on problems with the exact hypergradient)."""
        return float(np.linalg.norm(problem.hypergrad(state.x)))

    def objective(self, problem, state: State) -> float:
        if problem.has_exact:
            return float(problem.F(state.x))
        return problem.upper_value(state.x, state.Y)

    def report(self, problem, state: State) -> dict:
        test = getattr(problem, "test_value", None)
        if test is not None and getattr(problem, "test", None) is not None and hasattr(state, "Y"):
            return {"test_loss": test(state.Y)}
        return super().report(problem, state)

    def is_finite(self, state: State) -> bool:
        Y = getattr(state, "Y", None)
        return bool(np.all(np.isfinite(state.x)) and (Y is None or np.all(np.isfinite(Y))))

    def start(self, problem, x0):
        """x0 (validated, private copy) and the default lower iterates."""
        return self.initial_point(problem, x0), np.array(problem.initial_lower(), dtype=float)
