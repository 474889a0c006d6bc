"""The ``completion`` comparison suite: exact and robust AM against SVP, SoftImpute and ALS on an
incoherent synthetic matrix, and (when the file is present) ALS against the bias baseline on
MovieLens-100k u1. Columns add the reporting metrics: relative error against the truth and test RMSE."""

from __future__ import annotations

from problems.completion import movielens100k, synthetic_incoherent

from ..compare import Comparison, Suite, format_number, result_record
from ..registry import make_solver

SYNTHETIC_METHODS = {
    "altmin": ("altmin", {}),
    "altmin-robust (1 CG step)": ("altmin-robust", {"inner_iters": 1}),
    "altmin-robust (countsketch)": ("altmin-robust", {"sketch": "countsketch"}),
    "svp": ("svp", {}),
    "softimpute (max_rank 10)": ("softimpute", {"max_rank": 10}),
    "als (lam 1e-6, svd start)": ("als", {"lam": 1e-6, "init": "svd", "center": False, "tol": 1e-10}),
}
RATING_METHODS = {
    "bias-baseline": ("bias-baseline", {}),
    "als (k 5, lam 0.1)": ("als", {"rank": 5, "lam": 0.1, "tol": 0.0, "max_iter": 15}),
    "als (k 10, biases, lam 0.1)": ("als", {"rank": 10, "lam": 0.1, "biases": True, "tol": 0.0, "max_iter": 15}),
}


class CompletionComparison(Comparison):
    """A comparison whose table adds the reporting columns and whose plots show the error against the truth
    (synthetic) or the test RMSE (ratings) per iteration and per second."""

    def table(self) -> str:
        head = (
            "| problem | method | status | iterations | passes | time (s) | stopping error | rel. error | test RMSE |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---:|"
        )
        rows = [head]
        for r in self.records:
            rep = r.get("report", {})
            rows.append(
                f"| {r['problem']} | {r['method']} | {r['status']} | {r['nit']} | {format_number(r['work'])} | "
                f"{r['time']:.3g} | {format_number(r['optimality'])} | {format_number(rep.get('rel_error'))} | "
                f"{format_number(rep.get('test_rmse'), 4)} |"
            )
        return "\n".join(rows)

    def plot(self, out_dir, stem=None):
        from pathlib import Path

        from matplotlib.figure import Figure

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for problem in dict.fromkeys(r["problem"] for r in self.records):
            runs = [r for r in self.records if r["problem"] == problem]
            column = "rel_error" if "rel_error" in runs[0]["history"] else "test_rmse"
            fig = Figure(figsize=(10, 3.8))
            axes = fig.subplots(1, 2)
            for r in runs:
                h = r["history"]
                if column not in h:
                    continue
                axes[0].plot(h["nit"], h[column], label=r["method"])
                axes[1].plot(h["time"], h[column], label=r["method"])
            for ax, xlabel in zip(axes, ("iteration", "time (s)"), strict=True):
                ax.set_xlabel(xlabel)
                ax.set_ylabel(column.replace("_", " "))
                if column == "rel_error":
                    ax.set_yscale("log")
                ax.grid(True, which="both", alpha=0.3)
            axes[0].legend(fontsize=7)
            fig.suptitle(f"{self.title}: {problem}")
            fig.tight_layout()
            path = out_dir / f"{stem or 'completion'}_{problem}.png"
            fig.savefig(path, dpi=90)
            paths.append(path)
        return paths


def run_methods(problems: dict, methods: dict, *, seed: int = 0, title: str = "completion", **common):
    records = []
    for p_label, problem in problems.items():
        for m_label, (method, options) in methods.items():
            solver = make_solver(method, **{**common, "seed": seed, "verbose": False, **options})
            result = solver.solve(problem)
            record = result_record(p_label, m_label, method, problem, result, seed)
            record["report"] = {k: float(v) for k, v in result.report.items()}
            records.append(record)
    return records


def completion_suite(quick: bool = True) -> Suite:
    """Exact/robust AM, SVP, SoftImpute and ALS on a synthetic incoherent matrix; ALS on MovieLens u1."""

    def runner():
        size = (300, 300, 5) if quick else (1000, 1000, 5)
        synth = synthetic_incoherent(*size, c=2.0, seed=0)
        records = run_methods({synth.name: synth}, SYNTHETIC_METHODS, max_iter=60 if quick else 100)
        if not quick:
            tiny = synthetic_incoherent(60, 60, 2, c=3.0, seed=0)
            records += run_methods({tiny.name: tiny}, {"nuclear-norm": ("nuclear-norm", {}), **SYNTHETIC_METHODS})
        notes = (
            "Stopping error: relative training RMSE or its relative change (the solvers' own); rel. error "
            "||U V^T - M||_F / ||M||_F against the truth and test RMSE are reporting columns."
        )
        try:
            ml = movielens100k("u1")
        except (FileNotFoundError, ImportError) as missing:  # the file, or pyarrow (the peers extra), absent
            notes += f" MovieLens-100k skipped: {str(missing).splitlines()[0]}"
        else:
            records += run_methods({ml.name: ml}, RATING_METHODS)
        return CompletionComparison(records, title="completion", notes=notes)

    return Suite(name="completion", description=(completion_suite.__doc__ or "").split("\n")[0], runner=runner)
