"""Microseconds per stochastic step of the monotone kernels of an earlier revision against this checkout's,
side by side in one process (interleaved repeats, median, CPU time, one thread), on PB(n).

The earlier kernels (per-block pre-generated draws, Michelot's projection) are read from git
(``git show REV:optim/monotone/kernels.py`` and ``REV:problems/resolvents.py``) into a temporary
folder; both sides run the same steps with the same step sizes and refresh the snapshot the same way.

Usage (from the repository root): ``PYTHONPATH=. python3 benchmarks/monotone_step_history.py
[--rev 9c73cd4] [--sizes 100 500] [--game pb|random]``.
"""

from __future__ import annotations

import argparse
import importlib
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import markdown_table, pin_threads

pin_threads()

import numpy as np

from optim.monotone import kernels as now
from problems.monotone import MatrixGame


def load_previous(rev: str):
    """The kernels module of ``rev``, importing its own copy of the simplex projection."""
    folder = Path(tempfile.mkdtemp(prefix="monotone_kernels_"))

    def show(path: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True)

    resolvents = show("problems/resolvents.py").stdout.replace("from .", "from problems.")
    (folder / "previous_resolvents.py").write_text(resolvents)
    kernels = show("optim/monotone/kernels.py").stdout
    kernels = kernels.replace("from problems.resolvents import", "from previous_resolvents import")
    kernels = kernels.replace("from .common import", "from optim.monotone.common import")
    (folder / "previous_kernels.py").write_text(kernels)
    sys.path.insert(0, str(folder))
    return importlib.import_module("previous_kernels")


def start(game):
    q, p = game.cols, game.rows
    z = np.r_[np.full(q, 1 / q), np.full(p, 1 / p)]
    return z, game.operator(z)


def runners(old, game):
    """(previous, current) step functions of each method, each with its own state and Generator. A
    revision whose kernels draw inside (``halpern_draws`` exists) runs through the same calls as this
    checkout; an older one gets its draws per block, as its solvers did."""
    N, fro = game.n, game.frobenius
    A, AT, p = game.A, game.AT, 1.0 / N
    tau, gamma, eta, b = 3 / (math.sqrt(N) * fro), 2 / (math.sqrt(N) * fro), 5 / fro, math.isqrt(N)
    drawing = hasattr(old, "halpern_draws")  # the earlier kernels draw from the Generator themselves

    def eg(current):
        z, Fz = start(game)
        x, w, Fw, taus, rng = z.copy(), z.copy(), Fz.copy(), now.new_taus(), np.random.default_rng(0)
        mod = now if current else old

        def run(steps):
            t = 0
            if current or drawing:  # refreshes inside the kernel
                mod.vr_eg_block(A, AT, N, x, w, Fw, tau, p, rng, steps, taus)
                return
            idx, coins = rng.integers(N, size=steps), rng.random(steps)
            while t < steps:
                t = old.vr_eg_block(A, AT, N, x, w, Fw, tau, p, idx, coins, t, steps)
                if coins[t - 1] < p:
                    w[:], Fw[:] = x, game.operator(x)

        return run

    def forb(current):
        z, Fz = start(game)
        v, w, w_old, Phi, taus, rng = z.copy(), z.copy(), z.copy(), Fz.copy(), now.new_taus(), np.random.default_rng(0)
        mod = now if current else old

        def run(steps):
            t = 0
            if current or drawing:  # refreshes inside the kernel
                if hasattr(mod, "loopless_draws"):  # draws handed over as arrays
                    idx, coins = np.empty(steps, dtype=np.int64), np.empty(steps)
                    mod.loopless_draws(rng, N, idx, coins)
                    mod.forb_block(
                        A, AT, N, z, v, w, w_old, Phi, 1.0, False, False, 1 - p, gamma, p, idx, coins, 0, steps, taus
                    )
                else:
                    mod.forb_block(A, AT, N, z, v, w, w_old, Phi, 1.0, False, False, 1 - p, gamma, p, rng, steps, taus)
                return
            idx, coins = rng.integers(N, size=steps), rng.random(steps)
            while t < steps:
                t = old.forb_block(A, AT, N, v, w, w_old, Phi, 1.0, False, 1 - p, gamma, p, idx, coins, t, steps)
                if coins[t - 1] < p:
                    w[:], Phi[:] = v, game.operator(v)

        return run

    def halpern(current):
        z, _ = start(game)
        x0, x, x_prev, est, taus, rng = (
            z.copy(),
            z.copy(),
            z.copy(),
            np.zeros_like(z),
            now.new_taus(),
            np.random.default_rng(0),
        )
        k = [0]
        full, batches = np.empty(250, dtype=np.bool_), np.zeros((250, b), dtype=np.int64)
        mod = now if current else old

        def run(steps):  # blocks of 10 steps, the solver's default; drawn 250 steps at a time where drawn ahead
            for _ in range(steps // 10):
                if current or drawing:
                    if k[0] % 250 == 0:
                        mod.halpern_draws(rng, k[0], N, full, batches)
                    t, *_ = mod.vr_halpern_block(
                        A, AT, N, x0, x, x_prev, est, k[0], eta, True, True, full, batches, k[0] % 250, 10, 1e300, taus
                    )
                else:
                    coins, picks = rng.random(10), old.floyd_batches(rng.random((10, b)), N)
                    t, *_ = old.vr_halpern_block(
                        A, AT, N, x0, x, x_prev, est, k[0], eta, True, True, coins, picks, 1e300
                    )
                k[0] += t

        return run

    return {"vr-eg": eg, "vr-forb": forb, "vr-halpern": halpern}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rev", default="9c73cd4", help="the earlier revision (default: before the warm-started kernels)"
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 500])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--game", choices=("pb", "random"), default="pb", help="policeman-burglar PB(n) or a random normal n x n game"
    )
    args = parser.parse_args(argv)
    old = load_previous(args.rev)
    rows = []
    for n in args.sizes:
        game = MatrixGame.policeman_burglar(n, seed=1) if args.game == "pb" else MatrixGame.random(n, n, seed=0)
        for method, make in runners(old, game).items():
            before, after = make(False), make(True)
            steps = 2000 if method == "vr-halpern" else 20 * n
            for run in (before, after):
                run(steps)  # compile (or load from the cache) and reach the steady state
            times: dict = {False: [], True: []}
            for _ in range(args.repeats):
                for current, run in ((False, before), (True, after)):
                    c0 = time.process_time()
                    run(steps)
                    times[current].append((time.process_time() - c0) / steps * 1e6)
            prev, cur = float(np.median(times[False])), float(np.median(times[True]))
            rows.append({"n": n, "method": method, f"{args.rev}_cpu_us": prev, "now_cpu_us": cur, "ratio": prev / cur})
            print(rows[-1], flush=True)
    where = "PB(n)" if args.game == "pb" else "the random n x n game"
    print(f"\n## Microseconds per stochastic step on {where}: {args.rev} against this checkout (CPU, median)\n")
    print(markdown_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
