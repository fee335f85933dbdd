"""One network instance's SparseProp event loop.

``advance`` runs until the next spike would come after ``t_end``, until
``rec_cap`` spikes have been recorded, or until ``max_spikes`` network spikes
have been processed, whichever is first, and leaves every piece of state in
its arrays so that the next call continues exactly where this one stopped
(the host drains the spike buffer in between).

State arrays of one instance
----------------------------
heap : float64, the priority queue of keys (``kernels.pqueue``)
clock : float64[2], the time origin (s) as a compensated sum ``clock[0] + clock[1]``
counts : int32[n], spikes per neuron at ``t >= warmup``
isi : float64[n, 3], per neuron: time of the last such spike (s), sum of the
    inter-spike intervals (s) and of their squares (s^2); one row, so a spike
    touches one or two cache lines for its statistics, not three
refractory_end : float64[n], per neuron: the end of its refractory period (s; with
    t_ref > 0 only, one element else)
past_key : float64[n], per neuron: its exact key where inputs took it past threshold at this
    instant (the queue holds the instant's key), +inf else (with excitation only, one
    element else; ``models.hold_past``)
rest_gap : float64[n], per neuron of a quiescent population (networks of populations):
    (I - V) e^(t / tau), its state (``populations.quiescent_inputs``; one element else)
"""
import math

import numpy as np
from numba.extending import register_jitable

from .bookkeeping import (add_compensated, count_burst, take_statistics, BUFFER_FULL, CASCADE,
                          OUT_OF_TABLE, PAUSED, REACHED_T_END)
from .connectivity import draw_targets, ON_THE_FLY, STORED  # noqa: F401 (for the host)
from .models import (below_reset, constants, elapsed, excited_key, hold_past, key_after_input,
                     key_after_reset, rebase_step, shift_of, KEY_EXP_TIME, KEY_TIME, N_EXP_KICK,
                     N_EXP_RESET, N_KICK, N_OMEGA, N_LOOKUP_BASE, N_TPP, P_KICK, P_OMEGA,
                     P_REBASE_AT, P_T_REF, SATURATED)
from .populations import advance_blocked
from .pqueue import pq_argmin, pq_rebase, pq_root, pq_set_in_group, pq_update
from .lookup import input_map, mapped_remaining, remaining_by_lookups



@register_jitable
def reset_factor(key_kind, neuron, i):
    """``tpp`` of ``key_after_reset`` and ``below_reset`` for neuron ``i``."""
    if key_kind == KEY_TIME:
        return neuron[np.uint64(i), N_TPP]
    if key_kind == KEY_EXP_TIME:
        return neuron[np.uint64(i), N_EXP_RESET]
    return 1.0


@register_jitable
def ignores_input(key_kind, key, shift, mp, neuron, i, t, refractory_end):
    """Whether neuron ``i`` (key ``key``) is refractory at this input (time ``t``, shift
    ``shift``): its phase is below reset (one comparison, false for most neurons) and its
    refractory period has not ended; below reset after it, inhibition took it there."""
    return below_reset(key_kind, key, shift, mp, reset_factor(key_kind, neuron, i)) and \
        t < refractory_end[np.uint64(i)]


@register_jitable
def tabulated_inputs(lookup, lookup_base, heap, geom, level1, bits, row, gathered, k, key_kind,
                     neuron, shift, key_min, mp, refractory, t, refractory_end, past_key):
    """Deliver one input to each of the ``k`` targets of a ``TABLE`` model's spike.

    Every neuron takes the same voltage jump ``kick`` = J. With the phase key all
    neurons read the instance's lookup table at ``lookup_base``; with the time key each
    reads the one ``N_LOOKUP_BASE`` after it (its drive's). Refractory targets are skipped as
    in ``advance``; an input to or past V_spike saturates its target (``SATURATED``, held in
    ``past_key``), which takes no more inputs. Returns False, leaving the queue invalid,
    when an input leaves a lookup table without a tail.
    """
    kick = mp[P_KICK]
    excite = kick > 0.0
    imap = input_map(lookup, lookup_base, kick)
    for c in range(k):
        i = row[c]
        queued = gathered[c]
        if refractory and ignores_input(key_kind, queued, shift, mp, neuron, i, t,
                                        refractory_end):
            continue
        before = queued
        if excite and queued == key_min:             # its exact key, if past threshold
            before = min(queued, past_key[np.uint64(i)])
            if before == SATURATED:
                continue
        if key_kind == KEY_TIME:                     # remaining phase, as in key_after_input
            own = np.uint64(i)
            base = lookup_base + np.int64(neuron[own, N_LOOKUP_BASE])
            tpp = neuron[own, N_TPP]
            rem = (before - shift) / tpp
            after = mapped_remaining(lookup, input_map(lookup, base, kick), rem)
        else:
            base = lookup_base
            tpp = 1.0
            rem = before - shift
            after = mapped_remaining(lookup, imap, rem)
        if after < 0.0:
            after = remaining_by_lookups(lookup, base, rem, kick)
            if after != after:
                return False
        after = shift + after * tpp
        if excite:
            after, past = hold_past(before, SATURATED if after <= shift else after, key_min)
            if past == past:
                past_key[np.uint64(i)] = past
        if not pq_set_in_group(heap, level1, bits, i, queued, after):
            pq_update(heap, geom, i, after)
    return True


