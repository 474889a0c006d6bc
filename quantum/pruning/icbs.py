"""Iterative Combinatorial Brain Surgeon (iCBS; Rosenberg et al., 2024): block coordinate descent over
the keep/prune mask, one cardinality-constrained QUBO per block.

Per step (one block of one layer): take the next pruning batch; for ``objective="taylor"`` compute the
per-sample gradients of the layer at the current pruned model (empirical Fisher ``H = G^T G / N``, or the
exact Hessian block), for ``"reconstruction"`` use the Gram matrix of the layer's calibration inputs;
choose the block (the highest-scoring free pruned weights, then the lowest-scoring free kept ones, tabu
entries skipped), build its QUBO, scale and cut it off, solve it with the cardinality kept, and set the
block to ``w0 * (1 - x)`` (pruned weights can be revived). Steps are spread over layers by
``log10(numel)`` every epoch and the layer order is shuffled each epoch. See ``docs/pruning.md``.
"""

from __future__ import annotations

import numpy as np

from problems.pruning import LayerPruning, reconstruction_terms, taylor_terms
from problems.validation import as_choice, as_int, as_real

from ..cardinality import CUTOFF_MODES, CardinalityQUBO, solve_cardinality
from ..cardinality.solvers import METHODS as INNER
from ..cardinality.solvers import check_options
from .base import Pruner
from .blocks import LayerBlocks, fraction_optimized, free_per_scope, step_schedule
from .oneshot import wanda_scores

OBJECTIVES = ("taylor", "reconstruction")
INITS = ("magnitude", "wanda", "random", "magnitude_per_output", "wanda_per_output", "random_per_output")
SELECTIONS = ("gradient", "wanda", "magnitude", "random")
HESSIANS = ("fisher", "exact")


