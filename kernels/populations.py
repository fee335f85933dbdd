"""The event loop of a network of populations: connection blocks, synaptic delays, refractory
periods, excitation (docs/design.md §2.14).

Neurons ``pop_start[a] .. pop_start[a + 1] - 1`` form population ``a`` of ``pops``; block
``ab = a * pops + b`` holds the connections from population a to b, with one coupling and one
delay. Every population shares the model family; its own drive, tau and refractory period are
in its row of ``pop_par``. The keys are the time key (any model) or the exp-time key (LIF with
one tau), both comparable across populations.

A spike of ``j`` in population a reaches block ab's targets at once (zero delay) or is put in
block ab's FIFO with its arrival key: spikes are emitted in time order and one block has one
delay, so each FIFO is in arrival order, and the next delivery is the earliest of ``pops**2``
heads (O(1) per spike for any number of spikes in flight). A delivery redraws or reads the
sender's targets then: in flight a spike costs 20 bytes, not K inputs.

External input (``kernels.inputs``: Poisson events per population, stimulus events) is one
more candidate for the next event: one draw and one target's update each.

At one instant deliveries come first, in emission order (``fifo_serial``), then external
events (the stimulus's, then the Poisson events by population), all summing
(``models.hold_past``); then the neurons at or past threshold spike in increasing index, as in
``sparseprop_gpu.reference.simulate_populations``.
"""
import math

import numpy as np
from numba.extending import register_jitable

# DELAY_FULL is this loop's own status; the host reads it from here
from .bookkeeping import (add_compensated, count_burst, take_statistics, BUFFER_FULL,  # noqa: F401
                          CASCADE, DELAY_FULL, OUT_OF_TABLE, PAUSED, REACHED_T_END)
from .connectivity import bernoulli_targets, block_key, draw_distinct, STORED
from .inputs import draw_ahead, next_input, prime_inputs, rebase_inputs, AHEAD_MASK
from .lookup import input_map, mapped_remaining, remaining_by_lookups
from .models import (constants, elapsed, excited_key, hold_past, key_after_input, key_at,
                     rebase_step, KEY_EXP_TIME, KEY_TIME, P_REBASE_AT, SATURATED)
from .pqueue import pq_argmin, pq_rebase, pq_root, pq_set_in_group, pq_update

# per-population constants, one row per population (``pop_par``)
Q_OMEGA = 0       # phase velocity (time key)
Q_TPP = 1         # seconds per unit of phase (time key)
Q_FREE = 2        # the reset in key terms: time key (phi_th - phi_reset) tpp (s, added);
                  # exp-time key I / (I - 1) (a factor)
Q_RESET = 3       # the key after a spike: Q_FREE plus the refractory period (t_ref added,
                  # or the factor exp(t_ref / tau))
Q_T_REF = 4       # refractory period (s)
Q_REF_STEP = 5    # the refractory period in key terms: t_ref (added) or exp(t_ref / tau)
Q_EXT_RATE = 6    # the merged rate of the population's Poisson input (Hz); 0: none
Q_EXT_KICK = 7    # one Poisson input's kick (as B_KICK)
Q_EXT_TOP = 8     # the largest kick of any external input (Poisson or stimulus); > 0: excitation
Q_QUIESCENT = 9   # 1.0: LIF driven at or below threshold (I <= 1; exp-time key): its neurons'
                  # state is ``rest_gap``, their queue key +inf until an input takes them to
                  # threshold; Q_FREE is then I (the reset's gap factor), Q_RESET I e^(t_ref/tau)
N_POP = 10

# per-block constants, one row per block ab (``block_par``); a table model's ``block_lookup``
# has P more entries, the tables of the external inputs into each population (``P * P + b``)
B_KICK = 0        # time key: J / I_b (LIF), J / sqrt(I_b) (QIF); exp-time key: J / (I_b - 1),
                  # or J into a quiescent population
B_DELAY = 1       # the delay in key terms: D (s, added) or exp(D / tau) (a factor)
B_SECONDS = 2     # the delay (s); 0: delivered at the spike
B_LOG_Q = 3       # Bernoulli on the fly: log1p(-p) (< 0); 0 for the other rules
N_BLOCK = 4

