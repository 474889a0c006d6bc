"""The ``BlockSmooth`` capability: what a problem offers block coordinate descent.

``block_state(x)``          incremental state (iterate, residual / margins / logits, or the gradient)
``block_grad(s, b)``        grad_b f(x) from the state, O(rows x |b|) (O(|b|) for quadratics)
``full_grad(s)``            the whole gradient (greedy rules), one O(nnz) pass
``block_step(s, b, d)``     x_b += d and the state update (for least squares r += A_b d)
``state_value(s)``          f(x); ``trial_value(s, b, d)``: f(x + U_b d) without moving
``coord_lipschitz``         L_i (coordinate-wise Lipschitz constants of grad f)
``bound_block(b)``          H_b = M_bb, a matrix upper bound on the block Hessian
``block_lipschitz(b)``      L_b = lambda_max(M_bb), the block Lipschitz constant of grad f
``hessian_block(s, b)``     the true block Hessian at x (Newton updates)
``bound_matvec(v)``, ``bound_rowsums()``, ``bound_lambda_max()``: the global bound M, matrix-free
``stopping_error(x, g)``    the problem's ``optimality(x)`` computed from a given gradient g = grad f(x)
``l1``, ``nonnegative``, ``is_quadratic``, ``dependency_graph()``

Quadratic problems may also offer ``gram()`` (the constant Hessian, dense or sparse, when it is cheap)
or ``gram_columns(js)`` (columns on demand) and ``linear_term()`` / ``constant_term()`` so that a
solver can keep the gradient g = H x - c current by g += H[:, b] d.

Counts: ``counts["coordinates"]`` is the number of coordinate updates, ``counts["grad"]`` the
full-gradient equivalents (a block gradient costs |b|/n of one). See ``docs/bcd.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..base import Capability
from ..linear_models import RegularizedLinearModel

BlockSmooth = Capability(
    "BlockSmooth",
    (
        "dim",
        "block_state",
        "block_grad",
        "full_grad",
        "block_step",
        "state_value",
        "trial_value",
        "coord_lipschitz",
        "bound_block",
        "block_lipschitz",
        "hessian_block",
        "bound_matvec",
        "bound_rowsums",
        "bound_lambda_max",
    ),
    "block oracles and incremental state hooks (problems.bcd)",
)


class BlockBounds:
    """Mixin: the block Lipschitz constant from the block bound ``bound_block``."""

    def block_lipschitz(self, b: np.ndarray) -> float:
        """L_b = lambda_max(M_bb) (eigvalsh of the ``|b| x |b|`` bound; M_ii for one coordinate)."""
        H = self.bound_block(b)  # type: ignore[attr-defined]
        return float(H[0, 0]) if len(H) == 1 else float(np.linalg.eigvalsh(H)[-1])


class BlockState:
    """Incremental state of a block method: the iterate ``x`` plus problem-specific caches."""

    def __init__(self, x: np.ndarray, **caches: Any) -> None:
        self.x = x
        self.__dict__.update(caches)


def block_problem(problem: Any) -> Any:
    """``problem`` itself if it has the ``BlockSmooth`` oracles, a new ``BlockLinearModel`` view of a
    foundation linear model (nothing is stored on ``problem``: a solver keeps the view in its run
    state), otherwise ``TypeError`` naming what is missing."""
    if BlockSmooth.satisfied_by(problem):
        return problem
    if isinstance(problem, RegularizedLinearModel):
        from .linear import BlockLinearModel

        return BlockLinearModel(problem)
    missing = BlockSmooth.missing(problem)
    raise TypeError(
        f"block coordinate descent needs a problem with block oracles ({BlockSmooth.description}); "
        f"{type(problem).__name__} lacks {', '.join(missing[:6])}"
        f"{' ...' if len(missing) > 6 else ''}"
    )
