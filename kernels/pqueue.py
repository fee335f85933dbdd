"""Indexed priority queue as a fixed-leaf tournament (min) tree on one flat array.

Layout of ``heap`` (float64), described by ``geom`` (int64):

``geom = [n_levels, fan_bits, off_0, off_1, ..., off_L]``

Level 0 holds the keys themselves (neuron ``i`` at ``heap[off_0 + i]``, with
``off_0 = 0``); level ``l + 1`` holds, for each group of ``2**fan_bits``
consecutive nodes of level ``l``, their minimum. Every level is padded with
``+inf`` to a whole number of groups, so a group is always complete and, with
8 children, one 64-byte cache line. Level ``L`` is the single root; ``heap``
may be longer than the tree (a row of a batch sized for its largest instance).

There is no position array and nothing moves: a key changes in place and only
the minima on its path to the root may change (on average far less than one
level for an increasing key). Smaller keys come first.

Indices on the hot paths are cast to ``np.uint64``: they are never negative, and
an unsigned index spares Numba's negative-index wraparound (three instructions
per access, ~10 % of a synaptic event).
"""
import math

import numpy as np
from numba.extending import register_jitable


def tree_geometry(n, fan_bits):
    """Offsets of the levels of a tree over ``n`` keys.

    Parameters
    ----------
    n : int
        Number of keys (neurons).
    fan_bits : int
        log2 of the number of children per node (3 gives 8 children).

    Returns
    -------
    geom : ndarray of int64
        ``[n_levels, fan_bits, off_0, ..., off_L]``.
    size : int
        Length of the flat ``heap`` array.
    """
    fan = 1 << fan_bits
    offsets = [0]
    width = n
    while True:
        padded = -(-width // fan) * fan
        offsets.append(offsets[-1] + padded)
        width = padded // fan
        if width == 1:
            break
    size = offsets[-1] + 1
    geom = np.array([len(offsets) - 1, fan_bits] + offsets, dtype=np.int64)
    return geom, size


@register_jitable
def pq_build(heap, geom, n):
    """Pad the keys ``heap[:n]`` with ``+inf`` and fill every level of minima."""
    n_levels = geom[0]
    fan = 1 << geom[1]
    for i in range(n, geom[3]):
        heap[i] = math.inf
    for lev in range(n_levels):
        child = geom[2 + lev]
        parent = geom[3 + lev]
        end = geom[4 + lev] if lev + 1 < n_levels else parent + 1
        n_groups = (parent - child) // fan
        for p in range(end - parent):
            m = math.inf
            if p < n_groups:
                for c in range(fan):
                    v = heap[child + p * fan + c]
                    if v < m:
                        m = v
            heap[parent + p] = m


@register_jitable
def pq_argmin(heap, geom):
    """Index of the smallest key (the leftmost one on ties)."""
    n_levels = geom[0]
    bits = geom[1]
    fan = 1 << bits
    idx = 0
    for lev in range(n_levels, 0, -1):
        m = heap[np.uint64(geom[2 + lev] + idx)]
        base = geom[1 + lev] + (idx << bits)
        for c in range(fan):
            if heap[np.uint64(base + c)] == m:
                idx = (idx << bits) + c
                break
    return idx


@register_jitable
def pq_update(heap, geom, i, new):
    """Set key ``i`` to ``new`` and repair the minima above it."""
    n_levels = geom[0]
    bits = geom[1]
    fan = 1 << bits
    old = heap[np.uint64(i)]
    heap[np.uint64(i)] = new
    idx = i
    for lev in range(n_levels):
        parent = idx >> bits
        slot = np.uint64(geom[3 + lev] + parent)
        p = heap[slot]
        if new < p:
            heap[slot] = new
        elif old == p:
            base = geom[2 + lev] + (parent << bits)
            m = heap[np.uint64(base)]
            for c in range(1, fan):
                v = heap[np.uint64(base + c)]
                if v < m:
                    m = v
            if m == p:
                return
            heap[slot] = m
            new = m
        else:
            return
        old = p
        idx = parent


@register_jitable
def pq_set_in_group(heap, level1, bits, i, old, new):
    """Set key ``i`` from ``old`` to ``new`` when that cannot change any minimum.

    True when ``i`` was not its group's minimum and does not become smaller than
    it: the key is stored and nothing above it changes (the common case of an
    increasing key). False, storing nothing, when ``pq_update`` must do it.
    ``level1 = geom[3]`` and ``bits = geom[1]`` are passed in, read once by the
    caller, so that the hot loop does not reload them after every store.
    """
    group_min = heap[np.uint64(level1 + (i >> bits))]
    if old != group_min and new >= group_min:
        heap[np.uint64(i)] = new
        return True
    return False


@register_jitable
def pq_root(geom):
    """Position of the root (the smallest key's value) in ``heap``."""
    return geom[2 + geom[0]]


@register_jitable
def pq_rebase(heap, geom, shift, factor):
    """Map every key and minimum to ``(key - shift) * factor``.

    Floating-point subtraction and multiplication are monotone, so every stored
    minimum stays the minimum of its children; with ``factor`` a power of two
    (or 1) and ``shift`` 0 (or a key) nothing else is rounded differently.
    """
    for i in range(pq_root(geom) + 1):
        heap[i] = (heap[i] - shift) * factor
