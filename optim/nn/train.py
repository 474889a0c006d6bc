"""``Train``: any torch optimizer as a solver of a ``problems.TrainingProblem``.

``Train(optimizer_cls, **hyper)`` builds the model from the problem with the run's seed, draws the
minibatches from the same seed, and steps ``optimizer_cls(params, **hyper)`` under a shared lr
schedule (linear warm-up, then cosine decay to ``min_lr_ratio`` times the base lr over ``max_iter``
steps, or a constant lr). So ours (Lion, Lion-K, AuON, Hybrid-AuON) and torch's (AdamW, SGD, Muon)
see the same initial weights, batches and schedule, and ``optim.compare`` treats them alike.

Matrix optimizers (AuON, HybridAuON, ``torch.optim.Muon``) get the hidden matrices of
``split_params(model)``; the other parameters go to AdamW (``aux_lr``, ``aux_betas``,
``aux_weight_decay``; defaults of the tiny-GPT setting in ``docs/optimizers.md``), stepped under the same schedule.

Optimizers that need the model itself (MKOR, KFAC: hooks on its layers) declare ``takes_model = True``
and are built as ``optimizer_cls(model, **hyper)``; one that declares ``wants_loss = True`` receives each
step's minibatch loss through ``observe_loss(float)`` (MKOR-H's automatic switch). A registered method
takes the hyper-parameters the problem recommends for it (``problem.recommended[name]``) under the
caller's own options.

The iterate ``x`` is the model's flat parameter vector (float64 numpy, refreshed at each check, i.e.
every ``check_every`` steps, not after every step). The stopping error is the norm of the
training-loss gradient (``problem.optimality``), ``fun`` the training loss; held-out loss and metric
are reporting columns (``report``); the trained model is ``result.model``.
"""

from __future__ import annotations

import inspect
import math
from typing import cast

from problems.catalog import load_entry
from problems.training import Trainable, flat_parameters, load_flat_parameters, report_columns
from problems.validation import as_choice, as_int, as_real

from ..base import Solver, State

SCHEDULES = ("cosine", "constant")


def _is_matrix_optimizer(cls) -> bool:
    import torch

    return bool(getattr(cls, "matrix_only", False)) or (hasattr(torch.optim, "Muon") and cls is torch.optim.Muon)


