"""simulate(network, ...) -> SpikeRecord: one network on the CPU backend, an ensemble of one."""
import math
import os
import time

import numpy as np

from .. import config, validate
from ..specification.instances import table_of
from ..specification.network import Network
from ..specification.populations import PopulationNetwork
from ..specification.settings import UNLIMITED, check_run
from . import continuation, recordio
from .execute import batch_of, execute
from .record import SpikeRecord


def engine_state(network, key="exp", rebase=True, fan_bits=config.FAN_BITS,
                 buffer_spikes=config.SPIKE_BUFFER):
    """The engine's arrays for ``network`` at t = 0: a Batch of one instance."""
    return batch_of(table_of(network), [0], key, buffer_spikes, rebase, fan_bits=fan_bits)


def simulate(network, t_end=None, n_spikes=None, warmup=None, record=None, key="auto",
             progress=False, rebase=True, continue_from=None, checkpoint=None,
             checkpoint_every=config.CHECKPOINT_SECONDS):
    """Simulate ``network`` exactly, event by event, with SparseProp.

    Parameters
    ----------
    network : Network or PopulationNetwork
    t_end : float, optional
        Stop before the first spike after ``t_end`` (s).
    n_spikes : int, optional
        Stop after recording this many spikes (those at ``t >= warmup``).
    warmup : float, default 0
        Discard spikes before this time (s) from the record and the statistics.
    record : {"spikes", "summary"}, default "spikes"
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
    continue_from : SpikeRecord or path, optional
        A record of an earlier run of ``network`` (or its file): go on from where it
        stopped, to ``t_end`` or ``n_spikes`` counted over the whole run. The result is the
        whole run's record, bitwise equal to one run that never stopped. ``warmup``,
        ``record`` and ``key`` are the earlier run's.
    checkpoint : path, optional
        A record file (.zarr or .npz) the run saves itself to as it goes, every
        ``checkpoint_every`` seconds of wall time and at the end. If it already holds a
        record of this network (a run that was killed), the run continues from it.
    checkpoint_every : float
        Seconds of wall time between two checkpoints.

    Returns
    -------
    SpikeRecord
    """
    if not isinstance(network, (Network, PopulationNetwork)):
        raise ValueError(f"network must be a sp.Network or sp.PopulationNetwork; got {network!r}")
    if checkpoint is not None:
        return _checkpointed(network, t_end, n_spikes, warmup, record, key, progress, rebase,
                             continue_from, checkpoint, checkpoint_every)
    previous = _previous(continue_from)
    if previous is not None:
        warmup, record, key = continuation.settings(
            {"t_start": previous.t_start, "meta": previous.meta}, warmup, record, key)
        continuation.check_network(previous.meta, network.describe())
    warmup = 0.0 if warmup is None else warmup
    record = "spikes" if record is None else record
    table = table_of(network)
    t_end, n_spikes, warmup, key = check_run(t_end, n_spikes, warmup, record, key, network)
    carried, to_record = None, n_spikes
    if previous is not None:
        recorded = int(previous.counts.sum())
        continuation.check_stop(previous.t_stop, previous.t_stop == previous.meta.get("t_end"),
                                recorded, t_end, n_spikes)
        to_record = continuation.remaining(n_spikes, recorded)
        s = previous.state
        carried = continuation.carried_state(
            previous.counts[None], previous.isi_sum[None], previous.isi_sumsq[None],
            {name: values[None] for name, values in s.items()})
    keep = record == "spikes"
    run = execute(table, t_end, to_record, warmup, key, keep, backend="cpu", progress=progress,
                  buffer_spikes=config.SPIKE_BUFFER if keep else config.SUMMARY_BUFFER,
                  rebase=rebase, parallel=False, carried=carried)
    times, senders = run.spikes[0]
    if previous is not None and keep:
        times = np.concatenate([previous.times, times])
        senders = np.concatenate([previous.senders, senders])
    return SpikeRecord(
        times=times, senders=senders, counts=run.counts[0], isi_sum=run.isi[0, :, 1].copy(),
        isi_sumsq=run.isi[0, :, 2].copy(), t_start=warmup, t_stop=float(run.t_stop[0]),
        meta={**network.describe(), "key": key, "record": record, "backend": "cpu",
              "t_end": continuation.finite(t_end)},
        state=continuation.final_state(run.carried, 0, network.n))


def _previous(continue_from):
    """The SpikeRecord to continue (loaded from its file if a path), or None."""
    if continue_from is None:
        return None
    record = continue_from if isinstance(continue_from, SpikeRecord) else \
        SpikeRecord.load(continue_from)
    if record.state is None:
        raise ValueError("continue_from: the record holds no final state (written before 0.3); "
                         "run it again to continue it")
    return record


def _checkpointed(network, t_end, n_spikes, warmup, record, key, progress, rebase, previous,
                  path, every):
    """``simulate`` in segments of about ``every`` seconds, each continuing the one before
    and saved to ``path`` (continuing the record found there, if any)."""
    check_run(t_end, n_spikes, 0.0 if warmup is None else warmup,
              "spikes" if record is None else record, key, network)
    every = validate.real("checkpoint_every (s)", every, 0.0, math.inf, low_open=True)
    path = recordio.check_destination(path, overwrite=True)
    if previous is None and os.path.lexists(path):
        previous = path
    previous = _previous(previous)
    limit = UNLIMITED if n_spikes is None else n_spikes
    segment = config.FIRST_SEGMENT
    while True:
        recorded = 0 if previous is None else int(previous.counts.sum())
        if previous is not None and (recorded >= limit or t_end is not None and
                                     previous.t_stop == previous.meta.get("t_end") == t_end):
            return previous                   # the record there is the whole run
        started = time.perf_counter()
        previous = simulate(network, t_end=t_end, n_spikes=min(limit, recorded + segment),
                            warmup=warmup, record=record, key=key, progress=progress,
                            rebase=rebase, continue_from=previous)
        took = time.perf_counter() - started
        previous.save(path, overwrite=True)
        segment = int(np.clip(segment * every / max(took, 1e-3), 1000, UNLIMITED))
