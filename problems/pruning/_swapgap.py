"""numba kernel of ``swap_gap`` (imported on first use, so ``import problems`` does not load numba)."""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def swap_gap_rows(w0, pruned, gram, field):
    """max over rows r, pruned a, kept b of ``(2 f_a - G_aa w_a^2) - (2 f_b + G_bb w_b^2) + 2 w_a G_ab w_b``
    (the decrease of the row's error when a is revived and b pruned); 0 if no swap decreases it."""
    m, n = w0.shape
    best = 0.0
    for r in range(m):
        for a in range(n):
            if not pruned[r, a]:
                continue
            wa = w0[r, a]
            leave = 2.0 * field[r, a] - gram[a, a] * wa * wa
            for b in range(n):
                if pruned[r, b]:
                    continue
                wb = w0[r, b]
                dec = leave - (2.0 * field[r, b] + gram[b, b] * wb * wb) + 2.0 * wa * gram[a, b] * wb
                if dec > best:
                    best = dec
    return best
