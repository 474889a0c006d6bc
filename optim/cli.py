"""The ``optim`` command line: list, solve, compare, demo.

    optim list
    optim solve PROBLEM --method NAME [--option key=value ...] [--problem-option key=value ...] [--out DIR]
    optim compare SUITE [--out DIR] [--quick | --full] [--seeds 0 1 2] [--workers N | --scheduler ADDRESS]
    optim demo [--out DIR]

Unknown names get the closest match suggested; bad options get a one-line error, not a traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _parse_options(pairs, flag) -> dict:
    """``["a=1", "b=armijo"]`` -> ``{"a": 1, "b": "armijo"}`` (Python literals where they parse)."""
    out = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} expects key=value, got {pair!r}")
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out


def _suite_sentence(builder) -> str:
    """The first sentence of a suite builder's docstring (or of its module's)."""
    import inspect

    from problems.catalog import summary_sentence

    return summary_sentence(builder.__doc__ or getattr(inspect.getmodule(builder), "__doc__", ""))


def cmd_list(args) -> int:
    from problems.catalog import PROBLEMS, describe, load_entry, summary_sentence
    from problems.datasets import DATA_DIR

    from .registry import METHODS, SUITES, solver_class

    print("Suites (optim compare NAME):")
    for name in sorted(SUITES):
        print(f"  {name:<24} {_suite_sentence(load_entry(SUITES[name]))}")
    print("\nSolvers (optim solve PROBLEM --method NAME):")
    for name in sorted(METHODS):
        print(f"  {name:<24} {summary_sentence(solver_class(name).__doc__)}")
    print("\nProblems:")
    for name in sorted(PROBLEMS):
        print(f"  {name:<24} {describe(name)}")
    print("\nBundled instance files (problems/data):")
    for path in sorted(p for p in DATA_DIR.rglob("*") if p.is_file() and p.name != "README.md"):
        print(f"  {path.relative_to(DATA_DIR)}")
    return 0


def cmd_solve(args) -> int:
    from problems.catalog import make_problem

    from .registry import make_solver

    problem = make_problem(args.problem, **_parse_options(args.problem_option, "--problem-option"))
    solver = make_solver(args.method, **_parse_options(args.option, "--option"))
    result = solver.solve(problem)
    print(f"problem    {getattr(problem, 'name', args.problem)}")
    print(f"method     {args.method}")
    for key in ("status", "message", "nit", "fun", "optimality", "report", "time", "counts"):
        if result.get(key) not in (None, {}):
            print(f"{key:<10} {result.get(key)}")
    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        data = {"problem": getattr(problem, "name", args.problem), "method": args.method, **result.to_dict()}
        (out / "result.json").write_text(json.dumps(data, indent=1, allow_nan=False))
        result.plot().savefig(out / "result.png", dpi=90)
        print(f"wrote {out / 'result.json'} and {out / 'result.png'}")
    return 0 if result.status != "diverged" else 1


@contextlib.contextmanager
def _executor(workers, scheduler) -> Iterator[object]:
    """None (serial), a ``ProcessPoolExecutor`` of ``workers`` processes, or a Dask ``Client``
    connected to ``scheduler``; closed on exit."""
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers or --scheduler, not both")
    if scheduler is not None:
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
    elif workers is not None:
        if workers < 1:
            raise ValueError(f"--workers must be >= 1, got {workers}")
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
    else:
        yield None


def cmd_compare(args) -> int:
    from .registry import suite

    start = time.perf_counter()
    with _executor(args.workers, args.scheduler) as executor:
        comparison = suite(args.suite, quick=not args.full).run(seeds=args.seeds, executor=executor)
    paths = comparison.save(args.out, stem=args.suite)
    print(comparison.markdown())
    print(
        f"wrote {paths['markdown']}, {paths['json']} and {len(paths['plots'])} plot(s) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


def cmd_demo(args) -> int:
    from .registry import SUITES, suite

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sections, plots = (
        [
            "# Optarium demo",
            "",
            "Every registered comparison suite in quick mode. The optimality column is each solver's "
            "stopping error (its own residual or certified gap, see docs/conventions.md); gaps to "
            "references and test metrics are reporting columns; work is in the problem's counted unit.",
            "",
        ],
        [],
    )
    start = time.perf_counter()
    for name in sorted(SUITES):
        t0 = time.perf_counter()
        print(f"[demo] {name} ...", flush=True)
        comparison = suite(name, quick=True).run()
        paths = comparison.save(out, stem=name)
        plots += paths["plots"]
        sections += [
            comparison.markdown(),
            *[f"![{p.stem}]({p.name})" for p in paths["plots"]],
            "",
            f"_{name}: {time.perf_counter() - t0:.1f} s_",
            "",
        ]
    report = out / "report.md"
    report.write_text("\n".join(sections))
    print(f"[demo] done in {time.perf_counter() - start:.1f} s: wrote {report} and {len(plots)} plot(s) in {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optim", description="Optarium: modern optimization algorithms.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list suites, solvers, problems and bundled instance files")
    p = sub.add_parser("solve", help="solve a named problem with a named method")
    p.add_argument("problem")
    p.add_argument("--method", required=True)
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="solver option (repeatable)")
    p.add_argument("--problem-option", action="append", metavar="KEY=VALUE", help="problem option (repeatable)")
    p.add_argument("--out", metavar="DIR", help="write result.json and result.png (the convergence plot) into DIR")
    c = sub.add_parser("compare", help="run a comparison suite; writes markdown, JSON and plots")
    c.add_argument("suite")
    c.add_argument("--out", default="optim-report")
    c.add_argument("--seeds", type=int, nargs="+", metavar="SEED", help="run every pair once per seed")
    c.add_argument("--workers", type=int, metavar="N", help="run the grid on N local worker processes")
    c.add_argument("--scheduler", metavar="ADDRESS", help="run the grid on a Dask cluster (tcp://host:8786)")
    mode = c.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes (the default)")
    mode.add_argument("--full", action="store_true", help="the full-size comparison")
    d = sub.add_parser("demo", help="every suite in quick mode; writes report.md and plots")
    d.add_argument("--out", default="optim-demo")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {"list": cmd_list, "solve": cmd_solve, "compare": cmd_compare, "demo": cmd_demo}[args.command]
    try:
        return handler(args)
    except (ValueError, TypeError, FileNotFoundError, KeyError) as exc:
        print(f"optim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