class Train(Solver):
    """Train a ``TrainingProblem`` with ``optimizer_cls(params, **hyper)``.

    Parameters
    ----------
    optimizer_cls : a ``torch.optim.Optimizer`` subclass or a ``"module:Class"`` string
    schedule : "cosine" (default; after ``warmup`` linear steps, decay to ``min_lr_ratio``) or "constant"
    warmup : linear warm-up steps
    min_lr_ratio : final lr / base lr of the cosine schedule
    grad_clip : clip the global gradient norm to this value (None: no clipping)
    aux_lr, aux_betas, aux_weight_decay : AdamW for the non-matrix parameters of a matrix optimizer
    threads : ``torch.set_num_threads`` during the run (restored afterwards); None leaves it alone
    **hyper : the optimizer's own arguments (``lr``, ``betas``, ``weight_decay``, ...), checked now
    tol, max_iter, budget, time_limit, callback, seed, verbose, check_every : as every ``Solver``
        (``max_iter`` is the number of steps and the length of the schedule)
    """

    name = "train"
    error_name = "norm of the training-loss gradient"
    requires = (Trainable,)
    default_max_iter = 300
    default_check_every = 10
    #: registered subclasses fix the optimizer ("module:Class") and its default hyper-parameters
    optimizer: str | None = None
    default_hyper: dict = {}
    #: option names forwarded to the optimizer beyond its signature (e.g. a wrapped backbone's lr)
    extra_option_names: tuple = ()

    def __init__(
        self,
        optimizer_cls=None,
        *,
        schedule="cosine",
        warmup=0,
        min_lr_ratio=0.0,
        grad_clip=None,
        aux_lr=3e-3,
        aux_betas=(0.9, 0.95),
        aux_weight_decay=0.1,
        threads=None,
        tol=0.0,
        **options,
    ):
        solver_keys = set(Solver.option_names())
        super().__init__(tol=tol, **{k: v for k, v in options.items() if k in solver_keys})
        cls = optimizer_cls if optimizer_cls is not None else self.optimizer
        if cls is None:
            raise TypeError("Train needs optimizer_cls (a torch.optim.Optimizer subclass or 'module:Class')")
        self.optimizer_cls = load_entry(cls) if isinstance(cls, str) else cls
        import torch

        if not (isinstance(self.optimizer_cls, type) and issubclass(self.optimizer_cls, torch.optim.Optimizer)):
            raise TypeError(f"optimizer_cls must be a torch.optim.Optimizer subclass, got {self.optimizer_cls!r}")
        self.user_hyper = {k: v for k, v in options.items() if k not in solver_keys}
        self.hyper = merge_hyper(self.default_hyper, self.user_hyper)
        self.schedule = as_choice(schedule, "schedule", SCHEDULES)
        self.warmup = as_int(warmup, "warmup", low=0)
        self.min_lr_ratio = as_real(min_lr_ratio, "min_lr_ratio", low=0.0, high=1.0)
        self.grad_clip = None if grad_clip is None else as_real(grad_clip, "grad_clip", low=0.0, low_open=True)
        self.threads = None if threads is None else as_int(threads, "threads", low=1)
        self.matrix_only = _is_matrix_optimizer(self.optimizer_cls)
        self.takes_model = bool(getattr(self.optimizer_cls, "takes_model", False))
        self.aux = dict(lr=aux_lr, betas=tuple(aux_betas), weight_decay=aux_weight_decay)
        self._check_hyper()
        if self.name == "train":
            self.name = self.optimizer_cls.__name__.lower()

    @classmethod
    def option_names(cls) -> list[str]:
        names = set(super().option_names())
        if cls.optimizer is not None:
            names.discard("optimizer_cls")
            sig = inspect.signature(load_entry(cls.optimizer).__init__)
            names |= {
                p.name
                for p in sig.parameters.values()
                if p.name not in ("self", "params") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            }
            names |= set(cls.extra_option_names)
        return sorted(names)

    def _check_hyper(self) -> None:
        """Build the optimizer(s) on a dummy matrix now, so bad hyper-parameters fail at construction."""
        import torch

        dummy = torch.nn.Parameter(torch.zeros(2, 2))
        try:
            if self.takes_model:
                self.optimizer_cls(torch.nn.Sequential(torch.nn.Linear(2, 2)), **self.hyper).close()
                return
            self.optimizer_cls([dummy], **self.hyper)
            if self.matrix_only:
                torch.optim.AdamW([dummy], **self.aux)
        except TypeError as exc:
            raise TypeError(f"{self.optimizer_cls.__name__}: {exc}") from None

    # ------------------------------------------------------------------ the Solver interface
    def solve(self, problem, x0=None):
        import torch

        if self.threads is None:
            return super().solve(problem, x0)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            return super().solve(problem, x0)
        finally:
            torch.set_num_threads(previous)

    def init(self, problem, x0=None) -> State:
        import torch

        from .params import split_params

        rng = self.new_rng()
        model = problem.model(int(rng.integers(2**31 - 1)))
        if x0 is not None:
            load_flat_parameters(model, x0, "x0")
        model.train()
        hyper = self.hyper_for(problem)
        if self.takes_model:
            optimizers = [self.optimizer_cls(model, **hyper)]
        elif self.matrix_only:
            matrices, others = split_params(model)
            if hasattr(torch.optim, "Muon") and self.optimizer_cls is torch.optim.Muon:
                # torch's Muon takes 2-D parameters only: convolution kernels go to AdamW
                others = others + [p for p in matrices if p.ndim != 2]
                matrices = [p for p in matrices if p.ndim == 2]
            if not matrices:
                raise ValueError(
                    f"{self.name}: the model has no hidden matrix for {self.optimizer_cls.__name__} "
                    "(torch's Muon takes 2-D hidden-layer weights only; try 'auon', which also takes conv kernels)"
                )
            optimizers = [self.optimizer_cls(matrices, **hyper)]
            if others:
                optimizers.append(torch.optim.AdamW(others, **self.aux))
        else:
            optimizers = [self.optimizer_cls(model.parameters(), **hyper)]
        base_lrs = [[g["lr"] for g in opt.param_groups] for opt in optimizers]
        return State(
            x=flat_parameters(model),
            model=model,
            optimizers=optimizers,
            base_lrs=base_lrs,
            batches=problem.batches(rng),
            k=0,
            lr_factor=self.lr_factor(0),
            batch_loss=math.nan,
        )

    def hyper_for(self, problem) -> dict:
        """The optimizer's arguments on ``problem``: registered defaults, then the problem's
        recommendation for this method, then the caller's options."""
        recommended = getattr(problem, "recommended", {}).get(self.name, {}) if self.optimizer else {}
        return merge_hyper(merge_hyper(self.default_hyper, recommended), self.user_hyper)

    def lr_factor(self, k: int) -> float:
        """Schedule multiplier at step ``k`` (0-based): warm-up (k+1)/warmup, then cosine or constant."""
        if k < self.warmup:
            return (k + 1) / self.warmup
        if self.schedule == "constant":
            return 1.0
        span = max(1, self.max_iter - self.warmup)
        progress = min(1.0, (k - self.warmup) / span)
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    def step(self, problem, state: State) -> State:
        import torch

        state.lr_factor = self.lr_factor(state.k)
        for opt, lrs in zip(state.optimizers, state.base_lrs, strict=False):
            for group, lr in zip(opt.param_groups, lrs, strict=False):
                group["lr"] = lr * state.lr_factor
        for opt in state.optimizers:
            opt.zero_grad(set_to_none=True)
        loss = problem.batch_loss(state.model, next(state.batches))
        loss.backward()
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(state.model.parameters(), self.grad_clip)
        for opt in state.optimizers:
            if getattr(opt, "wants_loss", False):
                opt.observe_loss(float(loss.detach()))
            opt.step()
        state.batch_loss = loss.detach()  # read at the checks: no host sync per step
        state.k += 1
        return state

    def is_finite(self, state: State) -> bool:
        """Refresh ``x`` from the model (only at the checks, not every step) and test it."""
        state.x = flat_parameters(state.model)
        return super().is_finite(state)

    def optimality(self, problem, state: State) -> float:
        """Norm of the training-loss gradient at the current parameters (on a fresh copy of the model,
        so no optimizer hook sees this extra forward/backward)."""
        return float(problem.optimality(state.x))

    def objective(self, problem, state: State) -> float:
        return problem.evaluate(state.model, "train")["loss"]

    def report(self, problem, state: State) -> dict:
        """Held-out loss and metric of the current model (reporting columns, never a stopping rule)."""
        return report_columns(problem, problem.evaluate(state.model, "test"))

    def extra_history(self, problem, state: State) -> dict:
        extra = {"batch_loss": float(state.batch_loss), "lr_factor": state.lr_factor}
        if not hasattr(Solver, "report"):  # until the shared loop records report columns itself
            extra.update(self.report(problem, state))
        return extra

    def make_result(self, problem, state, **kwargs):
        result = super().make_result(problem, state, **kwargs)
        result.model = state.model
        if "report" not in result:
            result.report = self.report(problem, state)
        for opt in state.optimizers:
            if hasattr(opt, "close"):
                opt.close()
        return result


