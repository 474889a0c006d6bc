"""Optarium problems: what is solved. Data, oracles, optimality measures, references, loaders."""
from .base import Capability, Composite, Counts, HasReference, Objective, Problem, Smooth, counted, require
from .catalog import PROBLEMS, make_problem
from .datasets import (load_dataset, lasso_diabetes, logistic_a8a, logistic_breast_cancer,
                       multinomial_digits, standardize)
from .libsvm import load_libsvm
from .linear_models import LeastSquares, Logistic, MultinomialLogistic, soft_threshold

__all__ = [
    "Capability", "Composite", "Counts", "HasReference", "Objective", "Problem", "Smooth", "counted",
    "require", "PROBLEMS", "make_problem", "load_dataset", "lasso_diabetes", "logistic_a8a",
    "logistic_breast_cancer", "multinomial_digits", "standardize", "load_libsvm", "LeastSquares",
    "Logistic", "MultinomialLogistic", "soft_threshold",
]
