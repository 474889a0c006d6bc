"""Optarium problems: what is solved. Data, oracles, optimality measures, references, loaders."""

from .base import Capability, Composite, Counts, HasReference, Objective, Problem, Smooth, counted, require
from .bcd import BlockLinearModel, LabelPropagation, NonnegativeLasso, bcd_paper_problem  # greedy BCD
from .bilevel import HyperparameterLogistic, MultiBlockBilevel, MultiTaskRidge, QuadraticBilevel  # bilevel
from .bilevel.ndcg import TopKNDCG, ndcg_at_k  # bilevel (top-K NDCG)
from .binary import MDKP, MIS, QAP, TSP, ConstrainedBinary, MarketSplit
from .catalog import PROBLEMS, make_problem
from .completion import MatrixCompletion, from_ratings, movielens100k, synthetic_incoherent  # completion
from .datasets import (
    lasso_diabetes,
    load_dataset,
    logistic_a8a,
    logistic_breast_cancer,
    multinomial_digits,
    standardize,
)
from .libsvm import load_libsvm
from .linear_models import LeastSquares, Logistic, MultinomialLogistic, soft_threshold
from .linear_systems import (
    HeatEquationSequence,
    LinearSystemSequence,
    ShiftedLaplacianSequence,  # sor
    ShiftedSequence,
    load_matrix_market,
    poisson2d,
)
from .loaders_binary import instance_path, list_instances
from .monotone import FiniteSumOperator, LogisticOperator, MatrixGame, QuadraticMinMax  # monotone inclusions
from .pruning import LayerPruning, NetworkPruning, digits_pruning  # pruning (torch-free at import)
from .training import TensorData, TokenStream, TrainingProblem, char_gpt, digits_mlp  # torch-free at import
from .training_digits import digits_autoencoder, digits_cnn  # second-order torch optimizers

__all__ = [
    "Capability",
    "Composite",
    "Counts",
    "HasReference",
    "Objective",
    "Problem",
    "Smooth",
    "counted",
    "require",
    "PROBLEMS",
    "make_problem",
    "load_dataset",
    "lasso_diabetes",
    "logistic_a8a",
    "logistic_breast_cancer",
    "multinomial_digits",
    "standardize",
    "load_libsvm",
    "LeastSquares",
    "Logistic",
    "MultinomialLogistic",
    "soft_threshold",
    "MDKP",
    "MIS",
    "QAP",
    "TSP",
    "ConstrainedBinary",
    "MarketSplit",
    "instance_path",
    "list_instances",
    "TensorData",
    "TokenStream",
    "TrainingProblem",
    "char_gpt",
    "digits_mlp",
    "digits_cnn",
    "digits_autoencoder",
    "FiniteSumOperator",
    "LogisticOperator",
    "MatrixGame",
    "QuadraticMinMax",
    "HeatEquationSequence",
    "LinearSystemSequence",
    "ShiftedLaplacianSequence",
    "ShiftedSequence",
    "load_matrix_market",
    "poisson2d",
    "BlockLinearModel",
    "LabelPropagation",
    "NonnegativeLasso",
    "bcd_paper_problem",
    "MatrixCompletion",
    "from_ratings",
    "movielens100k",
    "synthetic_incoherent",
    "HyperparameterLogistic",
    "MultiBlockBilevel",
    "MultiTaskRidge",
    "QuadraticBilevel",
    "LayerPruning",
    "NetworkPruning",
    "digits_pruning",
    "TopKNDCG",
    "ndcg_at_k",
]
