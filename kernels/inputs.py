"""External input to a network of populations: Poisson drive and stimulus events
(docs/design.md §2.15).

Population b's Poisson input, ``n_b`` neurons each receiving ``C_ext`` independent sources of
rate ``nu_ext``, is one merged Poisson process of rate ``R_b = n_b C_ext nu_ext`` whose events
land on uniformly drawn neurons of b (superposition and thinning: the same process). Event
``c`` of population b takes two draws of the counter-based stream ``poisson_key(noise_seed,
b)``: its gap after event ``c - 1`` (exponential, ``poisson_gap``) and its target
(``poisson_target``). A result thus depends on the noise seed and the parameters only: not on
the batch, the launch cuts or the backend (to the rounding of ``log1p``: CUDA's is within one
ulp of the CPU's). The host draws the same events through these functions for the oracle.

The event loop reads a population's events from a row of ``AHEAD`` drawn as a block
(``draw_ahead``): one by one, each event's log1p, division and exp lay on the loop's chain of
dependent instructions (40 ns an event, against 16 ns for the same work drawn in a block;
docs/design.md §5.19).
"""
import math

import numpy as np
from numba.extending import register_jitable

from .connectivity import mix64, GOLDEN, ONE, U11, TWO_M53
from .models import key_at

NOISE = np.uint64(0x6A09E667F3BCC909)     # apart from every connectivity stream
AHEAD = 16
"""Poisson events drawn ahead per population (a power of 2)."""
AHEAD_MASK = AHEAD - 1


@register_jitable
def poisson_key(noise_seed, b):
    """Start of population ``b``'s Poisson stream for noise seed ``noise_seed``."""
    return mix64(mix64(np.uint64(noise_seed) ^ NOISE) + GOLDEN * np.uint64(b + 1))


@register_jitable
def _uniform(key, draw):
    """Draw ``draw`` (>= 1) of the stream at ``key``, uniform on [0, 1) with 53 bits."""
    return np.float64(mix64(key + np.uint64(draw) * GOLDEN) >> U11) * TWO_M53


@register_jitable
def poisson_gap(key, event, rate):
    """The time (s) from event ``event - 1`` (or from 0) to event ``event`` of a Poisson
    process of ``rate`` (Hz, > 0)."""
    return -math.log1p(-_uniform(key, np.uint64(2 * event) + ONE)) / rate


@register_jitable
def poisson_target(key, event, n):
    """The neuron (0 .. n - 1, of the population) event ``event`` lands on."""
    return min(np.int64(_uniform(key, np.uint64(2 * event + 2)) * n), n - 1)


@register_jitable
def draw_ahead(key_kind, mp, clock, noise_seed, b, rate, first, n_b, ext_time, ext_key,
               ext_target, c):
    """Draw events ``c .. c + AHEAD - 1`` (``c`` a multiple of AHEAD) of population b's
    Poisson input of merged ``rate`` (Hz) into row b: each one's time (s from the run's start:
    the previous one's plus its gap, the sums of drawing them one by one), key, and target
    (``first`` + one of the population's ``n_b`` neurons)."""
    stream = poisson_key(noise_seed, b)
    t = 0.0 if c == 0 else ext_time[b, AHEAD_MASK]
    for s in range(AHEAD):
        t += poisson_gap(stream, c + s, rate)
        ext_time[b, s] = t
        ext_target[b, s] = first + poisson_target(stream, c + s, n_b)
    for s in range(AHEAD):
        ext_key[b, s] = key_at(key_kind, (ext_time[b, s] - clock[0]) - clock[1], mp)


@register_jitable
def prime_inputs(key_kind, mp, clock, noise_seed, pops, pop_start, pop_par, rate, ext_time,
                 ext_key, ext_target, ext_count, stim_time, stim_next, stim_key):
    """Draw each population's first Poisson events and key the next stimulus event where not
    done yet (NaN: a run's first launch); returns whether the instance has external input.

    ``pop_par[b, rate]``: population b's merged Poisson rate (Hz; 0: none). Row b of
    ``ext_time``, ``ext_key`` and ``ext_target`` holds its events drawn ahead, the next one in
    slot ``ext_count[b] % AHEAD`` (``ext_count``: events delivered before it); ``stim_next``
    and ``stim_key`` the next stimulus event (``stim_time`` padded with +inf)."""
    external = stim_time[stim_next[0]] < math.inf
    for b in range(pops):
        if pop_par[b, rate] > 0.0:
            external = True
            if ext_time[b, 0] != ext_time[b, 0]:
                draw_ahead(key_kind, mp, clock, noise_seed, b, pop_par[b, rate], pop_start[b],
                           pop_start[b + 1] - pop_start[b], ext_time, ext_key, ext_target,
                           ext_count[b])
    if stim_key[0] != stim_key[0]:
        stim_key[0] = key_at(key_kind, (stim_time[stim_next[0]] - clock[0]) - clock[1], mp)
    return external


@register_jitable
def next_input(pops, pop_par, rate, ext_key, ext_count, stim_time, stim_next, stim_key):
    """(source, key) of the next external event: ``pops`` for the stimulus (first at equal
    keys), b for population b's Poisson input, or (-1, inf). A key may be +inf for an event
    too far ahead (``rebased_key``)."""
    src = pops if stim_time[stim_next[0]] < math.inf else -1
    src_key = stim_key[0]
    for b in range(pops):
        if pop_par[b, rate] > 0.0:
            key = ext_key[b, ext_count[b] & AHEAD_MASK]
            if key < src_key:
                src, src_key = b, key
    return src, src_key


@register_jitable
def rebased_key(key_kind, mp, clock, key, seconds, key_shift, factor):
    """An external event's key mapped as ``pq_rebase`` maps the queue's, with the time origin
    ``clock`` already moved; one that overflowed (an exp key +inf for a finite time: an event
    more than ~709 tau after the origin it was keyed from) is keyed again from its time."""
    if key == math.inf and seconds < math.inf:
        return key_at(key_kind, (seconds - clock[0]) - clock[1], mp)
    return (key - key_shift) * factor


@register_jitable
def rebase_inputs(key_kind, mp, clock, pops, ext_time, ext_key, stim_time, stim_next, stim_key,
                  key_shift, factor):
    """Rebase the external events' keys (``rebased_key``), those drawn ahead too."""
    for b in range(pops):
        for s in range(AHEAD):
            ext_key[b, s] = rebased_key(key_kind, mp, clock, ext_key[b, s], ext_time[b, s],
                                        key_shift, factor)
    stim_key[0] = rebased_key(key_kind, mp, clock, stim_key[0], stim_time[stim_next[0]],
                              key_shift, factor)
