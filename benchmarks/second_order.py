"""MKOR, MKOR-H and KFAC against the optimizers a user would otherwise pick, on the digits problems.

Problems (``problems.digits_mlp``, ``digits_cnn``, ``digits_autoencoder``): targets CE < 0.05 (MLP, 400
steps; CNN, 300 steps) and MSE < 0.03 (autoencoder, 600 steps) on the *full training set*, checked every
10 steps. Same initial weights and batches for every method of a seed; constant lr; one thread.

Methods: SGD-momentum, AdamW (torch.optim), LAMB and SOAP (pytorch-optimizer), KFAC ours (kaisa mode,
damping 1, no KL clip, inverses every 10 steps; asdl mode, factors and inverses every 10 steps), KFAC of
ASDL (``KfacGradientMaker(fisher_type="fisher_emp")``, same periods), MKOR (inv_freq 10) on SGD-m, AdamW,
LAMB and Lion, MKOR-H on SGD-m (automatic switch with window 20, and a fixed switch at step 100).

Reported: median steps- and seconds-to-target over seeds (training steps only, evaluation excluded),
final train loss and test metric, diverged runs, MKOR's stabilizer resets, optimizer-state bytes (all
state tensors, factors included), elements all-reduced per factor step under torch.distributed (measured
from our optimizers' ``communicated_elements()``; the test suite counts them with a wrapper around the
collective), per-step cost against the backbone alone (min over 3 interleaved repeats, one thread), and
the time per step of the digits MLP under DDP with two gloo processes against one process.

    python benchmarks/second_order.py --quick   # MLP and CNN, 2 seeds, fixed lrs (a few minutes)
    python benchmarks/second_order.py           # all three problems, 3 seeds, the tuning grid (~30 min, 1 core)

Tuning grid of the full mode (the same for every method, so the budget is equal): 3 learning rates per
family, half a decade apart and bracketing the lrs the problems recommend (SGD-like 0.03, 0.1, 0.3;
Adam-like 1e-3, 3e-3, 1e-2; Lion 1e-4, 3e-4, 1e-3), and for the KFAC variants the damping in
{1e-2, 1e-1, 1} as well. Every setting of the grid runs on seed 0; the setting with the fewest steps to
target there (ties: lowest final loss) runs on seeds 1 and 2 too, and the tables give the medians over the
3 seeds at that setting. (Choosing by the median over 3 seeds at every setting, with 5 lrs and 4
dampings, is 990 runs and does not fit half an hour on a shared core; this is 249.)

Writes benchmarks/results/second_order.json, loss-vs-steps / loss-vs-seconds plots, and prints markdown.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from _common import RESULTS, markdown_table, write_json
from _second_order_ddp import ddp_timing

import problems
from optim.nn import KFAC, MKOR, MKORH, Lion

PROBLEMS = {  # name -> (factory, target, budget, {lr kind: lr})
    "digits-mlp": (problems.digits_mlp, 0.05, 400, {"sgd": 0.3, "adam": 1e-2, "lion": 1e-3}),
    "digits-cnn": (problems.digits_cnn, 0.05, 300, {"sgd": 0.1, "adam": 1e-2, "lion": 1e-3}),
    "digits-autoencoder": (problems.digits_autoencoder, 0.03, 600, {"sgd": 0.3, "adam": 3e-3, "lion": 3e-4}),
}


def _lamb(params, lr):
    from pytorch_optimizer import Lamb

    return Lamb(params, lr=lr)


def _soap(params, lr):
    from pytorch_optimizer import SOAP

    return SOAP(params, lr=lr, weight_decay=0.0)


def _sgd(params, lr):
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def _adamw(params, lr):
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)


#: label -> (lr kind, factory(model, lr) -> optimizer or ("asdl", maker, optimizer), backbone label)
METHODS = {
    "SGD-m": ("sgd", lambda m, lr: _sgd(m.parameters(), lr), None),
    "AdamW": ("adam", lambda m, lr: _adamw(m.parameters(), lr), None),
    "LAMB": ("adam", lambda m, lr: _lamb(m.parameters(), lr), None),
    "SOAP": ("adam", lambda m, lr: _soap(m.parameters(), lr), None),
    "KFAC ours kaisa (SGD-m)": (
        "sgd",
        lambda m, lr, damping=1.0: KFAC(m, _sgd(m.parameters(), lr), damping=damping, kl_clip=None, inv_every=10),
        "SGD-m",
    ),
    "KFAC ours asdl (SGD-m)": (
        "sgd",
        lambda m, lr, damping=1.0: KFAC(
            m, _sgd(m.parameters(), lr), mode="asdl", damping=damping, factor_every=10, inv_every=10
        ),
        "SGD-m",
    ),
    "KFAC ASDL (SGD-m)": ("sgd", lambda m, lr, damping=1.0: _asdl(m, lr, damping), "SGD-m"),
    "MKOR (SGD-m)": ("sgd", lambda m, lr: MKOR(m, _sgd(m.parameters(), lr)), "SGD-m"),
    "MKOR (AdamW)": ("adam", lambda m, lr: MKOR(m, _adamw(m.parameters(), lr)), "AdamW"),
    "MKOR (LAMB)": ("adam", lambda m, lr: MKOR(m, _lamb(m.parameters(), lr)), "LAMB"),
    "MKOR (Lion)": ("lion", lambda m, lr: MKOR(m, Lion(m.parameters(), lr=lr)), "Lion"),
    "MKOR-H (SGD-m)": ("sgd", lambda m, lr: MKORH(m, _sgd(m.parameters(), lr), window=20), "SGD-m"),
    "MKOR-H step 100 (SGD-m)": (
        "sgd",
        lambda m, lr: MKORH(m, _sgd(m.parameters(), lr), switch="step", switch_step=100),
        "SGD-m",
    ),
}
KFAC_METHODS = ("KFAC ours kaisa (SGD-m)", "KFAC ours asdl (SGD-m)", "KFAC ASDL (SGD-m)")
BACKBONES = {"Lion": ("lion", lambda m, lr: Lion(m.parameters(), lr=lr), None)}


#: ASDL's curvature is divided by ``data_size``, which must be the minibatch size of the problem being run
_ASDL_DATA_SIZE = {"value": 64}


def _asdl(model, lr, damping):
    from asdl.precondition import KfacGradientMaker, PreconditioningConfig

    config = PreconditioningConfig(
        data_size=_ASDL_DATA_SIZE["value"],
        damping=damping,
        curvature_upd_interval=10,
        preconditioner_upd_interval=10,
    )
    return ("asdl", KfacGradientMaker(model, config, fisher_type="fisher_emp"), _sgd(model.parameters(), lr))


def _mse_per_output(output, target, reduction="mean"):
    """``F.mse_loss`` for ASDL: ASDL asks for the summed loss and divides by the batch size, which for an
    element-wise loss is the per-sample *sum* over outputs; dividing by the outputs per sample gives the
    same loss (and gradients, and factors) as the mean-reduced ``F.mse_loss`` every other method uses."""
    loss = F.mse_loss(output, target, reduction=reduction)
    return loss / output[0].numel() if reduction == "sum" else loss


def _train_step(problem, model, opt, batch):
    """One training step; returns the minibatch loss (a float)."""
    inputs, targets = batch
    if isinstance(opt, tuple):  # ASDL: its gradient maker runs forward and backward
        _, maker, sgd = opt
        sgd.zero_grad()
        out = maker.setup_model_call(model, inputs)
        loss_fn = _mse_per_output if problem.loss_name == "mse" else F.cross_entropy  # ASDL needs a `reduction`
        maker.setup_loss_call(loss_fn, out, targets)
        _, loss = maker.forward_and_backward()
        sgd.step()
        return float(loss)
    opt.zero_grad()
    loss = problem.loss(model(inputs), targets)
    if isinstance(opt, MKORH):
        opt.observe_loss(float(loss.detach()))
    loss.backward()
    opt.step()
    return float(loss.detach())


def _state_bytes(opt) -> int | None:
    if isinstance(opt, tuple):
        return None
    if hasattr(opt, "state_bytes"):
        return opt.state_bytes()
    return sum(v.numel() * v.element_size() for s in opt.state.values() for v in s.values() if torch.is_tensor(v))


def run(problem, name, target, budget, method, lr, seed, damping=None) -> dict:
    """One training run: the loss curve at every 10th step, steps and seconds to the target."""
    _, make, _ = METHODS.get(method) or BACKBONES[method]
    model = problem.model(seed)
    opt = make(model, lr) if damping is None else make(model, lr, damping)
    batches = problem.batches(seed)
    X, Y = problem.train_data.inputs, problem.train_data.targets
    curve, seconds, train_time, hit = [], [], 0.0, None
    error = None
    for step in range(1, budget + 1):
        t0 = time.perf_counter()
        try:
            _train_step(problem, model, opt, next(batches))
        except (RuntimeError, ValueError) as exc:  # e.g. a peer's Cholesky failing: recorded as diverged
            error = f"step {step}: {type(exc).__name__}: {str(exc)[:120]}"
            curve.append(math.nan)
            seconds.append(train_time)
            break
        train_time += time.perf_counter() - t0
        if step % 10 == 0:
            with torch.no_grad():
                loss = float(problem.loss(model(X), Y))
            curve.append(loss)
            seconds.append(train_time)
            if not math.isfinite(loss):
                break
            if hit is None and loss < target:
                hit = (step, train_time)
    final = curve[-1] if curve else math.nan
    return {
        "problem": name,
        "method": method,
        "lr": lr,
        "damping": damping,
        "seed": seed,
        "steps_to_target": hit[0] if hit else None,
        "seconds_to_target": hit[1] if hit else None,
        "final_train_loss": final,
        "test_metric": problem.evaluate(model)["metric"] if math.isfinite(final) else None,
        "diverged": not math.isfinite(final),
        "resets": getattr(opt, "n_resets", None),
        "state_bytes": _state_bytes(opt),
        "comm_elements": opt.communicated_elements() if hasattr(opt, "communicated_elements") else None,
        "error": error,
        "curve": curve,
        "curve_seconds": seconds,
    }


def step_cost(problem, lrs, pairs, steps=200, warmup=50, repeats=3) -> list[dict]:
    """Seconds per training step of each method and of its backbone alone (min over interleaved repeats)."""
    names = sorted({m for pair in pairs for m in pair})
    setups = {}
    for m in names:
        kind, make, _ = METHODS.get(m) or BACKBONES[m]
        model = problem.model(0)
        opt = make(model, lrs[kind] * 0.1)
        batches = problem.batches(0)
        for _ in range(warmup):
            _train_step(problem, model, opt, next(batches))
        setups[m] = (model, opt, batches, [])
    for _ in range(repeats):
        for model, opt, batches, times in setups.values():
            data = [next(batches) for _ in range(steps)]
            t0 = time.perf_counter()
            for batch in data:
                _train_step(problem, model, opt, batch)
            times.append((time.perf_counter() - t0) / steps)
    best = {m: min(v[3]) for m, v in setups.items()}
    return [
        {
            "method": m,
            "backbone": b,
            "ms_per_step": 1e3 * best[m],
            "backbone_ms": 1e3 * best[b],
            "ratio": best[m] / best[b],
        }
        for m, b in pairs
    ]


def summarise(runs) -> list[dict]:
    rows = []
    keys = sorted(
        {(r["problem"], r["method"], r["lr"], r["damping"]) for r in runs},
        key=lambda k: (k[0], list(METHODS).index(k[1]), k[2], k[3] or 0.0),
    )
    for problem, method, lr, damping in keys:
        rs = [r for r in runs if (r["problem"], r["method"], r["lr"], r["damping"]) == (problem, method, lr, damping)]
        steps = [r["steps_to_target"] if r["steps_to_target"] is not None else math.inf for r in rs]
        secs = [r["seconds_to_target"] if r["seconds_to_target"] is not None else math.inf for r in rs]
        med = statistics.median(steps)
        rows.append(
            {
                "problem": problem,
                "method": method,
                "lr": lr,
                "damping": damping,
                "steps to target (median)": med if math.isfinite(med) else None,
                "seconds to target (median)": statistics.median(secs)
                if math.isfinite(statistics.median(secs))
                else None,
                "final train loss": statistics.median(r["final_train_loss"] for r in rs),
                "test metric": statistics.median(r["test_metric"] or math.nan for r in rs),
                "diverged": sum(r["diverged"] for r in rs),
                "seeds": len(rs),
                "resets": rs[0]["resets"],
                "state KiB": None if rs[0]["state_bytes"] is None else rs[0]["state_bytes"] / 1024,
                "all-reduced elements / factor step": rs[0]["comm_elements"],
            }
        )
    return rows


def best_lr(rows) -> list[dict]:
    """For each (problem, method), the lr with the fewest median steps to target (ties: lowest final loss)."""
    out = {}
    for r in rows:
        key = (r["problem"], r["method"])
        loss = r["final train loss"]
        score = (r["steps to target (median)"] or math.inf, loss if math.isfinite(loss) else math.inf)
        if key not in out or score < out[key][0]:
            out[key] = (score, r)
    return [v[1] for v in out.values()]


def plot(runs, chosen, folder) -> list[str]:
    from matplotlib.figure import Figure

    paths = []
    for problem in sorted({r["problem"] for r in chosen}):
        fig = Figure(figsize=(11, 4))
        ax_steps, ax_time = fig.subplots(1, 2)
        for row in (r for r in chosen if r["problem"] == problem):
            r = next(
                x
                for x in runs
                if (x["problem"], x["method"], x["lr"], x["damping"], x["seed"])
                == (problem, row["method"], row["lr"], row["damping"], 0)
            )
            steps = [10 * (i + 1) for i in range(len(r["curve"]))]
            ax_steps.semilogy(steps, r["curve"], label=row["method"])
            ax_time.semilogy(r["curve_seconds"], r["curve"], label=row["method"])
        ax_steps.set(xlabel="step", ylabel="full training loss", title=f"{problem} (seed 0)")
        ax_time.set(xlabel="training seconds (1 thread)", ylabel="full training loss")
        ax_steps.legend(fontsize=6)
        path = folder / f"second_order_{problem}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        paths.append(str(path))
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="MLP and CNN, 2 seeds, fixed learning rates")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = ["digits-mlp", "digits-cnn"] if args.quick else list(PROBLEMS)
    seeds = [0, 1] if args.quick else [0, 1, 2]
    # full mode: the same tuning budget for everyone (see the module docstring)
    grids = {"sgd": [0.03, 0.1, 0.3], "adam": [1e-3, 3e-3, 1e-2], "lion": [1e-4, 3e-4, 1e-3]}
    dampings = [1.0] if args.quick else [1e-2, 1e-1, 1.0]
    started = time.perf_counter()
    runs, costs = [], []
    for name in names:
        factory, target, budget, lrs = PROBLEMS[name]
        problem = factory()
        _ASDL_DATA_SIZE["value"] = problem.batch_size
        for method, (kind, _, _) in METHODS.items():
            settings = [
                (lr, damping)
                for lr in ([lrs[kind]] if args.quick else grids[kind])
                for damping in (dampings if method in KFAC_METHODS else [None])
            ]
            tuning = []
            for lr, damping in settings:  # full mode: the grid on the first seed
                tuning += [run(problem, name, target, budget, method, lr, s, damping) for s in seeds[:1]]
            chosen = best_lr(summarise(tuning))[0]
            runs += tuning
            # the other seeds at the chosen setting (quick mode: one setting, every seed)
            for seed in seeds[1:]:
                runs.append(run(problem, name, target, budget, method, chosen["lr"], seed, chosen["damping"]))
            elapsed = time.perf_counter() - started
            print(
                f"[{elapsed:7.0f} s] {name} {method}: lr={chosen['lr']:g} damping={chosen['damping']}", file=sys.stderr
            )
        pairs = [(m, b) for m, (_, _, b) in METHODS.items() if b is not None]
        costs += [{"problem": name, **row} for row in step_cost(problem, lrs, pairs)]
        write_json("second_order_partial", {"runs": runs, "step_cost": costs})  # what is done so far
    summary = summarise(runs)
    rows = []
    for problem_name, method in dict.fromkeys((r["problem"], r["method"]) for r in runs):
        # the chosen setting is the one run with every seed
        full = [
            r for r in summary if (r["problem"], r["method"]) == (problem_name, method) and r["seeds"] == len(seeds)
        ]
        row = full[0]
        row["diverged (grid)"] = sum(
            r["diverged"] for r in runs if (r["problem"], r["method"]) == (problem_name, method)
        )
        rows.append(row)
    ddp = ddp_timing()
    cols = [
        "problem",
        "method",
        "lr",
        "damping",
        "steps to target (median)",
        "seconds to target (median)",
        "final train loss",
        "test metric",
        "diverged",
        "diverged (grid)",
        "resets",
        "state KiB",
        "all-reduced elements / factor step",
    ]
    text = [
        "## Steps and seconds to target (median over the seeds, at the setting chosen on the first seed)",
        "",
        markdown_table(rows, cols, {"lr": ".3g", "seconds to target (median)": ".2f", "state KiB": ".1f"}),
        "",
        "## Per-step cost against the backbone alone",
        "",
        "One thread; 200 timed steps after 50 warm-up, min of 3 interleaved repeats.",
        "",
        markdown_table(
            costs,
            ["problem", "method", "backbone", "ms_per_step", "backbone_ms", "ratio"],
            {"ms_per_step": ".2f", "backbone_ms": ".2f", "ratio": ".2f"},
        ),
    ]
    text += [
        "",
        "## Digits MLP under DDP: one process against two gloo processes (global batch 64, one thread each)",
        "",
        markdown_table(ddp, ["method", "1 process ms", "2 gloo ranks ms", "ratio"]),
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    plots = plot(runs, rows, RESULTS)
    path = write_json(
        "second_order",
        {
            "quick": args.quick,
            "summary": rows,
            "step_cost": costs,
            "ddp_timing": ddp,
            "runs": runs,
            "plots": plots,
            "seeds": seeds,
            "lr_grids": None if args.quick else grids,
            "dampings": dampings,
        },
    )
    print("\n".join(text))
    print(f"\nwrote {path} and {len(plots)} plot(s)")


if __name__ == "__main__":
    main()
