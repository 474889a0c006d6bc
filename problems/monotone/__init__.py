"""Finite-sum monotone inclusions 0 in F(x) + G(x), F = (1/n) sum_i F_i (Cai, Alacaoglu and
Diakonikolas, "Variance Reduced Halpern Iteration for Finite-Sum Monotone Inclusions", ICLR 2024).

``FiniteSumOperator`` is the protocol and the builder: n component operators F_i (a list of
callables, or one vectorised callable ``batch(idx, x)``), a resolvent of G (``problems.resolvents``)
and the constants of the paper's assumptions:

* ``lipschitz`` = L_F, the Lipschitz constant of F (A1);
* ``mean_lipschitz`` = L with E_i ||F_Q,i(x) - F_Q,i(y)||^2 <= L^2 ||x - y||^2 (A3);
* ``cocoercive_constant`` = L with E_i ||F_Q,i(x) - F_Q,i(y)||^2 <= L <F(x) - F(y), x - y> (A2), or
  None when F is only monotone.

Sampling: i ~ Q (uniform unless ``sampling`` gives q), F_Q,i = F_i / (n q_i) is unbiased for F.

Oracles, charged in component evaluations (``counts["component"]``; ``work`` = epochs = that / n):
``operator(x)`` (cost n), ``component(idx, x)`` = mean over idx of F_Q,i(x) (cost len(idx)),
``component_diff(idx, x, y)`` (cost 2 len(idx)), ``resolvent(x, step)`` (free). ``optimality(x)``
is the natural residual ||x - J_G(x - F(x))|| with step 1, the quantity the official code plots
(see docs/monotone.md); it is not charged. ``operator_residual(x, u, step)`` gives ||F(x) + (u - x)/step||
for an x = J_{step G}(u), an upper bound on dist(0, F(x) + G(x)).

Instances: ``MatrixGame`` (simplex-constrained bilinear games, the policeman-and-burglar generator
of the official code and random ones), ``QuadraticMinMax`` (the Ouyang-Xu hard instance of the
official QP script), ``LogisticOperator`` (the gradient of l2-regularised logistic regression, a
cocoercive finite sum; a8a from LIBSVM).
"""

from .games import MatrixGame, policeman_burglar_game, random_game, spectral_norm
from .logistic import LogisticOperator, logistic_operator_a8a
from .operator import FiniteSum, FiniteSumOperator
from .quadratic import QuadraticMinMax, quadratic_minmax

__all__ = [
    "FiniteSum",
    "FiniteSumOperator",
    "MatrixGame",
    "QuadraticMinMax",
    "LogisticOperator",
    "policeman_burglar_game",
    "random_game",
    "quadratic_minmax",
    "logistic_operator_a8a",
    "spectral_norm",
]