@register_jitable
def weighted_inputs(model, key_kind, mp, heap, geom, level1, bits, row, gathered, k, kicks, j,
                    neuron, shift, key_min, refractory, excite, t, refractory_end, past_key):
    """Deliver one input to each of the ``k`` targets of ``j``'s spike in a weighted network
    (closed-form model, phase or exp key): the c-th input's kick is ``kicks[j, c]``. Refractory
    targets are skipped and inputs past threshold held as in ``advance``. Its own loop, like
    ``tabulated_inputs``: a kick chosen per input inside ``advance``'s loop cost 5-10 % where
    no network has weights (docs/design.md §5.23)."""
    for c in range(k):
        i = row[c]
        queued = gathered[c]
        if refractory and ignores_input(key_kind, queued, shift, mp, neuron, i, t,
                                        refractory_end):
            continue
        before = queued
        if excite and queued == key_min:             # its exact key, if past threshold
            before = min(queued, past_key[np.uint64(i)])
        kick = kicks[np.uint64(j), np.uint64(c)]
        after = key_after_input(model, key_kind, before, shift, mp, mp[P_OMEGA], kick, 1.0)
        if excite:
            after = excited_key(model, key_kind, before, after, shift, mp[P_OMEGA], kick, 1.0)
            after, past = hold_past(before, after, key_min)
            if past == past:
                past_key[np.uint64(i)] = past
        if not pq_set_in_group(heap, level1, bits, i, queued, after):
            pq_update(heap, geom, i, after)


