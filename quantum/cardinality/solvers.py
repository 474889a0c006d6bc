"""Inner solvers of the cardinality-constrained QUBO, one signature::

    solve_cardinality(model, method="swap_descent", x0=None, seed=None, **options) -> CardinalityResult

Every method returns a feasible ``x`` (``sum x = k``) that is never worse than ``x0`` (default: the
first ``k`` variables set, which is the incumbent mask of a pruned-first block).

=================  ====================================================================================
``sa_card``        annealing with swap moves and the official annealer's schedule (Rosenberg et al.,
                   2024): beta from ``beta0`` = 1e-3, times ``factor`` = 1.1 while below ``beta1`` = 100,
                   ``sweeps`` = 1 per temperature, ``restarts`` = 10 from the incumbent, best overall
``swap_descent``   steepest 1-swap local search until no swap improves
``tabu_swap``      best non-tabu swap per iteration, tenure ``max(7, n // 10)``, ``20 n`` iterations
``exhaustive``     all C(n, k) masks (n <= 20)
``milp``           linearised QUBO (``y_ij`` for each coupling) solved by HiGHS (``scipy.optimize.milp``, n <= 40)
``penalty``        ``E + P (sum x - k)^2`` through any ``quantum.samplers`` sampler or dimod sampler,
                   best sample repaired to ``sum x = k``
=================  ====================================================================================
"""

from __future__ import annotations

import inspect
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from problems.validation import as_choice, as_generator, as_int, as_real

from . import _kernels
from .model import CardinalityQUBO

METHODS = ("sa_card", "swap_descent", "tabu_swap", "exhaustive", "milp", "penalty")


@dataclass
class CardinalityResult:
    x: np.ndarray
    energy: float
    time: float
    info: dict = field(default_factory=dict)


def sa_betas(beta0: float = 1e-3, beta1: float = 100.0, factor: float = 1.1) -> np.ndarray:
    """``beta0 * factor^t`` while below ``beta1`` (121 temperatures for the defaults)."""
    beta0 = as_real(beta0, "beta0", low=0.0, low_open=True)
    beta1 = as_real(beta1, "beta1", low=beta0, low_open=True)
    factor = as_real(factor, "factor", low=1.0, low_open=True)
    count = int(math.ceil(math.log(beta1 / beta0) / math.log(factor) - 1e-12))
    return beta0 * factor ** np.arange(count)


def method_options(method: str) -> tuple[str, ...] | None:
    """The keyword options ``method`` takes (None: any, as ``penalty`` passes the rest to its sampler)."""
    params = inspect.signature(_SOLVERS[as_choice(method, "method", METHODS)]).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return tuple(name for name in params if name not in ("model", "x0", "e0", "seed"))


def check_options(method: str, options: dict, name: str = "options") -> dict:
    """``options`` if ``method`` takes every key, else a ``ValueError`` naming the first it does not take."""
    allowed = method_options(method)
    if allowed is not None:
        unknown = [k for k in options if k not in allowed]
        if unknown:
            raise ValueError(
                f"{name} has {unknown[0]!r}, which the {method!r} inner solver does not take; "
                f"its options: {', '.join(allowed) or 'none'}"
            )
    elif "seed" in options or "x0" in options:
        raise ValueError(f"{name} cannot set 'seed' or 'x0' (the caller passes them)")
    return dict(options)


def solve_cardinality(model: CardinalityQUBO, method: str = "swap_descent", x0=None, seed=None, **options):
    """Minimise ``model`` over ``sum x = k`` with ``method`` (see the module docstring); an option the
    method does not take is a ``ValueError`` naming it."""
    if not isinstance(model, CardinalityQUBO):
        raise TypeError(f"model must be a CardinalityQUBO, got {type(model).__name__}")
    method = as_choice(method, "method", METHODS)
    check_options(method, options)
    if x0 is not None:
        given = np.asarray(x0)
        if given.dtype.kind not in "biuf" or not np.isin(given, (0, 1)).all():
            raise ValueError(f"x0 must be a 0/1 vector of length {model.num_variables} with sum k = {model.k}")
    x0 = model.incumbent() if x0 is None else np.asarray(x0, dtype=np.int8).copy()
    if x0.shape != (model.num_variables,) or not model.feasible(x0):
        raise ValueError(f"x0 must be a 0/1 vector of length {model.num_variables} with sum k = {model.k}")
    e0 = model.energy(x0)
    start = time.perf_counter()
    x, info = _SOLVERS[method](model, x0, e0, seed, **options)
    e = model.energy(x)
    if e > e0:  # never worse than the incumbent
        x, e = x0, e0
    if not model.feasible(x):  # pragma: no cover - guarded by construction
        raise RuntimeError(f"{method} returned an infeasible mask")
    return CardinalityResult(x.astype(np.int8), float(e), time.perf_counter() - start, info)


