"""QUBO model, encodings, problems and loaders, checked against independent references:
brute-force enumeration, dimod, HiGHS (scipy), the instance files' published optima and the
qubit counts that qiskit-optimization 0.7.0's QuadraticProgramToQubo produces on these models."""

from __future__ import annotations

import itertools

import dimod
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from published_optima import MIS_OPT

from problems import MDKP, MIS, QAP, TSP, MarketSplit, instance_path, list_instances
from quantum import QUBO, encode_lagrangian, encode_slack
from quantum.samplers import Exact, all_energies

SETTINGS = settings(max_examples=25, deadline=None)


def all_states(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int8)


@st.composite
def qubos(draw, max_n=10):
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    quad = np.triu(rng.normal(size=(n, n)) * (rng.random((n, n)) < 0.6), 1)
    if draw(st.booleans()):
        quad = sp.csr_matrix(quad)
    return QUBO(rng.normal(size=n), quad, float(rng.normal()))


# ---------------------------------------------------------------------- QUBO
@SETTINGS
@given(qubos())
def test_qubo_and_ising_energies_agree_on_every_state(q):
    X = all_states(q.num_variables)
    h, J, off = q.to_ising()
    Z = 1 - 2 * X.astype(float)  # bit 1 <-> z = -1
    Jd = J.toarray() if sp.issparse(J) else J
    ising = off + Z @ h + np.einsum("ki,ij,kj->k", Z, Jd, Z)
    np.testing.assert_allclose(q.energies(X), ising, atol=1e-9)
    # independent: explicit sum over the terms
    direct = [
        q.offset
        + sum(q.linear[i] * x[i] for i in range(len(x)))
        + sum(q.to_matrix()[i, j] * x[i] * x[j] for i in range(len(x)) for j in range(i + 1, len(x)))
        for x in X
    ]
    np.testing.assert_allclose(q.energies(X), direct, atol=1e-9)


@SETTINGS
@given(qubos())
def test_dimod_round_trip_and_energies(q):
    bqm = q.to_dimod()
    X = all_states(q.num_variables)
    np.testing.assert_allclose(bqm.energies((X, list(range(q.num_variables)))), q.energies(X), atol=1e-9)
    back = QUBO.from_dimod(bqm.change_vartype(dimod.SPIN, inplace=False))
    np.testing.assert_allclose(back.energies(X), q.energies(X), atol=1e-9)


@SETTINGS
@given(qubos(max_n=12))
def test_exact_enumeration_matches_energies_and_dimod(q):
    n = q.num_variables
    E = all_energies(q)
    k = np.arange(2**n)
    X = ((k[:, None] >> np.arange(n)) & 1).astype(np.int8)  # basis index = sum x_i 2^i
    np.testing.assert_allclose(E, q.energies(X), atol=1e-9)
    ref = dimod.ExactSolver().sample(q.to_dimod()).first.energy
    assert Exact().sample(q).first.energy == pytest.approx(ref, abs=1e-9)


