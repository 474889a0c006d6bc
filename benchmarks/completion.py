"""Matrix completion side by side: exact vs robust alternating minimization, cost growth against |Omega|
and k (fitted exponents), the phase transition, and MovieLens-100k u1 against the global mean, the bias
baseline, scikit-surprise (SVD, BaselineOnly) and fancyimpute's SoftImpute when they are installed.

    python3 benchmarks/completion.py --quick      # minutes on 2 cores
    python3 benchmarks/completion.py              # the larger sizes (n = 2000, k up to 40, 5 seeds)

Prints markdown tables and writes ``benchmarks/results/completion.json``. BLAS runs on one thread.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from _common import markdown_table, pin_threads, write_json

pin_threads()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import optim  # noqa: E402
from optim.completion.softimpute import as_dense_with_nan  # noqa: E402
from problems.completion import from_ratings, movielens100k, synthetic_incoherent  # noqa: E402


def per_iteration(problem, method, iters, **options):
    """Median seconds per iteration over ``iters`` iterations (tol 0) and the final relative error."""
    r = optim.solve(problem, method=method, max_iter=iters, tol=0.0, seed=0, verbose=False, **options)
    return float(np.median(np.diff(r.history["time"]))), r


def fit_exponent(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def scaling_obs(n, k, cs, iters):
    rows = []
    for c in cs:
        p = synthetic_incoherent(n, n, k, c=c, seed=0, n_test=0)
        row = {"c": c, "n_obs": p.n_obs}
        for label, method, opts in (("exact", "altmin", {}), ("robust", "altmin-robust", {"inner_iters": 1})):
            row[f"{label} s/it"] = per_iteration(p, method, iters, **opts)[0]
        rows.append(row)
    nobs = [r["n_obs"] for r in rows]
    expo = {lab: fit_exponent(nobs, [r[f"{lab} s/it"] for r in rows]) for lab in ("exact", "robust")}
    return rows, expo


def scaling_rank(n, ks, iters):
    rows = []
    for k in ks:
        p = synthetic_incoherent(n, n, k, c=2.0, seed=0, n_test=0)
        row = {"k": k, "n_obs": p.n_obs}
        for label, method, opts in (("exact", "altmin", {}), ("robust", "altmin-robust", {"inner_iters": 1})):
            row[f"{label} s/it"] = per_iteration(p, method, iters, **opts)[0]
        rows.append(row)
    expo = {lab: fit_exponent(ks, [r[f"{lab} s/it"] for r in rows]) for lab in ("exact", "robust")}
    return rows, expo


def phase_transition(n, k, cs, seeds):
    rows = []
    for c in cs:
        ok, its = 0, []
        for seed in range(seeds):
            p = synthetic_incoherent(n, n, k, c=c, seed=seed, n_test=0)
            with warnings.catch_warnings():  # under-determined columns are expected below the transition
                warnings.simplefilter("ignore")
                r = optim.solve(p, method="altmin", max_iter=60, seed=0, verbose=False)
            hist = r.history["rel_error"]
            hit = np.flatnonzero(hist < 1e-6)
            ok += bool(hit.size)
            its.append(int(r.history["nit"][hit[0]]) if hit.size else 60)
        dof = k * (2 * n - k)
        rows.append(
            {"c": c, "n_obs": p.n_obs, "ratio": p.n_obs / dof, "success": f"{ok}/{seeds}", "its to 1e-6": str(its)}
        )
    return rows


def exact_vs_robust(n, k):
    p = synthetic_incoherent(n, n, k, c=2.0, seed=0)
    rows = []
    variants = [
        ("altmin (exact)", "altmin", {}),
        ("robust SRHT, 1 CG", "altmin-robust", {"inner_iters": 1}),
        ("robust SRHT, 3 CG", "altmin-robust", {"inner_iters": 3}),
        ("robust SRHT, reg_tol 1e-6", "altmin-robust", {}),
        ("robust CountSketch, reg_tol 1e-6", "altmin-robust", {"sketch": "countsketch"}),
        ("svp", "svp", {"max_iter": 200}),
        ("softimpute (max_rank 20)", "softimpute", {"max_rank": 20}),
    ]
    for label, method, opts in variants:
        opts = {"max_iter": 60, **opts}
        r = optim.solve(p, method=method, seed=0, verbose=False, **opts)
        rows.append(
            {
                "method": label,
                "status": r.status,
                "iterations": int(r.nit),
                "rel. error": r.report["rel_error"],
                "time (s)": r.time,
                "s/it": r.time / max(1, r.nit),
            }
        )
    return p, rows


def tolerance_sweep(n, k):
    """Robust AM with looser and looser per-regression accuracy: iterations to 1e-8 and the final error."""
    p = synthetic_incoherent(n, n, k, c=2.0, seed=0, n_test=0)
    rows = []
    variants = [("reg_tol", t, {"reg_tol": t}) for t in (1e-1, 1e-2, 1e-4, 1e-8)]
    variants += [("inner_iters", i, {"inner_iters": i}) for i in (0, 1, 2, 3, 5)]
    for name, value, opts in variants:
        r = optim.solve(p, method="altmin-robust", seed=0, max_iter=60, verbose=False, **opts)
        hist = r.history["rel_error"]
        hit = np.flatnonzero(hist < 1e-8)
        rows.append(
            {
                "setting": f"{name} = {value}",
                "its to 1e-8": int(r.history["nit"][hit[0]]) if hit.size else "-",
                "final rel. error": float(hist[-1]),
                "max inner CG steps": int(np.nanmax(r.history["inner_iters"])),
            }
        )
    return rows


def noise_floor(n, k, cs, level=0.1):
    """Exact AM with N(0, (level RMS(M))^2) noise on the observed entries: the error floor against c."""
    rows = []
    for c in cs:
        clean = synthetic_incoherent(n, n, k, c=c, seed=0, n_test=0)
        rms = float(np.sqrt(np.mean(clean.vals**2)))
        p = synthetic_incoherent(n, n, k, c=c, seed=0, n_test=0, noise_std=level * rms)
        r = optim.solve(p, method="altmin", seed=0, max_iter=60, tol=1e-8, verbose=False)
        rows.append({"c": c, "n_obs": p.n_obs, "iterations": int(r.nit), "rel. error floor": r.report["rel_error"]})
    return rows


def _surprise(p, rows):
    try:
        from surprise import SVD, BaselineOnly, Dataset, Reader
        from surprise.model_selection import PredefinedKFold
    except ImportError as exc:
        return f"scikit-surprise not installed ({exc}); pip install scikit-surprise"
    import tempfile

    users, items = p.row_ids, p.col_ids
    with tempfile.TemporaryDirectory() as tmp:  # Surprise reads rating files without pandas
        files = []
        for name, r, c, v in (("base", p.rows, p.cols, p.vals), ("test", p.test_rows, p.test_cols, p.test_vals)):
            path = Path(tmp) / f"u1.{name}"
            path.write_text("".join(f"{users[a]}\t{items[b]}\t{int(x)}\t0\n" for a, b, x in zip(r, c, v, strict=True)))
            files.append(str(path))
        data = Dataset.load_from_folds([tuple(files)], Reader("ml-100k"))
        train, test = next(PredefinedKFold().split(data))
    for label, algo in (
        ("surprise BaselineOnly (ALS, defaults)", BaselineOnly(verbose=False)),
        ("surprise SVD (SGD, defaults: 100 factors, 20 epochs)", SVD(random_state=0)),
    ):
        t = time.perf_counter()
        algo.fit(train)
        fit_time = time.perf_counter() - t
        pred = np.array([pr.est for pr in algo.test(test)])
        order = {(str(u), str(i)): e for (u, i, _), e in zip(test, pred, strict=True)}
        aligned = np.array(
            [order[(str(users[a]), str(items[b]))] for a, b in zip(p.test_rows, p.test_cols, strict=True)]
        )
        rows.append({"method": label, "test RMSE": p.rmse(aligned), "time (s)": fit_time})
    return None


def _fancyimpute(p, rows):
    try:
        from fancyimpute import SoftImpute as FancySoftImpute
    except Exception as exc:  # fancyimpute needs scikit-learn < 1.8 and cvxpy
        return f"fancyimpute unavailable ({type(exc).__name__}: {str(exc)[:80]})"
    mean = float(np.mean(p.vals))
    X = as_dense_with_nan(p) - mean
    np.random.seed(0)
    t = time.perf_counter()
    filled = FancySoftImpute(max_rank=20, shrinkage_value=10.0, verbose=False).fit_transform(X)
    pred = p.clip(filled[p.test_rows, p.test_cols] + mean)
    rows.append(
        {
            "method": "fancyimpute SoftImpute (centred, lam 10, rank 20)",
            "test RMSE": p.rmse(pred),
            "time (s)": time.perf_counter() - t,
        }
    )
    return None


def _spark(p, rows):
    """Spark MLlib ALS in local mode (optional: needs pyspark and a JVM; never part of CI)."""
    import shutil

    try:
        from pyspark.ml.recommendation import ALS as SparkALS
        from pyspark.sql import SparkSession
    except ImportError as exc:
        return f"pyspark not installed ({exc})"
    if shutil.which("java") is None:
        return "no JVM (java) on PATH"
    try:
        spark = SparkSession.builder.master("local[1]").appName("optarium-completion").getOrCreate()
        train = spark.createDataFrame(
            [(int(a), int(b), float(v)) for a, b, v in zip(p.rows, p.cols, p.vals, strict=True)], ["u", "i", "r"]
        )
        test = spark.createDataFrame(
            [(int(a), int(b), float(v)) for a, b, v in zip(p.test_rows, p.test_cols, p.test_vals, strict=True)],
            ["u", "i", "r"],
        )
        t = time.perf_counter()
        model = SparkALS(userCol="u", itemCol="i", ratingCol="r", rank=10, maxIter=15, regParam=0.1, seed=0).fit(train)
        fit_time = time.perf_counter() - t
        pred = {(r.u, r.i): r.prediction for r in model.transform(test).collect()}
        mean = float(np.mean(p.vals))
        est = np.array([pred.get((int(a), int(b)), mean) for a, b in zip(p.test_rows, p.test_cols, strict=True)])
        est = np.where(np.isnan(est), mean, est)  # Spark predicts NaN for cold-start ids
        rows.append(
            {
                "method": "Spark MLlib ALS (local[1], rank 10, 15 its, regParam 0.1)",
                "test RMSE": p.rmse(p.clip(est)),
                "time (s)": fit_time,
            }
        )
        spark.stop()
    except Exception as exc:  # a broken local Spark must not end the benchmark
        return f"Spark failed: {type(exc).__name__}: {str(exc)[:120]}"
    return None


def tuned_als(p, k, lams, seed=0):
    """Pick lam for ALS with biases on a 10% validation part of the training split, refit on all of it."""
    rng = np.random.default_rng(seed)
    val = rng.random(p.n_obs) < 0.1
    ids_r, ids_c = p.row_ids, p.col_ids
    sub = from_ratings(
        ids_r[p.rows[~val]],
        ids_c[p.cols[~val]],
        p.vals[~val],
        test=(ids_r[p.rows[val]], ids_c[p.cols[val]], p.vals[val]),
        rank=k,
        rating_range=(1, 5),
    )
    scores = {}
    for lam in lams:
        r = optim.solve(sub, method="als", rank=k, lam=lam, biases=True, max_iter=15, tol=0.0, seed=seed, verbose=False)
        scores[lam] = r.report["test_rmse"]
    return min(scores, key=scores.get), scores


def movielens_table(quick):
    try:
        p = movielens100k("u1")
    except FileNotFoundError as exc:
        return None, [], {"skipped": str(exc).splitlines()[0]}
    rows = [
        {"method": "global mean", "test RMSE": p.rmse(np.full(p.test_vals.shape, np.mean(p.vals))), "time (s)": 0.0}
    ]
    runs = [("bias baseline (ours, reg_i 10, reg_u 15)", "bias-baseline", {})]
    for k in (5, 10) if quick else (5, 10, 20):
        runs.append((f"als k={k}, lam 0.1 (count-weighted, centred)", "als", {"rank": k, "lam": 0.1}))
    best, scores = tuned_als(p, 10, (0.05, 0.1, 0.2))
    runs.append((f"als k=10 + biases, lam {best} (validated)", "als", {"rank": 10, "lam": best, "biases": True}))
    for k in (2, 5, 10):
        runs.append((f"altmin k={k} (unregularized)", "altmin", {"rank": k}))
    runs.append(
        ("softimpute ours (centred, lam 10, rank 20)", "softimpute", {"max_rank": 20, "lam": 10.0, "center": True})
    )
    runs.append(("softimpute ours (raw, default lam, rank 20)", "softimpute", {"max_rank": 20}))
    for label, method, opts in runs:
        opts = {"max_iter": 15, "tol": 0.0, **opts} if method in ("als", "altmin") else opts
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = optim.solve(p, method=method, seed=0, verbose=False, **opts)
        rows.append({"method": label, "test RMSE": r.report["test_rmse"], "time (s)": r.time})
    notes = {"validation scores": scores}
    for fn in (_surprise, _fancyimpute, _spark):
        reason = fn(p, rows)
        if reason:
            notes[fn.__name__.strip("_")] = reason
    return p, rows, notes


def dask_vs_local(n, k, iters):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        return {"skipped": str(exc)}
    p = synthetic_incoherent(n, n, k, c=2.0, seed=0, n_test=0)
    local = per_iteration(p, "altmin", iters)[0]
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        Client(cluster) as client,
    ):
        per_iteration(p, "altmin", 2, client=client)  # warm the workers (numba, imports)
        remote = per_iteration(p, "altmin", iters, client=client)[0]
    return {"n": n, "k": k, "n_obs": p.n_obs, "in-process s/it": local, "dask 2 workers s/it": remote}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    q = args.quick
    out = {"quick": q}
    n_scale = 1000 if q else 2000
    rows, expo = scaling_obs(n_scale, 5 if q else 10, (1, 2, 4, 8), 4 if q else 6)
    print(f"\n### Time per iteration against |Omega| (n = {n_scale}, one thread)\n")
    print(markdown_table(rows, list(rows[0]), {"exact s/it": ".3g", "robust s/it": ".3g"}))
    print(f"\nfitted exponent (time ~ |Omega|^a): exact {expo['exact']:.2f}, robust {expo['robust']:.2f}")
    out["scaling_obs"], out["exponent_obs"] = rows, expo
    rows, expo = scaling_rank(n_scale, (5, 10, 20) if q else (5, 10, 20, 40), 3 if q else 5)
    print(f"\n### Time per iteration against k (n = {n_scale}, c = 2, so |Omega| grows like k)\n")
    print(markdown_table(rows, list(rows[0])))
    print(f"\nfitted exponent (time ~ k^a): exact {expo['exact']:.2f}, robust {expo['robust']:.2f}")
    out["scaling_rank"], out["exponent_rank"] = rows, expo
    n_pt = 300 if q else 500
    rows = phase_transition(n_pt, 5, (0.4, 0.75, 1.0, 2.0) if q else (0.3, 0.4, 0.5, 0.75, 1.0, 2.0), 2 if q else 5)
    print(f"\n### Phase transition, exact AM (n = {n_pt}, k = 5, success = rel. error < 1e-6 within 60 its)\n")
    print(markdown_table(rows, list(rows[0]), {"ratio": ".2f"}))
    out["phase_transition"] = rows
    p, rows = exact_vs_robust(500 if q else 1000, 5)
    print(f"\n### Exact vs robust AM and the spectral baselines ({p.name})\n")
    print(markdown_table(rows, list(rows[0]), {"rel. error": ".2e"}))
    out["exact_vs_robust"] = rows
    rows = tolerance_sweep(500 if q else 1000, 5)
    print("\n### Robust AM: per-regression accuracy sweep (c = 2, k = 5; SRHT s = 4k)\n")
    print(markdown_table(rows, list(rows[0]), {"final rel. error": ".2e"}))
    out["tolerance_sweep"] = rows
    rows = noise_floor(500 if q else 1000, 5, (1.0, 2.0, 4.0))
    print("\n### Noise floor: exact AM with noise 0.1 RMS(M) on the observed entries\n")
    print(markdown_table(rows, list(rows[0]), {"rel. error floor": ".3e"}))
    out["noise_floor"] = rows
    p, rows, notes = movielens_table(q)
    print("\n### MovieLens-100k u1 (80,000 / 20,000; test predictions clipped to [1, 5])\n")
    if rows:
        print(markdown_table(rows, ["method", "test RMSE", "time (s)"], {"test RMSE": ".4f"}))
    print(f"\nnotes: {notes}")
    out["movielens"], out["movielens_notes"] = rows, notes
    dk = dask_vs_local(1000 if q else 2000, 5 if q else 10, 3)
    print(f"\n### Dask LocalCluster (2 worker processes) vs in-process exact AM\n\n{dk}")
    out["dask"] = dk
    print(f"\nwrote {write_json('completion', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
