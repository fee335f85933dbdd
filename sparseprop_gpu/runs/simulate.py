"""simulate(network, ...) -> SpikeRecord: one network on the CPU backend."""
import math

import numpy as np

from .. import validate
from ..engine.cpu import CpuRunner
from ..engine.batch import FAN_BITS, SUMMARY_BUFFER, Batch
from ..engine.launch import UNLIMITED, drive
from ..kernels import models as km
from .record import SpikeRecord

RECORD = ("spikes", "summary")
KEYS = ("auto", "exp", "phase", "time")
SPIKE_BUFFER = 1 << 18    # spikes drained per launch when the record is kept
REBASE_PERIODS = 16       # time key: rebase after this many of the slowest neuron's free periods


def check_run(t_end, n_spikes, warmup, record, key, network):
    """Validate the run settings; returns (t_end, n_spikes, warmup, key)."""
    if t_end is None and n_spikes is None:
        raise ValueError("give t_end (s) or n_spikes (or both) to say when to stop")
    t_end = math.inf if t_end is None else validate.real("t_end (s)", t_end, 0.0, math.inf,
                                                         low_open=True)
    n_spikes = UNLIMITED if n_spikes is None else validate.integer("n_spikes", n_spikes, 1,
                                                                   UNLIMITED)
    warmup = validate.real("warmup (s)", warmup, 0.0, math.inf)
    if warmup >= t_end:
        raise ValueError(f"warmup must be in [0, t_end) = [0, {t_end:g}); got {warmup:g}")
    validate.choice("record", record, RECORD)
    validate.choice("key", key, KEYS)
    model = network.model
    exp_possible = model.exp_key and not isinstance(network.tau, np.ndarray)
    if key == "auto":
        key = "exp" if exp_possible else "time" if network.heterogeneous else "phase"
    elif network.heterogeneous and not (key == "time" or key == "exp" and exp_possible):
        raise ValueError("key must be 'time', 'auto' (or 'exp' for LIF with one tau) for a "
                         "network of heterogeneous neurons")
    elif key == "exp" and not model.exp_key:
        raise ValueError(f"key must be 'phase' or 'auto' for the {model.name} model "
                         "(the exponential key exists for LIF only)")
    return t_end, n_spikes, warmup, key


def key_kind_of(key, network):
    """``kernels.models`` key constant of a resolved key name for ``network``."""
    if key == "exp" and network.heterogeneous:
        return km.KEY_EXP_TIME
    return {"exp": km.KEY_EXP, "phase": km.KEY_PHASE, "time": km.KEY_TIME}[key]


def instance_params(network, key, rebase=True):
    """(par, neuron) of one network for the engine: shared and per-neuron constants."""
    model = network.model
    if not network.heterogeneous:
        return model.kernel_params(network.drive, network.coupling, key=key, rebase=rebase), None
    if key == "exp":
        par = model.kernel_params(float(network.drive[0]), network.coupling, key=key,
                                  rebase=rebase)
        return par, model.exp_neuron_params(network.drive, network.coupling)
    neuron = network.neuron_params()
    span = model.phase_threshold - model.phase_reset
    rebase_at = REBASE_PERIODS * span * float(neuron[:, km.N_TPP].max())
    par = model.kernel_params(float(np.broadcast_to(network.drive, (network.n,))[0]),
                              network.coupling, key=key, rebase=rebase, rebase_at=rebase_at)
    return par, neuron


def instance_table(network):
    """The engine's table of ``network`` (``kernels.tables``): a TABLE model's, else None."""
    if network.model.kernel_id != km.TABLE:
        return None
    return network.model.tables(network.drive, network.coupling)[0]


def engine_state(network, key="exp", rebase=True, fan_bits=FAN_BITS, buffer_spikes=SPIKE_BUFFER):
    """The engine's arrays for ``network`` at t = 0: a Batch of one instance."""
    par, neuron = instance_params(network, key, rebase)
    table = network.target_table() if network.connectivity == "stored" else None
    return Batch(network.model.kernel_id, key_kind_of(key, network), par[None, :],
                 [network.initial_phases], [network.k], [network.seed], table,
                 buffer_spikes=buffer_spikes, fan_bits=fan_bits,
                 neurons=None if neuron is None else [neuron],
                 tabs=None if network.model.kernel_id != km.TABLE else [instance_table(network)])


def simulate(network, t_end=None, n_spikes=None, warmup=0.0, record="spikes", key="auto",
             progress=False, rebase=True):
    """Simulate ``network`` exactly, event by event, with SparseProp.

    Parameters
    ----------
    network : Network
    t_end : float, optional
        Stop before the first spike after ``t_end`` (s).
    n_spikes : int, optional
        Stop after recording this many spikes (those at ``t >= warmup``).
    warmup : float
        Discard spikes before this time (s) from the record and the statistics.
    record : {"spikes", "summary"}
        Keep every spike, or only per-neuron counts and ISI moments (any run length
        in O(n) memory).
    key : {"auto", "exp", "phase", "time"}
        Priority-queue key: "exp" (LIF only, the default for LIF) turns each input
        into one addition; "phase" works for every model; "time" (next spike times,
        the default for heterogeneous neurons) for per-neuron drive and tau.
    progress : bool
        Show a progress bar when the run is predicted to take more than 2 s.
    rebase : bool
        Rebase the global shift (keep True; False exists to show why).

    Returns
    -------
    SpikeRecord
    """
    t_end, n_spikes, warmup, key = check_run(t_end, n_spikes, warmup, record, key, network)
    keep = record == "spikes"
    batch = engine_state(network, key=key, rebase=rebase,
                         buffer_spikes=SPIKE_BUFFER if keep else SUMMARY_BUFFER)
    spikes, reached_end = drive(CpuRunner(batch, parallel=False), t_end, n_spikes, warmup,
                                keep, progress)
    times, senders = spikes[0]
    isi = batch.isi[0]
    if reached_end[0]:
        t_stop = t_end
    else:
        t_stop = float(times[-1]) if keep else float(isi[:, 0].max())
    return SpikeRecord(
        times=times, senders=senders, counts=batch.counts[0].astype(np.int64),
        isi_sum=isi[:, 1].copy(), isi_sumsq=isi[:, 2].copy(), t_start=warmup, t_stop=t_stop,
        meta={**network.describe(), "key": key, "record": record, "backend": "cpu"})
