"""Top-K NDCG on a MovieLens-100k subset (K-SONG lower levels, NeuMF-style model): held-out NDCG@10 reached by
BSVRB v1/v2, the two ablations, RSVRB, SOBA and stocBiO from the same initial model and the same number of
iterations; BSVRB v2 with an Adam upper step side by side with libauc's K-SONG (``NDCGLoss`` with ``topk`` and
its ``SONG`` optimizer in Adam mode, as libauc's own K-SONG example) at equal epochs and at equal seconds; and
the cost of one BSVRB v2 iteration against the number of items (fitted exponent).

Usage: ``python benchmarks/bilevel_ndcg.py [--quick]``. Needs the MovieLens-100k file (see
``problems/movielens.py``). Prints markdown; writes benchmarks/results/bilevel_ndcg.json. The libauc rows are
skipped, with the reason printed, when libauc does not import.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from _common import markdown_table, pin_threads, write_json

pin_threads()

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from optim.registry import make_solver  # noqa: E402
from problems.bilevel import TopKNDCG  # noqa: E402

METHODS = ("bsvrb-v2", "bsvrb-v1", "bsgd", "bsvrb-ma", "rsvrb", "soba", "stocbio")


def methods_table(quick: bool) -> list[dict]:
    n_users, n_items, iters = (20, 80, 100) if quick else (50, 200, 300)
    seeds = (0,) if quick else (0, 1, 2)
    rows = []
    for method in METHODS:
        before, after, upper, secs, samples = [], [], [], [], []
        for seed in seeds:
            p = TopKNDCG.movielens(n_users=n_users, n_items=n_items, seed=seed)
            before.append(p.report(p.initial_point())["test_ndcg@10"])
            t = time.perf_counter()
            res = make_solver(method, max_iter=iters, seed=seed, verbose=False).solve(p)
            secs.append(time.perf_counter() - t)
            after.append(p.report(res.x)["test_ndcg@10"])
            upper.append(float(res.fun))
            samples.append(float(p.counts.get("samples", 0)))
        rows.append(
            {
                "method": method,
                "NDCG@10 start": float(np.mean(before)),
                "NDCG@10 end": float(np.mean(after)),
                "sd end": float(np.std(after)),
                "upper value": float(np.mean(upper)),
                "samples": float(np.mean(samples)),
                "time (s)": float(np.mean(secs)),
                "ms / iteration": 1e3 * float(np.mean(secs)) / iters,
            }
        )
    return rows


ADAM = {"lr": 1e-3, "weight_decay": 1e-7}  # libauc's K-SONG example: Adam mode, lr 1e-3, weight decay 1e-7


def libauc_ksong(p: TopKNDCG, iters: int, seed: int, time_limit: float | None = None, n_pos: int = 10, n_neg: int = 32):
    """Train the problem's model from its initial point with libauc's K-SONG: per iteration 10 users, per user
    ``n_pos`` of its training positives and ``n_neg`` other items of the instance (libauc's sampling), loss
    ``NDCGLoss(topk=K, topk_version="theo")`` with its defaults (gamma0 = 0.1 as in libauc's example) and
    ``SONG(mode="adam")``. Returns (parameters, iterations done, seconds). libauc's per-user state (u, lambda,
    s) is kept in float64 like the model (its float32 default cannot take float64 scores)."""
    import torch
    from libauc.losses import NDCGLoss
    from libauc.optimizers import SONG

    rng, cpu = np.random.default_rng(seed), torch.device("cpu")
    p._t()
    w = torch.nn.Parameter(torch.as_tensor(p.initial_point()))
    n_pos = min(n_pos, p.P)
    loss_fn = NDCGLoss(N=p.m * p.P, num_user=p.m, num_item=p.N, num_pos=n_pos, gamma0=0.1, topk=p.k, device=cpu)
    loss_fn.u = torch.zeros(p.m * p.P, dtype=torch.float64)
    loss_fn.lambda_q = torch.zeros(p.m + 1, dtype=torch.float64)
    loss_fn.s_q = torch.zeros(p.m + 1, dtype=torch.float64)
    opt = SONG([w], lr=ADAM["lr"], weight_decay=ADAM["weight_decay"], mode="adam", device=cpu)
    others = [np.setdiff1d(np.arange(p.N), p.items[q]) for q in range(p.m)]
    n_blocks = min(p.m, 10)
    t0, done = time.perf_counter(), 0
    while done < iters and (time_limit is None or time.perf_counter() - t0 < time_limit):
        users = np.sort(rng.choice(p.m, n_blocks, replace=False))
        cols = np.stack([rng.choice(p.P, n_pos, replace=False) for _ in users])
        negs = np.stack([rng.choice(others[q], n_neg, replace=False) for q in users])
        cand = np.hstack([np.take_along_axis(p.items[users], cols, axis=1), negs])
        ratings = np.hstack([np.take_along_axis(p.ratings[users], cols, axis=1), np.zeros((n_blocks, n_neg))])
        batch = {
            "rating": torch.as_tensor(ratings),
            "user_id": torch.as_tensor(users),
            "num_pos_items": torch.full((n_blocks,), float(p.P)),
            "ideal_dcg": torch.as_tensor(p.Z[users]),
            "user_item_id": torch.as_tensor(np.hstack([users[:, None] * p.P + cols, np.zeros_like(negs)])),
        }
        preds = torch.stack(
            [p._score(w, torch.tensor([q]), torch.as_tensor(c)) for q, c in zip(users, cand, strict=True)]
        )
        opt.zero_grad()
        loss_fn(preds, batch).backward()
        opt.step()
        done += 1
    return w.detach().numpy().copy(), done, time.perf_counter() - t0


def peer_table(quick: bool) -> tuple[list[dict], str | None]:
    """BSVRB v2 (Adam upper step, libauc's lr and weight decay; and its plain step) against libauc's K-SONG:
    held-out NDCG@10 after the same iterations (10 users each, so equal epochs) and after the same seconds."""
    try:
        import libauc.losses  # noqa: F401
    except Exception as err:  # noqa: BLE001 - any import failure means "no peer"
        return [], f"libauc is not importable ({type(err).__name__}: {err}); the K-SONG baseline is skipped"
    n_users, n_items, iters, secs = (20, 80, 100, 3.0) if quick else (50, 200, 300, 10.0)
    seeds = (0,) if quick else (0, 1, 2)
    runs = {
        "bsvrb-v2 + Adam (ours)": dict(upper_optimizer="adam", upper_optimizer_options=ADAM),
        "bsvrb-v2 + Adam, z = G_t - 0.01 G_t-1 (ours)": dict(
            upper_optimizer="adam", upper_optimizer_options=ADAM, upper_correction=0.01
        ),
        "bsvrb-v2, plain step (ours)": {},
    }
    acc: dict[str, dict[str, list]] = {}
    warm = TopKNDCG.movielens(n_users=n_users, n_items=n_items, seed=seeds[0])  # torch/vmap set-up, not timed
    make_solver("bsvrb-v2", max_iter=3, verbose=False, **runs["bsvrb-v2 + Adam (ours)"]).solve(warm)
    libauc_ksong(warm, iters=3, seed=0)
    for seed in seeds:
        p = TopKNDCG.movielens(n_users=n_users, n_items=n_items, seed=seed)
        start = p.report(p.initial_point())["test_ndcg@10"]
        for name, opts in runs.items():
            for mode, limits in (("epochs", dict(max_iter=iters)), ("seconds", dict(max_iter=10**7, time_limit=secs))):
                solver = make_solver("bsvrb-v2", seed=seed, verbose=False, check_every=10**6, **limits, **opts)
                t = time.perf_counter()
                res = solver.solve(p)
                row = acc.setdefault(f"{name}|{mode}", {"start": [], "end": [], "iters": [], "secs": []})
                row["start"].append(start)
                row["end"].append(p.report(res.x)["test_ndcg@10"])
                row["iters"].append(res.nit)
                row["secs"].append(time.perf_counter() - t)
        for mode, limits in (("epochs", dict(iters=iters)), ("seconds", dict(iters=10**7, time_limit=secs))):
            x, done, took = libauc_ksong(p, seed=seed, **limits)
            row = acc.setdefault(
                f"libauc K-SONG (SONG, Adam mode)|{mode}", {"start": [], "end": [], "iters": [], "secs": []}
            )
            row["start"].append(start)
            row["end"].append(p.report(x)["test_ndcg@10"])
            row["iters"].append(done)
            row["secs"].append(took)
    rows = []
    for key, r in acc.items():
        name, mode = key.split("|")
        it = float(np.mean(r["iters"]))
        rows.append(
            {
                "method": name,
                "budget": f"{iters} iterations" if mode == "epochs" else f"{secs:g} s",
                "epochs": it * min(n_users, 10) / n_users,
                "time (s)": float(np.mean(r["secs"])),
                "NDCG@10 start": float(np.mean(r["start"])),
                "NDCG@10 end": float(np.mean(r["end"])),
                "sd end": float(np.std(r["end"])),
                "ms / iteration": 1e3 * float(np.sum(r["secs"])) / max(float(np.sum(r["iters"])), 1.0),
            }
        )
    return rows, None


def hook_overhead(n_items: int = 200, repeats: int = 7) -> dict:
    """Cost of one upper step: x - eta z against the Adam hook (load x, set grad, Adam step, copy out), on the
    model of a 50-user instance; interleaved repeats of 200 steps, median microseconds per step."""
    from optim.bilevel.upper_optim import UpperOptimizer

    p = TopKNDCG.movielens(n_users=50, n_items=n_items, seed=0)
    rng = np.random.default_rng(0)
    x, z = p.initial_point(), 1e-3 * rng.standard_normal(p.dim_x)
    hook = UpperOptimizer("adam", dict(ADAM), 1e-3, p.parameter_shapes, x)
    plain, adam = [], []
    for _ in range(repeats):
        t, y = time.perf_counter(), x
        for _ in range(200):
            y = y - 0.1 * z
        plain.append((time.perf_counter() - t) / 200)
        t, y = time.perf_counter(), x
        for _ in range(200):
            y = hook.step(y, z)
        adam.append((time.perf_counter() - t) / 200)
    return {
        "dim_x": p.dim_x,
        "plain step (us)": 1e6 * float(np.median(plain)),
        "Adam hook (us)": 1e6 * float(np.median(adam)),
    }


def cost_growth(quick: bool) -> tuple[list[dict], float]:
    sizes = (60, 120, 240) if quick else (100, 200, 400, 800)
    iters = 30 if quick else 60
    rows = []
    for n in sizes:
        p = TopKNDCG.movielens(n_users=20, n_items=n, seed=0)
        solver = make_solver("bsvrb-v2", max_iter=iters, seed=0, verbose=False, check_every=10**6)
        t = time.perf_counter()
        solver.solve(p)
        rows.append({"items N": n, "dim_x": p.dim_x, "ms / iteration": 1e3 * (time.perf_counter() - t) / iters})
    slope = float(np.polyfit(np.log(sizes), np.log([r["ms / iteration"] for r in rows]), 1)[0])
    return rows, slope


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("methods", "peer", "cost"), help="run one part (default: all three)")
    args = ap.parse_args()
    quick, parts = args.quick, ((args.only,) if args.only else ("methods", "peer", "cost"))
    out: dict = {"quick": quick}
    if "methods" in parts:
        out["methods"] = table = methods_table(quick)
        print("### Held-out NDCG@10, same iterations, defaults of every method\n")
        cols = [
            "method",
            "NDCG@10 start",
            "NDCG@10 end",
            "sd end",
            "upper value",
            "samples",
            "time (s)",
            "ms / iteration",
        ]
        print(markdown_table(table, cols, formats={"ms / iteration": ".1f", "time (s)": ".1f"}))
    if "peer" in parts:
        out["libauc_ksong"], out["libauc_skipped"] = peer, why = peer_table(quick)
        print("\n### BSVRB v2 with an Adam upper step against libauc's K-SONG (same model, users and initial point)\n")
        if why:
            print(f"skipped: {why}")
        else:
            pcols = [
                "method",
                "budget",
                "epochs",
                "time (s)",
                "NDCG@10 start",
                "NDCG@10 end",
                "sd end",
                "ms / iteration",
            ]
            print(markdown_table(peer, pcols, formats={"epochs": ".1f", "time (s)": ".1f", "ms / iteration": ".1f"}))
        out["hook_overhead"] = hook = hook_overhead()
        print(
            f"\nOne upper step on dim_x = {hook['dim_x']} (median of interleaved repeats): x - eta z "
            f"{hook['plain step (us)']:.0f} us, the Adam hook {hook['Adam hook (us)']:.0f} us"
        )
    if "cost" in parts:
        growth, slope = cost_growth(quick)
        out["cost"], out["cost_exponent"] = growth, slope
        print("\n### BSVRB v2 iteration cost against the number of items (I = 10, B = 32)\n")
        print(markdown_table(growth, ["items N", "dim_x", "ms / iteration"], formats={"ms / iteration": ".1f"}))
        print(f"\nfitted exponent of ms / iteration in N: {slope:.2f}")
    name = "bilevel_ndcg" if len(parts) == 3 else f"bilevel_ndcg_{parts[0]}"
    print(f"\nwrote {write_json(name, out)}")


if __name__ == "__main__":
    main()
