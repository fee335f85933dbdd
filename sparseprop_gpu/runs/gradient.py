"""Exact gradients of a loss of the spike times and final phases (docs/design.md §2.19): the
adjoint of the event map, taken back through the engine's spikes segment by segment, each
segment recomputed from a checkpoint of the phases.

``trajectory`` runs the network and keeps the checkpoints; the user's loss gives dL/dt_s for
every spike and dL/dphi for the phases just after the last one; ``backward`` returns dL/dJ,
dL/dphi(0) and, for stored connectivity, dL/dw of every connection. The gradient is that of
the trajectory with its spike order fixed.
"""
import math
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .. import validate
from ..compiled import backward_parallel, backward_serial, bitmap_words, candidate_scratch, \
    record_inputs
from ..kernels import connectivity, models as km
from ..specification.network import Network
from .simulate import simulate

SEGMENT_LEAST = 1024     # a replay call costs ~30 us: short runs take one segment (docs §2.19)

Trajectory = namedtuple("Trajectory", "network times senders final_phases checkpoints segment "
                                      "ties")
Trajectory.__doc__ = """A run of ``network`` kept for its gradient (``trajectory``).

times, senders : ndarray (S,)
    The spikes (s; neuron), in the order the engine processed them.
final_phases : ndarray (n,)
    Every neuron's phase just after the last spike (the model's phase units).
checkpoints : list of (int, float, ndarray (n,))
    (first spike, t0, phases minus (t - t0) / tpp) at the start of every segment.
segment : int
    Spikes per segment.
ties : int
    Spikes at the same time as the one before (where the spike order, and so the derivative,
    is decided by index, not by the dynamics; 0 for a network whose gradient exists).
"""

Gradient = namedtuple("Gradient", "coupling initial_phases synapses drives peak_bytes")
Gradient.__doc__ = """dL/d(parameters) of a loss of a trajectory.

coupling : float
    dL/dJ, J the coupling of every connection.
initial_phases : ndarray (n,)
    dL/dphi_i(0).
synapses : ndarray (n, k) or None
    dL/dw of the c-th connection of neuron j at ``[j, c]`` (``network.target_table()``'s
    order), with ``per_synapse=True`` (stored connectivity).
drives : ndarray (n,) or None
    dL/dI_i of each neuron's drive (their sum: dL/dI of the common drive), with
    ``drives=True``.
peak_bytes : int
    The backward pass's memory: the checkpoints (twice where a mini-batch stacks them) and
    one segment's inputs.
"""


def check_tangent_network(network):
    """Refuse a network outside what the tangent replay holds, naming why."""
    if not isinstance(network, Network):
        raise ValueError("network: the tangent replay is built for one population (sp.Network) "
                         f"so far; got {type(network).__name__}")
    if network.model.name not in ("lif", "qif"):
        raise ValueError(f"network.model must be LIF or QIF (closed-form phase transition "
                         f"curves); got {network.model.name}")
    if network.heterogeneous:
        raise ValueError("network: one drive and tau for every neuron (per-neuron drives are "
                         "not in the tangent replay yet)")


def replay_constants(network):
    """The replay kernels' network arguments: model, par, drive, connectivity mode, table,
    kicks, seed, n, k."""
    if network.connectivity == "stored":
        mode, table = connectivity.STORED, np.ascontiguousarray(network.target_table(), np.int32)
    else:
        mode, table = connectivity.ON_THE_FLY, np.zeros((1, 1), np.int32)
    par = network.model.kernel_params(network.drive, network.coupling, key="phase",
                                      t_ref=network.t_ref)
    kicks = network.kicks()
    return (np.int64(network.model.kernel_id), par, float(network.drive), np.int64(mode), table,
            np.zeros((1, 1)) if kicks is None else kicks, np.int64(network.seed),
            np.int64(network.n), np.int64(network.k))


def replay_scratch(network, rows=()):
    """The replay's scratch (the connectivity's bitmap, drawn targets, candidates; the ends of
    refractoriness, one element without a refractory period), ``rows`` of each."""
    n, k = network.n, network.k
    return (np.zeros(rows + (bitmap_words(n),), np.uint64), np.zeros(rows + (k,), np.int32),
            np.zeros(rows + (candidate_scratch(k),), np.int64),
            np.zeros(rows + (n if network.t_ref > 0.0 else 1,)))


