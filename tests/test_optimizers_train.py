"""Train / TrainingProblem: every optimizer trains the digits MLP, runs are reproducible, the
registry and compare treat ours and torch's alike, and bad input fails at construction."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)

import optim
import problems
from optim.nn import Train

# lr / decay for 150 steps at batch 64 (Lion: ~AdamW lr / 3, decay x 10)
METHODS = {
    "lion": dict(lr=1e-3, weight_decay=0.1),
    "lion-k": dict(lr=0.2, weight_decay=0.1, K="l2"),
    "auon": dict(lr=0.08),
    "hybrid-auon": dict(lr=0.08),
    "adamw": dict(lr=3e-3),
    "sgd": dict(lr=0.1, momentum=0.9),
    "muon": dict(lr=0.02),
}


@pytest.fixture(scope="module")
def digits():
    return problems.digits_mlp()


@pytest.mark.parametrize("method", METHODS)
def test_every_optimizer_cuts_the_test_loss_below_a_quarter(digits, method):
    untrained = digits.evaluate(digits.model(0))["loss"]
    assert abs(untrained - np.log(10)) < 0.1  # sanity: an untrained classifier is near uniform
    result = optim.solve(digits, method=method, max_iter=150, seed=0, check_every=50, **METHODS[method])
    assert result.status == "max_iter" and result.nit == 150
    assert result.report["test_loss"] < untrained / 4
    assert result.counts["grad"] == 150
    assert result.history["test_accuracy"][-1] > 0.85


def test_same_seed_same_curve_and_other_seed_other_curve(digits):
    runs = [
        optim.solve(digits, method="lion", max_iter=40, seed=s, check_every=10, **METHODS["lion"]) for s in (3, 3, 4)
    ]
    np.testing.assert_array_equal(runs[0].history["optimality"], runs[1].history["optimality"])
    np.testing.assert_array_equal(runs[0].history["test_loss"], runs[1].history["test_loss"])
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    assert not np.array_equal(runs[0].x, runs[2].x)


def test_train_accepts_any_torch_optimizer_and_x0(digits):
    x0 = digits.initial_point()
    solver = Train(torch.optim.Adam, lr=3e-3, max_iter=20, seed=0)
    result = solver.solve(digits, x0)
    assert result.x.shape == (digits.dim,) and isinstance(result.model, torch.nn.Module)
    assert result.optimality == pytest.approx(digits.optimality(result.x), rel=1e-5)
    assert result.fun == pytest.approx(digits.value(result.x), rel=1e-5)


@pytest.mark.parametrize("method", ["mkor", "kfac", "adamw"])
def test_a_start_of_the_wrong_size_is_named_x0(digits, method):
    with pytest.raises(ValueError, match=rf"x0 must be a flat vector of the model's {digits.dim} parameters"):
        optim.solve(digits, method=method, x0=np.zeros(3), max_iter=1, verbose=False)


def test_parameters_are_flattened_at_the_checks_only(digits, monkeypatch):
    """The float64 copy of all parameters is O(model) work: made at the checks, not every step."""
    import optim.nn.train as train_module

    calls = []
    real = train_module.flat_parameters
    monkeypatch.setattr(train_module, "flat_parameters", lambda model: calls.append(1) or real(model))
    result = optim.solve(digits, method="adamw", max_iter=40, check_every=20, seed=0)
    assert result.nit == 40 and len(calls) <= 4  # build + start check + 2 checks (was one per step)
    np.testing.assert_array_equal(result.x, real(result.model))
    assert np.all(np.isfinite(result.history["batch_loss"][1:]))


def test_cosine_schedule_with_warmup():
    solver = Train(torch.optim.SGD, lr=0.1, max_iter=110, warmup=10, min_lr_ratio=0.1)
    assert solver.lr_factor(0) == pytest.approx(0.1) and solver.lr_factor(9) == pytest.approx(1.0)
    assert solver.lr_factor(10) == pytest.approx(1.0) and solver.lr_factor(110) == pytest.approx(0.1)
    assert solver.lr_factor(60) == pytest.approx(0.55)


def test_compare_runs_ours_and_torch_side_by_side(digits):
    comp = optim.compare(digits, {"lion": ("lion", METHODS["lion"]), "adamw": "adamw"}, max_iter=20, seed=0)
    assert [r["method"] for r in comp.records] == ["lion", "adamw"]
    assert "| digits-mlp | lion |" in comp.table()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda p: optim.solve(p, method="lion", lr=-1.0, max_iter=1), ValueError, "lr"),
        (lambda p: optim.solve(p, method="lion", betas=(0.9, 1.5), max_iter=1), ValueError, "betas"),
        (lambda p: optim.solve(p, method="lion", momentum=0.9), ValueError, "takes no option 'momentum'"),
        (lambda p: Train(torch.optim.AdamW, lr=-1.0), ValueError, "learning rate"),
        (lambda p: Train(torch.optim.AdamW, nesterov=True), TypeError, "AdamW"),
        (lambda p: Train(dict), TypeError, "optimizer_cls"),
        (lambda p: Train(torch.optim.SGD, lr=0.1, schedule="linear"), ValueError, "schedule"),
        (lambda p: optim.solve(problems.lasso_diabetes(), method="lion"), TypeError, "TrainingProblem"),
    ],
)
def test_bad_input_is_rejected_at_construction(digits, call, error, match):
    with pytest.raises(error, match=match):
        call(digits)


def test_char_gpt_has_the_documented_model():
    p = problems.char_gpt(eval_size=32)
    d, V, T, L = 128, 96, 64, 2
    expected = V * d + T * d + L * (12 * d * d + 2 * d) + d + V * d  # embeddings, blocks, final LN, head
    model = p.model(0)
    assert sum(q.numel() for q in model.parameters()) == expected
    inputs, targets = next(p.batches(0))
    assert inputs.shape == (16, 64) and torch.equal(inputs[:, 1:], targets[:, :-1])
    assert int(inputs.max()) < V
    assert p.evaluate(model)["loss"] == pytest.approx(np.log(V), rel=0.05)  # near uniform at init
    result = optim.solve(p, method="adamw", max_iter=30, check_every=30, seed=0)
    assert result.report["test_loss"] < 0.85 * np.log(V)


def test_importing_optim_and_problems_does_not_import_torch():
    code = "import sys, optim, problems; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_training_problem_validates_and_copies_its_data():
    X, y = np.zeros((10, 3)), np.zeros(10, dtype=np.int64)
    factory = lambda: torch.nn.Linear(3, 2)  # noqa: E731
    with pytest.raises(ValueError, match="same positive number of rows"):
        problems.TrainingProblem(factory, (X, y[:5]), (X, y))
    with pytest.raises(ValueError, match="loss"):
        problems.TrainingProblem(factory, (X, y), (X, y), loss="hinge")
    with pytest.raises(TypeError, match="model_factory"):
        problems.TrainingProblem(None, (X, y), (X, y))
    p = problems.TrainingProblem(factory, (X, y), (X, y), dtype="float64")
    X[:] = 1.0
    assert float(p.train_data.inputs.abs().max()) == 0.0
