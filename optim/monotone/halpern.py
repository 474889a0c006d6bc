"""Halpern iteration with a forward-backward operator: deterministic (Halpern-FB) and with the
PAGE / loopless-SARAH estimator (VR-Halpern, Alg. 1 of Cai, Alacaoglu and Diakonikolas,
"Variance Reduced Halpern Iteration for Finite-Sum Monotone Inclusions", ICLR 2024).

Official form (the authors' ``matrix_game.py``, ``Halpern_mini_update``), k = 0, 1, ...::

    x_{k+1} = J_{eta G}(lambda_k x_0 + (1 - lambda_k) x_k - eta est_k),   lambda_k = 2/(k + 4)

where est_k = F(x_k) (Halpern) or the PAGE estimate (VR-Halpern). The step eta est is *not*
multiplied by (1 - lambda_k). The classical form is Halpern (1967) on T = J_{eta G}(I - eta F)::

    x_{k+1} = lambda_k x_0 + (1 - lambda_k) T(x_k),   lambda_k = 1/(k + 2)

for which ||x_N - T x_N|| <= 2 ||x_0 - x*|| / (N + 1) (Lieder 2021, tight) when T is nonexpansive,
i.e. F is (1/L)-cocoercive and eta <= 2/L.

VR-Halpern's PAGE switch (official code): a full evaluation est = F(x_k) (cost n) at k <= 1, with
probability 4/(k + 4) for 2 <= k <= sqrt(n) + 1, and 4/(sqrt(n) + 5) after that; otherwise
est += mean_{i in S} (F_i(x_k) - F_i(x_{k-1})) on a uniform batch S without replacement of size
b = floor(sqrt(n)) (cost 2b). The paper may index lambda_k and p_k shifted by one; we follow the
code. Guarantee (paper, under cocoercivity in expectation, A2): E||residual(x_K)|| = O(L ||x_0 -
x*|| / K), O(n log n + sqrt(n) L ||x_0 - x*|| / eps) component evaluations. On merely monotone
problems (matrix games, the Ouyang-Xu QP) it runs, as in the paper's experiments, without a guarantee.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

from problems.monotone import FiniteSumOperator, MatrixGame
from problems.validation import as_choice, as_int

from ..base import State
from . import kernels
from .common import MonotoneSolver, anchor_weight, constant, keep_unused, snapshot_probability
from .variance_reduced import uses_kernel

SCHEDULES = ("official", "classical")
#: VR-Halpern steps whose draws the compiled path generates at once
DRAW_CHUNK = 256
FORMS = ("official", "classical")


def anchored_step(
    problem: FiniteSumOperator,
    x0: np.ndarray,
    x: np.ndarray,
    est: np.ndarray,
    lam: float,
    step: float,
    form: str,
) -> np.ndarray:
    """One anchored forward-backward step, official or classical form (module docstring)."""
    if form == "official":
        return problem.resolvent(lam * x0 + (1.0 - lam) * x - step * est, step)
    return lam * x0 + (1.0 - lam) * problem.resolvent(x - step * est, step)


class Halpern(MonotoneSolver):
    """Deterministic Halpern-FB (cost n per iteration): VR-Halpern with exact F.

    ``schedule``: "official" (lambda_k = 2/(k+4), default) or "classical" (1/(k+2)); ``form``:
    "official" (anchor inside the resolvent) or "classical" (x+ = lambda x0 + (1 - lambda) T x),
    by default the same as ``schedule``. Default step 1/L with L the cocoercivity constant (A2); on a
    problem without one (T is nonexpansive only for a cocoercive F) ``step`` must be passed.
    """

    name = "halpern"

    def __init__(
        self, step: float | None = None, schedule: str = "official", form: str | None = None, **options: Any
    ) -> None:
        super().__init__(step=step, **options)
        self.schedule = as_choice(schedule, "schedule", SCHEDULES)
        self.form = self.schedule if form is None else as_choice(form, "form", FORMS)

    @classmethod
    def accepts(cls, problem: FiniteSumOperator) -> bool:
        """Only problems known to be cocoercive: there the default step has a guarantee."""
        return super().accepts(problem) and getattr(problem, "cocoercive_constant", None) is not None

    def check(self, problem: FiniteSumOperator) -> None:
        super().check(problem)
        if self.step_size is None and getattr(problem, "cocoercive_constant", None) is None:
            raise ValueError(
                f"{self.name} has no default step for {getattr(problem, 'name', 'this problem')}: F is not known to "
                "be cocoercive, and on a merely monotone F (a bilinear game) the forward-backward map is expansive, "
                "so no constant step converges. Pass step=... explicitly (the paper's game runs use 5/||A||_F, see "
                "optim.monotone.official_options) or use 'inexact-halpern', 'eag' or 'eg', which converge there."
            )

    def default_step(self, problem: FiniteSumOperator) -> float:
        return 1.0 / constant(problem, "cocoercive_constant")

    def init(self, problem: FiniteSumOperator, x0: np.ndarray | None = None) -> State:
        x = self.initial_point(problem, x0)
        return State(x=x, x0=x.copy(), k=0, step=self.resolve_step(problem))

    def step(self, problem: FiniteSumOperator, state: State) -> State:
        lam = anchor_weight(state.k, self.schedule)
        state.x = anchored_step(problem, state.x0, state.x, problem.operator(state.x), lam, state.step, self.form)
        state.k += 1
        return state


class VRHalpern(Halpern):
    """VR-Halpern (Alg. 1): Halpern with the PAGE estimator of F (module docstring).

    ``batch_size`` b (default floor(sqrt(n))); ``step`` default 1/L with L the cocoercivity constant
    of A2; required on merely monotone problems (the official game runs use 5/||A||_F: see
    ``official_options``). With non-uniform ``problem.sampling`` the batch is drawn
    with replacement and weighted by 1/(b n q_i). The state counts full snapshots (``n_full``) and
    batch steps (``n_batch``); ``last_full`` tells which branch the last step took.
    One iteration is a block of ``block_steps`` Halpern steps (default 10, the official logging
    period). Draws, step by step from the run's Generator: a coin ``rng.random()`` when the switch
    probability is below one, then on a batch step the batch ``problem.sample(rng, b)``
    (``rng.choice(n, b, replace=False)`` when uniform). ``compiled``: numba kernel on matrix games (the
    same draws, generated ahead of the steps in chunks, and the same iterates).
    """

    name = "vr-halpern"

    def __init__(
        self,
        step: float | None = None,
        batch_size: int | None = None,
        schedule: str = "official",
        form: str | None = None,
        block_steps: int | None = 10,
        compiled: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(step=step, schedule=schedule, form=form, **options)
        self.batch_size = None if batch_size is None else as_int(batch_size, "batch_size", low=1)
        self.block_steps = as_int(block_steps, "block_steps", low=1)
        if not isinstance(compiled, bool):
            raise TypeError(f"compiled must be True or False, got {compiled!r}")
        self.compiled = compiled

    def default_step(self, problem: FiniteSumOperator) -> float:
        return 1.0 / constant(problem, "cocoercive_constant")

    def init(self, problem: FiniteSumOperator, x0: np.ndarray | None = None) -> State:
        state = super().init(problem, x0)
        b = self.batch_size if self.batch_size is not None else max(1, math.isqrt(problem.n))
        if b > problem.n:
            raise ValueError(f"batch_size must be <= n = {problem.n}, got {b}")
        vars(state).update(
            batch=b,
            rng=self.new_rng(),
            x_prev=state.x.copy(),
            est=None,
            n_full=0,
            n_batch=0,
            last_full=True,
            taus=kernels.new_taus(),
            draws=(np.empty(0, dtype=np.bool_), np.empty((0, b), dtype=np.int64)),
            drawn_k=0,
        )
        return state

    def step(self, problem: FiniteSumOperator, state: State) -> State:
        work_left = math.inf if self.budget is None else (self.budget - problem.work) * problem.n
        if uses_kernel(problem, self.compiled):
            if state.est is None:
                state.est = np.zeros(problem.dim)
            game = cast(MatrixGame, problem)  # uses_kernel: a uniformly sampled matrix game
            full, batches, start = self.drawn(problem, state)
            t, n_full, n_batch, last = kernels.vr_halpern_block(
                game.A, game.AT, problem.n, state.x0, state.x, state.x_prev, state.est, state.k,
                float(state.step), self.schedule == "official", self.form == "official", full, batches, start,
                self.block_steps, float(min(work_left, 1e300)), state.taus,
            )  # fmt: skip
            problem.counts.add("component", problem.n * n_full + 2 * state.batch * n_batch)
            state.n_full += n_full
            state.n_batch += n_batch
            state.k += t
            state.last_full = last
            return state
        spent = 0.0
        for _ in range(self.block_steps):
            if spent >= work_left:
                break
            before = problem.counts["component"]
            self._numpy_step(problem, state)
            spent += problem.counts["component"] - before
        return state

    def drawn(self, problem: FiniteSumOperator, state: State) -> tuple[np.ndarray, np.ndarray, int]:
        """The draws of steps k, ..., k + block_steps - 1 for the kernel: (full flags, batches, row of
        step k). Generated ahead, DRAW_CHUNK steps at a time (at least a block), in the plain loop's
        order; rows left over from the last chunk come first."""
        full, batches = state.draws
        start = state.k - state.drawn_k
        left = full.size - start
        if left < self.block_steps:  # keep the rows drawn but not used yet, draw the next ones after them
            (full, batches), left = keep_unused((full, batches), start, max(DRAW_CHUNK, self.block_steps))
            kernels.halpern_draws(state.rng, state.k + left, problem.n, full[left:], batches[left:])
            state.draws, state.drawn_k, start = (full, batches), state.k, 0
        return full, batches, start

    def _numpy_step(self, problem: FiniteSumOperator, state: State) -> None:
        """One step of the numpy path (the draws and arithmetic of ``kernels.vr_halpern_block``)."""
        p = snapshot_probability(state.k, problem.n)
        full = p >= 1.0 or state.rng.random() < p
        if full:
            state.est = problem.operator(state.x)
            state.n_full += 1
        else:
            batch = problem.sample(state.rng, state.batch)
            state.est = state.est + problem.component_diff(batch, state.x, state.x_prev)
            state.n_batch += 1
        state.last_full = full
        lam = anchor_weight(state.k, self.schedule)
        state.x_prev = state.x.copy()
        state.x = anchored_step(problem, state.x0, state.x, state.est, lam, state.step, self.form)
        state.k += 1

    def extra_history(self, problem: FiniteSumOperator, state: State) -> dict:
        return {**super().extra_history(problem, state), "full_snapshots": state.n_full}