def _check_replay(worst, where):
    if worst > 1e-6:
        raise RuntimeError(f"the replay left the engine's trajectory by {worst:.3g} in phase "
                           f"{where}: report this with the network")


def _replayer(network):
    """A function replaying spikes lo..hi-1 into the buffers (targets, slopes, dg/dJ) and moving
    the offsets, with the network's constants and scratch made once."""
    fixed = replay_constants(network) + replay_scratch(network)

    def replay(times, senders, offsets, t0, lo, hi, buffers):
        _check_replay(record_inputs(*fixed, offsets, senders, times, float(t0), lo, hi,
                                    *buffers), f"before spike {hi}")
    return replay


def default_segment(network, n_spikes):
    """Spikes between checkpoints: sqrt(n S / k), which makes the checkpoints' n S / segment
    and one segment's k segment about equal, and at least ``SEGMENT_LEAST``."""
    return max(SEGMENT_LEAST, int(math.sqrt(network.n * n_spikes / network.k)))


def trajectory(network, n_spikes, segment=None):
    """Run ``network`` for ``n_spikes`` spikes from t = 0 and keep what ``backward`` needs.

    Parameters
    ----------
    network : sp.Network
        One population of LIF or QIF neurons, couplings of both signs, one drive, any
        refractory period.
    n_spikes : int
    segment : int, optional
        Spikes between checkpoints (default ``default_segment``).

    Returns
    -------
    Trajectory
    """
    check_tangent_network(network)
    n_spikes = validate.integer("n_spikes", n_spikes, 1, 10**12)
    n, k = network.n, network.k
    segment = default_segment(network, n_spikes) if segment is None else \
        validate.integer("segment (spikes)", segment, 1, 10**12)
    rec = simulate(network, n_spikes=n_spikes, record="spikes")
    return _kept(network, rec.times, rec.senders, segment)


def trajectories(network, initial_phases, n_spikes, segment=None, backend="cpu"):
    """``trajectory`` of ``network`` from each row of ``initial_phases``, as one ensemble (a
    mini-batch): the forward runs on the CPU cores (or one instance per CUDA thread), the
    checkpoints are replayed in threads.

    Parameters
    ----------
    network : sp.Network
        As ``trajectory``'s.
    initial_phases : array_like (B, n)
    n_spikes, segment :
        As ``trajectory``'s.
    backend : {"cpu", "cuda", "auto"}
        The forward's (``run_ensemble``'s).

    Returns
    -------
    list of Trajectory
        Each bitwise the one ``trajectory`` gives from that row.
    """
    from .ensemble import Ensemble, record_ensemble
    check_tangent_network(network)
    n_spikes = validate.integer("n_spikes", n_spikes, 1, 10**12)
    segment = default_segment(network, n_spikes) if segment is None else \
        validate.integer("segment (spikes)", segment, 1, 10**12)
    ensemble = Ensemble(network, initial_phases=initial_phases)
    rec = record_ensemble(ensemble, n_spikes=n_spikes, record="spikes", backend=backend,
                          state=False)
    at = rec.offsets
    return _threads(lambda b: _kept(ensemble.table.network(b), rec.times[at[b]:at[b + 1]],
                                    rec.senders[at[b]:at[b + 1]], segment), range(len(ensemble)))


def _threads(work, items):
    """``[work(item) for item in items]`` over the CPU cores (the replay kernels release the
    GIL)."""
    items = list(items)
    if len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(min(len(items), numba.get_num_threads())) as pool:
        return list(pool.map(work, items))


