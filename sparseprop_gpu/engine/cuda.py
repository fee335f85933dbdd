"""CUDA backend: one network instance per CUDA thread, the same ``kernels/`` code.

Needs the ``cuda`` extra (``pip install "sparseprop-gpu[cuda]"``: numba-cuda with its CUDA 12
wheels, and cupy). Device arrays are cupy arrays on a real GPU and numba's own under the CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``), where the kernel runs in Python threads: tiny sizes
only, for the tests.
"""
import importlib.util
import math

import numpy as np

from .. import config
from ..kernels import engine, models, tangent
from . import layout

INSTALL = 'pip install "sparseprop-gpu[cuda]"'


try:
    from numba import config as numba_config, cuda
except Exception as exc:   # numba-cuda missing or broken: say so when asked
    cuda = None
    IMPORT_ERROR = exc


def status():
    """(usable, message): whether a CUDA device (or the simulator) can run the kernel."""
    if cuda is None:
        return False, f"numba.cuda cannot be imported ({IMPORT_ERROR}); install it with {INSTALL}"
    if numba_config.ENABLE_CUDASIM:
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


def kernel_function(tabulated, featured=False, blocked=False):
    """The Python function of the kernel for the closed-form models (``tabulated`` False) or
    the table models (True), with or without refractory periods and excitation
    (``featured``), or of populations (``blocked``), generated from ``engine.layout``
    (``layout.kernel_source``).

    The three flags are compile-time constants (globals of the function), as in the CPU
    backend, so each kernel carries only its own code (and registers).
    """
    namespace = {"cuda": cuda, "advance_instance": engine.advance_instance,
                 "tabulated": tabulated, "featured": featured, "blocked": blocked}
    exec(compile(layout.kernel_source(), f"<advance_kernel tabulated={tabulated} "
                 f"featured={featured} blocked={blocked}>", "exec"), namespace)
    return namespace["advance_kernel"]


# compiled at their first launch
KERNELS = {} if cuda is None else {variant: cuda.jit(kernel_function(*variant))
                                   for variant in layout.VARIANTS}


def backward_kernel(model, par, drive, conn_mode, target_table, kicks, seed, n, k, segment,
                    times, senders, starts, checkpoints, dl_dt, adjoint, offsets, bitmap, drawn,
                    candidates, refractory_end, targets, slopes, d_coupling, d_drive, sources,
                    roots, pending, d_synapse, per_synapse, flow, since, d_drives, out):
    """One sample of a mini-batch's backward pass per thread (``tangent.backward_instance``)."""
    b = cuda.grid(1)
    if b < times.shape[0]:
        tangent.backward_instance(b, model, models.constants(par), drive, conn_mode,
                                  target_table, kicks, seed, n, k, segment, times, senders,
                                  starts, checkpoints, dl_dt, adjoint, offsets, bitmap, drawn,
                                  candidates, refractory_end, targets, slopes, d_coupling,
                                  d_drive, sources, roots, pending, d_synapse, per_synapse,
                                  flow, since, d_drives, out)


BACKWARD = None if cuda is None else cuda.jit(backward_kernel)


def run_backward(args, written, threads_per_block=None):
    """Launch ``BACKWARD`` on the host arrays of ``args`` (a namedtuple in
    ``backward_kernel``'s order, ``runs.gradient.BackwardArguments``) and copy the fields
    ``written`` back into them."""
    usable, message = status()
    if not usable:
        raise RuntimeError(f"backend 'cuda' is not usable: {message}")
    device = args._replace(**{name: cuda.to_device(value) for name, value in
                              args._asdict().items() if isinstance(value, np.ndarray)})
    threads = threads_per_block or config.THREADS_PER_BLOCK
    BACKWARD[math.ceil(args.times.shape[0] / threads), threads](*device)
    for name in written:
        getattr(device, name).copy_to_host(getattr(args, name))


class CudaRunner:
    """Runs a batch on the GPU; the batch's host arrays are updated by ``sync``.

    Parameters
    ----------
    batch : Batch
    threads_per_block : int, optional
        CUDA threads (instances) per block (default ``config.THREADS_PER_BLOCK``, read when
        the runner is made).
    """

    name = "cuda"

    def __init__(self, batch, threads_per_block=None):
        usable, message = status()
        if not usable:
            raise RuntimeError(f"backend 'cuda' is not usable: {message}")
        self.batch = batch
        self.threads_per_block = threads_per_block or config.THREADS_PER_BLOCK
        self._cupy = None
        if not numba_config.ENABLE_CUDASIM:
            try:
                import cupy
                self._cupy = cupy
            except ImportError as exc:
                raise RuntimeError(f"backend 'cuda' needs cupy; install it with {INSTALL}") from exc
        self.device = {name: self._to_device(array) for name, array in batch.arrays().items()}
        self._buffers = None

    def _to_device(self, host):
        if self._cupy is not None:
            return self._cupy.asarray(host)
        return cuda.to_device(host)

    def _to_host(self, device):
        return device.get() if self._cupy is not None else device.copy_to_host()

    def advance(self, active, **launch):
        """One launch: every instance of ``active`` runs until it stops (see CpuRunner)."""
        blocks = math.ceil(active.shape[0] / self.threads_per_block)
        KERNELS[self.batch.variant][blocks, self.threads_per_block](
            self._to_device(np.ascontiguousarray(active, np.int64)),
            *layout.arguments(self.device, self.batch.constants(), launch))
        self._buffers = None

    def outcome(self, active):
        """(status, recorded) of the instances ``active`` after the last launch."""
        self.batch.status[:] = self._to_host(self.device["status"])
        self.batch.n_rec[:] = self._to_host(self.device["n_rec"])
        return self.batch.status[active], self.batch.n_rec[active]

    def spikes(self, m, count):
        """The first ``count`` buffered spikes (times, senders) of instance ``m``."""
        if self._buffers is None:      # one copy per launch, of the filled columns only
            width = int(self.batch.n_rec.max())
            self._buffers = tuple(self._to_host(self.device[name][:, :width])
                                  for name in ("buf_times", "buf_senders"))
        times, senders = self._buffers
        return times[m, :count].copy(), senders[m, :count].copy()

    def set_rec_cap(self, active, caps):
        """Recording budget of each active instance for the next launch."""
        self.batch.rec_cap[active] = caps
        self.device["rec_cap"] = self._to_device(self.batch.rec_cap)

    def sync(self):
        """Copy the device state into the batch's host arrays; returns the batch."""
        for name in layout.PER_INSTANCE:
            getattr(self.batch, name)[...] = self._to_host(self.device[name])
        return self.batch