@register_jitable
def advance(tabulated, featured, model, key_kind, par, neuron, lookup, lookup_base, heap, geom, n,
            k, conn_mode, seed, target_table, kicks, bitmap, drawn, candidates, gathered,
            clock, t_end, warmup, counts, isi, refractory_end, past_key,
            keep, buf_times, buf_senders, rec_cap, max_spikes):
    """Process network spikes until a stop condition; see the module docstring.

    Parameters
    ----------
    tabulated : bool
        ``model == TABLE``. Passed apart, as a compile-time constant where it can be,
        so that the closed-form models' code carries no lookup code.
    featured : bool
        Some instance of the batch has a refractory period or excitatory coupling; a
        compile-time constant like ``tabulated``, so that without them the loop is the
        one before they existed.
    model, key_kind : int
        ``kernels.models`` model and key representation.
    par : float64[N_PAR]
        Model constants (``kernels.models.P_*``).
    neuron : float64[n, N_NEURON]
        Per-neuron constants (``kernels.models.N_*``) for the time key; any shape else.
    lookup : float64[L]
        The ``TABLE`` models' lookup tables (``kernels.lookup``), shared by a batch; any
        length for the others.
    lookup_base : int
        Where this instance's lookup table starts in ``lookup``.
    heap, geom : the priority queue and its geometry.
    n, k : int
        Neurons and out-degree.
    conn_mode : int
        ``ON_THE_FLY`` (targets drawn from ``seed``) or ``STORED`` (rows of ``target_table``).
    seed : int
        Network seed for on-the-fly targets.
    target_table : int32[n, k]
        Stored targets (any shape when on the fly).
    kicks : float64[n, k]
        A weighted network's kick per connection (``P_KICK``'s terms, row j the kicks of
        ``target_table[j]``; the phase and exp keys, in the ``featured`` loop); (1, 1) else.
    bitmap : uint64[ceil(n / 64)], zero; drawn : int32[k]; candidates : int64[even >= 2]
        Scratch for the targets drawn on the fly (``connectivity.draw_targets``).
    gathered : float64[k]
        Scratch for the targets' keys, loaded before any is updated.
    clock : float64[2]
        Time origin (s), updated by rebasing.
    t_end, warmup : float
        Stop before the first spike after ``t_end``; record spikes at
        ``t >= warmup`` only (s).
    refractory_end : float64[n] (t_ref > 0; any length else)
        When each neuron's refractory period ends (s; 0 at the start).
    past_key : float64[n] (J > 0; any length else)
        Exact keys of the neurons past threshold (+inf at the start; the module docstring).
    keep : bool
        True: ``buf_times``/``buf_senders`` receive every recorded spike of this
        call, which stops when they are full. False: they are scratch, reused
        once their spikes are in the statistics.
    buf_times : float64[B]; buf_senders : int32[B], B >= 1
    rec_cap, max_spikes : int
        Stop after recording ``rec_cap`` or processing ``max_spikes`` spikes.

    Returns
    -------
    status : int
        ``REACHED_T_END``, ``BUFFER_FULL`` (buffer or ``rec_cap``), ``PAUSED``, or
        ``OUT_OF_TABLE`` (an input took a ``TABLE`` neuron below its lookup table) or
        ``CASCADE`` (more than ``n`` spikes at one instant); after these two the state is
        half updated and must be discarded.
    n_recorded, n_processed : int
    """
    root = pq_root(geom)
    mp = constants(par)
    rebase_at = mp[P_REBASE_AT]
    level1 = geom[3]
    bits = geom[1]
    refractory = featured and mp[P_T_REF] > 0.0
    excite = featured and mp[P_KICK] > 0.0            # a weighted network's largest kick
    weighted = featured and not tabulated and kicks.shape[0] > 1     # closed forms only
    n_rec = 0
    n_proc = 0
    fill = 0
    t_last = math.nan
    burst = 0
    while True:
        j = pq_argmin(heap, geom)
        key_min = heap[j]
        shift = shift_of(key_kind, key_min, mp)
        t = clock[0] + (clock[1] + elapsed(key_kind, shift, mp))
        if t > t_end:
            take_statistics(buf_times, buf_senders, fill, counts, isi)
            return REACHED_T_END, n_rec, n_proc
        if excite:                      # spikes at one instant: bounded (docs/design.md §2.13)
            t_last, burst = count_burst(t, t_last, burst)
            if burst > n:
                return CASCADE, n_rec, n_proc

        if conn_mode == STORED:
            row = target_table[j]
        else:
            draw_targets(seed, j, n, k, bitmap, drawn, candidates)
            row = drawn
        for c in range(k):              # independent loads first: they overlap in memory
            gathered[c] = heap[np.uint64(row[c])]
        if tabulated:                   # its own loop: the closed forms' stays as lean
            if not tabulated_inputs(lookup, lookup_base, heap, geom, level1, bits, row, gathered,
                                    k, key_kind, neuron, shift, key_min, mp, refractory, t,
                                    refractory_end, past_key):
                return OUT_OF_TABLE, n_rec, n_proc
        if weighted:                    # its own loop too
            weighted_inputs(model, key_kind, mp, heap, geom, level1, bits, row, gathered, k,
                            kicks, j, neuron, shift, key_min, refractory, excite, t,
                            refractory_end, past_key)
        for c in range(0 if tabulated or weighted else k):
            i = row[c]
            queued = gathered[c]
            if refractory and ignores_input(key_kind, queued, shift, mp, neuron, i, t,
                                            refractory_end):
                continue
            before = queued
            if excite and queued == key_min:         # its exact key, if past threshold
                before = min(queued, past_key[np.uint64(i)])
            if key_kind == KEY_TIME:
                own = np.uint64(i)
                after = key_after_input(model, key_kind, before, shift, mp, neuron[own, N_OMEGA],
                                        neuron[own, N_KICK], neuron[own, N_TPP])
            elif key_kind == KEY_EXP_TIME:
                after = key_after_input(model, key_kind, before, shift, mp, 0.0,
                                        neuron[np.uint64(i), N_EXP_KICK], 1.0)
            else:
                after = key_after_input(model, key_kind, before, shift, mp, mp[P_OMEGA],
                                        mp[P_KICK], 1.0)
            if excite:
                if key_kind == KEY_TIME:             # LIF past threshold on the phase and time keys
                    own = np.uint64(i)
                    after = excited_key(model, key_kind, before, after, shift, neuron[own, N_OMEGA],
                                        neuron[own, N_KICK], neuron[own, N_TPP])
                else:
                    after = excited_key(model, key_kind, before, after, shift, mp[P_OMEGA],
                                        mp[P_KICK], 1.0)
                after, past = hold_past(before, after, key_min)
                if past == past:
                    past_key[np.uint64(i)] = past
            if not pq_set_in_group(heap, level1, bits, i, queued, after):
                pq_update(heap, geom, i, after)
        pq_update(heap, geom, j, key_after_reset(key_kind, shift, mp,
                                                 reset_factor(key_kind, neuron, j)))
        if refractory:
            refractory_end[np.uint64(j)] = t + mp[P_T_REF]
        if excite:
            past_key[np.uint64(j)] = math.inf

        if heap[root] > rebase_at:
            dt, key_shift, factor = rebase_step(key_kind, heap[root], mp)
            pq_rebase(heap, geom, key_shift, factor)
            if excite:
                for i in range(n):
                    past_key[i] = (past_key[i] - key_shift) * factor
            add_compensated(clock, dt)

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


