"""The conventional event-based simulator: the oracle of the tests, the baseline of the benchmarks.

Every neuron's phase is stored as it is; at every network spike all ``n`` phases
advance to the spike time and the targets jump through the phase transition
curve: O(n) work per spike. Heterogeneous neurons (per-neuron drive or tau)
advance at their own velocities. It shares no code with ``kernels/`` except the
target table it is given: its own PTCs, its own argmax, its own clock
(a compensated sum of the inter-spike intervals).
"""
import math

import numpy as np
from numba import njit

from .compiled import kernels_digest
from .kernels import lookup as kt
from .runs.record import SpikeRecord
from .runs.simulate import UNLIMITED, check_run

LIF, QIF, TABLE = 0, 1, 2


@njit(cache=True)
def _argmax(phi):
    """Index of the largest phase (the first on ties), as two vectorisable passes."""
    best = -math.inf
    for i in range(phi.shape[0]):
        best = max(best, phi[i])
    for i in range(phi.shape[0]):
        if phi[i] == best:
            return i
    return -1


@njit(cache=True)
def _next_spiker(phi, phi_th, seconds_per_phase):
    """Neuron that reaches threshold first (the first on ties) and its delay (s)."""
    best = math.inf
    first = -1
    for i in range(phi.shape[0]):
        delay = (phi_th - phi[i]) * seconds_per_phase[i]
        if delay < best:
            best = delay
            first = i
    return first, best


def _oracle(digest):
    """The oracle's loop and its PTCs, cached on disk (``digest``: see ``sparseprop_gpu.compiled``)."""
    @njit(cache=True)
    def phase_jump(model, phi, drive, coupling, omega, tab, base):
        digest  # noqa: B018  (captured: puts the kernels digest in the cache key)
        if model == LIF:
            return -omega * math.log(math.exp(-phi / omega) - coupling / drive)
        if model == QIF:
            return 2.0 * math.atan(math.tan(0.5 * phi) + coupling / math.sqrt(drive))
        # table models: the host-side evaluation of the time-to-spike tables (on phases,
        # not on the engine's keys), checked against direct quadrature when built
        return 1.0 - kt.remaining_after_input(tab, base, 1.0 - phi, coupling)

    @njit(cache=True)
    def run(model, drive, coupling, omega, seconds_per_phase, same, phi_reset, phi_th, phi,
            table, tab, base, t_end, warmup, n_spikes, times, senders, counts, t_last, isi_sum,
            isi_sumsq):
        """Conventional loop; ``drive``, ``omega``, ``seconds_per_phase`` and ``base`` (table
        models: where each neuron's table starts in ``tab``) are per neuron; ``same`` says
        all neurons are alike (then the spiker is the largest phase)."""
        n, k = table.shape
        t = 0.0
        t_comp = 0.0
        n_rec = 0
        while n_rec < n_spikes:
            if same:
                j = _argmax(phi)
                dt = (phi_th - phi[j]) * seconds_per_phase[0]
            else:
                j, dt = _next_spiker(phi, phi_th, seconds_per_phase)
            t_new = t + dt                      # Neumaier-compensated clock
            if abs(t) >= abs(dt):
                t_comp += (t - t_new) + dt
            else:
                t_comp += (dt - t_new) + t
            t = t_new
            now = t + t_comp
            if now > t_end:
                break
            if same:
                step = phi_th - phi[j]
                for i in range(n):
                    phi[i] += step
            else:
                for i in range(n):
                    phi[i] += dt / seconds_per_phase[i]
            for c in range(k):
                i = table[j, c]
                phi[i] = phase_jump(model, phi[i], drive[i], coupling, omega[i], tab, base[i])
                if phi[i] != phi[i]:
                    return -1, t + t_comp
            phi[j] = phi_reset
            if now >= warmup:
                if counts[j] > 0:
                    isi = now - t_last[j]
                    isi_sum[j] += isi
                    isi_sumsq[j] += isi * isi
                counts[j] += 1
                t_last[j] = now
                if n_rec < times.shape[0]:
                    times[n_rec] = now
                    senders[n_rec] = j
                n_rec += 1
        return n_rec, t + t_comp

    return phase_jump, run


_phase_jump, _run = _oracle(kernels_digest())


def simulate(network, t_end=None, n_spikes=None, warmup=0.0, record="spikes"):
    """Simulate ``network`` with the conventional O(n)-per-spike algorithm.

    Same parameters as ``sparseprop_gpu.runs.simulate`` (without ``key``);
    ``record="spikes"`` needs ``n_spikes`` (the buffer is allocated up front).

    Returns
    -------
    record : SpikeRecord
    phases : ndarray (n,)
        Every neuron's phase just after the last processed spike.
    """
    t_end, n_spikes, warmup, _ = check_run(t_end, n_spikes, warmup, record, "auto", network)
    if record == "spikes" and n_spikes == UNLIMITED:
        raise ValueError("n_spikes must be given for the reference simulator with record='spikes'")
    model = network.model
    n = network.n
    phi = network.initial_phases.copy()
    size = n_spikes if record == "spikes" else 0
    times, senders = np.empty(size), np.empty(size, np.int32)
    counts = np.zeros(n, np.int64)
    t_last, isi_sum, isi_sumsq = np.zeros(n), np.zeros(n), np.zeros(n)
    model_id = model.kernel_id
    drive = np.broadcast_to(np.asarray(network.drive, float), (n,)).copy()
    tab, base = (model.tables(drive, network.coupling) if model_id == TABLE
                 else (np.zeros(1), np.zeros(n, np.int64)))
    omega = np.asarray(model.omega(drive), float)
    seconds_per_phase = np.broadcast_to(network.tau, (n,)) / omega
    n_rec, _ = _run(model_id, drive, network.coupling, omega, seconds_per_phase,
                    not network.heterogeneous, model.phase_reset, model.phase_threshold, phi,
                    network.target_table(), tab, base, t_end, warmup, n_spikes, times, senders,
                    counts, t_last, isi_sum, isi_sumsq)
    if n_rec < 0:
        raise ValueError("an input took a neuron below the model's table (v_min)")
    t_stop = t_end if n_rec < n_spikes else float(times[n_rec - 1] if size else t_last.max())
    return SpikeRecord(times=times[:n_rec], senders=senders[:n_rec], counts=counts,
                       isi_sum=isi_sum, isi_sumsq=isi_sumsq, t_start=warmup, t_stop=t_stop,
                       meta={**network.describe(), "record": record, "backend": "reference"},
                       ), phi
