"""AuON and Hybrid-AuON (D. Maity, "AuON: A Linear-time Alternative to Semi-Orthogonal Momentum
Updates", arXiv 2509.24320, 2025; official code ryyzn9/AuON).

Both keep a momentum buffer (state ``momentum_buffer``, as in Muon) and update hidden-layer
matrices only; a tensor with more than two dimensions is viewed as (shape[0], -1). With
G the Nesterov momentum (``buf <- beta buf + (1 - beta) g``; ``G = beta buf + (1 - beta) g``):

AuON, paper variant (section 3.1)::

    X = G / (||G||_F + 1e-7);  r = sqrt(mean(cosh(X)^2));  U = X / (r + 1e-8)
    p <- p (1 - lr wd) - lr sqrt(max(1, rows/cols)) U

cosh only sets the scalar "brake" r; U is a rescaled Frobenius-normalised momentum, so the update
is scale invariant in the gradient and, since r >= cosh(1/sqrt(N)), ||U||_F <= 1
(``docs/optimizers.md``).

Hybrid-AuON (section 3.2): ``ns_steps`` quintic Newton-Schulz iterations (Muon's coefficients,
default one) on the wide orientation of X before the brake.

``variant="code_head"`` reproduces the classes of ryyzn9/AuON (``auon/optimizer.py``, Jan 2026)
operation for operation: ``U = G / (r_gamma + 1e-8)`` with ``r_gamma = sqrt(mean(cosh(gamma G /
(||G|| + 1e-7))^2))``, no shape factor. That update is NOT normalised (it is Nesterov SGD with a
brake of < 1 % for matrices of more than ~140 entries), hence scale dependent; it exists for
parity with the official code. Unlike the official code, ``p.grad`` is never overwritten.
"""

from __future__ import annotations

import math

import torch

from problems.validation import as_choice, as_int, as_real

from . import _common as C

#: Muon's quintic Newton-Schulz coefficients (K. Jordan et al. 2024)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
VARIANTS = ("paper", "code_head")


def newton_schulz(G, steps: int, coefficients=NS_COEFFICIENTS, eps: float = 1e-7, dtype=None):
    """Approximate polar factor of a matrix: normalise by the Frobenius norm (+eps), then ``steps``
    iterations ``A = X X^T; B = b A + c (A A); X = a X + B X`` on the wide orientation."""
    a, b, c = coefficients
    X = G if dtype is None else G.to(dtype)
    tall = X.size(-2) > X.size(-1)
    if tall:
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + eps)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * (A @ A)
        X = a * X + B @ X
    return X.mT if tall else X


def auon_transform(G, eps_norm: float = 1e-7, eps_rms: float = 1e-8):
    """Paper transform (section 3.1): ``X = G/(||G||_F + eps_norm)``, ``U = X/(sqrt(mean cosh(X)^2) + eps_rms)``."""
    X = G / (torch.linalg.vector_norm(G) + eps_norm)
    return X / (_cosh_rms(X) + eps_rms)


def _cosh_rms(X):
    """sqrt(mean(cosh(X)^2)) = ||cosh X||_2 / sqrt(N), one reduction, no host sync."""
    return torch.linalg.vector_norm(torch.cosh(X)) / math.sqrt(X.numel())


def _code_head_brake(G, gamma: float):
    """ryyzn9/AuON: G / (sqrt(mean(cosh(gamma G / (||G|| + 1e-7))^2)) + 1e-8), same operations."""
    scaled = G / (G.norm() + 1e-7) * gamma
    return G / (torch.sqrt(torch.mean(torch.cosh(scaled) ** 2)) + 1e-8)


def shape_factor(rows: int, cols: int) -> float:
    """Muon's ``sqrt(max(1, rows/cols))``."""
    return math.sqrt(max(1.0, rows / cols))


