"""Fixed out-degree connectivity: K distinct targets per neuron, no autapses.

The targets of presynaptic neuron ``j`` are a pure function of ``(seed, j)``:
a counter-based splitmix64 stream, unbiased bounded draws (Lemire's method)
over the ``n - 1`` other neurons, duplicates rejected with an ``n``-bit bitmap
that is left all-zero again afterwards. Drawing them at every spike of ``j``
(on the fly) or once into an ``(n, k)`` table (stored) gives the same network.
"""
import numpy as np
from numba.extending import register_jitable

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
STREAM = np.uint64(0xD1B54A32D192ED03)
LOW32 = np.uint64(0xFFFFFFFF)
TWO32 = np.uint64(1 << 32)
ONE = np.uint64(1)
U6 = np.uint64(6)
U27 = np.uint64(27)
U30 = np.uint64(30)
U31 = np.uint64(31)
U32 = np.uint64(32)
U63 = np.uint64(63)


@register_jitable
def mix64(z):
    """The splitmix64 finaliser: a bijective 64-bit mixing of ``z`` (uint64)."""
    z = (z ^ (z >> U30)) * MIX1
    z = (z ^ (z >> U27)) * MIX2
    return z ^ (z >> U31)


@register_jitable
def stream_key(seed, j):
    """Start of neuron ``j``'s random stream in network ``seed``."""
    return mix64(mix64(np.uint64(seed) + GOLDEN) ^ (np.uint64(j) * STREAM))


@register_jitable
def _candidate(bits, span, reject_below, j):
    """Target drawn from 32 random ``bits``, or -1 when Lemire's method rejects them.

    The high half of ``bits * span`` is uniform on ``[0, span)`` unless the low
    half falls below ``reject_below``; the result skips ``j``. Branch-free.
    """
    m = bits * span
    r = np.int64(m >> U32)
    r += r >= j
    return r if (m & LOW32) >= reject_below else -1


@register_jitable
def draw_targets(seed, j, n, k, bitmap, out, candidates):
    """Write the ``k`` distinct targets of neuron ``j`` into ``out[:k]``.

    Parameters
    ----------
    seed : int
        Network seed (any 64-bit integer).
    j : int
        Presynaptic neuron, ``0 <= j < n``.
    n, k : int
        Network size and out-degree, ``1 <= k <= n - 1``.
    bitmap : ndarray of uint64, ``ceil(n / 64)`` words, all zero
        Scratch set of drawn targets; all zero again on return.
    out : ndarray of int, length >= k
        Receives the targets in draw order.
    candidates : ndarray of int64, even length >= 2
        Scratch: the candidates of one batch of draws.

    Notes
    -----
    Each 64-bit draw of the stream gives two 32-bit candidates, high half first;
    a candidate already drawn is skipped. A batch of draws is computed in a
    branch-free loop (which the compiler vectorises) and then taken in order, so
    the targets are those of a one-candidate-at-a-time loop whatever the batch.
    """
    key = stream_key(seed, j)
    span = np.uint64(n - 1)
    reject_below = (TWO32 - span) % span
    half = candidates.shape[0] // 2
    counter = np.uint64(0)
    got = 0
    while got < k:
        for c in range(half):
            h = mix64(key + (counter + np.uint64(c + 1)) * GOLDEN)
            candidates[2 * c] = _candidate(h >> U32, span, reject_below, j)
            candidates[2 * c + 1] = _candidate(h & LOW32, span, reject_below, j)
        counter += np.uint64(half)
        for c in range(2 * half):
            r = candidates[c]
            if r < 0:
                continue
            word = np.uint64(r) >> U6          # unsigned: no wraparound (see pqueue)
            bit = ONE << (np.uint64(r) & U63)
            if bitmap[word] & bit:
                continue
            bitmap[word] |= bit
            out[np.uint64(got)] = r
            got += 1
            if got == k:
                break
    for c in range(k):
        r = np.uint64(out[c])
        bitmap[r >> U6] &= ~(ONE << (r & U63))


@register_jitable
def fill_target_table(seed, n, k, bitmap, candidates, table):
    """Draw every neuron's targets into the ``(n, k)`` table."""
    for j in range(n):
        draw_targets(seed, j, n, k, bitmap, table[j], candidates)
