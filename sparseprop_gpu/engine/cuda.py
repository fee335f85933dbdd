"""CUDA backend: one network instance per CUDA thread, the same ``kernels/`` code.

Needs the ``cuda`` extra (``pip install "sparseprop-gpu[cuda]"``: numba-cuda with its
CUDA 12 wheels, and cupy). Device arrays are cupy arrays on a real GPU and
numba's own under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), where the
kernel runs in Python threads: tiny sizes only, for the tests.
"""
import importlib.util
import math

import numpy as np

from .batch import OUTCOME, OUTPUT, SCRATCH, STATE
from ..kernels import engine, models as km

THREADS_PER_BLOCK = 64
INSTALL = 'pip install "sparseprop-gpu[cuda]"'


try:
    from numba import config, cuda
except Exception as exc:   # numba-cuda missing or broken: say so when asked
    cuda = None
    IMPORT_ERROR = exc


def status():
    """(usable, message): whether a CUDA device (or the simulator) can run the kernel."""
    if cuda is None:
        return False, f"numba.cuda cannot be imported ({IMPORT_ERROR}); install it with {INSTALL}"
    if config.ENABLE_CUDASIM:
        return True, "the CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
    if importlib.util.find_spec("numba_cuda") is None:
        return False, f"numba-cuda is not installed; install it with {INSTALL}"
    try:
        if not cuda.is_available():
            return False, "no CUDA driver or device found"
        device = cuda.get_current_device()
        name = device.name.decode() if isinstance(device.name, bytes) else device.name
        return True, f"{name}, compute capability {device.compute_capability}"
    except Exception as exc:
        return False, f"CUDA is not usable ({exc})"


def _advance_kernel(tables):
    """The kernel for the closed-form models (``tables`` False) or the table models (True).

    ``tables`` is a compile-time constant, as in the CPU backend, so each kernel carries
    only its own models' code (and registers).
    """
    def advance_kernel(active, model, key_kind, par, neuron, tab_base, heap, geom, n, k, seed,
                       bitmap, targets, candidates, gathered, clock, counts, isi, buf_times,
                       buf_senders, rec_cap, status, n_rec, n_proc, conn_mode, table, tab,
                       t_end, warmup, keep, max_spikes):
        """Thread ``a`` runs instance ``active[a]`` of the batch (``engine.advance_instance``)."""
        a = cuda.grid(1)
        if a < active.shape[0]:
            engine.advance_instance(active[a], tables, model, key_kind, par, neuron, tab_base,
                                    heap, geom, n, k, seed, bitmap, targets, candidates,
                                    gathered, clock, counts, isi, buf_times, buf_senders,
                                    rec_cap, status, n_rec, n_proc, conn_mode, table, tab, t_end,
                                    warmup, keep, max_spikes)
    return advance_kernel


# compiled at their first launch
KERNELS = {} if cuda is None else {tables: cuda.jit(_advance_kernel(tables))
                                   for tables in (False, True)}


class CudaRunner:
    """Runs a batch on the GPU; the batch's host arrays are updated by ``sync``.

    Parameters
    ----------
    batch : Batch
    """

    name = "cuda"
    per_instance = STATE + SCRATCH + OUTPUT + OUTCOME

    def __init__(self, batch):
        usable, message = status()
        if not usable:
            raise RuntimeError(f"backend 'cuda' is not usable: {message}")
        self.batch = batch
        self._cupy = None
        if not config.ENABLE_CUDASIM:
            try:
                import cupy
                self._cupy = cupy
            except ImportError as exc:
                raise RuntimeError(f"backend 'cuda' needs cupy; install it with {INSTALL}") from exc
        self.device = {name: self._to_device(getattr(batch, name))
                       for name in self.per_instance + ("table", "tab")}
        self._buffers = None

    def _to_device(self, host):
        if self._cupy is not None:
            return self._cupy.asarray(host)
        return cuda.to_device(host)

    def _to_host(self, name):
        device = self.device[name]
        return device.get() if self._cupy is not None else device.copy_to_host()

    def advance(self, active, t_end, warmup, max_spikes, keep):
        """One launch: every instance of ``active`` runs until it stops."""
        d = self.device
        blocks = math.ceil(active.shape[0] / THREADS_PER_BLOCK)
        KERNELS[bool(self.batch.model_id == km.TABLE)][blocks, THREADS_PER_BLOCK](
            self._to_device(np.ascontiguousarray(active, np.int64)), np.int64(self.batch.model_id),
            np.int64(self.batch.key_kind), *(d[name] for name in self.per_instance),
            np.int64(self.batch.conn_mode), d["table"], d["tab"], float(t_end), float(warmup),
            bool(keep),
            np.int64(max_spikes))
        self._buffers = None

    def outcome(self, active):
        """(status, recorded) of the instances ``active`` after the last launch."""
        self.batch.status[:] = self._to_host("status")
        self.batch.n_rec[:] = self._to_host("n_rec")
        return self.batch.status[active], self.batch.n_rec[active]

    def spikes(self, m, count):
        """The first ``count`` buffered spikes (times, senders) of instance ``m``."""
        if self._buffers is None:      # one copy per launch, of the filled columns only
            width = int(self.batch.n_rec.max())
            self._buffers = (self._column_slice("buf_times", width),
                             self._column_slice("buf_senders", width))
        times, senders = self._buffers
        return times[m, :count].copy(), senders[m, :count].copy()

    def _column_slice(self, name, width):
        device = self.device[name][:, :width]
        if self._cupy is not None:
            return device.get()
        return device.copy_to_host()

    def set_rec_cap(self, active, caps):
        """Recording budget of each active instance for the next launch."""
        self.batch.rec_cap[active] = caps
        self.device["rec_cap"] = self._to_device(self.batch.rec_cap)

    def sync(self):
        """Copy the device state into the batch's host arrays; returns the batch."""
        for name in self.per_instance:
            getattr(self.batch, name)[...] = self._to_host(name)
        return self.batch