class AuON(C.GroupOptimizer):
    """AuON: Frobenius-normalised Nesterov momentum with the cosh-RMS brake (module docstring).

    Parameters
    ----------
    params : matrices (ndim >= 2); route biases, norm gains, embeddings and the output head to
        AdamW with ``optim.nn.split_params(model)`` (a vector raises ``ValueError``)
    lr : default 0.055 (the paper's LM setting); AuON needs about sqrt(min(m, n)) times Muon's lr
    momentum : beta in [0, 1); nesterov : use ``beta buf + (1 - beta) g`` (the NEW buffer)
    weight_decay : decoupled, ``p <- p (1 - lr wd)`` before the update (radius of the invariant
        Frobenius ball: sqrt(max(1, rows/cols))/wd)
    variant : "paper" (default) or "code_head" (ryyzn9/AuON's current class, see module docstring)
    gamma : cosh scale of ``code_head`` only (official default 1.5)
    eps_norm, eps_rms : the 1e-7 and 1e-8 of the transform
    state_dtype, foreach, maximize, decay_mode : as in ``optim.nn.Lion``

    The brake is computed in float32 at least (bf16/fp16 parameters are upcast for the transform).
    """

    matrix_only = True
    group_checks = {"lr": C.check_lr, "momentum": lambda beta: C.check_beta(beta, "momentum")}

    def __init__(
        self,
        params,
        lr=0.055,
        momentum=0.95,
        nesterov=True,
        weight_decay=0.0,
        *,
        variant="paper",
        gamma=1.5,
        eps_norm=1e-7,
        eps_rms=1e-8,
        decay_mode="lr_coupled",
        state_dtype=None,
        foreach=None,
        maximize=False,
    ):
        defaults = self._defaults(
            lr,
            momentum,
            nesterov,
            weight_decay,
            variant,
            gamma,
            eps_norm,
            eps_rms,
            decay_mode,
            state_dtype,
            foreach,
            maximize,
        )
        super().__init__(params, defaults)

    @staticmethod
    def _defaults(
        lr,
        momentum,
        nesterov,
        weight_decay,
        variant,
        gamma,
        eps_norm,
        eps_rms,
        decay_mode,
        state_dtype,
        foreach,
        maximize,
    ) -> dict:
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        return dict(
            lr=C.check_lr(lr),
            momentum=C.check_beta(momentum, "momentum"),
            nesterov=nesterov,
            variant=as_choice(variant, "variant", VARIANTS),
            gamma=as_real(gamma, "gamma", low=0.0, low_open=True),
            eps_norm=as_real(eps_norm, "eps_norm", low=0.0),
            eps_rms=as_real(eps_rms, "eps_rms", low=0.0),
            **C.check_common(weight_decay, decay_mode, state_dtype, foreach, maximize),
        )

    def add_param_group(self, param_group):
        params = param_group["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        for i, p in enumerate(params):
            if isinstance(p, torch.Tensor) and p.ndim < 2:
                raise ValueError(
                    f"{type(self).__name__} updates matrices only, but parameter {i} of group "
                    f"{len(self.param_groups)} has shape {tuple(p.shape)}; give biases, norm gains, "
                    f"embeddings and the head to AdamW (see optim.nn.split_params(model))"
                )
        param_group["params"] = params
        super().add_param_group(param_group)

    def _update(self, group, params, grads):
        foreach = C.use_foreach(group, params)
        bufs = [C.state_buffer(self, p, "momentum_buffer", group["state_dtype"]) for p in params]
        C.apply_decay(group, params, foreach)
        for p, G in zip(params, self._nesterov(group, params, grads, bufs, foreach), strict=False):
            self._apply(group, p, G)

    def _nesterov(self, group, params, grads, bufs, foreach):
        """Update the buffers (EMA, as torch.optim.Muon) and return the directions G."""
        beta = group["momentum"]
        moms = [C.compute_view(b, p) for b, p in zip(bufs, params, strict=False)]
        if foreach:
            torch._foreach_lerp_(moms, grads, 1.0 - beta)
            out = torch._foreach_lerp(grads, moms, beta) if group["nesterov"] else moms
        else:
            for m, g in zip(moms, grads, strict=False):
                m.lerp_(g, 1.0 - beta)
            out = [g.lerp(m, beta) for g, m in zip(grads, moms, strict=False)] if group["nesterov"] else moms
        for b, m in zip(bufs, moms, strict=False):
            C.store_back(b, m)
        return out

    def _apply(self, group, p, G):
        lr = C.lr_of(group)
        if group["variant"] == "code_head":
            p.add_(self._code_head_update(group, G), alpha=-lr)
            return
        M = G.reshape(G.shape[0], -1)
        if M.dtype in (torch.bfloat16, torch.float16):
            M = M.float()
        X = self._direction(group, M)
        # p <- p - lr s X / (r + eps_rms): one fused pass, r stays a device scalar (no host sync)
        denom, step = _cosh_rms(X) + group["eps_rms"], -lr * shape_factor(*M.shape)
        if p.is_contiguous():
            p.view(M.shape).addcdiv_(X, denom, value=step)
        else:
            p.add_((X / denom).reshape(p.shape), alpha=step)

    def _direction(self, group, M):
        """The matrix the brake rescales: the Frobenius-normalised momentum."""
        return M / (torch.linalg.vector_norm(M) + group["eps_norm"])

    def _code_head_update(self, group, G):
        return _code_head_brake(G, group["gamma"])


class HybridAuON(AuON):
    """Hybrid-AuON: ``ns_steps`` Newton-Schulz iterations, then the cosh-RMS brake (paper section 3.2).

    Paper variant: ``X = NS_k(G)`` (Frobenius-normalised, wide orientation, Muon's coefficients),
    ``U = X / (sqrt(mean cosh(X)^2) + 1e-8)``, step ``lr sqrt(max(1, rows/cols)) U``; the paper's
    printed denominator lacks the square root, a typo (its section 3.1 and the first code use it).
    After one step the singular values of X are at most max_s (a s + b s^3 + c s^5) ~ 1.20.
    ``variant="code_head"`` follows ryyzn9/AuON's ``HybridAuON`` (default there: 5 NS steps, brake
    with ``gamma`` on the NS output, no shape factor).

    ``ns_dtype``: dtype of the Newton-Schulz matmuls (None: the parameter dtype, as the official
    code; ``torch.bfloat16`` as Muon).
    """

    def __init__(
        self,
        params,
        lr=0.055,
        momentum=0.95,
        nesterov=True,
        weight_decay=0.0,
        *,
        ns_steps=1,
        ns_dtype=None,
        variant="paper",
        gamma=1.5,
        eps_norm=1e-7,
        eps_rms=1e-8,
        decay_mode="lr_coupled",
        state_dtype=None,
        foreach=None,
        maximize=False,
    ):
        defaults = self._defaults(
            lr,
            momentum,
            nesterov,
            weight_decay,
            variant,
            gamma,
            eps_norm,
            eps_rms,
            decay_mode,
            state_dtype,
            foreach,
            maximize,
        )
        if ns_dtype not in C.STATE_DTYPES:
            raise ValueError(f"ns_dtype must be None or a floating torch dtype, got {ns_dtype!r}")
        defaults.update(ns_steps=as_int(ns_steps, "ns_steps", low=0), ns_dtype=ns_dtype)
        super(AuON, self).__init__(params, defaults)

    def _orthogonalize(self, group, M):
        X = newton_schulz(M, group["ns_steps"], eps=group["eps_norm"], dtype=group["ns_dtype"])
        return X.to(M.dtype)

    def _direction(self, group, M):
        return self._orthogonalize(group, M)

    def _code_head_update(self, group, G):
        shape = G.shape
        X = self._orthogonalize(group, G.reshape(shape[0], -1))
        return _code_head_brake(X, group["gamma"]).reshape(shape)