class ICBS(Pruner):
    """iCBS pruner. Defaults: the digits setting (taylor, Fisher, alpha 0.75, ridge 1e-3, blocks of 64
    with k = 32, wanda_per_output initialisation from one dense forward pass, gradient selection, tabu
    0.4, fixing 0.42 / 0.35, 10 epochs x 30 steps, swap_descent, cutoff "abs").

    Options: ``objective`` ("taylor" or "reconstruction"), ``block_size`` (default 64, or all free weights
    of a layer or row with fewer; a larger value given explicitly is refused), ``k`` (pruned slots, default
    ``block_size // 2``), ``init``, ``selection`` (default "gradient" for taylor, "wanda" for
    reconstruction), ``alpha`` and ``ridge`` (taylor only), ``hessian`` ("fisher" or "exact"),
    ``tabu_frac``, ``fix_frac_prune``, ``fix_frac_keep``, ``epochs``, ``steps_per_epoch`` (default 30;
    with ``block_scope="row"`` and None: one pass over every row of every layer), ``min_steps_per_layer``,
    ``solver`` (an inner method of ``quantum.cardinality``) and ``solver_options``, ``cutoff_mode``
    ("abs", "signed_official" or "none"), ``block_scope`` ("layer" or "row").
    """

    name = "icbs"

    def __init__(
        self,
        *,
        objective="taylor",
        block_size=None,
        k=None,
        init="wanda_per_output",
        selection=None,
        alpha=0.75,
        ridge=1e-3,
        hessian="fisher",
        tabu_frac=0.4,
        fix_frac_prune=0.42,
        fix_frac_keep=0.35,
        epochs=10,
        steps_per_epoch=None,
        min_steps_per_layer=1,
        solver="swap_descent",
        solver_options=None,
        cutoff_mode="abs",
        block_scope="layer",
        **common,
    ):
        super().__init__(**common)
        self.objective_name = as_choice(objective, "objective", OBJECTIVES)
        # None: blocks of 64, or all free weights of a layer (row) that has fewer
        self.fit_blocks = block_size is None
        self.block_size = 64 if block_size is None else as_int(block_size, "block_size", low=1)
        self.k = self.block_size // 2 if k is None else as_int(k, "k", low=0)
        if self.k > self.block_size:
            raise ValueError(f"k must be <= block_size {self.block_size}, got {self.k}")
        self.init_method = as_choice(init, "init", INITS)
        default_sel = "gradient" if self.objective_name == "taylor" else "wanda"
        self.selection = as_choice(default_sel if selection is None else selection, "selection", SELECTIONS)
        if self.selection == "gradient" and self.objective_name != "taylor":
            raise ValueError("selection='gradient' needs objective='taylor' (gradients of the loss)")
        self.alpha = as_real(alpha, "alpha")
        self.ridge = as_real(ridge, "ridge", low=0.0)
        self.hessian = as_choice(hessian, "hessian", HESSIANS)
        self.tabu_frac = as_real(tabu_frac, "tabu_frac", low=0.0, high=1.0)
        self.fix_frac_prune = as_real(fix_frac_prune, "fix_frac_prune", low=0.0, high=1.0)
        self.fix_frac_keep = as_real(fix_frac_keep, "fix_frac_keep", low=0.0, high=1.0)
        self.epochs = as_int(epochs, "epochs", low=0)
        self.steps_per_epoch = None if steps_per_epoch is None else as_int(steps_per_epoch, "steps_per_epoch", low=1)
        self.min_steps = as_int(min_steps_per_layer, "min_steps_per_layer", low=0)
        self.solver = as_choice(solver, "solver", INNER)
        self.solver_options = check_options(self.solver, dict(solver_options or {}), "solver_options")
        self.cutoff_mode = as_choice(cutoff_mode, "cutoff_mode", CUTOFF_MODES)
        self.block_scope = as_choice(block_scope, "block_scope", ("layer", "row"))
        # with layer-wide blocks rows trade kept weights, so a swap-local optimum must allow any swap in a layer
        self.swap_scope = self.block_scope
        if self.block_scope == "layer":
            self.error_name = (
                "unpruned-layer fraction + largest decrease of the relative reconstruction errors "
                "by one swap in a layer"
            )

    # ------------------------------------------------------------------ set-up
    def setup(self, problem, state) -> None:
        net = state.net
        if self.objective_name == "taylor" and isinstance(problem, LayerPruning) and problem.grads is None:
            raise ValueError("objective='taylor' on a LayerPruning needs per-sample grads (LayerPruning(grads=...))")
        if self.hessian == "exact" and isinstance(problem, LayerPruning):
            raise ValueError("hessian='exact' needs a NetworkPruning (it differentiates the model's loss)")
        X = net.dense_inputs()
        state.grams = net.dense_grams()
        base, _, per = self.init_method.partition("_per_")
        state.blocks = {}
        for k in net.layers:
            w0 = net.w0[k]
            score = {"magnitude": np.abs(w0), "wanda": wanda_scores(w0, X[k])}.get(base)
            if score is None:  # random
                score = state.rng.random(w0.shape)
            blocks = LayerBlocks(
                w0,
                score,
                state.density,
                "row" if per else "layer",
                self.fix_frac_prune,
                self.fix_frac_keep,
            )
            free = free_per_scope(blocks, self.block_scope)
            if self.block_size > free and state.density < 1.0 and not self.fit_blocks:
                raise ValueError(
                    f"block_size {self.block_size} is larger than the {free} free weights of layer {k!r}"
                    f"{' (per row)' if self.block_scope == 'row' else ''}; use a smaller block_size"
                )
            blocks.set_tabu(self.tabu_frac, self.block_size)
            state.blocks[k] = blocks
            state.keep[k] = (~blocks.pruned).reshape(w0.shape).astype(float)
            state.weights[k] = w0 * state.keep[k]
        # a LayerPruning's per-sample gradients are fixed data: their mean is taken once, here
        state.grad_mean = (
            {k: problem.grads.mean(0) for k in net.layers}
            if isinstance(problem, LayerPruning) and problem.grads is not None
            else {}
        )
        state.sel_scores = {k: np.abs(net.w0[k]).reshape(-1) for k in net.layers}
        if self.selection == "wanda":
            state.sel_scores = {k: wanda_scores(net.w0[k], X[k]).reshape(-1) for k in net.layers}

    def plan(self, problem, state) -> list:
        net = state.net
        if self.steps_per_epoch is None and self.block_scope == "row":
            per_layer = np.array([net.w0[k].shape[0] for k in net.layers])
        else:
            steps = 30 if self.steps_per_epoch is None else self.steps_per_epoch
            per_layer = step_schedule([net.w0[k].size for k in net.layers], steps, self.min_steps, state.rng)
        epoch_plan = [k for k, c in zip(net.layers, per_layer, strict=True) for _ in range(int(c))]
        if not self._user_check_every:
            self.check_every = max(1, len(epoch_plan))
        plan = []
        for epoch in range(self.epochs):
            order = list(epoch_plan) if self.block_scope == "row" else list(state.rng.permutation(epoch_plan))
            plan += [(epoch, str(k)) for k in order]
        return plan if state.density < 1.0 else []

    # ------------------------------------------------------------------ one block
    def prune_step(self, problem, state, item) -> None:
        epoch, layer = item
        net, blocks = state.net, state.blocks[layer]
        w0 = net.w0[layer]
        flat_w0 = w0.reshape(-1)
        grads = None
        if self.objective_name == "taylor" and self.hessian == "fisher":
            grads = self._grads(problem, state, layer)  # per-sample: the Fisher block needs them
        if self.selection == "gradient":  # |w0 * mean gradient| at the current pruned model
            score = np.abs(flat_w0 * self._grad_mean(problem, state, layer, grads))
        else:
            score = state.sel_scores[layer]
        block, k_eff = blocks.select(
            score, self.block_size, self.k, self.block_scope, state.rng, random=self.selection == "random"
        )
        if self.objective_name == "reconstruction":
            terms = reconstruction_terms(w0, state.grams[layer], blocks.pruned, block, with_offset=False)
        elif self.hessian == "exact":
            g, H = problem.loss_hessian_block(layer, state.weights, problem.batch(state.nstep), block)
            delta = -flat_w0[block] * blocks.pruned[block]
            terms = taylor_terms(flat_w0[block], delta, g, H, self.alpha, self.ridge, k_eff)
        else:
            assert grads is not None  # objective "taylor": set above
            gb = grads.columns(block)
            delta = -flat_w0[block] * blocks.pruned[block]
            terms = taylor_terms(
                flat_w0[block], delta, gb.mean(0), gb.T @ gb / gb.shape[0], self.alpha, self.ridge, k_eff
            )
        model = CardinalityQUBO.from_terms(terms, check=False)
        scaled, sigma = model.prepared(self.cutoff_mode)
        if np.any(scaled.linear) or np.any(scaled.quadratic):
            res = solve_cardinality(scaled, self.solver, seed=state.rng, **self.solver_options)
            x, solve_time = res.x, res.time
        else:  # all-zero model: every feasible mask is optimal, keep the incumbent
            x, solve_time = model.incumbent(), 0.0
        incumbent = model.incumbent()
        change = model.energy(x) - model.energy(incumbent)
        blocks.pruned[block] = x.astype(bool)
        blocks.visited(block)
        state.keep[layer].reshape(-1)[block] = 1.0 - x  # O(b) update of the mask and the weights
        state.weights[layer].reshape(-1)[block] = flat_w0[block] * (1.0 - x)
        state.log.append(
            {
                "epoch": epoch,
                "layer": layer,
                "block": int(block.size),
                "k": int(k_eff),
                "predicted_change": float(change),
                "changed": int(np.sum(x != incumbent)),
                "solve_time": solve_time,
            }
        )

    def _grad_mean(self, problem, state, layer, grads) -> np.ndarray:
        """The mean gradient of ``layer``: fixed for a LayerPruning (taken once in ``setup``), from the
        per-sample gradients when the Fisher needs them anyway, else one backward pass (exact Hessian)."""
        if layer in state.grad_mean:
            return state.grad_mean[layer]
        if grads is not None:
            return grads.mean()
        return problem.loss_grad(layer, state.weights, problem.batch(state.nstep))

    def _grads(self, problem, state, layer):
        if isinstance(problem, LayerPruning):
            return _Dense(problem.grads)
        batch = problem.batch(state.nstep)
        factors = problem.per_sample_factors(layer, state.weights, batch)
        if factors is None:
            return _Dense(problem.per_sample_grads(layer, state.weights, batch))
        return _Factored(*factors)

    def extra_history(self, problem, state) -> dict:
        out = super().extra_history(problem, state)
        out["fraction_optimized"] = fraction_optimized(state.blocks.values())
        out["epoch"] = state.nstep / max(1, self.check_every)
        return out

    def make_result(self, problem, state, **kw):
        res = super().make_result(problem, state, **kw)
        res["fraction_optimized"] = fraction_optimized(state.blocks.values())
        res["free_fraction"] = sum(b.n_free for b in state.blocks.values()) / res.x.size
        return res


class _Dense:
    """Per-sample gradients as an N x p matrix."""

    def __init__(self, G):
        self.G = G

    def mean(self):
        return self.G.mean(0)

    def columns(self, block):
        return self.G[:, block]


class _Factored:
    """Per-sample gradients of a Linear layer, ``grad_s W = D_s A_s^T``: O(N b) per block, never N x p."""

    def __init__(self, A, D):
        self.A, self.D = A, D

    def mean(self):
        return (self.D.T @ self.A).reshape(-1) / self.A.shape[0]

    def columns(self, block):
        r, c = np.divmod(block, self.A.shape[1])
        return self.D[:, r] * self.A[:, c]
