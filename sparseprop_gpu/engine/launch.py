"""The launch loop shared by ``simulate`` and ``run_ensemble``.

Launch the unfinished instances, drain the spikes they recorded, repeat: memory
stays bounded for any run length, and a result never depends on how the run was
cut into launches.
"""
import math
import time

import numpy as np

from .. import config
from ..kernels import engine, populations as kp
from ..specification.settings import UNLIMITED


def run_launches(runner, t_end, n_spikes, warmup, keep, progress=False,
                 first_launch=config.FIRST_LAUNCH):
    """Run every instance of ``runner.batch`` to ``t_end`` or ``n_spikes`` recorded spikes,
    and leave the final state in the batch's host arrays.

    Parameters
    ----------
    runner : CpuRunner or CudaRunner
    t_end, warmup : float
        End time and start of recording (s).
    n_spikes : int or ndarray (M,) of int
        Spikes to record per instance (``UNLIMITED`` for no limit).
    keep : bool
        Collect the recorded spikes (else only the statistics are kept).
    progress : bool
        Show a progress bar when the run looks long.
    first_launch : int
        Network spikes per instance in the first launch (later ones aim at
        ``config.LAUNCH_SECONDS``).

    Returns
    -------
    spikes : list of (times, senders) per instance, empty arrays unless ``keep``
    reached_end : ndarray of bool
        True where the instance stopped at ``t_end`` (else after ``n_spikes``).
    seconds : float
        Wall time spent in the launches (s): the engine's compute, without the host's work.
    """
    size = runner.batch.size
    n_spikes = np.broadcast_to(np.asarray(n_spikes, np.int64), (size,))
    recorded = np.zeros(size, np.int64)
    pieces = [[] for _ in range(size)]
    reached_end = np.zeros(size, bool)
    active = np.arange(size, dtype=np.int64)
    chunk = first_launch
    bar = Progress(enabled=progress)
    seconds = 0.0
    while active.size:
        runner.set_rec_cap(active, n_spikes[active] - recorded[active])
        tick = time.perf_counter()
        runner.advance(active, t_end=t_end, warmup=warmup, keep=keep, max_spikes=chunk)
        status, n_rec = runner.outcome(active)        # waits for the launch to end
        took = time.perf_counter() - tick
        seconds += took
        if np.any(status == engine.OUT_OF_TABLE):
            m = int(active[np.argmax(status == engine.OUT_OF_TABLE)])
            raise ValueError(f"instance {m}: an input took a neuron below the model's table "
                             "(v_min); give the model a lower v_min (or tail='leak' if F(V) = -V "
                             "there)")
        if np.any(status == engine.CASCADE):
            m = int(active[np.argmax(status == engine.CASCADE)])
            raise ValueError(f"instance {m}: a zero-delay cascade that does not end: more than "
                             f"n = {runner.batch.n[m]} spikes at "
                             f"t = {float(runner.sync().time(m))!r} "
                             "s; add a refractory period (t_ref > 0) or a delay")
        if np.any(status == kp.DELAY_FULL):
            m = int(active[np.argmax(status == kp.DELAY_FULL)])
            batch = runner.sync()
            ring = batch.fifo_ring[m]
            full = int(np.argmax((ring[:, kp.R_COUNT] == ring[:, kp.R_CAPACITY])
                                 & (ring[:, kp.R_CAPACITY] > 0)))
            names = batch.population_names[m]
            raise ValueError(f"instance {m}: at t = {float(batch.time(m))!r} s more spikes of one "
                             f"population were in flight in block {names[full // batch.pops[m]]}"
                             f" -> {names[full % batch.pops[m]]} than its "
                             f"{int(ring[full, kp.R_CAPACITY])} slots, sized for a rate of "
                             "max_rate per neuron: give the network a larger max_rate (Hz)")
        if keep:
            for m, count in zip(active[n_rec > 0], n_rec[n_rec > 0]):
                pieces[m].append(runner.spikes(m, count))
        recorded[active] += n_rec
        ended = status == engine.REACHED_T_END
        reached_end[active[ended]] = True
        active = active[~ended & (recorded[active] < n_spikes[active])]
        if active.size:
            bar.update(_fraction_done(runner, active, recorded, t_end, n_spikes))
            chunk = int(np.clip(chunk * config.LAUNCH_SECONDS / max(took, 1e-6), 1000, 1 << 26))
    bar.close()
    runner.sync()
    spikes = [_join(p) for p in pieces]
    return spikes, reached_end, seconds


def _fraction_done(runner, active, recorded, t_end, n_spikes):
    """How much of the run is done, 0 to 1: by model time or spikes for one instance, by
    finished instances for many."""
    size = runner.batch.size
    if size == 1 and math.isfinite(t_end):
        return runner.sync().time(0) / t_end
    if size == 1 and n_spikes[0] < UNLIMITED:
        return recorded[0] / n_spikes[0]
    return 1.0 - active.size / size


def _join(pieces):
    if not pieces:
        return np.empty(0), np.empty(0, np.int32)
    return np.concatenate([t for t, _ in pieces]), np.concatenate([s for _, s in pieces])


class Progress:
    """A tqdm bar over the fraction of a run done, shown once the run looks long.

    Parameters
    ----------
    enabled : bool
        False: never show anything.
    """

    def __init__(self, enabled=True):
        self.enabled = enabled
        self.started = time.perf_counter()
        self.bar = None

    def update(self, done):
        """Report the fraction ``done`` (0 to 1) of the run."""
        if not self.enabled:
            return
        done = min(max(done, 0.0), 1.0)
        if self.bar is None:
            spent = time.perf_counter() - self.started
            if done <= 0 or spent / done < config.PROGRESS_AFTER:
                return
            from tqdm import tqdm
            self.bar = tqdm(total=1000, desc="simulating",
                            bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        self.bar.update(int(1000 * done) - self.bar.n)

    def close(self):
        """Fill and close the bar, if one is shown."""
        if self.bar is not None:
            self.bar.update(1000 - self.bar.n)
            self.bar.close()