def merge_hyper(base: dict, override: dict) -> dict:
    """``{**base, **override}``, except that when ``override`` names another backbone than ``base``, the
    backbone options of ``base`` (lr, momentum, betas, ...) are dropped: they were meant for the other one."""
    if "backbone" in override and override["backbone"] != base.get("backbone", override["backbone"]):
        base = {k: v for k, v in base.items() if k not in BACKBONE_OPTIONS}
    return {**base, **override}


def _trainer(method: str, target: str, doc: str, **defaults) -> type[Train]:
    return cast(
        type[Train],
        type(  # a subclass of Train, built at run time
            "Train_" + method.replace("-", "_"),
            (Train,),
            {"name": method, "optimizer": target, "default_hyper": defaults, "__doc__": doc, "__module__": __name__},
        ),
    )


# The default hyper-parameters are the tiny-GPT base values (docs/optimizers.md); problems may recommend others
LionTrainer = _trainer(
    "lion", "optim.nn.lion:Lion", "Train with optim.nn.Lion (lr 3e-4, wd 1.0).", lr=3e-4, weight_decay=1.0
)
LionKTrainer = _trainer(
    "lion-k",
    "optim.nn.lion:LionK",
    "Train with optim.nn.LionK (K='l2', lr 0.2, wd 0.1: per-tensor unit steps).",
    lr=0.2,
    weight_decay=0.1,
    K="l2",
)
AuONTrainer = _trainer("auon", "optim.nn.auon:AuON", "Train with optim.nn.AuON on matrices + AdamW (lr 0.08).", lr=0.08)
HybridAuONTrainer = _trainer(
    "hybrid-auon", "optim.nn.auon:HybridAuON", "Train with optim.nn.HybridAuON on matrices + AdamW (lr 0.08).", lr=0.08
)
AdamWTrainer = _trainer(
    "adamw",
    "torch.optim:AdamW",
    "Train with torch.optim.AdamW (lr 3e-3, wd 0.1).",
    lr=3e-3,
    betas=(0.9, 0.95),
    weight_decay=0.1,
)
SGDTrainer = _trainer(
    "sgd", "torch.optim:SGD", "Train with torch.optim.SGD (lr 0.1, momentum 0.9).", lr=0.1, momentum=0.9
)
_MuonBase = _trainer(
    "muon", "torch.optim:Muon", "Train with torch.optim.Muon on matrices + AdamW (lr 0.02).", lr=0.02, weight_decay=0.1
)