def test_qubo_validation_and_from_matrix():
    with pytest.raises(ValueError, match="strictly upper"):
        QUBO([0.0, 0.0], [[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="shape"):
        QUBO([0.0, 0.0], np.zeros((3, 3)))
    with pytest.raises(TypeError, match="linear"):
        QUBO("ab")
    M = np.array([[1.0, 2.0], [3.0, -4.0]])
    q = QUBO.from_matrix(M, offset=1.0)
    for x in all_states(2):
        assert q.energy(x) == pytest.approx(1.0 + x @ M @ x)
    lin = np.array([1.0, 2.0])
    QUBO(lin)
    assert lin.flags.writeable  # never touches the caller's arrays


# ---------------------------------------------------------------------- slack encoding
SLACK_QUBITS = {
    "hp1": 60,
    "hp2": 67,
    "pb1": 59,
    "pb2": 66,
    "pb4": 45,
    "pb5": 116,
    "pb7": 425,
    "pet2": 99,
    "pet3": 102,
    "pet4": 107,
    "pet5": 122,
    "pet7": 100,
}


def test_slack_qubit_counts_equal_the_spec_table():
    files = list_instances("mdkp")
    assert sorted(f.stem for f in files) == sorted(SLACK_QUBITS)
    for f in files:
        p = MDKP.from_file(f)
        enc = encode_slack(p)
        assert enc.num_qubits == SLACK_QUBITS[f.stem], f.stem
        assert enc.penalty == 1 + p.profits.sum()  # qiskit's default penalty
        assert encode_lagrangian(p, 0.0).num_qubits == p.n_vars


def test_slack_counts_mis_and_mtz():
    p = MIS.from_file(instance_path("mis", "1dc.128.txt"))
    enc = encode_slack(p)
    assert enc.num_qubits == 128 and enc.penalty == 129  # pair rows -> P x_u x_v, no slack
    rng = np.random.default_rng(0)
    for n, qubits in {4: 36, 5: 64, 6: 125, 8: 245, 10: 486, 14: 1014}.items():
        d = rng.integers(1, 50, (n, n)).astype(float)
        t = TSP(d + d.T, formulation="mtz")
        assert encode_slack(t).num_qubits == qubits
        assert t.n_vars == n * (n - 1) + (n - 1) * (n - 2).bit_length()


def test_slack_energy_minimised_over_slack_bits_is_objective_iff_feasible():
    """Bounded-coefficient slack represents every value in [0, ub]: min over slack bits of the
    slack QUBO is f(x) on feasible x and at least f(x) + P on infeasible x (integer data)."""
    rng = np.random.default_rng(3)
    p = MDKP(rng.integers(1, 9, 5), rng.integers(0, 6, (2, 5)), [7, 6])
    enc = encode_slack(p)
    n, N = p.n_vars, enc.num_qubits
    for x in all_states(n):
        Y = all_states(N - n)
        E = enc.qubo.energies(np.hstack([np.tile(x, (len(Y), 1)), Y])).min()
        if p.is_feasible(x):
            assert E == pytest.approx(-p.objective(x))
        else:
            assert E >= -p.objective(x) + enc.penalty - 1e-9


# ---------------------------------------------------------------------- Lagrangian encoding
@SETTINGS
@given(st.integers(0, 10**6), st.floats(0.0, 5.0))
def test_lagrangian_energy_equals_definition(seed, rho):
    rng = np.random.default_rng(seed)
    n, m = 7, 3
    W, c = rng.integers(0, 9, (m, n)), rng.integers(5, 20, m).astype(float)
    p = MDKP(rng.integers(1, 20, n), W, c)
    lam = rng.random(m) * 10
    enc = encode_lagrangian(p, lam, rho=rho)
    X = all_states(n)
    g = (X @ W.T - c) / np.maximum(np.abs(c), 1)
    expect = -X @ p.profits + g @ lam + 0.5 * rho * (g**2).sum(1)
    np.testing.assert_allclose(enc.qubo.energies(X), expect, atol=1e-9)
    np.testing.assert_array_equal(enc.decode(X[5]), X[5])


def test_lagrangian_product_form_for_mis_and_scalar_multiplier():
    p = MIS(4, [(0, 1), (1, 2), (2, 3)])
    enc = encode_lagrangian(p, 2.0)
    assert enc.info["relaxation"] == "product"
    X = all_states(4)
    viol = X[:, 0] * X[:, 1] + X[:, 1] * X[:, 2] + X[:, 2] * X[:, 3]
    np.testing.assert_allclose(enc.qubo.energies(X), -X.sum(1) + 2.0 * viol)
    lin = encode_lagrangian(p, [0.5, 0.5, 0.5], relaxation="linear")
    np.testing.assert_allclose(lin.qubo.energies(X), -X.sum(1) + 0.5 * ((X[:, :3] + X[:, 1:]).sum(1) - 3))
    with pytest.raises(ValueError, match=">= 0"):
        encode_lagrangian(p, -1.0)
    with pytest.raises(ValueError, match="length 3"):
        encode_lagrangian(p, [1.0, 2.0])
    with pytest.raises(TypeError, match="ConstrainedBinary"):
        encode_lagrangian(object(), 1.0)


# ---------------------------------------------------------------------- problems
MDKP_TABLE = {
    "hp1": (3418, 3472.346),
    "hp2": (3186, 3261.821),
    "pb1": (3090, 3144.346),
    "pb2": (3186, 3261.287),
    "pb4": (95168, 99622.683),
    "pb5": (2139, 2221.285),
    "pb7": (1035, 1086.202),
    "pet2": (87061, 92977.125),
    "pet3": (4015, 4127.887),
    "pet4": (6120, 6155.333),
    "pet5": (12400, 12462.104),
    "pet7": (16537, 16612.821),
}


def test_loaders_read_every_shipped_file_with_its_optimum():
    for f in list_instances("mdkp"):
        p = MDKP.from_file(f)
        opt, lp = MDKP_TABLE[f.stem]
        assert p.known_optimum == opt and p.lp_bound() == pytest.approx(lp, abs=1e-3)
    orlib = [MDKP.from_file(instance_path("mdkp_orlib", "mknap1.txt"), k) for k in range(1, 8)]
    assert [p.known_optimum for p in orlib] == [3800, 8706.1, 4015, 6120, 12400, 10618, 16537]
    for f in list_instances("mis") + list_instances("mis_qoblib"):
        p = MIS.from_file(f)
        assert p.known_optimum == MIS_OPT[p.name]
    qap = {
        "chr12a": 9552,
        "chr12b": 9742,
        "had12": 1652,
        "nug12": 578,
        "rou12": 235528,
        "scr12": 31410,
        "tai10a": 135028,
        "tai10b": 1183760,
        "tai12a": 224416,
    }
    for f in list_instances("qap"):
        assert QAP.from_file(f).known_optimum == qap[f.stem]
    for f in list_instances("msp"):
        p = MarketSplit.from_file(f)
        assert p.n_vars == 10 * (p.m - 1) and p.is_feasible(p.witness) and p.objective(p.witness) == 0


def test_mknap1_duplicates_equal_the_sac94_files():
    """mknap1 problems 3-5 and 7 are pet3-pet5 and pet7 (README), so the MDKP tests cover them."""
    for k, name in {3: "pet3", 4: "pet4", 5: "pet5", 7: "pet7"}.items():
        a = MDKP.from_file(instance_path("mdkp_orlib", "mknap1.txt"), k)
        b = MDKP.from_file(instance_path("mdkp", f"{name}.dat"))
        for attr in ("profits", "weights", "capacities"):
            np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))