# one row per block of ``fifo_ring``: where its FIFO lives in the flat ``fifo_*`` arrays
R_BASE = 0
R_CAPACITY = 1
R_HEAD = 2
R_COUNT = 3
N_RING = 4


@register_jitable
def later(key_kind, key, step):
    """The key ``step`` later (a ``B_DELAY`` or ``Q_RESET``: added, or a factor)."""
    if key_kind == KEY_EXP_TIME:
        return key * step
    return key + step


@register_jitable
def below_free(key_kind, key, shift, free):
    """Whether a neuron's phase is below reset at ``shift`` (``Q_FREE`` of its population):
    refractory, or taken there by inhibition (``refractory_end`` tells them apart). One
    comparison of the key already loaded, so most targets need no second load."""
    if key_kind == KEY_EXP_TIME:
        return key > shift * free
    return key - shift > free


@register_jitable
def population_of(pop_start, j):
    """The population of neuron ``j``."""
    a = 0
    while j >= pop_start[a + 1]:
        a += 1
    return a


@register_jitable
def deliver(tabulated, featured, model, key_kind, mp, heap, geom, level1, bits, j, a, b, kick,
            base, pops, pop_start, pop_par, block_par, block_k, lookup, conn_mode, seed,
            synapses, segments, segment_base, bitmap, drawn, candidates, gathered, shift,
            refractory, excite, refractory_end, past_key, rest_gap):
    """Apply an input of ``kick`` (``B_KICK``'s terms) at ``shift`` to the targets in population
    b of the spike of ``j`` (population a): stored rows of ``synapses``, or drawn on the fly
    (fixed out-degree or Bernoulli); or, for ``a < 0`` (an external event), to the one neuron
    ``drawn[0]``.

    A target is refractory while ``shift`` is before its ``refractory_end`` (a key, rebased
    with the queue, so that an input due exactly at the end compares equal to it as §2.12
    says); inputs past threshold are held as in ``models.hold_past``. A ``TABLE`` model reads
    the table at ``base`` in ``lookup`` (population b's drive; its input map where ``kick`` is
    the table's: block ab's, or the external input's of b). Returns False, leaving the queue
    invalid, where an input left a lookup table without a tail. (One function, not a target
    lookup calling an input loop: a nested call per delivery cost 3 % at N = 1e5, §5.17.)
    With ``featured`` (a compile-time constant) population b may be quiescent: its targets
    go to ``quiescent_inputs``."""
    ab = a * pops + b
    if a < 0:
        lo = 0
        k = 1
        row = drawn
    elif conn_mode == STORED:
        at = segment_base + j * pops + b
        lo = segments[at]
        k = segments[at + 1] - lo
        row = synapses
    else:
        n_b = pop_start[b + 1] - pop_start[b]
        local = j - pop_start[a]
        span = n_b - 1 if a == b else n_b            # no autapses: skip j itself
        skip = local if a == b else n_b
        log_q = block_par[ab, B_LOG_Q]
        if log_q < 0.0:                              # Bernoulli
            k = bernoulli_targets(block_key(seed, ab, local), span, skip, log_q, pop_start[b],
                                  drawn, True)
        else:                                        # fixed out-degree, or none
            k = block_k[ab]
            if k == 0:
                return True
            draw_distinct(block_key(seed, ab, local), span, skip, k, pop_start[b], bitmap, drawn,
                          candidates)
        lo = 0
        row = drawn
    if featured and pop_par[b, Q_QUIESCENT] > 0.0:
        quiescent_inputs(heap, geom, level1, bits, row, lo, k, kick, pop_par[b, Q_FREE], shift,
                         refractory, refractory_end, rest_gap)
        return True
    for c in range(k):                  # independent loads first: they overlap in memory
        gathered[c] = heap[np.uint64(row[np.uint64(lo + c)])]
    omega = pop_par[b, Q_OMEGA]
    tpp = pop_par[b, Q_TPP]
    free = pop_par[b, Q_FREE]
    imap = input_map(lookup, base, kick) if tabulated else (1.0, 0.0, 0.0, 0.0, 0.0)
    for c in range(k):
        i = row[np.uint64(lo + c)]
        queued = gathered[c]
        if refractory and below_free(key_kind, queued, shift, free) and \
                shift < refractory_end[np.uint64(i)]:
            continue
        before = queued
        if excite and queued == shift:               # its exact key, if past threshold
            before = min(queued, past_key[np.uint64(i)])
            if before == SATURATED:
                continue
        if tabulated:                   # remaining phase through the block's table
            rem = (before - shift) / tpp
            left = mapped_remaining(lookup, imap, rem)
            if left < 0.0:
                left = remaining_by_lookups(lookup, base, rem, kick)
                if left != left:
                    return False
            after = shift + left * tpp
            if excite and after <= shift:
                after = SATURATED
        elif key_kind == KEY_EXP_TIME:
            after = before - kick * shift
        else:
            after = key_after_input(model, KEY_TIME, before, shift, mp, omega, kick, tpp)
            if excite:
                after = excited_key(model, KEY_TIME, before, after, shift, omega, kick, tpp)
        if excite:
            after, past = hold_past(before, after, shift)
            if past == past:
                past_key[np.uint64(i)] = past
        if not pq_set_in_group(heap, level1, bits, i, queued, after):
            pq_update(heap, geom, i, after)
    return True