class MuonTrainer(_MuonBase):  # type: ignore[valid-type,misc]
    """Train with torch.optim.Muon on matrices + AdamW (lr 0.02)."""

    @classmethod
    def accepts(cls, problem) -> bool:
        """Only models with a 2-D hidden-layer weight: torch's Muon takes nothing else (kernels go to AdamW)."""
        if not super().accepts(problem):
            return False
        from .params import split_params

        matrices, _ = split_params(problem.model(0))
        return any(p.ndim == 2 for p in matrices)


#: options of a wrapped backbone given by name (MKOR, MKOR-H, KFAC pass them to its constructor)
BACKBONE_OPTIONS = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps")


def _second_order(method: str, target: str, doc: str, **defaults) -> type[Train]:
    cls = _trainer(method, target, doc, **defaults)
    cls.extra_option_names = BACKBONE_OPTIONS
    return cls


MKORTrainer = _second_order(
    "mkor",
    "optim.nn.mkor:MKOR",
    "Train with optim.nn.MKOR around SGD with momentum (lr 0.1, momentum 0.9, inv_freq 10).",
    backbone="sgd",
    lr=0.1,
    momentum=0.9,
)
MKORHTrainer = _second_order(
    "mkor-h",
    "optim.nn.mkor_hybrid:MKORH",
    "Train with optim.nn.MKORH (automatic switch to its SGD-momentum backbone; lr 0.1, momentum 0.9).",
    backbone="sgd",
    lr=0.1,
    momentum=0.9,
)
KFACTrainer = _second_order(
    "kfac",
    "optim.nn.kfac:KFAC",
    "Train with optim.nn.KFAC (kaisa mode, damping 1, no KL clip, inverses every 10 steps) around SGD-momentum.",
    backbone="sgd",
    lr=0.1,
    momentum=0.9,
    damping=1.0,
    kl_clip=None,
    inv_every=10,
)