def test_exact_references_by_highs():
    p = MDKP.from_file(instance_path("mdkp", "pet3.dat"))
    x, v = p.reference_solution()
    assert v == p.known_optimum and p.is_feasible(x)
    g = MIS.from_file(instance_path("mis", "1tc.16.txt"))
    x, v = g.reference_solution()
    assert v == 8 and g.is_feasible(x)
    t = TSP.from_file(instance_path("tsp", "burma14.tsp"))  # GEO distances + MTZ MILP
    x, v = t.reference_solution()
    assert v == t.known_optimum == 3323 and t.is_feasible(x)
    ms = MarketSplit.from_file(instance_path("msp", "ms_03_050_002.dat"))
    x, v = ms.reference_solution()
    assert v == 0
    # products linearised by McCormick rows vs plain enumeration of permutations
    rng = np.random.default_rng(0)
    q = QAP(rng.integers(0, 9, (4, 4)), rng.integers(0, 9, (4, 4)))
    _, v = q.reference_solution()
    assert v == min(q.permutation_cost(pm) for pm in itertools.permutations(range(4)))


@SETTINGS
@given(st.integers(0, 10**6))
def test_repair_returns_feasible_points(seed):
    rng = np.random.default_rng(seed)
    mdkp = MDKP.from_file(instance_path("mdkp", "pb5.dat"))
    mis = MIS.from_file(instance_path("mis", "1tc.32.txt"))
    d = rng.integers(1, 100, (6, 6)).astype(float)
    problems = [
        mdkp,
        mis,
        TSP(d + d.T),
        TSP(d + d.T, formulation="mtz"),
        TSP(d + d.T, pin_first=False),
        QAP(rng.integers(0, 9, (5, 5)), rng.integers(0, 9, (5, 5))),
    ]
    for p in problems:
        x = rng.integers(0, 2, p.n_vars)
        xr = p.repair(x)
        assert p.is_feasible(xr), p
    # MIS repair gives a maximal independent set: no vertex can be added
    xr = mis.repair(rng.integers(0, 2, mis.n_vars))
    free = (xr == 0) & (mis.adjacency @ xr == 0)
    assert not free.any()
    ms = MarketSplit.from_file(instance_path("msp", "ms_03_050_005.dat"))
    x = rng.integers(0, 2, ms.n_vars)
    assert ms.objective(ms.repair(x)) <= ms.objective(x)