def _kept(network, times, senders, segment):
    """The Trajectory of ``network``'s recorded spikes: replayed once, a checkpoint of the
    phases at the start of every segment."""
    times = np.ascontiguousarray(times, np.float64)
    senders = np.ascontiguousarray(senders, np.int32)
    tpp = network.model.tau / float(network.model.omega(network.drive))
    offsets, t0 = np.array(network.initial_phases, np.float64), 0.0
    buffers = _buffers(network, min(segment, times.size))
    replay = _replayer(network)
    kept = np.empty((-(-times.size // segment), network.n))   # rows: the checkpoints' phases
    checkpoints = []
    for lo in range(0, times.size, segment):
        hi = min(lo + segment, times.size)
        kept[lo // segment] = offsets
        checkpoints.append((lo, t0, kept[lo // segment]))
        replay(times, senders, offsets, t0, lo, hi, buffers)
        offsets += (times[hi - 1] - t0) / tpp
        t0 = times[hi - 1]
    ties = int(np.sum(np.diff(times) == 0.0))
    return Trajectory(network, times, senders, offsets, checkpoints, segment, ties)


def _buffers(network, rows, drives=False):
    """A segment's inputs: targets, g', dg/dJ and dg/dI (no rows without drives), each spike's
    source (its sender, or a caused spike's root), and the roots' scratch (one per neuron where
    LIF inputs can excite)."""
    k, excite = network.k, network.model.name == "lif" and network.coupling > 0.0
    return (np.zeros((rows, k), np.int32), np.zeros((rows, k)), np.zeros((rows, k)),
            np.zeros((rows if drives else 0, k)), np.zeros(rows, np.int32),
            np.full(network.n if excite else 1, -1, np.int32))


def backwards(runs, dl_dtimes, dl_dphases=None, per_synapse=False, drives=False,
              backend="cpu"):
    """``backward`` of every run of a mini-batch (``trajectories``), one sample per CPU
    iteration over the cores or per CUDA thread (``kernels.tangent.backward_instance``).

    Parameters
    ----------
    runs : list of Trajectory
        Runs of one network (its parameters; initial phases of their own), with the same
        number of spikes and segment, as ``trajectories`` makes them; others go one by one.
    dl_dtimes : array_like (B, S)
    dl_dphases : array_like (B, n), optional
    per_synapse, drives : bool
        As ``backward``'s.
    backend : {"cpu", "cuda"}

    Returns
    -------
    list of Gradient
        Each bitwise the one ``backward`` gives.
    """
    validate.choice("backend", backend, ("cpu", "cuda"))
    dl_dphases = [None] * len(runs) if dl_dphases is None else dl_dphases
    if len(dl_dtimes) != len(runs) or len(dl_dphases) != len(runs):
        raise ValueError(f"dl_dtimes and dl_dphases: one row per run ({len(runs)}); got "
                         f"{len(dl_dtimes)} and {len(dl_dphases)}")
    if not all(_same_network(run, runs[0]) for run in runs[1:]):
        return [backward(run, dl_dtimes[b], dl_dphases[b], per_synapse, drives)
                for b, run in enumerate(runs)]
    a = backward_arguments(runs, dl_dtimes, dl_dphases, per_synapse, drives)
    if backend == "cuda":
        from ..engine.cuda import run_backward
        run_backward(a, written=("adjoint", "d_synapse", "since", "d_drives", "out"))
    else:
        (backward_serial if len(runs) == 1 else backward_parallel)(*a)
    _check_replay(a.out[:, 1].max(), "in a backward replay")
    copied = not np.shares_memory(a.checkpoints, runs[0].checkpoints[0][2])
    peak = (1 + copied) * sum(p.nbytes for _, _, p in runs[0].checkpoints) + sum(
        b[0].nbytes for b in (a.targets, a.slopes, a.d_coupling, a.d_drive, a.sources, a.roots))
    if drives:                          # each neuron's last piece of the flow, down to t = 0
        a.d_drives[...] += a.adjoint * a.flow * a.since
    return [Gradient(float(a.out[b, 0]), a.adjoint[b], a.d_synapse[b] if per_synapse else None,
                     a.d_drives[b] if drives else None, int(peak)) for b in range(len(runs))]


BackwardArguments = namedtuple(
    "BackwardArguments", "model par drive conn_mode target_table kicks seed n k segment times "
    "senders starts checkpoints dl_dt adjoint offsets bitmap drawn candidates refractory_end "
    "targets slopes d_coupling d_drive sources roots pending d_synapse per_synapse flow since "
    "d_drives out")


def backward_arguments(runs, dl_dtimes, dl_dphases, per_synapse, drives):
    """``BackwardArguments``: those of ``tangent.backward_instance``'s batch
    (``compiled.backward_serial``/``backward_parallel``, ``engine.cuda.backward_kernel``, in
    their order) for
    ``runs`` of one network: constants, the runs' spikes and checkpoints, the loss's
    derivatives, scratch and outputs."""
    network = runs[0].network
    size, n, k = runs[0].times.size, network.n, network.k
    _check_synapses(network, per_synapse)
    batch = len(runs)
    dl_dt, adjoint = np.zeros((batch, size)), np.zeros((batch, n))
    for b in range(batch):
        dl_dt[b], adjoint[b] = _loss_derivatives(runs[b], dl_dtimes[b], dl_dphases[b])
    buffers = tuple(np.zeros((batch,) + b.shape, b.dtype)
                    for b in _buffers(network, min(runs[0].segment, size), drives))
    since = np.repeat(np.array([run.times[-1] for run in runs])[:, None], n if drives else 1,
                      axis=1)                   # the drives' lazy integral only
    return BackwardArguments(*replay_constants(network), np.int64(runs[0].segment),
            np.stack([run.times for run in runs]), np.stack([run.senders for run in runs]),
            np.array([[t0 for _, t0, _ in run.checkpoints] for run in runs]),
            _stacked_checkpoints(runs), dl_dt, adjoint,
            np.zeros((batch, n)), *replay_scratch(network, (batch,)), *buffers,
            np.zeros((batch, buffers[-1].shape[1])),    # pending: as the roots, n or 1
            np.zeros((batch, n, k) if per_synapse else (batch, 1, 1)), bool(per_synapse),
            _flow(network), since, np.zeros(since.shape), np.zeros((batch, 2)))


def _stacked_checkpoints(runs):
    """The runs' checkpoint phases as one (B, P, n) array: a view of one run's own (P, n) rows
    where they are one array (``_kept``'s), else a copy."""
    rows = [p for _, _, p in runs[0].checkpoints]
    base = rows[0].base
    if (len(runs) == 1 and base is not None and base.shape == (len(rows), rows[0].size)
            and all(r.ctypes.data == base[i].ctypes.data for i, r in enumerate(rows))):
        return base[None]
    return np.array([[p for _, _, p in run.checkpoints] for run in runs])


def _same_network(run, other):
    """Whether two runs replay with the same constants and segments: their networks' one
    description (weights by digest) and target tables."""
    a, b = run.network, other.network
    return (run.times.size == other.times.size and run.segment == other.segment
            and a.describe() == b.describe()
            and (a.targets is None) == (b.targets is None)
            and (a.targets is None or np.array_equal(a.targets, b.targets)))


def _loss_derivatives(run, dl_dtimes, dl_dphases):
    """dL/dt_s checked and with the final phases' term, and the adjoint's start dL/dphi(T)."""
    network, size = run.network, run.times.size
    dl_dtimes = validate.finite_array("dl_dtimes (dL/dt_s of every spike; a loss that gives "
                                      "NaN or inf has no gradient)", dl_dtimes, (size,)).copy()
    adjoint = np.zeros(network.n) if dl_dphases is None else validate.finite_array(
        "dl_dphases (dL/dphi of the final phases)", dl_dphases, (network.n,)).copy()
    tpp = network.model.tau / float(network.model.omega(network.drive))
    dl_dtimes[-1] += adjoint.sum() / tpp   # the final phases are taken at the last spike time,
    return dl_dtimes, adjoint              # which moves with it: d phi_i(t_S) / d t_S = 1 / tpp


def _check_synapses(network, per_synapse):
    if per_synapse and network.connectivity != "stored":
        raise ValueError("per_synapse: gradients per connection need stored connectivity "
                         "(connectivity='stored'); on the fly there is no table to hold them")


def _flow(network):
    """d(1/tpp)/dI: how the phase velocity omega / tau moves with the drive (1/s)."""
    drive, model = float(network.drive), network.model
    omega = float(model.omega(drive))
    slope = omega**2 / (drive * (drive - 1.0)) if model.name == "lif" else 1.0 / math.sqrt(drive)
    return slope / model.tau


def backward(run, dl_dtimes, dl_dphases=None, per_synapse=False, drives=False):
    """The gradient of a loss L(t_1, ..., t_S, phi(T)) of ``run``'s spike times and of the
    phases just after its last spike, given the loss's derivatives.

    Parameters
    ----------
    run : Trajectory
    dl_dtimes : array_like (S,)
        dL/dt_s of every spike (1/s units of L per s), finite.
    dl_dphases : array_like (n,), optional
        dL/dphi_i of the final phases (default 0).
    per_synapse : bool
        Also dL/dw of every connection (stored connectivity only).
    drives : bool
        Also dL/dI_i of every neuron's drive (two logs more per input for LIF).

    Returns
    -------
    Gradient
    """
    return backwards([run], [dl_dtimes], [dl_dphases], per_synapse, drives)[0]