@register_jitable
def advance_instance(m, tabulated, featured, blocked, model, key_kind, conn_mode, target_table,
                     kicks, lookup, synapses, segments, par, neuron, lookup_base, heap, geom, n, k, seed,
                     pops, pop_start, pop_par, block_par, block_k, block_lookup, segment_base,
                     bitmap, drawn, candidates, gathered, clock, counts, isi, refractory_end,
                     past_key, rest_gap, fifo_key, fifo_sender, fifo_serial, fifo_ring, emitted,
                     noise_seed, ext_time, ext_key, ext_target, ext_count, stim_time, stim_target,
                     stim_kick, stim_next, stim_key, buf_times, buf_senders, rec_cap, status,
                     n_rec, n_proc, t_end, warmup, keep, max_spikes):
    """``advance`` instance ``m`` of a batch: row ``m`` of every per-instance array; with
    ``blocked`` (a compile-time constant, like ``tabulated`` and ``featured``) a network of
    populations, through ``populations.advance_blocked``.

    The parameters after ``blocked`` are the engine's interface, declared once (name,
    dtype, shape, role) in ``sparseprop_gpu.engine.layout.ARGUMENTS``, in this order:
    batch constants, arrays shared by the batch, per-instance arrays (one row per
    instance), and the launch's scalars. The outcome goes to ``status[m]``, ``n_rec[m]``
    and ``n_proc[m]``.
    """
    if blocked:
        s, r, p = advance_blocked(tabulated, featured, model, key_kind, par[m], heap[m], geom[m],
                                  n[m],
                                  pops[m], pop_start[m], pop_par[m], block_par[m], block_k[m],
                                  lookup, block_lookup[m], conn_mode, seed[m], synapses,
                                  segments, segment_base[m], bitmap[m],
                                  drawn[m], candidates[m], gathered[m], clock[m], t_end, warmup,
                                  counts[m], isi[m], refractory_end[m], past_key[m], rest_gap[m],
                                  fifo_key[m],
                                  fifo_sender[m], fifo_serial[m], fifo_ring[m], emitted[m],
                                  noise_seed[m], ext_time[m], ext_key[m], ext_target[m],
                                  ext_count[m],
                                  stim_time[m], stim_target[m], stim_kick[m], stim_next[m],
                                  stim_key[m], keep, buf_times[m], buf_senders[m], rec_cap[m],
                                  max_spikes)
    else:
        s, r, p = advance(tabulated, featured, model, key_kind, par[m], neuron[m], lookup,
                          lookup_base[m], heap[m], geom[m], n[m], k[m], conn_mode, seed[m],
                          target_table, kicks, bitmap[m], drawn[m], candidates[m], gathered[m],
                          clock[m], t_end, warmup, counts[m], isi[m], refractory_end[m],
                          past_key[m], keep,
                          buf_times[m], buf_senders[m], rec_cap[m], max_spikes)
    status[m] = s
    n_rec[m] = r
    n_proc[m] = p
