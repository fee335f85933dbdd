"""simulate(network, ...) -> SpikeRecord: one network on the CPU backend, an ensemble of one."""
from .. import config
from ..specification.instances import InstanceTable
from ..specification.settings import check_run
from .execute import batch_of, execute
from .record import SpikeRecord


def engine_state(network, key="exp", rebase=True, fan_bits=config.FAN_BITS,
                 buffer_spikes=config.SPIKE_BUFFER):
    """The engine's arrays for ``network`` at t = 0: a Batch of one instance."""
    return batch_of(InstanceTable.of(network), [0], key, buffer_spikes, rebase, fan_bits=fan_bits)


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
    table = InstanceTable.of(network)
    t_end, n_spikes, warmup, key = check_run(t_end, n_spikes, warmup, record, key, network)
    keep = record == "spikes"
    counts, isi, t_stop, spikes, _ = execute(
        table, t_end, n_spikes, warmup, key, keep, backend="cpu", progress=progress,
        buffer_spikes=config.SPIKE_BUFFER if keep else config.SUMMARY_BUFFER, rebase=rebase,
        parallel=False)
    times, senders = spikes[0]
    return SpikeRecord(
        times=times, senders=senders, counts=counts[0], isi_sum=isi[0, :, 1].copy(),
        isi_sumsq=isi[0, :, 2].copy(), t_start=warmup, t_stop=float(t_stop[0]),
        meta={**network.describe(), "key": key, "record": record, "backend": "cpu"})