@register_jitable
def quiescent_inputs(heap, geom, level1, bits, row, lo, k, kick, drive, shift, refractory,
                     refractory_end, rest_gap):
    """Apply an input of ``kick`` (J) at ``shift`` (G = e^(t / tau)) to the targets
    ``row[lo:lo + k]`` in a quiescent population of ``drive`` I <= 1 (docs/design.md §2.16).

    Such a neuron never reaches threshold on its own; its state is the gap to its rest,
    ``rest_gap = (I - V) G``, invariant between inputs (rebased with the queue). An input is
    ``rest_gap -= J G``; the neuron is at or past threshold (V >= 1) where ``rest_gap <= (I - 1)
    G``, and its queue key is then ``shift`` (it spikes at this instant, after the other inputs
    of the instant, which sum in ``rest_gap``), +inf else. A refractory neuron ignores it."""
    at_threshold = (drive - 1.0) * shift
    for c in range(k):
        i = row[np.uint64(lo + c)]
        if refractory and shift < refractory_end[np.uint64(i)]:
            continue
        gap = rest_gap[np.uint64(i)] - kick * shift
        rest_gap[np.uint64(i)] = gap
        after = shift if gap <= at_threshold else math.inf
        queued = heap[np.uint64(i)]
        if after != queued and not pq_set_in_group(heap, level1, bits, i, queued, after):
            pq_update(heap, geom, i, after)


@register_jitable
def next_delivery(fifo_key, fifo_serial, fifo_ring, blocks):
    """(block, key) of the earliest delivery in flight (emission order on equal keys), or
    (-1, inf)."""
    due = -1
    due_key = math.inf
    due_serial = 0
    for ab in range(blocks):
        if fifo_ring[ab, R_COUNT] > 0:
            at = fifo_ring[ab, R_BASE] + fifo_ring[ab, R_HEAD]
            key = fifo_key[at]
            serial = fifo_serial[at]
            if key < due_key or (key == due_key and serial < due_serial):
                due, due_key, due_serial = ab, key, serial
    return due, due_key


@register_jitable
def rebase_fifos(fifo_key, fifo_ring, blocks, key_shift, factor):
    """Map the arrival keys in flight as ``pq_rebase`` maps the queue's."""
    for ab in range(blocks):
        base = fifo_ring[ab, R_BASE]
        capacity = fifo_ring[ab, R_CAPACITY]
        head = fifo_ring[ab, R_HEAD]
        for c in range(fifo_ring[ab, R_COUNT]):
            at = base + (head + c) % capacity
            fifo_key[at] = (fifo_key[at] - key_shift) * factor


