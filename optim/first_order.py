"""Gradient baselines: (proximal) gradient descent and FISTA with adaptive restart.

Both minimise F = f + g with f smooth (``value``/``grad``/``lipschitz``) and, when the problem has
one, g separable with a ``prox``; without a prox they are plain gradient methods. Work is whatever
the problem counts (gradient evaluations for the linear models).

* ``GradientDescent``: x+ = prox_{t g}(x - t grad f(x)) with t = 1/L, a fixed t, or Armijo
  backtracking on the sufficient-decrease condition
  f(x+) <= f(x) + <grad f(x), x+ - x> + ||x+ - x||^2 / (2t) (Beck and Teboulle 2009, Sec. 3;
  the trial step starts at twice the last accepted one and halves on failure, never below 1/L,
  which passes the test in exact arithmetic).
* ``FISTA``: Beck and Teboulle, "A Fast Iterative Shrinkage-Thresholding Algorithm", SIAM J.
  Imaging Sci. 2009, with step 1/L, and the gradient-based adaptive restart of O'Donoghue and
  Candes, "Adaptive Restart for Accelerated Gradient Schemes", FoCM 2015, eq. (12): reset the
  momentum whenever (y_k - x_{k+1})^T (x_{k+1} - x_k) > 0.
"""

from __future__ import annotations

import math

from problems.base import Smooth

from .base import Solver, State


def _prox(problem, z, step):
    prox = getattr(problem, "prox", None)
    return prox(z, step) if prox is not None else z


def _smooth_bound(problem) -> float:
    L = float(problem.lipschitz)
    if not (math.isfinite(L) and L > 0):
        raise ValueError(f"problem.lipschitz must be a positive finite number, got {L!r}")
    return L


class GradientDescent(Solver):
    """(Proximal) gradient descent. ``step``: "1/L" (default), "armijo", or a positive float.

    Example
    -------
    >>> import optim, problems
    >>> p = problems.lasso_diabetes()
    >>> optim.solve(p, method="gd", tol=1e-6).status
    'converged'
    """

    name = "gd"
    error_name = "prox-gradient residual ||x - prox(x - grad f(x))||_inf"
    requires = (Smooth,)
    default_max_iter = 10_000

    def __init__(self, step="1/L", **options):
        super().__init__(**options)
        if isinstance(step, str):
            if step not in ("1/L", "armijo"):
                raise ValueError(f"step must be '1/L', 'armijo' or a positive number, got {step!r}")
        elif isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0 or not math.isfinite(step):
            raise ValueError(f"step must be '1/L', 'armijo' or a positive number, got {step!r}")
        self.step_rule = step

    def init(self, problem, x0=None):
        x = self.initial_point(problem, x0)
        t = float(self.step_rule) if not isinstance(self.step_rule, str) else 1.0 / _smooth_bound(problem)
        return State(x=x, step=t, min_step=t)

    def step(self, problem, state):
        if self.step_rule != "armijo":
            state.x = _prox(problem, state.x - state.step * problem.grad(state.x), state.step)
            return state
        f, g = _value_and_grad(problem, state.x)
        t = 2.0 * state.step
        while True:
            x_new = _prox(problem, state.x - t * g, t)
            d = x_new - state.x
            # t <= 1/L satisfies the test in exact arithmetic: stop there, so rounding near the
            # optimum cannot drive the step to zero
            if t <= state.min_step or problem.value(x_new) <= f + g @ d + (d @ d) / (2 * t):
                break
            t = max(0.5 * t, state.min_step)
        state.x, state.step = x_new, t
        return state

    def extra_history(self, problem, state):
        return {"step": state.step}


class FISTA(Solver):
    """FISTA (accelerated proximal gradient) with step 1/L and adaptive (gradient) restart."""

    name = "fista"
    error_name = "prox-gradient residual ||x - prox(x - grad f(x))||_inf"
    requires = (Smooth,)
    default_max_iter = 10_000

    def __init__(self, restart=True, **options):
        super().__init__(**options)
        if not isinstance(restart, bool):
            raise TypeError(f"restart must be a bool, got {type(restart).__name__}")
        self.restart = restart

    def init(self, problem, x0=None):
        x = self.initial_point(problem, x0)
        return State(x=x, y=x.copy(), t=1.0, step=1.0 / _smooth_bound(problem), restarts=0)

    def step(self, problem, state):
        s = state.step
        x_new = _prox(problem, state.y - s * problem.grad(state.y), s)
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * state.t * state.t))
        if self.restart and (state.y - x_new) @ (x_new - state.x) > 0:
            state.y, state.t = x_new.copy(), 1.0
            state.restarts += 1
        else:
            state.y = x_new + ((state.t - 1.0) / t_new) * (x_new - state.x)
            state.t = t_new
        state.x = x_new
        return state

    def extra_history(self, problem, state):
        return {"restarts": state.restarts}


def _value_and_grad(problem, x):
    both = getattr(problem, "value_and_grad", None)
    return both(x) if both is not None else (problem.value(x), problem.grad(x))