def _sa_card(model, x0, e0, seed, beta0=1e-3, beta1=100.0, factor=1.1, sweeps=1, restarts=10):
    from ..samplers.base import rng_seeds

    betas = sa_betas(beta0, beta1, factor)
    restarts = as_int(restarts, "restarts", low=1)
    sweeps = as_int(sweeps, "sweeps", low=1)
    seeds = rng_seeds(as_generator(0 if seed is None else seed), restarts)
    best = np.empty_like(x0)
    e, proposals = _kernels.sa_card(model.sym, model.linear, x0, e0 - model.offset, betas, sweeps, seeds, best)
    return best, {"temperatures": len(betas), "proposals": int(proposals)}


def _swap_descent(model, x0, e0, seed, max_iter=100_000):
    x = x0.copy()
    _, swaps = _kernels.swap_descent(model.sym, model.linear, x, as_int(max_iter, "max_iter", low=0))
    return x, {"swaps": int(swaps)}


def _tabu_swap(model, x0, e0, seed, tenure=None, iters=None):
    n = model.num_variables
    tenure = max(7, n // 10) if tenure is None else as_int(tenure, "tenure", low=0)
    iters = 20 * n if iters is None else as_int(iters, "iters", low=0)
    best = np.empty_like(x0)
    _kernels.tabu_swap(model.sym, model.linear, x0.copy(), e0 - model.offset, iters, tenure, best)
    return best, {"tenure": tenure, "iters": iters}


def _exhaustive(model, x0, e0, seed, chunk=65536):
    n, k = model.num_variables, model.k
    if n > 20:
        raise ValueError(f"exhaustive enumerates C(n, k) masks and takes n <= 20, got n = {n}")
    best_e, best = math.inf, x0
    combos = itertools.combinations(range(n), k)
    while True:
        rows = list(itertools.islice(combos, chunk))
        if not rows:
            break
        X = np.zeros((len(rows), n))
        if k:
            idx = np.array(rows)
            X[np.arange(len(rows))[:, None], idx] = 1.0
        e = model.energies(X)
        j = int(np.argmin(e))
        if e[j] < best_e:
            best_e, best = float(e[j]), X[j].astype(np.int8)
    return best, {"masks": math.comb(n, k)}


def _milp(model, x0, e0, seed, time_limit=None):
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    n, k = model.num_variables, model.k
    if n > 40:
        raise ValueError(f"milp takes blocks of n <= 40 variables, got n = {n}")
    ii, jj = np.nonzero(model.quadratic)
    m = ii.size
    c = np.concatenate([model.linear, model.quadratic[ii, jj]])
    r = np.arange(m)
    # y <= x_i, y <= x_j, y >= x_i + x_j - 1
    rows = np.concatenate([r, r, m + r, m + r, 2 * m + r, 2 * m + r, 2 * m + r])
    cols = np.concatenate([n + r, ii, n + r, jj, n + r, ii, jj])
    vals = np.concatenate([np.ones(m), -np.ones(m), np.ones(m), -np.ones(m), np.ones(m), -np.ones(m), -np.ones(m)])
    A = sp.csr_matrix((vals, (rows, cols)), shape=(3 * m, n + m))
    ub = np.concatenate([np.zeros(2 * m), np.full(m, np.inf)])
    lb = np.concatenate([np.full(2 * m, -np.inf), -np.ones(m)])
    card = LinearConstraint(np.concatenate([np.ones(n), np.zeros(m)])[None, :], k, k)
    cons = [card] + ([LinearConstraint(A, lb, ub)] if m else [])
    integrality = np.concatenate([np.ones(n), np.zeros(m)])
    options = {} if time_limit is None else {"time_limit": as_real(time_limit, "time_limit", low=0.0)}
    res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1), options=options)
    if res.x is None:
        return x0, {"status": res.message}
    return np.round(res.x[:n]).astype(np.int8), {"status": res.message, "optimal": res.status == 0}


def _penalty(model, x0, e0, seed, sampler="simulated-annealing", penalty=None, num_reads=32, **sampler_options):
    from ..samplers import SimulatedAnnealing, Tabu
    from ..samplers.base import Sampler

    named = {"simulated-annealing": SimulatedAnnealing, "tabu": Tabu}
    if isinstance(sampler, str):
        sampler = named[as_choice(sampler, "sampler", list(named))]()
    qubo = model.penalty_qubo(penalty)
    if isinstance(sampler, Sampler):
        sample = sampler.sample(qubo, num_reads=num_reads, seed=seed, **sampler_options).first.sample
    elif hasattr(sampler, "sample"):  # a dimod sampler
        ss = sampler.sample(qubo.to_dimod(), num_reads=num_reads, **sampler_options)
        first = ss.first.sample
        sample = np.array([first[i] for i in range(model.num_variables)], dtype=np.int8)
    else:
        raise TypeError(f"sampler must be a name, a quantum.samplers sampler or a dimod sampler, got {sampler!r}")
    raw_feasible = model.feasible(sample)
    return model.repair(sample), {"raw_feasible": raw_feasible}


_SOLVERS = {
    "sa_card": _sa_card,
    "swap_descent": _swap_descent,
    "tabu_swap": _tabu_swap,
    "exhaustive": _exhaustive,
    "milp": _milp,
    "penalty": _penalty,
}
