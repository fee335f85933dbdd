"""Spikes in the layouts of other tools: neo's spike time arrays and the NWB Units table."""
import numpy as np

from .data import spike_data


def to_neo(source, instance=None):
    """Spikes as the arrays of ``neo.SpikeTrainList.from_spike_time_array``.

    Returns a dict with ``spike_time_array`` (s), ``channel_id_array``, ``all_channel_ids``,
    ``t_start``, ``t_stop`` and ``units`` ("s"), so that
    ``neo.core.spiketrainlist.SpikeTrainList.from_spike_time_array(**to_neo(rec))`` builds the
    spike trains (neo is not needed here). For several instances pass ``instance``, or get all
    of them with channel ids numbered instance by instance (``unit = unit_offset[m] + neuron``,
    as in ``to_nwb_units``); then ``t_start``/``t_stop`` are the earliest start and latest stop.
    """
    data = spike_data(source)
    data.need_spikes("to_neo")
    if instance is not None:
        data = data.instance(int(instance))
    unit_offset = np.concatenate([[0], np.cumsum(data.n)])
    ids = unit_offset[data.instance_of_spike()] + data.senders
    return {"spike_time_array": data.times.copy(), "channel_id_array": ids,
            "all_channel_ids": np.arange(unit_offset[-1]),
            "t_start": float(np.nanmin(data.t_start)), "t_stop": float(np.nanmax(data.t_stop)),
            "units": "s"}


def to_nwb_units(source):
    """Spikes in the NWB Units table layout (ragged column ``spike_times``).

    One unit per neuron (silent ones included, with no spikes), instance by instance. Returns a
    dict of arrays: ``id`` (U,), ``spike_times`` (flat, each unit's spikes in time order, unit
    by unit), ``spike_times_index`` (U,) int64, the *end* of each unit's slice (NWB's
    VectorIndex: unit u is ``spike_times[index[u - 1]:index[u]]``, ``index[-1] = 0``),
    ``obs_intervals`` (U, 2) (the window), ``instance`` and ``neuron`` (U,). With pynwb:
    ``nwb.add_unit(spike_times=..., obs_intervals=...)`` per unit, or hand the arrays to
    ``Units.from_dataframe``/hdmf directly.
    """
    data = spike_data(source)
    data.need_spikes("to_nwb_units")
    unit_offset = np.concatenate([[0], np.cumsum(data.n)])
    inst = data.instance_of_spike()
    unit = unit_offset[inst] + data.senders
    order = np.lexsort((data.times, unit))
    total = int(unit_offset[-1])
    index = np.cumsum(np.bincount(unit, minlength=total)).astype(np.int64)
    owner = np.repeat(np.arange(len(data)), data.n)
    return {"id": np.arange(total), "spike_times": data.times[order],
            "spike_times_index": index,
            "obs_intervals": np.stack([data.t_start[owner], data.t_stop[owner]], axis=1),
            "instance": owner, "neuron": np.arange(total) - unit_offset[owner]}


def to_neo_spiketrains(source, instance=None):
    """The spikes as a ``neo`` ``SpikeTrainList`` (one train per neuron, channel ids as
    ``to_neo`` numbers them); the ``neo`` extra."""
    from neo.core.spiketrainlist import SpikeTrainList
    return SpikeTrainList.from_spike_time_array(**to_neo(source, instance))


def write_nwb(source, path, session_description="sparseprop-gpu simulation", identifier=None):
    """Write the spikes as an NWB file's Units table, one unit per neuron with its ``instance``
    and ``neuron`` as columns and its window as ``obs_intervals`` (the ``nwb`` extra, pynwb).

    The file is written beside ``path`` and moved into place only when complete; an existing
    ``path`` is refused (nothing is overwritten). Returns the path.
    """
    import json
    import os
    import uuid
    from datetime import datetime, timezone
    from pathlib import Path

    from pynwb import NWBHDF5IO, NWBFile

    path = Path(path)
    if path.exists():
        raise ValueError(f"path: {path} exists; write_nwb overwrites nothing: give a new path")
    if not path.parent.is_dir():
        raise ValueError(f"path: the folder {str(path.parent)!r} does not exist; create it first")
    units = to_nwb_units(source)
    meta = getattr(source, "meta", None)
    if meta is None and hasattr(source, "sp"):          # a Dataset of an ensemble or sweep
        meta = source.sp.meta
    nwb = NWBFile(session_description=session_description,
                  identifier=identifier or uuid.uuid4().hex,
                  session_start_time=datetime.now(timezone.utc),
                  notes=json.dumps(meta or {}, default=str))
    nwb.add_unit_column("instance", "the instance of the ensemble or sweep")
    nwb.add_unit_column("neuron", "the neuron within its instance")
    start = np.concatenate([[0], units["spike_times_index"][:-1]])
    for u in range(units["id"].size):
        nwb.add_unit(spike_times=units["spike_times"][start[u]:units["spike_times_index"][u]],
                     obs_intervals=units["obs_intervals"][u:u + 1],
                     instance=int(units["instance"][u]), neuron=int(units["neuron"][u]))
    partial = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.partial.nwb")
    try:
        with NWBHDF5IO(str(partial), "w") as io:
            io.write(nwb)
        os.link(partial, path)              # no-clobber: fails if path appeared meanwhile
    finally:
        if partial.exists():
            partial.unlink()
    return path