@register_jitable
def rebase_blocked(key_kind, mp, top, heap, geom, fifo_key, fifo_ring, blocks, featured, pops,
                   ext_time, ext_key, stim_time, stim_next, stim_key, n, refractory, excite,
                   quiet, refractory_end, past_key, rest_gap, clock):
    """Rebase every key of the instance as ``models.rebase_step`` says for the smallest,
    ``top``: the queue, the spikes in flight, the external events (``featured``), the ends of
    refractoriness, the exact keys past threshold and the quiescent neurons' gaps (``quiet``:
    the exp-time key, whose rebase is a factor alone); the time origin moves on."""
    dt, key_shift, factor = rebase_step(key_kind, top, mp)
    add_compensated(clock, dt)
    pq_rebase(heap, geom, key_shift, factor)
    rebase_fifos(fifo_key, fifo_ring, blocks, key_shift, factor)
    if featured:
        rebase_inputs(key_kind, mp, clock, pops, ext_time, ext_key, stim_time, stim_next,
                      stim_key, key_shift, factor)
    for i in range(n if refractory else 0):
        refractory_end[i] = (refractory_end[i] - key_shift) * factor
    for i in range(n if excite else 0):
        past_key[i] = (past_key[i] - key_shift) * factor
    for i in range(n if quiet else 0):
        rest_gap[i] *= factor


