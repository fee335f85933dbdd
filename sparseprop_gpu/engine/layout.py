"""The engine's interface, declared once: every argument of ``kernels.engine.advance_instance``.

Each argument has a name, a dtype, a shape and a role. From this one table come the Batch's
arrays (``allocate``), the CPU loop's call and the CUDA kernel's parameters and call
(``arguments``, ``kernel_source``), and the compile test's signature. Adding an engine array is
one line here plus its use in ``kernels/engine.py``; the order of ``ARGUMENTS`` is the order of
``advance_instance``'s parameters after ``(m, tabulated, featured, blocked)``, checked when this
module is imported.
"""
import inspect
from collections import namedtuple

import numpy as np

from ..kernels import engine, inputs as ki, models as km, populations as kp

CONSTANT = "constant"    # one scalar per batch
SHARED = "shared"        # one array for the whole batch
INSTANCE = "instance"    # one row per instance: the engine's state, scratch and outcome
LAUNCH = "launch"        # one scalar per launch

Argument = namedtuple("Argument", "name dtype shape role doc")
Argument.__doc__ = """One argument of ``advance_instance``.

name : str
    Its parameter name, and the Batch attribute that holds it.
dtype : numpy dtype
shape : tuple of str or int
    Per instance (role INSTANCE: the row's shape; the batch array has one more leading axis)
    or of the whole array (role SHARED), in names of ``Sizes`` fields; () for scalars.
role : CONSTANT, SHARED, INSTANCE or LAUNCH
doc : str
"""

