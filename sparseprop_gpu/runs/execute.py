"""Run the instances of an InstanceTable on a backend: batches, launches, raw results.

``simulate`` (one instance, on the CPU) and ``run_ensemble`` (many, on any backend) both come
here; they differ only in how they present the result.
"""
from collections import namedtuple

import numpy as np

from .. import validate
from ..engine.batch import Batch
from ..engine.launch import run_launches
from ..options import BACKENDS
from ..specification.settings import key_kind_of
from .record import stop_time


def resolve_backend(backend):
    """The backend a run uses: "cuda" only where a usable GPU (or the simulator) is."""
    validate.choice("backend", backend, BACKENDS)
    if backend == "cpu":
        return "cpu"
    from ..engine import cuda
    usable, message = cuda.status()
    if backend == "cuda" and not usable:
        raise RuntimeError(f"backend 'cuda' is not usable: {message}")
    return "cuda" if usable else "cpu"


def runner(backend, batch, parallel=True):
    """The runner of ``batch`` on ``backend`` ("cpu" or "cuda")."""
    if backend == "cuda":
        from ..engine.cuda import CudaRunner
        return CudaRunner(batch)
    from ..engine.cpu import CpuRunner
    return CpuRunner(batch, parallel=parallel)


def batch_of(table, members, key, buffer_spikes, rebase=True, **batch_options):
    """The engine state of the instances ``members`` of ``table`` at t = 0."""
    return Batch(**table.engine_inputs(np.asarray(members, np.int64), key_kind_of(key, table.base),
                                       rebase), buffer_spikes=buffer_spikes, **batch_options)


Executed = namedtuple("Executed", "counts isi t_stop spikes seconds carried")
Executed.__doc__ = """What ``execute`` gives: counts (M, n_max) int64, isi (M, n_max, 3), t_stop
(M,), the spikes as a list of (times, senders), one per instance (empty arrays unless ``keep``),
the seconds spent in the engine's launches, and the final state (``Batch.carried``'s arrays,
(M, ...) each), from which the runs continue."""


def execute(table, t_end, n_spikes, warmup, key, keep, backend="cpu", batch_size=None,
            buffer_spikes=4096, progress=False, rebase=True, parallel=True, carried=None):
    """Run every instance of ``table`` (from t = 0, or on from the state ``carried``, as
    ``Executed.carried`` gave it) to ``t_end`` (s) or ``n_spikes`` (one for all, or per
    instance) recorded spikes, and return ``Executed``."""
    size = len(table)
    batch_size = size if batch_size is None else batch_size
    n_spikes = np.broadcast_to(np.asarray(n_spikes, np.int64), (size,))
    n_max = int(table.columns["n"].max())
    counts = np.zeros((size, n_max), np.int64)
    isi = np.zeros((size, n_max, 3))
    keys = np.full((size, n_max), np.nan)
    clock = np.zeros((size, 2))
    t_stop = np.full(size, t_end)
    spikes = []
    seconds = 0.0
    for start in range(0, size, batch_size):
        members = np.arange(start, min(start + batch_size, size))
        batch = batch_of(table, members, key, buffer_spikes, rebase)
        if carried is not None:
            batch.carry_on(**{name: values[members] for name, values in carried.items()})
        found, reached_end, took = run_launches(runner(backend, batch, parallel), t_end,
                                                n_spikes[members], warmup, keep, progress)
        seconds += took
        final = batch.carried()
        width = batch.counts.shape[1]
        counts[members, :width] = final["counts"]
        isi[members, :width] = final["isi"]
        keys[members, :width] = final["keys"]
        clock[members] = final["clock"]
        for row, m in enumerate(members):
            t_stop[m] = stop_time(reached_end[row], t_end, found[row][0], batch.isi[row, :, 0],
                                  keep)
        spikes.extend(found)
    return Executed(counts, isi, t_stop, spikes, seconds,
                    {"keys": keys, "clock": clock, "counts": counts, "isi": isi})