def test_tsp_encodings_round_trip_and_cost():
    rng = np.random.default_rng(1)
    d = rng.integers(1, 100, (6, 6)).astype(float)
    tour = [0, 3, 1, 5, 2, 4]
    length = sum(d[tour[k], tour[(k + 1) % 6]] for k in range(6))
    for kw in ({"formulation": "position"}, {"formulation": "position", "pin_first": False}, {"formulation": "mtz"}):
        t = TSP(d, **kw)
        x = t.encode_tour(tour)
        assert t.is_feasible(x) and t.tour(x) == tour
        assert t.objective(x) == pytest.approx(length)
    t = TSP(d, formulation="mtz")  # a subtour violates an MTZ row
    x = t.encode_tour(tour)
    x[:30] = 0
    for u, v in [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3)]:
        x[t.arc_index(u, v)] = 1
    assert not t.is_feasible(x)


def test_market_split_generator_matches_paper_b_slack_counts():
    """The comparative study's generator (arXiv 2503.12121; seed 0, m = 2..5): slack QUBO qubits 48, 84,
    118, 150, the counts qiskit-optimization 0.7.0 gives."""
    counts = [MarketSplit.generate(m, seed=0) for m in (2, 3, 4, 5)]
    assert [p.n_vars + p.slack_deviation_bits() for p in counts] == [48, 84, 118, 150]
    assert [encode_slack(p).num_qubits for p in counts] == [48, 84, 118, 150]
    assert [encode_slack(MarketSplit.generate(m, seed=1)).num_qubits for m in (2, 3, 4, 5)] == [50, 84, 118, 156]
    p = counts[0]
    enc = encode_slack(p)
    assert enc.penalty == 1 + 2 * p.demands.sum()
    # with the deviations set to |a_i.x - d_i| the equality rows hold, so the energy is the total deviation
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(0, 2, p.n_vars)
        r = p.demands @ x - p.targets
        bits = [x]
        for i in range(p.m):
            upper = int(p.demands[i].sum())
            for value in (max(-r[i], 0), max(r[i], 0)):  # s+ then s-
                k = upper.bit_length() - 1
                last = upper - (2**k - 1)
                use_last = value > 2**k - 1
                rest = int(value - last) if use_last else int(value)
                bits.append([(rest >> b) & 1 for b in range(k)] + [int(use_last)])
        assert enc.qubo.energy(np.concatenate(bits)) == pytest.approx(p.objective(x))
        np.testing.assert_array_equal(enc.decode(np.concatenate(bits)), x)