ARGUMENTS = (
    Argument("model", np.int64, (), CONSTANT, "kernels.models model id"),
    Argument("key_kind", np.int64, (), CONSTANT, "kernels.models queue key"),
    Argument("conn_mode", np.int64, (), CONSTANT, "ON_THE_FLY or STORED"),
    Argument("target_table", np.int32, ("table_rows", "table_cols"), SHARED,
             "stored targets, one row per neuron ((1, 1) on the fly)"),
    Argument("kicks", np.float64, ("kick_rows", "kick_cols"), SHARED,
             "a weighted network's kick per connection, as target_table ((1, 1) else)"),
    Argument("lookup", np.float64, ("lookup",), SHARED,
             "the distinct lookup tables of a TABLE model, one after another ((1,) else)"),
    Argument("synapses", np.int32, ("synapses",), SHARED,
             "populations, stored: every instance's targets, segment after segment ((1,) else)"),
    Argument("segments", np.int64, ("segments",), SHARED,
             "populations, stored: where each (neuron, target population) segment starts"),
    Argument("par", np.float64, (km.N_PAR,), INSTANCE, "model constants (P_*)"),
    Argument("neuron", np.float64, ("neuron_rows", km.N_NEURON), INSTANCE,
             "per-neuron constants (N_*) of the time keys (one row else)"),
    Argument("lookup_base", np.int64, (), INSTANCE, "where the instance's table starts"),
    Argument("heap", np.float64, ("heap",), INSTANCE, "the priority queue's keys and minima"),
    Argument("geom", np.int64, ("geom",), INSTANCE, "the queue's geometry"),
    Argument("n", np.int64, (), INSTANCE, "neurons"),
    Argument("k", np.int64, (), INSTANCE, "out-degree"),
    Argument("seed", np.int64, (), INSTANCE, "network seed (targets on the fly)"),
    Argument("pops", np.int64, (), INSTANCE, "populations (1 without populations)"),
    Argument("pop_start", np.int64, ("pop_bounds",), INSTANCE, "first neuron of each population"),
    Argument("pop_par", np.float64, ("pops", kp.N_POP), INSTANCE,
             "per-population constants (Q_*)"),
    Argument("block_par", np.float64, ("blocks", kp.N_BLOCK), INSTANCE,
             "per-block constants (B_*): coupling, delay"),
    Argument("block_k", np.int64, ("blocks",), INSTANCE, "per-block out-degree on the fly"),
    Argument("block_lookup", np.int64, ("channels",), INSTANCE,
             "where each block's lookup table starts, then each population's external "
             "input's (table models)"),
    Argument("segment_base", np.int64, (), INSTANCE, "where the instance's segments start"),
    Argument("bitmap", np.uint64, ("bitmap",), INSTANCE, "scratch: distinct targets"),
    Argument("drawn", np.int32, ("drawn",), INSTANCE, "scratch: the targets drawn on the fly"),
    Argument("candidates", np.int64, ("candidates",), INSTANCE, "scratch: target candidates"),
    Argument("gathered", np.float64, ("k_max",), INSTANCE, "scratch: the targets' keys"),
    Argument("clock", np.float64, (2,), INSTANCE, "time origin (s), a compensated sum"),
    Argument("counts", np.int32, ("n_max",), INSTANCE, "spikes per neuron at t >= warmup"),
    Argument("isi", np.float64, ("n_max", 3), INSTANCE,
             "per neuron: last spike (s), sum of ISIs (s), sum of squares (s^2)"),
    Argument("refractory_end", np.float64, ("refractory_rows",), INSTANCE,
             "end of each neuron's refractory period (s; one element without t_ref)"),
    Argument("past_key", np.float64, ("excite_rows",), INSTANCE,
             "exact key of each neuron past threshold at this instant, +inf for the others "
             "(one element without excitation)"),
    Argument("rest_gap", np.float64, ("quiescent_rows",), INSTANCE,
             "neurons of a quiescent population (LIF driven at or below threshold): (I - V) G, "
             "their state (one element where no population is quiescent)"),
    Argument("fifo_key", np.float64, ("fifo",), INSTANCE, "spikes in flight: arrival keys"),
    Argument("fifo_sender", np.int32, ("fifo",), INSTANCE, "spikes in flight: senders"),
    Argument("fifo_serial", np.int64, ("fifo",), INSTANCE, "spikes in flight: emission serials"),
    Argument("fifo_ring", np.int64, ("blocks", kp.N_RING), INSTANCE,
             "per block: where its FIFO is, its capacity, head and count (R_*)"),
    Argument("emitted", np.int64, (1,), INSTANCE, "spikes emitted (the next serial)"),
    Argument("noise_seed", np.int64, (), INSTANCE, "seed of the Poisson input's streams"),
    Argument("ext_time", np.float64, ("pops", ki.AHEAD), INSTANCE,
             "each population's Poisson events drawn ahead (s from the run's start; NaN: not "
             "drawn)"),
    Argument("ext_key", np.float64, ("pops", ki.AHEAD), INSTANCE, "their keys"),
    Argument("ext_target", np.int32, ("pops", ki.AHEAD), INSTANCE, "their target neurons"),
    Argument("ext_count", np.int64, ("pops",), INSTANCE,
             "Poisson events delivered (the next in slot ext_count % AHEAD)"),
    Argument("stim_time", np.float64, ("stimulus",), INSTANCE,
             "stimulus events in time order (s from the run's start), then +inf"),
    Argument("stim_target", np.int32, ("stimulus",), INSTANCE, "stimulus events' targets"),
    Argument("stim_kick", np.float64, ("stimulus",), INSTANCE,
             "stimulus events' kicks (in the target's key terms, as B_KICK)"),
    Argument("stim_next", np.int64, (1,), INSTANCE, "the next stimulus event"),
    Argument("stim_key", np.float64, (1,), INSTANCE, "its key (NaN: not keyed yet)"),
    Argument("buf_times", np.float64, ("buffer",), INSTANCE, "recorded spike times (s)"),
    Argument("buf_senders", np.int32, ("buffer",), INSTANCE, "recorded spike senders"),
    Argument("rec_cap", np.int64, (), INSTANCE, "spikes to record in this launch, at most"),
    Argument("status", np.int64, (), INSTANCE, "outcome: why the instance stopped"),
    Argument("n_rec", np.int64, (), INSTANCE, "outcome: spikes recorded"),
    Argument("n_proc", np.int64, (), INSTANCE, "outcome: spikes processed"),
    Argument("t_end", np.float64, (), LAUNCH, "end time (s)"),
    Argument("warmup", np.float64, (), LAUNCH, "start of recording (s)"),
    Argument("keep", np.bool_, (), LAUNCH, "keep the recorded spikes (stop when full)"),
    Argument("max_spikes", np.int64, (), LAUNCH, "network spikes per instance, at most"),
)
NAMES = tuple(a.name for a in ARGUMENTS)
PER_INSTANCE = tuple(a.name for a in ARGUMENTS if a.role == INSTANCE)
ARRAYS = tuple(a.name for a in ARGUMENTS if a.role in (SHARED, INSTANCE))
CARRIED = ("heap", "clock", "counts", "isi")
"""The INSTANCE arrays that carry a run from one launch to the next: the queue's keys (its
minima follow from them), the time origin and the statistics, and where a run has them
the per-neuron state (``PER_NEURON_STATE``), the spikes in flight (``IN_FLIGHT``) and the
external input (``EXTERNAL``). A run continues from them exactly (``Batch.carried``,
``Batch.carry_on``); every other array is scratch or constant."""
PER_NEURON_STATE = ("refractory_end", "past_key", "rest_gap")
"""The per-neuron state a run carries where it has it (one element per instance else): the ends
of refractoriness (t_ref > 0), the exact keys past threshold (excitation) and the quiescent
neurons' gaps to rest."""
IN_FLIGHT = ("fifo_key", "fifo_sender", "fifo_serial", "fifo_ring", "emitted")
"""A network of populations' spikes in flight and the next emission serial."""
EXTERNAL = ("ext_time", "ext_key", "ext_target", "ext_count", "stim_next", "stim_key")
"""Where a network of populations' external input stands: each population's Poisson events
drawn ahead and the next stimulus event (states saved before 0.6 have none: no external
input; those of 0.6, one event per population, are refused)."""

