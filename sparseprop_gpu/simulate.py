"""simulate(network, ...) -> SpikeRecord: one network on the CPU backend."""
import math
import time

import numpy as np

from . import validate
from .backends.cpu import FAN_BITS, EngineState
from .kernels import engine, models as km
from .record import SpikeRecord

RECORD = ("spikes", "summary")
KEYS = ("auto", "exp", "phase")
UNLIMITED = 2**62
CHUNK_SECONDS = 0.25      # wall time per engine call between progress updates
PROGRESS_AFTER = 2.0      # show a progress bar once a run is predicted to last longer (s)


def check_run(t_end, n_spikes, warmup, record, key, model):
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
    if key == "auto":
        key = "exp" if model.exp_key else "phase"
    elif key == "exp" and not model.exp_key:
        raise ValueError(f"key must be 'phase' or 'auto' for the {model.name} model "
                         "(the exponential key exists for LIF only)")
    return t_end, n_spikes, warmup, key


def engine_state(network, key="exp", rebase=True, fan_bits=FAN_BITS):
    """The engine's arrays for ``network`` at t = 0 (``fan_bits``: log2 of the queue's fan-out)."""
    model = network.model
    par = model.kernel_params(network.drive, network.coupling, key=key, rebase=rebase)
    table = network.target_table() if network.connectivity == "stored" else None
    key_kind = km.KEY_EXP if key == "exp" else km.KEY_PHASE
    return EngineState(model.kernel_id, key_kind, par, network.initial_phases, network.k,
                       network.seed, table, fan_bits=fan_bits)


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
    key : {"auto", "exp", "phase"}
        Priority-queue key: "exp" (LIF only, the default for LIF) turns each input
        into one addition; "phase" works for every model.
    progress : bool
        Show a progress bar when the run is predicted to take more than 2 s.
    rebase : bool
        Rebase the global shift (keep True; False exists to show why).

    Returns
    -------
    SpikeRecord
    """
    t_end, n_spikes, warmup, key = check_run(t_end, n_spikes, warmup, record, key,
                                             network.model)
    state = engine_state(network, key=key, rebase=rebase)
    store = record == "spikes"
    times, senders = [], []
    chunk = max(1000, 10_000_000 // (network.k + 1))
    buffers = (np.empty(chunk), np.empty(chunk, np.int32)) if store else None
    recorded = 0
    bar = Progress(t_end, n_spikes, enabled=progress)
    while True:
        tick = time.perf_counter()
        status, n_rec, n_proc = state.advance(t_end, warmup, n_spikes - recorded, chunk,
                                              out=buffers)
        took = time.perf_counter() - tick
        if store and n_rec:
            times.append(buffers[0][:n_rec].copy())
            senders.append(buffers[1][:n_rec].copy())
        recorded += n_rec
        if status == engine.REACHED_T_END or recorded >= n_spikes:
            break
        bar.update(state.time(), recorded)
        if took > 0:
            chunk = int(np.clip(n_proc * CHUNK_SECONDS / took, 1000, 1 << 26))
            if store and chunk > buffers[0].size:
                buffers = (np.empty(chunk), np.empty(chunk, np.int32))
    bar.close()
    if status == engine.REACHED_T_END:
        t_stop = t_end
    else:
        t_stop = float(times[-1][-1]) if store else float(state.isi[:, 0].max())
    return SpikeRecord(
        times=np.concatenate(times) if times else np.empty(0),
        senders=np.concatenate(senders) if senders else np.empty(0, np.int32),
        counts=state.counts.astype(np.int64), isi_sum=state.isi[:, 1].copy(),
        isi_sumsq=state.isi[:, 2].copy(), t_start=warmup, t_stop=t_stop,
        meta={**network.describe(), "key": key, "record": record, "backend": "cpu"})


class Progress:
    """A tqdm bar over simulated time (or spikes), shown once a run looks long.

    Parameters
    ----------
    t_end : float
        End time (s), possibly inf.
    n_spikes : int
        Spike budget, possibly unlimited.
    enabled : bool
        False: never show anything.
    """

    def __init__(self, t_end, n_spikes, enabled=True):
        self.t_end, self.n_spikes, self.enabled = t_end, n_spikes, enabled
        self.started = time.perf_counter()
        self.bar = None

    def _fraction(self, t, recorded):
        by_time = t / self.t_end if math.isfinite(self.t_end) else 0.0
        by_count = recorded / self.n_spikes if self.n_spikes < UNLIMITED else 0.0
        return min(1.0, max(by_time, by_count))

    def update(self, t, recorded):
        """Report the simulated time ``t`` (s) reached and the spikes recorded."""
        if not self.enabled:
            return
        done = self._fraction(t, recorded)
        if self.bar is None:
            spent = time.perf_counter() - self.started
            if done <= 0 or spent / done < PROGRESS_AFTER:
                return
            from tqdm import tqdm
            self.bar = tqdm(total=1000, unit="‰", desc="simulating",
                            bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        self.bar.update(int(1000 * done) - self.bar.n)

    def close(self):
        """Fill and close the bar, if one is shown."""
        if self.bar is not None:
            self.bar.update(1000 - self.bar.n)
            self.bar.close()
