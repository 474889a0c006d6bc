"""Imports run one way: ``problems`` never imports ``optim`` or ``quantum`` (statically or at run time)."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

PROBLEMS = pathlib.Path(__file__).resolve().parents[1] / "problems"


def _imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_of_problems_imports_optim_or_quantum():
    offenders = {
        str(p.relative_to(PROBLEMS.parent)): sorted(_imported_modules(p) & {"optim", "quantum"})
        for p in PROBLEMS.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_problem_module_loads_neither_optim_nor_quantum():
    modules = sorted(
        ".".join(p.relative_to(PROBLEMS.parent).with_suffix("").parts)
        for p in PROBLEMS.rglob("*.py")
        if p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('optim', 'quantum')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROBLEMS.parent)
    assert out.stdout.strip() == "[]"
