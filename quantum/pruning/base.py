"""The pruner base class: a ``Solver`` of the common loop over a ``LayerPruning`` or ``NetworkPruning``.

One step prunes one layer (one-shot methods) or solves one block (iterative CBS). The iterate ``x`` is the
flat keep mask (1 = kept) over all prunable layers; the ``Result`` adds ``masks`` and ``weights``
(``{layer: array}``), ``per_layer`` metrics (kept count, density to 4 decimals, relative reconstruction
error on the dense model's calibration inputs and on the inputs of the pruned model), ``log`` (one entry
per step) and ``density``. A run ends with status ``"max_iter"`` when its plan of steps is complete.
"""

from __future__ import annotations

import numpy as np

from optim.base import Solver, State
from problems.base import Capability
from problems.pruning import LayerPruning, NetworkPruning
from problems.pruning.layer import as_density, swap_gap


class LayerView:
    """``LayerPruning`` seen through the network interface the pruners use (one layer, fixed inputs)."""

    def __init__(self, problem: LayerPruning):
        self.problem = problem
        self.layers = [problem.name]
        self.w0 = {problem.name: np.asarray(problem.weight)}
        m, n = problem.shape
        self._X = np.eye(n) if problem.inputs is None else problem.inputs

    def dense_inputs(self) -> dict:
        return {self.layers[0]: self._X}

    def dense_grams(self) -> dict:
        return {self.layers[0]: self.problem.gram()}

    def layer_inputs(self, weights=None) -> dict:
        return self.dense_inputs()

    def evaluate(self, weights) -> dict:
        return {"recon_error": self.problem.recon_error(weights[self.layers[0]])}

    def objective(self, weights) -> float:
        return self.problem.recon_error(weights[self.layers[0]])


class NetworkView:
    """``NetworkPruning`` as the pruners see it."""

    def __init__(self, problem: NetworkPruning):
        self.problem = problem
        self.layers, self.w0 = problem.layers, problem.w0

    def dense_inputs(self) -> dict:
        return self.problem.dense_inputs()

    def dense_grams(self) -> dict:
        return self.problem.dense_grams()

    def layer_inputs(self, weights=None) -> dict:
        return self.problem.layer_inputs(weights)

    def evaluate(self, weights) -> dict:
        p = self.problem
        return p.evaluate(weights, "test") if p.test is not None else p.evaluate(weights, "train")

    def objective(self, weights) -> float:
        return self.problem.evaluate(weights, "train")["loss"]


def view(problem):
    if isinstance(problem, LayerPruning):
        return LayerView(problem)
    if isinstance(problem, NetworkPruning):
        return NetworkView(problem)
    raise TypeError(f"pruners take a LayerPruning or NetworkPruning problem, got {type(problem).__name__}")


def relative_error(w0, w, X=None, G=None) -> float:
    G = X.T @ X if G is None else G
    d = w0 - w
    return float(np.sum((d @ G) * d)) / max(float(np.sum((w0 @ G) * w0)), 1e-300)