@register_jitable
def advance_blocked(tabulated, featured, model, key_kind, par, heap, geom, n, pops, pop_start,
                    pop_par,
                    block_par, block_k, lookup, block_lookup, conn_mode, seed, synapses,
                    segments, segment_base, bitmap, drawn, candidates, gathered, clock, t_end,
                    warmup, counts, isi, refractory_end, past_key, rest_gap, fifo_key,
                    fifo_sender, fifo_serial, fifo_ring, emitted, noise_seed, ext_time, ext_key,
                    ext_target, ext_count,
                    stim_time, stim_target, stim_kick, stim_next, stim_key, keep, buf_times,
                    buf_senders, rec_cap, max_spikes):
    """``engine.advance`` for a network of populations: the same stop conditions, statuses
    and outputs, plus ``DELAY_FULL``.

    Parameters (besides ``engine.advance``'s)
    -----------------------------------------
    tabulated : bool
        ``model == TABLE`` (the time key; a compile-time constant).
    featured : bool
        Compiled with the code of external input and quiescent populations (some instance of
        the batch has Poisson input, a stimulus or a population driven at or below threshold;
        a compile-time constant): without it the loop and its registers are those of a
        network without them.
    block_lookup : int64[pops**2]
        Where each block's lookup table starts in ``lookup`` (table models).
    pops : int
        Populations.
    pop_start : int64[pops + 1]; pop_par : float64[pops, N_POP]
    block_par : float64[pops**2, N_BLOCK]; block_k : int64[pops**2]
        Per block: the constants, and the out-degree drawn on the fly (0: no connections,
        or Bernoulli where ``B_LOG_Q`` < 0).
    synapses : int32[S]; segments : int64[...]; segment_base : int
        Stored connectivity: the targets of ``j`` in population b are ``synapses[lo:hi]``
        with ``lo, hi = segments[segment_base + j * pops + b : ... + 2]``.
    rest_gap : float64[n]
        Neurons of quiescent populations: (I - V) G, their state (``quiescent_inputs``; one
        element where no population is quiescent).
    fifo_key : float64[F]; fifo_sender : int32[F]; fifo_serial : int64[F]
        The spikes in flight: arrival key, sender, emission serial; ``fifo_ring`` (one row
        per block, ``R_*``) says where each block's ring is and what it holds.
    emitted : int64[1]
        Spikes emitted so far (the next emission serial).
    noise_seed : int
        The seed of the Poisson input's streams (``kernels.inputs``).
    ext_time : float64[pops, AHEAD]; ext_key : float64[pops, AHEAD]; ext_target : int32[pops,
    AHEAD]; ext_count : int64[pops]
        Each population's Poisson events drawn ahead (``inputs.draw_ahead``): their times (s
        from the run's start; NaN before the first launch), keys and targets; the next one in
        slot ``ext_count % AHEAD``, ``ext_count`` the events delivered before it.
    stim_time : float64[S + 1]; stim_target : int32[S]; stim_kick : float64[S]
        The stimulus events in time order (s from the run's start, then +inf), their targets
        and kicks (``B_KICK``'s terms); ``stim_next`` (int64[1]) the next one and
        ``stim_key`` (float64[1]) its key (NaN before the first launch).
    """
    root = pq_root(geom)
    mp = constants(par)
    rebase_at = mp[P_REBASE_AT]
    level1 = geom[3]
    bits = geom[1]
    blocks = pops * pops
    refractory = False
    for a in range(pops):
        refractory = refractory or pop_par[a, Q_T_REF] > 0.0
    excite = False
    for ab in range(blocks):
        excite = excite or block_par[ab, B_KICK] > 0.0
    for a in range(pops):
        excite = excite or pop_par[a, Q_EXT_TOP] > 0.0
    quiet = False                       # some population is quiescent
    for a in range(pops if featured else 0):
        quiet = quiet or pop_par[a, Q_QUIESCENT] > 0.0
    src, src_key = -1, math.inf         # the next external event: none
    if featured and prime_inputs(key_kind, mp, clock, noise_seed, pops, pop_start, pop_par,
                                 Q_EXT_RATE, ext_time, ext_key, ext_target, ext_count,
                                 stim_time, stim_next, stim_key):
        src, src_key = next_input(pops, pop_par, Q_EXT_RATE, ext_key, ext_count,
                                  stim_time, stim_next, stim_key)
    n_rec = 0
    n_proc = 0
    fill = 0
    t_last = math.nan
    burst = 0
    while True:
        shift = heap[root]              # the spiker itself (pq_argmin) only when it spikes
        due, due_key = next_delivery(fifo_key, fifo_serial, fifo_ring, blocks)
        if featured and src >= 0 and src_key <= shift and (due < 0 or src_key < due_key):
            t = stim_time[stim_next[0]] if src == pops else \
                ext_time[src, ext_count[src] & AHEAD_MASK]                   # exact, s
            if t > t_end:
                take_statistics(buf_times, buf_senders, fill, counts, isi)
                return REACHED_T_END, n_rec, n_proc
            while shift == math.inf and src_key > rebase_at:   # all quiescent: the time
                rebase_blocked(key_kind, mp, src_key, heap, geom, fifo_key, fifo_ring, blocks,
                               featured, pops, ext_time, ext_key, stim_time, stim_next,
                               stim_key, n, refractory, excite, quiet, refractory_end,
                               past_key, rest_gap, clock)       # origin follows the inputs
                src, src_key = next_input(pops, pop_par, Q_EXT_RATE, ext_key, ext_count,
                                          stim_time, stim_next, stim_key)
            now = src_key
            if src == pops:             # the stimulus
                at = stim_next[0]
                drawn[0] = stim_target[at]
                kick = stim_kick[at]
                b = population_of(pop_start, drawn[0])
                stim_next[0] = at + 1
                stim_key[0] = key_at(key_kind, (stim_time[at + 1] - clock[0]) - clock[1], mp)
            else:                       # population src's Poisson input, drawn ahead
                b = src
                slot = ext_count[b] & AHEAD_MASK
                drawn[0] = ext_target[b, slot]
                kick = pop_par[b, Q_EXT_KICK]
                ext_count[b] += 1
                if slot == AHEAD_MASK:  # the row is used up: the next AHEAD events
                    draw_ahead(key_kind, mp, clock, noise_seed, b, pop_par[b, Q_EXT_RATE],
                               pop_start[b], pop_start[b + 1] - pop_start[b], ext_time, ext_key,
                               ext_target, ext_count[b])
            src, src_key = next_input(pops, pop_par, Q_EXT_RATE, ext_key, ext_count,
                                  stim_time, stim_next, stim_key)
            if not deliver(tabulated, featured, model, key_kind, mp, heap, geom, level1, bits, -1,
                           -1, b, kick, block_lookup[blocks + b], pops, pop_start, pop_par,
                           block_par, block_k, lookup, conn_mode, seed, synapses, segments,
                           segment_base, bitmap, drawn, candidates, gathered, now, refractory,
                           excite, refractory_end, past_key, rest_gap):
                return OUT_OF_TABLE, n_rec, n_proc
            continue
        if due >= 0 and due_key <= shift:                 # a delivery first
            t = clock[0] + (clock[1] + elapsed(key_kind, due_key, mp))
            if t > t_end:
                take_statistics(buf_times, buf_senders, fill, counts, isi)
                return REACHED_T_END, n_rec, n_proc
            head = fifo_ring[due, R_HEAD]
            sender = fifo_sender[fifo_ring[due, R_BASE] + head]
            fifo_ring[due, R_HEAD] = head + 1 if head + 1 < fifo_ring[due, R_CAPACITY] else 0
            fifo_ring[due, R_COUNT] -= 1
            if not deliver(tabulated, featured, model, key_kind, mp, heap, geom, level1, bits,
                           sender, due // pops, due % pops, block_par[due, B_KICK],
                           block_lookup[due], pops, pop_start, pop_par, block_par, block_k,
                           lookup, conn_mode, seed, synapses, segments, segment_base, bitmap,
                           drawn, candidates, gathered, due_key, refractory, excite,
                           refractory_end, past_key, rest_gap):
                return OUT_OF_TABLE, n_rec, n_proc
            continue
        t = clock[0] + (clock[1] + elapsed(key_kind, shift, mp))
        if t > t_end or (featured and t == math.inf):    # inf: all quiescent, nothing due
            take_statistics(buf_times, buf_senders, fill, counts, isi)
            return REACHED_T_END, n_rec, n_proc
        j = pq_argmin(heap, geom)
        if excite:                      # spikes at one instant: bounded (docs/design.md §2.13)
            t_last, burst = count_burst(t, t_last, burst)
            if burst > n:
                return CASCADE, n_rec, n_proc
        a = population_of(pop_start, j)
        for b in range(pops):           # room in flight first: a full FIFO leaves all valid
            ab = a * pops + b
            if block_par[ab, B_SECONDS] > 0.0 and \
                    fifo_ring[ab, R_COUNT] == fifo_ring[ab, R_CAPACITY]:
                take_statistics(buf_times, buf_senders, fill, counts, isi)
                return DELAY_FULL, n_rec, n_proc
        for b in range(pops):
            ab = a * pops + b
            if block_par[ab, B_SECONDS] > 0.0:
                ring_capacity = fifo_ring[ab, R_CAPACITY]
                at = fifo_ring[ab, R_BASE] + (fifo_ring[ab, R_HEAD] + fifo_ring[ab, R_COUNT]) \
                    % ring_capacity
                fifo_key[at] = later(key_kind, shift, block_par[ab, B_DELAY])
                fifo_sender[at] = j
                fifo_serial[at] = emitted[0]
                fifo_ring[ab, R_COUNT] += 1
            elif not deliver(tabulated, featured, model, key_kind, mp, heap, geom, level1, bits,
                             j, a, b, block_par[ab, B_KICK], block_lookup[ab], pops, pop_start,
                             pop_par, block_par, block_k, lookup, conn_mode, seed, synapses,
                             segments, segment_base, bitmap, drawn, candidates, gathered, shift,
                             refractory, excite, refractory_end, past_key, rest_gap):
                return OUT_OF_TABLE, n_rec, n_proc
        reset = later(key_kind, shift, pop_par[a, Q_RESET])
        if featured and pop_par[a, Q_QUIESCENT] > 0.0:    # V = 0 where t_ref ends: (I - 0) G
            rest_gap[np.uint64(j)] = reset
            reset = math.inf
        pq_update(heap, geom, j, reset)
        if refractory:
            refractory_end[np.uint64(j)] = later(key_kind, shift, pop_par[a, Q_REF_STEP])
        if excite:
            past_key[np.uint64(j)] = math.inf
        emitted[0] += 1

        if heap[root] > rebase_at and (not featured or heap[root] < math.inf):
            rebase_blocked(key_kind, mp, heap[root], heap, geom, fifo_key, fifo_ring, blocks,
                           featured, pops, ext_time, ext_key, stim_time, stim_next, stim_key, n,
                           refractory, excite, quiet, refractory_end, past_key, rest_gap, clock)
            if featured:
                src, src_key = next_input(pops, pop_par, Q_EXT_RATE, ext_key, ext_count,
                                          stim_time, stim_next, stim_key)

        n_proc += 1
        if t >= warmup:                 # written out in both loops: as a function the
            buf_times[fill] = t         # compiler did not inline, 10-15 % at N = 1e3 (§5.16)
            buf_senders[fill] = j
            fill += 1
            n_rec += 1
            if fill == buf_times.shape[0] or n_rec == rec_cap:
                take_statistics(buf_times, buf_senders, fill, counts, isi)
                if keep or n_rec == rec_cap:
                    return BUFFER_FULL, n_rec, n_proc
                fill = 0
        if n_proc == max_spikes:
            take_statistics(buf_times, buf_senders, fill, counts, isi)
            return PAUSED, n_rec, n_proc
