"""Memory estimates of a request, checked against what the machine has before anything is
allocated (docs/design.md §3.10).

Every estimate is in bytes and counts the arrays a request will hold at once: an instance
table's columns, a stored target table, a batch's engine state (the arrays of
``engine.layout.ARGUMENTS``, by the same shapes; ``tests/test_memory.py`` holds the estimate
equal to a real Batch's arrays) and a run's results. A request above
``config.MEMORY_FRACTION`` of the memory available is refused with the estimate and what to
do instead.
"""
from .. import config
from ..compiled import bitmap_words, candidate_scratch
from ..kernels import inputs as ki, models as km, populations as kp
from ..kernels.pqueue import tree_geometry

GIB = 2.0**30

INSTANCE_TABLE_BYTES = 320
"""Bytes per instance while an instance table is built and validated: nine int64/float64
columns (72 B), the grid index and unravelled positions, the structured copy that finds the
distinct rows and its sort (tracemalloc peak: 257 B per instance for a 2e5-instance sweep,
201 B for an Ensemble; 88 and 80 B held after)."""

RESULT_BYTES = 96
"""Bytes per (instance, neuron) of an ensemble's results: the engine's counts and ISI moments
copied out, padded, and the Dataset's per-neuron arrays (tracemalloc peak of run_ensemble,
64 instances of n = 5000: 126 B per instance-neuron, of which 44 B engine state and phases)."""

SPIKE_BYTES = 24
"""Bytes per kept spike: its time and sender in the drained buffers, then concatenated."""


