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
t_last : float64[n], time of each neuron's last such spike (s)
isi_sum, isi_sumsq : float64[n], sums of inter-spike intervals (s) and their squares
"""
from numba.extending import register_jitable

from .connectivity import draw_targets
from .models import (constants, elapsed, key_after_input, key_after_reset, rebase_step,
                     shift_of, P_REBASE_AT)
from .pqueue import pq_argmin, pq_rebase, pq_update

ON_THE_FLY = 0
STORED = 1

REACHED_T_END = 0
BUFFER_FULL = 1
PAUSED = 2


@register_jitable
def add_compensated(clock, dt):
    """clock[0] + clock[1] += dt, with Neumaier's compensation."""
    s = clock[0] + dt
    if abs(clock[0]) >= abs(dt):
        clock[1] += (clock[0] - s) + dt
    else:
        clock[1] += (dt - s) + clock[0]
    clock[0] = s


@register_jitable
def advance(model, key_kind, par, heap, geom, n, k,
            conn_mode, seed, table, bitmap, targets, gathered,
            clock, t_end, warmup,
            counts, t_last, isi_sum, isi_sumsq,
            store, out_times, out_senders, rec_cap, max_spikes):
    """Process network spikes until a stop condition; see the module docstring.

    Parameters
    ----------
    model, key_kind : int
        ``kernels.models`` model and key representation.
    par : float64[N_PAR]
        Model constants (``kernels.models.P_*``).
    heap, geom : the priority queue and its geometry.
    n, k : int
        Neurons and out-degree.
    conn_mode : int
        ``ON_THE_FLY`` (targets from ``seed``) or ``STORED`` (rows of ``table``).
    seed : int
        Network seed for on-the-fly targets.
    table : int32[n, k]
        Stored targets (any shape when on the fly).
    bitmap : uint64[ceil(n / 64)], zero; targets : int32[k]
        Scratch for on-the-fly targets.
    gathered : float64[k]
        Scratch for the targets' keys, loaded before any is updated.
    clock : float64[2]
        Time origin (s), updated by rebasing.
    t_end, warmup : float
        Stop before the first spike after ``t_end``; record spikes at
        ``t >= warmup`` only (s).
    store : bool
        Write recorded spikes to ``out_times``/``out_senders``.
    rec_cap, max_spikes : int
        Stop after recording ``rec_cap`` or processing ``max_spikes`` spikes.

    Returns
    -------
    status : int
        ``REACHED_T_END``, ``BUFFER_FULL`` or ``PAUSED``.
    n_recorded, n_processed : int
    """
    root = heap.shape[0] - 1
    mp = constants(par)
    rebase_at = mp[P_REBASE_AT]
    n_rec = 0
    n_proc = 0
    while True:
        j = pq_argmin(heap, geom)
        shift = shift_of(key_kind, heap[j], mp)
        t = clock[0] + (clock[1] + elapsed(key_kind, shift, mp))
        if t > t_end:
            return REACHED_T_END, n_rec, n_proc

        if conn_mode == STORED:
            row = table[j]
        else:
            draw_targets(seed, j, n, k, bitmap, targets)
            row = targets
        for c in range(k):              # independent loads first: they overlap in memory
            gathered[c] = heap[row[c]]
        for c in range(k):
            pq_update(heap, geom, row[c],
                      key_after_input(model, key_kind, gathered[c], shift, mp))
        pq_update(heap, geom, j, key_after_reset(key_kind, shift, mp))

        if t >= warmup:
            seen = counts[j]
            if seen > 0:
                isi = t - t_last[j]
                isi_sum[j] += isi
                isi_sumsq[j] += isi * isi
            counts[j] = seen + 1
            t_last[j] = t
            if store:
                out_times[n_rec] = t
                out_senders[n_rec] = j
            n_rec += 1

        if heap[root] > rebase_at:
            dt, key_shift, factor = rebase_step(key_kind, heap[root], mp)
            pq_rebase(heap, key_shift, factor)
            add_compensated(clock, dt)

        n_proc += 1
        if n_rec == rec_cap:
            return BUFFER_FULL, n_rec, n_proc
        if n_proc == max_spikes:
            return PAUSED, n_rec, n_proc
