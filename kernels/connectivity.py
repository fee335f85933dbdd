"""Connectivity from counter-based random streams: fixed out-degree, fixed in-degree, Bernoulli.

The targets of presynaptic neuron ``j`` are a pure function of ``(seed, j)``:
a counter-based splitmix64 stream, unbiased bounded draws (Lemire's method)
over the ``n - 1`` other neurons, duplicates rejected with an ``n``-bit bitmap
that is left all-zero again afterwards. Drawing them at every spike of ``j``
(on the fly) or once into an ``(n, k)`` table (stored) gives the same network.

A network of populations has one stream per connection block (``block_key``): the K
distinct targets of ``j`` in population b (fixed out-degree), the K distinct sources of a
target (fixed in-degree), or each neuron of b with probability p, by geometric skips
(Bernoulli): every rule from the same kind of stream, so a block drawn on the fly and one
stored are the same block.
"""
import math

import numpy as np
from numba.extending import register_jitable

ON_THE_FLY = 0    # connectivity modes: targets drawn at every spike
STORED = 1        # or read from a table

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
U11 = np.uint64(11)
TWO_M53 = 2.0 ** -53


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
def block_key(seed, block, j):
    """Start of neuron ``j``'s random stream in connection block ``block`` (>= 0) of
    network ``seed``; a different stream from every ``stream_key``."""
    return mix64(mix64(np.uint64(seed) + GOLDEN * np.uint64(block + 2)) ^ (np.uint64(j) * STREAM))


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
    draw_distinct(stream_key(seed, j), n - 1, j, k, 0, bitmap, out, candidates)


@register_jitable
def draw_distinct(key, span, skip, k, offset, bitmap, out, candidates):
    """Write ``k`` distinct values, each plus ``offset``, into ``out[:k]``: draws from the
    stream at ``key`` uniform on ``[0, span)``, the ones at or above ``skip`` moved up by one
    (``skip >= span``: none), so ``skip`` itself is never drawn. ``draw_targets`` is the
    stream of ``(seed, j)`` over the ``n - 1`` neurons other than ``j``. The bitmap covers
    ``span + 1`` values when ``skip < span``."""
    span = np.uint64(span)
    reject_below = (TWO32 - span) % span
    half = candidates.shape[0] // 2
    counter = np.uint64(0)
    got = 0
    while got < k:
        for c in range(half):
            h = mix64(key + (counter + np.uint64(c + 1)) * GOLDEN)
            candidates[2 * c] = _candidate(h >> U32, span, reject_below, skip)
            candidates[2 * c + 1] = _candidate(h & LOW32, span, reject_below, skip)
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
            out[np.uint64(got)] = r + offset
            got += 1
            if got == k:
                break
    for c in range(k):
        r = np.uint64(out[c] - offset)
        bitmap[r >> U6] &= ~(ONE << (r & U63))


@register_jitable
def bernoulli_targets(key, span, skip, log_q, offset, out, fill):
    """The values of ``[0, span)`` (``skip`` left out and the ones above it moved up by one,
    as in ``draw_distinct``) each taken with probability p, ``log_q = log1p(-p)``: geometric
    gaps from the stream at ``key``, in increasing order. Writes them plus ``offset`` into
    ``out`` where ``fill``; returns how many."""
    got = 0
    pos = -1
    counter = np.uint64(0)
    while True:
        counter += ONE
        u = np.float64(mix64(key + counter * GOLDEN) >> U11) * TWO_M53      # [0, 1)
        gap = math.floor(math.log1p(-u) / log_q)
        if gap >= span - pos - 1:
            return got
        pos += 1 + np.int64(gap)
        if fill:
            out[np.uint64(got)] = pos + (pos >= skip) + offset
        got += 1


@register_jitable
def fill_target_table(seed, n, k, bitmap, candidates, table):
    """Draw every neuron's targets into the ``(n, k)`` table."""
    for j in range(n):
        draw_targets(seed, j, n, k, bitmap, table[j], candidates)