def available_bytes():
    """Host memory available now (bytes): Linux's MemAvailable, else the free pages; None if
    the system does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def device_bytes():
    """Free memory of the current CUDA device (bytes), or None where it is not known (no
    device, the simulator)."""
    try:
        from numba import cuda
        free, _ = cuda.current_context().get_memory_info()
        return int(free)
    except Exception:       # no driver, the simulator, numba-cuda missing: unknown
        return None


def fits(needed, available=None):
    """Whether ``needed`` bytes fit in ``config.MEMORY_FRACTION`` of ``available`` (default:
    the host's available memory; an unknown amount always fits)."""
    available = available_bytes() if available is None else available
    return available is None or needed <= config.MEMORY_FRACTION * available


def check(what, needed, instead, available=None, where="memory"):
    """Raise ValueError unless ``needed`` bytes fit (``fits``).

    Parameters
    ----------
    what : str
        The request, starting with the parameter to change (e.g. "batch_size = 4096: ...").
    needed : int
        Estimated bytes.
    instead : str
        What to do instead.
    available : int, optional
        Bytes available (default: the host's).
    where : str
        Whose memory, for the message ("memory", "device memory").
    """
    available = available_bytes() if available is None else available
    if not fits(needed, available):
        raise ValueError(f"{what} needs about {needed / GIB:.3g} GiB, more than the "
                         f"{config.MEMORY_FRACTION * available / GIB:.3g} GiB allowed "
                         f"({config.MEMORY_FRACTION:.0%} of the {available / GIB:.3g} GiB of "
                         f"{where} available): {instead}")


def target_table_bytes(n, k):
    """A stored (n, k) int32 target table as a run holds it: the network's and the batch's
    copy."""
    return 2 * 4 * int(n) * int(k)


def engine_bytes(m, n_max, k_max, buffer, stored_shape=None, neuron_rows=1, lookup=1,
                 fan_bits=config.FAN_BITS, refractory_rows=1, excite_rows=1, pops=1, fifo=1,
                 synapses=1, segments=1, stimulus=1, quiescent_rows=1, weighted=False):
    """Bytes of a batch's engine state (every SHARED and INSTANCE argument).

    Parameters
    ----------
    m, n_max, k_max : int
        Instances, and the largest n and k among them.
    buffer : int
        Spike-buffer length per instance.
    stored_shape : (int, int), optional
        The shared stored target table's shape; None: targets on the fly.
    neuron_rows : int
        Rows of per-neuron constants (n_max on the time keys, else 1).
    lookup : int
        Length of the shared lookup tables (float64).
    refractory_rows, excite_rows : int
        Length of the ends of refractoriness (n_max with a refractory period, else 1) and
        of the exact keys past threshold (n_max with excitation, else 1).
    pops, fifo : int
        Populations, and FIFO slots for spikes in flight per instance (1 and 1 without).
    synapses, segments : int
        Lengths of a network of populations' shared stored connectivity (1 and 1 without).
    stimulus : int
        Stimulus events per instance plus one (1 without).
    quiescent_rows : int
        Length of the quiescent neurons' gaps to rest (n_max with a quiescent population, else
        1).
    weighted : bool
        A kick per connection of the stored table (else a (1, 1) placeholder).
    """
    stored = stored_shape is not None
    heap = tree_geometry(int(n_max), fan_bits)[1]
    geom = tree_geometry(int(n_max), fan_bits)[0].shape[0]
    per_instance = (8 * (km.N_PAR + km.N_NEURON * neuron_rows + refractory_rows + excite_rows
                         + quiescent_rows + heap + geom + k_max + 2)
                    + (8 + 4 + 16) * (1 if stored else 0)
                    + (0 if stored else 8 * bitmap_words(n_max) + 4 * k_max
                       + 8 * candidate_scratch(k_max))
                    + 4 * n_max + 24 * n_max + 12 * buffer + 8 * 8
                    + 8 * (2 + (pops + 1) + kp.N_POP * pops
                           + (kp.N_BLOCK + 2 + kp.N_RING) * pops * pops + 1)
                    + 8 * (pops + pops + 3) + 20 * pops * ki.AHEAD   # external inputs' tables,
                                                      # state, seed; events drawn ahead
                    + (8 + 4 + 8) * fifo + (8 + 4 + 8) * stimulus)
    shared = (4 * (stored_shape[0] * stored_shape[1] if stored else 1) + 8 * lookup
              + 4 * synapses + 8 * segments
              + 8 * (stored_shape[0] * stored_shape[1] if stored and weighted else 1))
    return int(m) * int(per_instance) + int(shared)


def check_run(what, size, batch_size, n_max, k_max, buffer, stored_shape=None,
              heterogeneous=False, keep_spikes=0, device=None, fifo=1, stimulus=1):
    """Refuse a run whose batch and results would not fit; the message gives the estimate and
    what would fit instead.

    Parameters
    ----------
    what : str
        The request, starting with the parameter that sets its size.
    size, batch_size : int
        Instances in all, and per batch.
    n_max, k_max, buffer : int
        Largest n and k; spike-buffer length per instance.
    stored_shape : (int, int), optional
        Shape of the shared stored target table (None: on the fly).
    heterogeneous : bool
        Per-neuron constants (time keys): one row per neuron.
    keep_spikes : int
        Spikes kept in all, where known (0: none or unknown).
    device : int, optional
        Free device memory (bytes) for a CUDA run: the batch's engine state must fit there too.
    fifo : int
        FIFO slots for spikes in flight per instance (a network of populations with delays).
    stimulus : int
        Stimulus events per instance (the longest stimulus), plus one.

    Table models' lookup tables (tens of kB per distinct drive) are left out.
    """
    m = min(int(batch_size), int(size))
    rows = n_max if heterogeneous else 1
    shared = engine_bytes(0, n_max, k_max, buffer, stored_shape, rows, fifo=fifo,
                          stimulus=stimulus)
    per_instance = engine_bytes(1, n_max, k_max, buffer, stored_shape, rows, fifo=fifo,
                                stimulus=stimulus) - shared \
        + 8 * n_max
    fixed = (shared + (0 if stored_shape is None else 4 * stored_shape[0] * stored_shape[1])
             + RESULT_BYTES * int(size) * n_max + SPIKE_BYTES * int(keep_spikes))
    instead = []
    available = available_bytes()
    if available is not None:
        room = int((config.MEMORY_FRACTION * available - fixed) // per_instance)
        if size > 1 and 1 <= room < m:
            instead.append(f"batch_size <= {room} (fewer instances per batch)")
    if keep_spikes:
        instead.append("record='summary' (no spikes kept)")
    if stored_shape is not None:
        instead.append("connectivity='on_the_fly' (no target table)")
    instead.append("fewer instances per run" if size > 1 else "fewer neurons")
    check(what, fixed + m * per_instance, "; or ".join(instead), available)
    if device is not None:
        check(what + " (on the GPU)", shared + m * per_instance, "; or ".join(instead), device,
              "device memory")


def instance_table_bytes(size):
    """Bytes held while an instance table of ``size`` instances is built."""
    return INSTANCE_TABLE_BYTES * int(size)


def check_instances(size, name):
    """Refuse an instance table of ``size`` instances that would not fit; ``name`` is the
    parameter that sets the size."""
    check(f"{name}: {size} instances", instance_table_bytes(size),
          "split the instances into several runs or sweeps, or sweep fewer values")

