"""The ``pruning`` comparison suite: every pruner on the ReLU digits MLP at equal kept counts.

Optimality is the pruners' stopping error (swap-local gap of the layer-wise reconstruction errors); the
notes add what a user compares: test accuracy and achieved density (4 decimals) per method.
"""

from __future__ import annotations

from optim.compare import Comparison, Suite, compare


def pruning_suite(quick: bool = True) -> Suite:
    """Magnitude, Wanda, SparseGPT, CBS-S and iCBS (taylor and reconstruction) on the digits MLP."""
    from problems.pruning import digits_pruning

    densities = (0.5,) if quick else (0.7, 0.5, 0.3)
    epochs = 3 if quick else 10
    problems = {f"digits d={d}": digits_pruning(0, density=d) for d in densities}
    methods = {
        "magnitude": ("magnitude", {}),
        "wanda": ("wanda", {}),
        "wanda (one pass)": ("wanda", {"sequential": False}),
        "sparsegpt": ("sparsegpt", {}),
        "cbs": ("cbs", {"max_swaps_iter": 10 if quick else 100}),
        f"icbs taylor ({epochs}x30)": ("icbs", {"epochs": epochs, "steps_per_epoch": 30}),
        "icbs reconstruction (rows)": (
            "icbs",
            {"objective": "reconstruction", "block_scope": "row", "block_size": 16, "epochs": 1},
        ),
    }

    def run() -> Comparison:
        comp = compare(problems, methods, seed=0, title="pruning")
        lines = ["| problem | method | test accuracy | density | time (s) |", "|---|---|---:|---:|---:|"]
        for r in comp.records:
            h = r["history"]
            lines.append(
                f"| {r['problem']} | {r['method']} | {h['accuracy'][-1]:.4f} | {h['density'][-1]:.4f} | "
                f"{r['time']:.2f} |"
            )
        comp.notes = "Test accuracy of the pruned digits MLP (seed 0) and achieved density:\n\n" + "\n".join(lines)
        return comp

    return Suite(
        name="pruning",
        description=(pruning_suite.__doc__ or "").split("\n")[0],
        problems=problems,
        methods=methods,
        runner=run,
    )
