"""Multi-block bilevel problems: the capability, closed-form instances and a8a hyper-parameter tuning."""

from .base import BilevelProblem, ExactHypergradient, MultiBlockBilevel
from .logistic import HyperparameterLogistic, load_sigmas
from .quadratic import QuadraticBilevel
from .ridge import MultiTaskRidge


def quadratic_bilevel(m: int = 20, noise: float = 0.5, seed: int = 0) -> QuadraticBilevel:
    """Synthetic quadratic multi-block bilevel problem (m blocks, d_x = 10, d_y = 5, closed form)."""
    return QuadraticBilevel(m=m, noise=noise, seed=seed)


def ridge_digits(mu: float = 1.0, rho: float = 0.05, seed: int = 0) -> MultiTaskRidge:
    """Ten one-vs-rest ridge tasks on digits tied by a shared prior mean (closed form)."""
    return MultiTaskRidge.digits(mu=mu, rho=rho, seed=seed)


def ho_a8a(split: str = "reduced", m: int | None = None, lam: float | None = None) -> HyperparameterLogistic:
    """Sample-weight hyper-parameter optimisation over temperature-scaled logistic models on a8a."""
    return HyperparameterLogistic.a8a(split=split, m=m, lam=lam)


__all__ = [
    "BilevelProblem",
    "ExactHypergradient",
    "HyperparameterLogistic",
    "MultiBlockBilevel",
    "MultiTaskRidge",
    "QuadraticBilevel",
    "ho_a8a",
    "load_sigmas",
    "quadratic_bilevel",
    "ridge_digits",
]

from .ndcg import TopKNDCG, ndcg_at_k  # noqa: E402  (top-K NDCG on MovieLens-100k)


def ndcg_movielens(n_users: int = 50, n_items: int = 200, k: int = 10, seed: int = 0) -> TopKNDCG:
    """Top-K NDCG (K-SONG lower levels) of a small NeuMF-style model on a MovieLens-100k subset."""
    return TopKNDCG.movielens(n_users=n_users, n_items=n_items, k=k, seed=seed)


__all__ += ["TopKNDCG", "ndcg_at_k", "ndcg_movielens"]