class Pruner(Solver):
    """Base of every pruner; subclasses implement ``plan(problem, state)`` and ``prune_step``."""

    name = "pruner"
    requires = (Capability("Pruning", ("layers", "density", "optimality"), "a LayerPruning or NetworkPruning"),)
    error_name = "unpruned-layer fraction + largest within-row swap decrease of the relative reconstruction errors"
    #: the swaps the stopping error looks at: "row" (within a row) or "layer" (anywhere in a layer)
    swap_scope = "row"
    default_max_iter = 10**9

    def __init__(self, *, density=None, tol=0.0, **common):
        self._user_check_every = common.get("check_every") is not None
        super().__init__(tol=tol, **common)
        self.density = None if density is None else as_density(density)

    # ------------------------------------------------------------------ to implement
    def plan(self, problem, state) -> list:  # pragma: no cover - interface
        raise NotImplementedError

    def prune_step(self, problem, state, item) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def setup(self, problem, state) -> None:
        """Hook for state built before the plan (scores, initial masks)."""

    # ------------------------------------------------------------------ loop
    def check(self, problem) -> None:
        view(problem)
        super().check(problem)

    def init(self, problem, x0=None) -> State:
        if x0 is not None:
            raise ValueError("pruners start from the dense model; x0 must be None")
        net = view(problem)
        density = problem.density if self.density is None else self.density
        state = State(net=net, density=density, rng=self.new_rng(), log=[], nstep=0)
        state.weights = {k: w.copy() for k, w in net.w0.items()}
        state.keep = {k: np.ones(w.shape) for k, w in net.w0.items()}
        self.setup(problem, state)
        state.steps = self.plan(problem, state)
        state.x = self._flat(state)
        return state

    def iteration_cap(self, problem, state: State) -> int:
        """The plan's length (or ``max_iter`` if smaller): one iteration per planned step."""
        return min(self.max_iter, len(state.steps))

    def step(self, problem, state) -> State:
        item = state.steps[state.nstep]
        self.prune_step(problem, state, item)
        state.nstep += 1
        problem.counts.add("block")
        state.x = None  # rebuilt (O(weights)) only where the loop looks at it: see is_finite
        return state

    def is_finite(self, state) -> bool:
        state.x = self._flat(state)
        return bool(all(np.all(np.isfinite(w)) for w in state.weights.values()))

    def _flat(self, state) -> np.ndarray:
        return np.concatenate([state.keep[k].reshape(-1) for k in state.net.layers])

    def objective(self, problem, state) -> float:
        return float(state.net.objective(state.weights))

    def optimality(self, problem, state) -> float:
        """Fraction of layers not pruned yet (density < 1) plus the swap-local measure: the problem's
        (within-row swaps) or, for a pruner that keeps only layer counts (``swap_scope="layer"``), the
        largest decrease by any swap inside a layer."""
        todo = 0 if state.density >= 1.0 else sum(bool(m.all()) for m in state.keep.values())
        if self.swap_scope == "row":
            return todo / len(state.keep) + float(problem.optimality(state.x))
        net, grams = state.net, state.net.dense_grams()
        gap = sum(
            swap_gap(net.w0[k], state.keep[k], grams[k], scope="layer")
            / max(float(np.sum((net.w0[k] @ grams[k]) * net.w0[k])), 1e-300)
            for k in net.layers
        )
        return todo / len(state.keep) + gap

    def report(self, problem, state) -> dict:
        """The problem's metrics of the current weights (computed once per step count)."""
        cached = getattr(state, "_report", None)
        if cached is None or cached[0] != state.nstep:
            state._report = (state.nstep, {k: float(v) for k, v in state.net.evaluate(state.weights).items()})
        return dict(state._report[1])

    def extra_history(self, problem, state) -> dict:
        kept = sum(float(m.sum()) for m in state.keep.values())
        return {"density": kept / state.x.size, **self.report(problem, state)}

    def make_result(self, problem, state, **kw):
        res = super().make_result(problem, state, **kw)
        net = state.net
        dense, seq = net.dense_grams(), net.layer_inputs(state.weights)
        per_layer = {}
        for k in net.layers:
            per_layer[k] = {
                "kept": int(state.keep[k].sum()),
                "size": int(state.keep[k].size),
                "density": round(float(state.keep[k].mean()), 4),
                "recon_error": relative_error(net.w0[k], state.weights[k], G=dense[k]),
                "recon_error_sequential": relative_error(net.w0[k], state.weights[k], seq[k]),
            }
        res.update(
            masks={k: v.astype(bool) for k, v in state.keep.items()},
            weights=state.weights,
            per_layer=per_layer,
            log=state.log,
            density=round(float(state.x.mean()), 4),
            report=self.report(problem, state),
            error_name=self.error_name,
        )
        if res.status == "converged":
            res.message = f"converged: {self.error_name} {res.optimality:.3g} <= tol {self.tol:g}"
        elif res.status == "max_iter" and state.nstep >= len(state.steps):
            res.message = f"pruning plan complete ({state.nstep} steps)"
        return res
