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
    t_stop = np.full(size, t_end)
    spikes = []
    seconds = 0.0
    finals = []
    for start in range(0, size, batch_size):
        members = np.arange(start, min(start + batch_size, size))
        batch = batch_of(table, members, key, buffer_spikes, rebase)
        if carried is not None:
            batch.carry_on(**{name: values[members] for name, values in carried.items()})
        found, reached_end, took = run_launches(runner(backend, batch, parallel), t_end,
                                                n_spikes[members], warmup, keep, progress)
        seconds += took
        finals.append(batch.carried())       # this batch's own arrays: joined below, once
        for row, m in enumerate(members):
            t_stop[m] = stop_time(reached_end[row], t_end, found[row][0], batch.isi[row, :, 0],
                                  keep)
        spikes.extend(found)
    final = {name: _joined([part[name] for part in finals], n_max if name in PER_NEURON else 0,
                           np.nan if name == "keys" else 0)
             for name in finals[0]}
    final["counts"] = final["counts"].astype(np.int64)
    return Executed(final["counts"], final["isi"], t_stop, spikes, seconds, final)


PER_NEURON = ("keys", "counts", "isi")
"""The carried arrays padded to the largest n (the others to their widest batch's width:
``refractory_end`` and ``past_key`` have one element per instance where no instance has a
refractory period, or excitation)."""


def _joined(parts, width, fill):
    """The batches' (m, w, ...) arrays one after another as (M, W, ...), each padded with
    ``fill`` to ``W = max(width, widest w)``."""
    if parts[0].ndim < 2:
        return np.concatenate(parts)
    wide = max([width] + [p.shape[1] for p in parts])
    out = np.full((sum(p.shape[0] for p in parts), wide) + parts[0].shape[2:], fill,
                  parts[0].dtype)
    at = 0
    for p in parts:
        out[at:at + p.shape[0], :p.shape[1]] = p
        at += p.shape[0]
    return out
