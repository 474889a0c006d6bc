"""The LIBSVM reader against scikit-learn's writer and reader."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

import problems


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 15), p=st.integers(1, 8), seed=st.integers(0, 1000), sparse=st.booleans(), zero_based=st.booleans()
)
def test_reads_what_scikit_learn_writes(tmp_path_factory, n, p, seed, sparse, zero_based):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).round(6)
    X[rng.random((n, p)) < 0.4] = 0.0
    y = rng.integers(-1, 2, n).astype(float)
    path = tmp_path_factory.mktemp("svm") / "data.txt"
    dump_svmlight_file(sp.csr_matrix(X) if sparse else X, y, str(path), zero_based=zero_based)
    A, labels = problems.load_libsvm(path, n_features=p, zero_based=zero_based)
    np.testing.assert_allclose(A.toarray(), X)
    np.testing.assert_array_equal(labels, y)
    A_auto, _ = problems.load_libsvm(path, n_features=p)  # "auto" agrees with scikit-learn's rule
    B, _ = load_svmlight_file(str(path), n_features=p)
    np.testing.assert_allclose(A_auto.toarray(), B.toarray())


def test_bundled_a8a_matches_scikit_learn():
    A, y = problems.load_dataset("a8a")
    B, z = load_svmlight_file(str(problems.datasets.data_path("a8a", "a8a_training.txt")), n_features=123)
    assert A.shape == (22_696, 123)
    assert (A != B).nnz == 0 and np.array_equal(y, z)


@pytest.mark.parametrize(
    "bad_line, match",
    [
        ("1 3:abc", "line 3: value of feature 3 'abc' is not a number"),
        ("1 4:1 2:1", "line 3: feature indices must increase"),
        ("x 1:2", "line 3: label 'x' is not a number"),
        ("1 1-2", "line 3: expected 'index:value'"),
        ("1 a:2", "line 3: feature index 'a' is not an integer"),
        ("1 2:inf", "line 3: value of feature 2 is not finite"),
    ],
)
def test_malformed_line_is_named(tmp_path, bad_line, match):
    path = tmp_path / "bad.txt"
    path.write_text(f"1 1:0.5 2:1\n# a comment line\n{bad_line}\n-1 2:3\n")
    with pytest.raises(ValueError, match=match):
        problems.load_libsvm(path)


def test_bad_arguments(tmp_path):
    path = tmp_path / "ok.txt"
    path.write_text("1 1:1 3:2\n")
    with pytest.raises(ValueError, match="n_features=2"):
        problems.load_libsvm(path, n_features=2)
    with pytest.raises(ValueError, match="zero_based must be"):
        problems.load_libsvm(path, zero_based="yes")
    with pytest.raises(TypeError, match="path must be"):
        problems.load_libsvm(42)
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ValueError, match="no samples"):
        problems.load_libsvm(tmp_path / "empty.txt")