# ---------------------------------------------------------------------- loader errors
@pytest.mark.parametrize(
    "loader, text, line",
    [
        (MDKP.from_file, "3 1 10\n1 2 x\n1 1 1\n5\n", 2),
        (MDKP.from_file, "3 1 10\n1 2 3\n1 1\n", 3),
        (MDKP.from_file, "3 1 10\n1 2 3\n1 1 1\n5\n7\n", 5),
        (MIS.from_file, "c graph\np edge 3 2\ne 1 2\ne 2 9\n", 4),
        (MIS.from_file, "p edge 3 2\ne 1 2\nq 2 3\n", 3),
        (MIS.from_file, "e 1 2\np edge 3 1\n", 1),
        (MIS.from_file, "c truncated\np edge 3 2\ne 1 2\n", 2),
        (
            TSP.from_file,
            "NAME: t\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n"
            "1 0 0\n2 1 zz\n3 2 2\nEOF\n",
            7,
        ),
        (
            TSP.from_file,
            "NAME: t\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: LOWER_DIAG_ROW\n"
            "EDGE_WEIGHT_SECTION\n0\n1 0\n2 3\nEOF\n",
            8,
        ),
        (QAP.from_file, "2\n0 1\n1 0\n\n0 5\n5 q\n", 6),
        (MarketSplit.from_file, "# c\n2 3\n1 2 3 4\n5 6 7\n", 4),
    ],
)
def test_loaders_reject_malformed_files_with_the_line_number(tmp_path, loader, text, line):
    path = tmp_path / "bad.dat"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"line {line}\b"):
        loader(path)


def test_tsplib_explicit_matches_geo(tmp_path):
    geo = TSP.from_file(instance_path("tsp", "burma14.tsp"))
    d = geo.distances
    rows = "\n".join(" ".join(str(int(d[i, j])) for j in range(i + 1)) for i in range(14))
    path = tmp_path / "b14.tsp"
    path.write_text(
        "NAME: b14\nTYPE: TSP\nDIMENSION: 14\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
        f"EDGE_WEIGHT_FORMAT: LOWER_DIAG_ROW\nEDGE_WEIGHT_SECTION\n{rows}\nEOF\n"
    )
    np.testing.assert_array_equal(TSP.from_file(path).distances, d)

    # TSPLIB GEO rule by hand for the first pair of burma14 (16.47 96.10) and (16.47 94.44)
    def rad(v):
        deg = int(v)
        return 3.141592 * (deg + 5.0 * (v - deg) / 3.0) / 180.0

    la1, lo1, la2, lo2 = rad(16.47), rad(96.10), rad(16.47), rad(94.44)
    q1, q2, q3 = np.cos(lo1 - lo2), np.cos(la1 - la2), np.cos(la1 + la2)
    assert d[0, 1] == int(6378.388 * np.arccos(0.5 * ((1 + q1) * q2 - (1 - q1) * q3)) + 1.0)


def test_problem_validation_errors():
    with pytest.raises(ValueError, match="weights must have 3 columns"):
        MDKP([1, 2, 3], [[1, 2]], [3])
    with pytest.raises(ValueError, match="non-negative"):
        MDKP([1, 2], [[1, -2]], [3])
    with pytest.raises(ValueError, match="edges"):
        MIS(3, [(0, 5)])
    with pytest.raises(ValueError, match="integer node indices"):
        MIS(3, [(0, 1.5)])
    with pytest.raises(ValueError, match=r"an \(m, 2\) array"):
        MIS(3, [0, 1, 2])
    with pytest.raises(ValueError, match="formulation"):
        TSP(np.ones((3, 3)), formulation="arcs")
    with pytest.raises(ValueError, match="index"):
        MDKP.from_file(instance_path("mdkp_orlib", "mknap1.txt"))
    with pytest.raises(ValueError, match="0 and 1"):
        MDKP([1, 2], [[1, 1]], [1]).objective([1, 2])
    with pytest.raises(ValueError, match="2 bits"):
        MDKP([1, 2], [[1, 1]], [1]).objective([1, 0, 1])