VARIANTS = ((False, False, False), (False, True, False), (True, False, False),
            (True, True, False), (False, False, True), (True, False, True), (False, True, True),
            (True, True, True))
"""The compiled event loops, as ``(tabulated, featured, blocked)``: closed-form or table models,
with or without refractory periods and excitation, and the loops of populations (closed forms
or tables; refractoriness and excitation tested at run time), without or with (``featured``)
the code of external input and quiescent populations."""

Sizes = namedtuple("Sizes", "m n_max k_max heap geom bitmap drawn candidates neuron_rows "
                            "refractory_rows excite_rows quiescent_rows buffer table_rows "
                            "table_cols kick_rows kick_cols lookup synapses segments pops "
                            "pop_bounds blocks channels fifo stimulus")
Sizes.__doc__ = "The lengths the shapes of ``ARGUMENTS`` name, for one batch (``m`` instances)."


def _check_order():
    if not set(CARRIED + IN_FLIGHT + EXTERNAL + PER_NEURON_STATE) \
            <= set(PER_INSTANCE):
        raise ImportError("engine.layout.CARRIED names an array that is not per instance")

    declared = tuple(inspect.signature(engine.advance_instance).parameters)[4:]
    if declared != NAMES:
        raise ImportError("engine.layout.ARGUMENTS is out of step with "
                          f"kernels.engine.advance_instance: {NAMES} against {declared}")


def allocate(sizes):
    """Zeroed arrays of every SHARED and INSTANCE argument, by name."""
    out = {}
    for a in ARGUMENTS:
        if a.role not in (SHARED, INSTANCE):
            continue
        shape = tuple(getattr(sizes, d) if isinstance(d, str) else d for d in a.shape)
        out[a.name] = np.zeros(((sizes.m,) if a.role == INSTANCE else ()) + shape, a.dtype)
    return out


def arguments(arrays, constants, launch):
    """The arguments of ``advance_instance`` after ``(m, tabulated, featured, blocked)``, in
    order.

    Parameters
    ----------
    arrays : mapping
        Every SHARED and INSTANCE array by name (host or device arrays).
    constants, launch : mapping
        The CONSTANT and LAUNCH scalars by name; each is cast to its declared dtype.
    """
    out = []
    for a in ARGUMENTS:
        if a.role == CONSTANT:
            out.append(a.dtype(constants[a.name]))
        elif a.role == LAUNCH:
            out.append(a.dtype(launch[a.name]))
        else:
            out.append(arrays[a.name])
    return tuple(out)


def kernel_source(name="advance_kernel"):
    """Source of the CUDA kernel: thread ``a`` runs instance ``active[a]`` through
    ``advance_instance``. Plain parameters, generated from ``ARGUMENTS`` (see docs/design.md,
    "The engine interface", for why not tuples of arrays)."""
    params = ", ".join(NAMES)
    return (f"def {name}(active, {params}):\n"
            f"    a = cuda.grid(1)\n"
            f"    if a < active.shape[0]:\n"
            f"        advance_instance(active[a], tabulated, featured, blocked, {params})\n")


_check_order()
