"""numba kernel of ``swap_gap`` (imported on first use, so ``import problems`` does not load numba)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def swap_gap_rows(w0, pruned, gram, field):
    """max over rows r, pruned a, kept b of ``(2 f_a - G_aa w_a^2) - (2 f_b + G_bb w_b^2) + 2 w_a G_ab w_b``
    (the decrease of the row's error when a is revived and b pruned); 0 if no swap decreases it.

    Exact with early exit: kept weights are visited by increasing ``join_b = 2 f_b + G_bb w_b^2`` and the
    scan over b stops once ``leave_a - join_b + 2 |w_a| max_c |G_ac| max_b |w_b|`` cannot beat the best."""
    m, n = w0.shape
    gmax = np.empty(n)
    for a in range(n):
        g = 0.0
        for c in range(n):
            if c != a and abs(gram[a, c]) > g:
                g = abs(gram[a, c])
        gmax[a] = g
    best = 0.0
    join = np.empty(n)
    for r in range(m):
        nk = 0
        wmax = 0.0
        for b in range(n):
            if not pruned[r, b]:
                join[nk] = 2.0 * field[r, b] + gram[b, b] * w0[r, b] * w0[r, b]
                nk += 1
                wmax = max(wmax, abs(w0[r, b]))
        if nk == 0 or nk == n:
            continue
        kept = np.empty(nk, dtype=np.int64)
        t = 0
        for b in range(n):
            if not pruned[r, b]:
                kept[t] = b
                t += 1
        order = np.argsort(join[:nk])
        for a in range(n):
            if not pruned[r, a]:
                continue
            wa = w0[r, a]
            leave = 2.0 * field[r, a] - gram[a, a] * wa * wa
            bound = 2.0 * abs(wa) * gmax[a] * wmax
            for u in range(nk):
                jb = join[order[u]]
                if leave - jb + bound <= best:
                    break
                b = kept[order[u]]
                dec = leave - jb + 2.0 * wa * gram[a, b] * w0[r, b]
                if dec > best:
                    best = dec
    return best
