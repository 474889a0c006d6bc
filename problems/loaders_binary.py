"""Instance-file readers for the constrained binary problems; malformed files raise ``ValueError``
naming the file and the line.

Each reader returns plain data: a dict of the keyword arguments of the problem's constructor
(``MDKP(**read_mdkp(path))``); the problem classes' ``from_file`` do exactly that. Formats (see the
instance folders' READMEs):

* SAC-94 MDKP ``.dat``: ``n m OPT``, n profits, m rows of n weights, m capacities (rows wrap);
* OR-Library ``mknap``: the number of problems K, then K blocks in the SAC-94 layout;
* DIMACS graphs: ``c`` comments, ``p edge n m``, ``e u v`` (1-based);
* TSPLIB: ``KEY: VALUE`` header, ``NODE_COORD_SECTION`` (EUC_2D, GEO) or ``EDGE_WEIGHT_SECTION``
  (EXPLICIT: FULL_MATRIX, LOWER_DIAG_ROW, UPPER_DIAG_ROW, LOWER_ROW, UPPER_ROW), ``EOF``;
* QAPLIB: ``n``, then two ``n x n`` matrices (a token stream);
* QOBLIB market split: ``#`` comments, ``m n``, m rows of n demands followed by the target.

Shipped copies live in ``problems/data/instances/<folder>/`` (``instance_path``, ``list_instances``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).parent / "data" / "instances"

#: optima of shipped files whose format does not carry them (values from the instance READMEs)
KNOWN_OPTIMA = {
    "mis": {"1tc.8": 4, "1tc.16": 8, "1tc.32": 12, "1tc.64": 20, "1dc.64": 10, "1dc.128": 16},
    "qap": {
        "chr12a": 9552,
        "chr12b": 9742,
        "had12": 1652,
        "nug12": 578,
        "rou12": 235528,
        "scr12": 31410,
        "tai10a": 135028,
        "tai10b": 1183760,
        "tai12a": 224416,
    },
    "tsp": {"burma14": 3323, "ulysses16": 6859},
}


def instance_path(folder: str, name: str) -> Path:
    """Path of a shipped instance file (``folder`` one of ``list_instances()``'s keys)."""
    path = DATA / folder / name
    if not path.is_file():
        have = sorted(p.name for p in (DATA / folder).glob("*")) if (DATA / folder).is_dir() else []
        raise ValueError(f"no shipped instance {folder}/{name}; available: {', '.join(have) or 'none'}")
    return path


def list_instances(folder: str) -> list[Path]:
    """Shipped instance files of one folder (``mdkp``, ``mdkp_orlib``, ``mis``, ``mis_qoblib``,
    ``msp``, ``qap``, ``tsp``), sorted; solution and README files excluded."""
    return sorted(
        p
        for p in (DATA / folder).glob("*")
        if p.is_file() and p.suffix not in (".md", ".sol") and not p.name.endswith(".opt.sol")
    )


class _Tokens:
    """Whitespace tokens of a file with their line numbers; ``number``/``integer`` raise a
    ``ValueError`` that names the file and line."""

    def __init__(
        self, path: str | Path, lines: list[tuple[int, str]] | None = None, comment: str | None = None
    ) -> None:
        self.path = Path(path)
        if lines is None:
            lines = _read_lines(self.path)
        self.items: list[tuple[str, int]] = []
        for lineno, line in lines:
            if comment is not None and line.lstrip().startswith(comment):
                continue
            self.items.extend((tok, lineno) for tok in line.split())
        self.pos = 0
        self.last_line = lines[-1][0] if lines else 1

    def error(self, msg: str, line: int | None = None) -> ValueError:
        return ValueError(f"{self.path.name}: line {line or self.last_line}: {msg}")

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            raise self.error(f"file ends early: expected {what}")
        tok = self.items[self.pos]
        self.pos += 1
        return tok

    def number(self, what: str) -> float:
        tok, line = self.next(what)
        try:
            val = float(tok)
        except ValueError:
            raise self.error(f"expected {what} (a number), got {tok!r}", line) from None
        if not math.isfinite(val):
            raise self.error(f"expected {what} (a finite number), got {tok!r}", line)
        return val

    def integer(self, what: str, low: int | None = None) -> int:
        tok, line = self.next(what)
        if not re.fullmatch(r"[+-]?\d+", tok):
            raise self.error(f"expected {what} (an integer), got {tok!r}", line)
        val = int(tok)
        if low is not None and val < low:
            raise self.error(f"expected {what} >= {low}, got {val}", line)
        return val

    def numbers(self, count: int, what: str) -> np.ndarray:
        return np.array([self.number(what) for _ in range(count)])

    def end(self) -> None:
        if self.pos < len(self.items):
            tok, line = self.items[self.pos]
            raise self.error(f"unexpected extra token {tok!r} after the data", line)


def _read_lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise ValueError(f"instance file {str(path)!r} does not exist")
    with open(path, encoding="utf-8", errors="replace") as fh:
        return [(k, line.rstrip("\n")) for k, line in enumerate(fh, start=1)]


# ---------------------------------------------------------------------- MDKP
def _mdkp_block(tok: _Tokens, name: str) -> dict:
    n = tok.integer("the number of items n", low=1)
    m = tok.integer("the number of constraints m", low=1)
    opt = tok.number("the optimum")
    p = tok.numbers(n, "a profit")
    W = np.array([tok.numbers(n, f"a weight of row {j + 1}") for j in range(m)])
    c = tok.numbers(m, "a capacity")
    for arr, what in ((p, "profits"), (W, "weights"), (c, "capacities")):
        if np.any(arr < 0):
            raise tok.error(f"{what} must be non-negative")
    return {"profits": p, "weights": W, "capacities": c, "known_optimum": opt if opt > 0 else None, "name": name}


def read_mdkp(path: str | Path, index: int | None = None) -> dict:
    """SAC-94 ``.dat`` or OR-Library mknap file -> ``MDKP`` arguments (``index`` 1-based for mknap)."""
    path = Path(path)
    tok = _Tokens(path)
    first_line = [t for t in tok.items if t[1] == tok.items[0][1]] if tok.items else []
    if len(first_line) == 1:  # OR-Library: a single count on the first line
        count = tok.integer("the number of problems", low=1)
        if index is None:
            if count != 1:
                raise ValueError(f"{path.name} holds {count} problems; pass index=1..{count}")
            index = 1
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 1 <= index <= count:
            raise ValueError(f"index must be an integer in 1..{count}, got {index!r}")
        problems = [_mdkp_block(tok, f"{path.stem}-{k + 1}") for k in range(count)]
        tok.end()
        return problems[index - 1]
    if index not in (None, 1):
        raise ValueError(f"{path.name} holds one problem; index must be None or 1, got {index!r}")
    problem = _mdkp_block(tok, path.stem)
    tok.end()
    return problem


# ---------------------------------------------------------------------- DIMACS
def read_dimacs(path: str | Path, known_optimum: float | None = None) -> dict:
    """DIMACS edge file -> ``MIS`` arguments (optimum from a QOBLIB ``.opt.sol`` beside it or the table)."""
    path = Path(path)
    n, edges, declared, p_line = None, [], 0, 1
    for lineno, line in _read_lines(path):
        parts = line.split()
        if not parts or parts[0] == "c":
            continue
        if parts[0] == "p":
            if n is not None:
                raise ValueError(f"{path.name}: line {lineno}: a second 'p' line")
            if len(parts) != 4 or parts[1] not in ("edge", "col") or not (parts[2].isdigit() and parts[3].isdigit()):
                raise ValueError(f"{path.name}: line {lineno}: expected 'p edge <nodes> <edges>', got {line.strip()!r}")
            n, declared, p_line = int(parts[2]), int(parts[3]), lineno
            if n < 1:
                raise ValueError(f"{path.name}: line {lineno}: the graph must have at least one node")
        elif parts[0] == "e":
            if n is None:
                raise ValueError(f"{path.name}: line {lineno}: edge before the 'p edge' line")
            if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
                raise ValueError(
                    f"{path.name}: line {lineno}: expected 'e <u> <v>' with 1-based node numbers, got {line.strip()!r}"
                )
            u, v = int(parts[1]), int(parts[2])
            if not (1 <= u <= n and 1 <= v <= n):
                raise ValueError(f"{path.name}: line {lineno}: node numbers must lie in 1..{n}, got {u} {v}")
            edges.append((u - 1, v - 1))
        else:
            raise ValueError(f"{path.name}: line {lineno}: unknown line type {parts[0]!r} (expected c, p or e)")
    if n is None:
        raise ValueError(f"{path.name}: line 1: no 'p edge <nodes> <edges>' line")
    if len(edges) != declared:  # a truncated (or padded) file
        raise ValueError(
            f"{path.name}: line {p_line}: the 'p' line announces {declared} edges, the file has {len(edges)} 'e' lines"
        )
    name = path.name.removesuffix(".txt").removesuffix(".gph")
    if known_optimum is None:
        known_optimum = _solution_objective(path.with_name(name + ".opt.sol"))
    if known_optimum is None:
        known_optimum = KNOWN_OPTIMA["mis"].get(name)
    return {"num_nodes": n, "edges": edges, "known_optimum": known_optimum, "name": name}


def _solution_objective(path: Path):
    """The 'Objective value = K' of a QOBLIB solution file, or None."""
    if not path.is_file():
        return None
    for lineno, line in _read_lines(path):
        m = re.match(r"#\s*Objective value\s*=\s*(\S+)", line)
        if m:
            try:
                return float(m.group(1))
            except ValueError:
                raise ValueError(f"{path.name}: line {lineno}: bad objective value {m.group(1)!r}") from None
    return None


# ---------------------------------------------------------------------- TSPLIB
_TSPLIB_RRR = 6378.388
_TSPLIB_PI = 3.141592


def geo_distances(coords: np.ndarray) -> np.ndarray:
    """TSPLIB GEO distances: degrees.minutes to radians with PI = 3.141592, then
    ``int(RRR * acos(0.5((1+q1)q2 - (1-q1)q3)) + 1)`` (Reinelt, TSPLIB 95, section 2.4)."""
    deg = np.trunc(coords)
    rad = _TSPLIB_PI * (deg + 5.0 * (coords - deg) / 3.0) / 180.0
    lat, lon = rad[:, 0], rad[:, 1]
    q1 = np.cos(lon[:, None] - lon[None, :])
    q2 = np.cos(lat[:, None] - lat[None, :])
    q3 = np.cos(lat[:, None] + lat[None, :])
    arg = np.clip(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1.0, 1.0)
    d = np.floor(_TSPLIB_RRR * np.arccos(arg) + 1.0)
    np.fill_diagonal(d, 0.0)
    return d


def _euc_2d(coords: np.ndarray) -> np.ndarray:
    diff = coords[:, None, :] - coords[None, :, :]
    return np.floor(np.sqrt((diff**2).sum(-1)) + 0.5)


def _explicit(tok: _Tokens, n: int, fmt: str) -> np.ndarray:
    d = np.zeros((n, n))
    if fmt == "FULL_MATRIX":
        return np.array([[tok.number("an edge weight") for _ in range(n)] for _ in range(n)])
    pairs = {
        "LOWER_DIAG_ROW": [(i, j) for i in range(n) for j in range(i + 1)],
        "LOWER_ROW": [(i, j) for i in range(n) for j in range(i)],
        "UPPER_DIAG_ROW": [(i, j) for i in range(n) for j in range(i, n)],
        "UPPER_ROW": [(i, j) for i in range(n) for j in range(i + 1, n)],
    }
    if fmt not in pairs:
        raise tok.error(f"unsupported EDGE_WEIGHT_FORMAT {fmt!r} (supported: FULL_MATRIX, {', '.join(pairs)})")
    for i, j in pairs[fmt]:
        d[i, j] = d[j, i] = tok.number("an edge weight")
    return d


def read_tsplib(path: str | Path) -> dict:
    """TSPLIB ``.tsp`` -> ``TSP`` arguments (the distance matrix, optimum and name)."""
    path = Path(path)
    lines = _read_lines(path)
    header: dict[str, Any] = {}
    k = 0
    while k < len(lines):
        lineno, line = lines[k]
        text = line.strip()
        k += 1
        if not text:
            continue
        key = text.split(":")[0].strip().upper()
        if key in ("NODE_COORD_SECTION", "EDGE_WEIGHT_SECTION"):
            header["SECTION"] = (key, lineno)
            break
        if key == "EOF":
            break
        if ":" not in text:
            raise ValueError(f"{path.name}: line {lineno}: expected 'KEY: VALUE' or a section name, got {text!r}")
        header[key] = text.split(":", 1)[1].strip()
    if "DIMENSION" not in header or not header["DIMENSION"].isdigit():
        raise ValueError(f"{path.name}: line {lines[-1][0] if lines else 1}: missing or bad DIMENSION")
    n = int(header["DIMENSION"])
    kind = header.get("EDGE_WEIGHT_TYPE", "").upper()
    if "SECTION" not in header:
        raise ValueError(
            f"{path.name}: line {lines[-1][0] if lines else 1}: no NODE_COORD_SECTION or EDGE_WEIGHT_SECTION"
        )
    section, sec_line = header["SECTION"]
    body = [(ln, t) for ln, t in lines[k:] if t.strip() and t.strip().upper() != "EOF"]
    end = next((i for i, (ln, t) in enumerate(body) if t.strip()[0].isalpha()), len(body))
    tok = _Tokens(path, body[:end])
    tok.last_line = body[end - 1][0] if end else sec_line
    if kind == "EXPLICIT":
        if section != "EDGE_WEIGHT_SECTION":
            raise ValueError(f"{path.name}: line {sec_line}: EXPLICIT weights need an EDGE_WEIGHT_SECTION")
        d = _explicit(tok, n, header.get("EDGE_WEIGHT_FORMAT", "").upper())
    elif kind in ("GEO", "EUC_2D"):
        if section != "NODE_COORD_SECTION":
            raise ValueError(f"{path.name}: line {sec_line}: {kind} weights need a NODE_COORD_SECTION")
        coords = np.zeros((n, 2))
        for i in range(n):
            idx = tok.integer("a node number", low=1)
            if idx != i + 1:
                raise tok.error(f"expected node number {i + 1}, got {idx}", tok.items[tok.pos - 1][1])
            coords[i] = tok.numbers(2, "a coordinate")
        d = geo_distances(coords) if kind == "GEO" else _euc_2d(coords)
    else:
        raise ValueError(f"{path.name}: unsupported EDGE_WEIGHT_TYPE {kind!r} (supported: GEO, EUC_2D, EXPLICIT)")
    tok.end()
    name = header.get("NAME", path.stem).split(".")[0].strip() or path.stem
    return {"distances": d, "known_optimum": KNOWN_OPTIMA["tsp"].get(name), "name": name}


# ---------------------------------------------------------------------- QAPLIB
def read_qaplib(path: str | Path) -> dict:
    """QAPLIB ``.dat`` -> ``QAP`` arguments (first matrix = flow, second = distance)."""
    path = Path(path)
    tok = _Tokens(path)
    n = tok.integer("the size n", low=1)
    A = np.array([tok.numbers(n, "a flow entry") for _ in range(n)])
    B = np.array([tok.numbers(n, "a distance entry") for _ in range(n)])
    tok.end()
    return {"flow": A, "distance": B, "known_optimum": KNOWN_OPTIMA["qap"].get(path.stem), "name": path.stem}


# ---------------------------------------------------------------------- market split
def read_market_split(path: str | Path) -> dict:
    """QOBLIB market-split ``.dat`` -> ``MarketSplit`` arguments (``witness`` from ``<name>.opt.sol``)."""
    path = Path(path)
    tok = _Tokens(path, comment="#")
    m = tok.integer("the number of rows m", low=1)
    n = tok.integer("the number of variables n", low=1)
    rows = []
    for i in range(m):
        line = tok.items[tok.pos][1] if tok.pos < len(tok.items) else None
        rows.append([tok.integer(f"an entry of row {i + 1}") for _ in range(n + 1)])
        if line is not None and tok.items[tok.pos - 1][1] != line:
            raise tok.error(f"row {i + 1} must hold {n + 1} integers on one line", line)
    tok.end()
    data = np.array(rows, dtype=float)
    witness = None
    sol = path.with_name(path.stem + ".opt.sol")
    if sol.is_file():
        w = _Tokens(sol, comment="#")
        witness = np.array([w.integer("a solution bit", low=0) for _ in range(n)], dtype=np.int8)
        w.end()
    return {"demands": data[:, :n], "targets": data[:, n], "known_optimum": 0.0, "name": path.stem, "witness": witness}
