"""The conventional event-based simulator: the oracle of the tests, the baseline of the benchmarks.

Every neuron's phase is stored as it is; at every network spike all ``n`` phases
advance to the spike time and the targets jump through the phase transition
curve: O(n) work per spike. Heterogeneous neurons (per-neuron drive or tau)
advance at their own velocities.

It shares none of the engine's code (nothing from ``kernels/`` nor from
``specification.lookup``, the engine's tables): besides the run-settings check and the record
type it shares with ``simulate``, it reads only the Network specification (the
model's public parameters, F for table models, the drive, coupling, tau, initial
phases and the targets as ``Network.target_table()`` gives them) and has its own
phase transition curves, its own argmax and its own clock (a compensated sum of the
inter-spike intervals).

* LIF and QIF: the closed forms.
* Table models (EIF, ``TableModel``: tau dV/dt = F(V) + I): its own numerical time
  to spike ``s(V) = integral_V^{v_spike} du / (F(u) + I)`` (in units of tau) and its
  inverse. The integrand ``1 / (F + I)`` is interpolated at ``NODES`` Chebyshev points
  on cells bisected adaptively over ``[v_min, v_spike]`` until the interpolant matches
  F at the points between the nodes to ``RTOL`` (relative); each cell's interpolant
  is integrated exactly (its Chebyshev antiderivative), the cells' integrals summed
  from the top with compensation. ``V(s)`` is found by bracketed Newton steps on
  that ``s``. Below ``v_min`` a ``tail="leak"`` model has the exact leak solution,
  ``s(v_min) + ln((I - V) / (I - v_min))``; without it, an input there is an error.
  At or above ``v_spike``, s = 0. Measured against brute-force quadrature and closed
  forms (``tests/test_reference.py``): the period to 2e-16 (relative), the phase
  transition curves to 1e-15 (phase units).

Inputs may take a neuron past threshold; the inputs of one instant sum before it spikes
(docs/design.md §2.12). LIF past threshold: the phase continues linearly in V, phi = 1 +
omega (V - 1) / (I - 1) (the tangent of phi(V) at threshold), so every V > 1 has a phase.
Table models: V + J >= v_spike, or a phase that rounds to 1, is the phase +inf (saturated:
it takes no more inputs and spikes at that instant). QIF never passes threshold for a
finite input. The neurons at or past threshold spike at once, in increasing index.

``simulate_populations`` is the oracle of populations, excitation, synaptic delays,
refractory periods and external input events (docs/design.md §2.12): the same phase
transition curves and tables, a heap of the deliveries in flight, and every time (spikes,
deliveries, ends of refractory periods; an external event's is its float) a normalised
compensated pair, so that sums such as t + d are held exactly enough for equal times to be
equal.
"""
import functools
import math
from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.polynomial import chebyshev

from . import validate
from .runs.record import SpikeRecord, stop_time
from .specification.models import LIF as LIFModel, QIF as QIFModel, TableModel
from .specification.settings import UNLIMITED, check_run

LIF, QIF, TABLE = 0, 1, 2           # the oracle's model ids (``_phase_jump``'s first argument)

NODES = 24                          # Chebyshev points of the first kind per cell
RTOL = 1e-14                        # interpolant of 1 / (F + I) against F, relative per cell
ATOL = 1e-18                        # or its integral's error bound, relative to ~s(v_min)
MAX_CELLS = 1 << 14                 # per table (EIF: 20)

# one drive's block in the oracle's array ``tab`` (from its ``base``): this header, the
# cell edges (cells + 1 volts), s at each edge (cells + 1, tau units), the antiderivative
# coefficients (cells x (NODES + 1)) and the integrand's (cells x NODES)
H_CELLS, H_DRIVE, H_TAIL, H_S_R = 0, 1, 2, 3
HEADER = 4

_X = np.cos(np.pi * (np.arange(NODES) + 0.5) / NODES)
_TO_COEF = np.linalg.inv(chebyshev.chebvander(_X, NODES - 1))
_X_CHECK = np.cos(np.pi * np.arange(1, NODES) / NODES)     # between the nodes


@njit(cache=True)
def _argmax(phi):
    """Index of the largest phase (the first on ties), as two vectorisable passes."""
    best = -math.inf
    for i in range(phi.shape[0]):
        best = max(best, phi[i])
    for i in range(phi.shape[0]):
        if phi[i] == best:
            return i
    return -1


@njit(cache=True)
def _next_spiker(phi, phi_th, seconds_per_phase):
    """Neuron that reaches threshold first (the first on ties) and its delay (s)."""
    best = math.inf
    first = -1
    for i in range(phi.shape[0]):
        delay = (phi_th - phi[i]) * seconds_per_phase[i]
        if delay < best:
            best = delay
            first = i
    return first, best


@njit(cache=True)
def _first_at_threshold(phi, phi_th):
    """The lowest index at or past threshold."""
    for i in range(phi.shape[0]):
        if phi[i] >= phi_th:
            return i
    return -1


@njit(cache=True)
def _chebyshev(tab, off, n, x):
    """Chebyshev series ``tab[off:off + n]`` at ``x`` in [-1, 1] (Clenshaw)."""
    b1 = 0.0
    b2 = 0.0
    for j in range(n - 1, 0, -1):
        b1, b2 = tab[off + j] + 2.0 * x * b1 - b2, b1
    return tab[off] + x * b1 - b2


@njit(cache=True)
def _offsets(tab, base):
    """Cells and the offsets in ``tab`` of the edges, s at the edges, the antiderivative
    coefficients and the integrand's coefficients of the block at ``base``."""
    m = np.int64(tab[base + H_CELLS])
    edges = base + HEADER
    s_at = edges + m + 1
    anti = s_at + m + 1
    return m, edges, s_at, anti, anti + m * (NODES + 1)


@njit(cache=True)
def _time_to_spike(tab, base, v):
    """s(V): time to spike from V over tau; NaN below a table without a tail."""
    m, edges, s_at, anti, _ = _offsets(tab, base)
    if v >= tab[edges + m]:
        return 0.0
    if v < tab[edges]:
        if tab[base + H_TAIL] > 0.0:
            drive = tab[base + H_DRIVE]
            return tab[s_at] + math.log((drive - v) / (drive - tab[edges]))
        return math.nan
    lo, hi = 0, m
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tab[edges + mid] <= v:
            lo = mid
        else:
            hi = mid
    a, b = tab[edges + lo], tab[edges + lo + 1]
    x = (2.0 * v - (a + b)) / (b - a)
    return tab[s_at + lo + 1] + _chebyshev(tab, anti + lo * (NODES + 1), NODES + 1, x)


@njit(cache=True)
def _voltage_at(tab, base, s):
    """V(s), the inverse of ``_time_to_spike`` (s in tau units), by bracketed Newton steps."""
    m, edges, s_at, anti, rate = _offsets(tab, base)
    if s <= 0.0:
        return tab[edges + m]
    if s > tab[s_at]:
        if tab[base + H_TAIL] > 0.0:
            drive = tab[base + H_DRIVE]
            return drive - (drive - tab[edges]) * math.exp(s - tab[s_at])
        return math.nan
    lo, hi = 0, m                        # the cell with s(right edge) < s <= s(left edge)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tab[s_at + mid] >= s:
            lo = mid
        else:
            hi = mid
    c = lo
    a, b = tab[edges + c], tab[edges + c + 1]
    half = 0.5 * (b - a)
    rest = s - tab[s_at + c + 1]         # the antiderivative falls from s(a) - s(b) to 0
    width = tab[s_at + c] - tab[s_at + c + 1]
    x = 1.0 - 2.0 * rest / width if width > 0.0 else 1.0
    x = min(max(x, -1.0), 1.0)
    x_lo, x_hi = -1.0, 1.0
    for _ in range(100):
        f = _chebyshev(tab, anti + c * (NODES + 1), NODES + 1, x) - rest
        if f == 0.0:
            break
        if f > 0.0:
            x_lo = x
        else:
            x_hi = x
        slope = -half * _chebyshev(tab, rate + c * NODES, NODES, x)
        step = f / slope if slope < 0.0 else math.inf
        x -= step
        if not (x >= x_lo and x <= x_hi):    # outside the bracket: bisect instead
            x = 0.5 * (x_lo + x_hi)
            step = math.inf
        if abs(step) <= 1e-13 or x_hi - x_lo <= 4e-16:      # Newton: error ~ step^2
            break
    return 0.5 * (a + b) + half * x


@njit(cache=True)
def _phase_jump(model, phi, drive, coupling, omega, tab, base):
    """Phase after an input ``coupling`` at phase ``phi``, which may be past threshold (the
    module docstring says how); table models read the oracle's block at ``base`` of ``tab``
    (``oracle_table``), the closed forms ``drive`` and ``omega``."""
    if phi == math.inf:                  # a table model's neuron at or past v_spike
        return phi
    if model == LIF:                     # in rest = (I - V) / I, linear in V
        at_threshold = math.exp(-1.0 / omega)
        if phi <= 1.0:
            rest = math.exp(-phi / omega)
        else:
            rest = at_threshold * (1.0 - (phi - 1.0) / omega)
        rest -= coupling / drive
        if rest >= at_threshold:
            return -omega * math.log(rest)
        return 1.0 + omega * (1.0 - rest / at_threshold)
    if model == QIF:
        return 2.0 * math.atan(math.tan(0.5 * phi) + coupling / math.sqrt(drive))
    s_r = tab[base + H_S_R]
    v = _voltage_at(tab, base, s_r * (1.0 - phi)) + coupling
    out = 1.0 - _time_to_spike(tab, base, v) / s_r
    return math.inf if out >= 1.0 else out


@njit(cache=True)
def _run(model, drive, coupling, omega, seconds_per_phase, same, phi_reset, phi_th, phi, table,
         tab, base, t_end, warmup, n_spikes, times, senders, counts, t_last, isi_sum, isi_sumsq):
    """Conventional loop; ``drive``, ``omega``, ``seconds_per_phase`` and ``base`` (table
    models: where each neuron's block starts in ``tab``) are per neuron; ``same`` says
    all neurons are alike (then the spiker is the largest phase)."""
    n, k = table.shape
    t = 0.0
    t_comp = 0.0
    n_rec = 0
    while n_rec < n_spikes:
        if same:
            j = _argmax(phi)
            dt = (phi_th - phi[j]) * seconds_per_phase[0]
        else:
            j, dt = _next_spiker(phi, phi_th, seconds_per_phase)
        if dt <= 0.0:                       # at or past threshold: the lowest index spikes now
            dt = 0.0
            j = _first_at_threshold(phi, phi_th)
        t_new = t + dt                      # Neumaier-compensated clock
        if abs(t) >= abs(dt):
            t_comp += (t - t_new) + dt
        else:
            t_comp += (dt - t_new) + t
        t = t_new
        now = t + t_comp
        if now > t_end:
            break
        if same:
            step = max(phi_th - phi[j], 0.0)
            for i in range(n):
                phi[i] += step
        else:
            for i in range(n):
                phi[i] += dt / seconds_per_phase[i]
        for c in range(k):
            i = table[j, c]
            phi[i] = _phase_jump(model, phi[i], drive[i], coupling, omega[i], tab, base[i])
            if phi[i] != phi[i]:
                return -1, t + t_comp
        phi[j] = phi_reset
        if now >= warmup:
            if counts[j] > 0:
                isi = now - t_last[j]
                isi_sum[j] += isi
                isi_sumsq[j] += isi * isi
            counts[j] += 1
            t_last[j] = now
            if n_rec < times.shape[0]:
                times[n_rec] = now
                senders[n_rec] = j
            n_rec += 1
    return n_rec, t + t_comp


def _vectorised(rhs):
    """F as a function of float arrays."""
    probe = np.array([0.25, 0.5])
    try:
        if np.shape(rhs(probe)) == probe.shape:
            return lambda v: np.asarray(rhs(v), float)
    except Exception:       # noqa: BLE001  (an F of scalars only: called per value)
        pass
    return np.vectorize(lambda v: float(rhs(float(v))), otypes=[float])


def _cells(f, drive, lo, hi):
    """Cells ``[a, b]`` covering ``[lo, hi]`` and the Chebyshev coefficients of
    ``1 / (f + drive)`` on each, bisected until the interpolant meets ``RTOL``.

    A cell is accepted when, at the points between its nodes, the interpolant is
    within ``RTOL`` of the cell's largest value, or within the rounding of F + I
    (8 eps (|F| + |I| + |V|) / (F + I)^2), or when the bound on its integral's error
    is below ``ATOL`` times a rough s(lo) (where the integrand is negligible).
    """
    def rate(v):
        total = f(v) + drive
        if not np.all(np.isfinite(total)):
            raise ValueError(f"F(V) is not finite at V = {v[~np.isfinite(total)][0]:.6g}")
        if np.any(total <= 0.0):
            raise ValueError(f"F(V) + I <= 0 at V = {v[total <= 0.0].max():.6g} (drive I = "
                             f"{drive:g}): the model never fires")
        return total
    grid = np.linspace(lo, hi, 257)
    atol = ATOL * (hi - lo) * np.mean(1.0 / rate(grid))
    todo, done = [(lo, hi)], []
    while todo:
        if len(done) + len(todo) > MAX_CELLS:
            raise ValueError(f"the oracle cannot resolve 1 / (F + I) on [{lo:g}, {hi:g}] with "
                             f"{MAX_CELLS} cells")
        a, b = todo.pop()
        mid, half = 0.5 * (a + b), 0.5 * (b - a)
        values = 1.0 / rate(mid + half * _X)
        coef = _TO_COEF @ values
        check = mid + half * _X_CHECK
        total = rate(check)
        error = np.max(np.abs(chebyshev.chebval(_X_CHECK, coef) - 1.0 / total))
        noise = 8.0 * np.finfo(float).eps * np.max((np.abs(total - drive) + abs(drive)
                                                     + np.abs(check)) / total / total)
        if error <= max(RTOL * np.max(values), noise) or 2.0 * half * error <= atol:
            done.append((a, b, coef))
        elif mid in (a, b):
            raise ValueError(f"the oracle cannot resolve 1 / (F + I) near V = {mid:.17g}")
        else:
            todo += [(mid, b), (a, mid)]
    done.sort(key=lambda cell: cell[0])
    return done


@functools.lru_cache(maxsize=64)
def oracle_table(model, drive):
    """The oracle's block for a table model at ``drive`` (see the module docstring; cached).

    Parameters
    ----------
    model : TableModel
    drive : float
        The drive I.

    Returns
    -------
    ndarray (float64)
        The header (``H_*``; ``tab[H_S_R]`` is the period over tau), the cell edges
        (voltage units), s at the edges (tau units) and the coefficients.
    """
    lo, top = model.v_min, model.v_spike
    cells = _cells(_vectorised(model.rhs), drive, lo, top)
    m = len(cells)
    edges = np.array([a for a, _, _ in cells] + [top])
    anti = np.array([chebyshev.chebint(coef, lbnd=1.0, scl=-0.5 * (b - a))
                     for a, b, coef in cells])
    rate = np.array([coef for _, _, coef in cells])
    part = chebyshev.chebval(-1.0, anti.T)          # each cell's integral
    s_at = np.zeros(m + 1)
    total = comp = 0.0
    for c in range(m - 1, -1, -1):                  # Neumaier sum from the top
        new = total + part[c]
        comp += (total - new) + part[c] if abs(total) >= abs(part[c]) else (part[c] - new) + total
        total = new
        s_at[c] = total + comp
    tab = np.concatenate([np.zeros(HEADER), edges, s_at, anti.ravel(), rate.ravel()])
    tab[H_CELLS], tab[H_DRIVE], tab[H_TAIL] = m, drive, float(model.tail == "leak")
    tab[H_S_R] = _time_to_spike(tab, 0, model.v_reset)
    return tab


def _tables(model, drive):
    """The blocks of each distinct value of the per-neuron ``drive`` one after another,
    and where each neuron's starts."""
    values, where = np.unique(drive, return_inverse=True)
    blocks = [oracle_table(model, float(v)) for v in values]
    starts = np.cumsum([0] + [b.shape[0] for b in blocks[:-1]]).astype(np.int64)
    return np.concatenate(blocks), starts[where.ravel()]


def ptc(model, phi, drive, coupling):
    """The oracle's phase transition curve.

    Parameters
    ----------
    model : NeuronModel
    phi : array_like
        Phases before the input (phase units).
    drive, coupling : float
        The drive I and the input J (the model's voltage units).

    Returns
    -------
    ndarray, the shape of ``phi``
        Phases just after the input; the threshold phase where it reaches threshold.
    """
    model_id = _model_id(model)
    if model_id == TABLE:
        tab, omega = oracle_table(model, float(drive)), 0.0
    else:
        tab, omega = np.zeros(1), float(model.omega(drive))
    phi = np.asarray(phi, float)
    return np.array([_phase_jump(model_id, p, float(drive), float(coupling), omega, tab, 0)
                     for p in phi.ravel()]).reshape(phi.shape)


def _model_id(model):
    """The oracle's id (LIF, QIF, TABLE) of ``model``'s class."""
    for cls, model_id in ((LIFModel, LIF), (QIFModel, QIF), (TableModel, TABLE)):
        if isinstance(model, cls):
            return model_id
    raise ValueError(f"the reference simulator has no phase transition curve for {model!r}")


def simulate(network, t_end=None, n_spikes=None, warmup=0.0, record="spikes"):
    """Simulate ``network`` with the conventional O(n)-per-spike algorithm.

    Same parameters as ``sparseprop_gpu.runs.simulate`` (without ``key``);
    ``record="spikes"`` needs ``n_spikes`` (the buffer is allocated up front).

    Returns
    -------
    record : SpikeRecord
    phases : ndarray (n,)
        Every neuron's phase just after the last processed spike.
    """
    if getattr(network, "weights", None) is not None:
        raise ValueError("network: per-connection weights are not in this simulator: give "
                         "simulate_populations one coupling per synapse")
    t_end, n_spikes, warmup, _ = check_run(t_end, n_spikes, warmup, record, "auto", network)
    if record == "spikes" and n_spikes == UNLIMITED:
        raise ValueError("n_spikes must be given for the reference simulator with record='spikes'")
    model = network.model
    n = network.n
    phi = network.initial_phases.copy()
    size = n_spikes if record == "spikes" else 0
    times, senders = np.empty(size), np.empty(size, np.int32)
    counts = np.zeros(n, np.int64)
    t_last, isi_sum, isi_sumsq = np.zeros(n), np.zeros(n), np.zeros(n)
    model_id = _model_id(model)
    drive = np.broadcast_to(np.asarray(network.drive, float), (n,)).copy()
    if model_id == TABLE:
        tab, base = _tables(model, drive)
        omega = 1.0 / tab[base + H_S_R]
    else:
        tab, base = np.zeros(1), np.zeros(n, np.int64)
        omega = np.asarray(model.omega(drive), float)
    seconds_per_phase = np.broadcast_to(network.tau, (n,)) / omega
    n_rec, _ = _run(model_id, drive, network.coupling, omega, seconds_per_phase,
                    not network.heterogeneous, model.phase_reset, model.phase_threshold, phi,
                    network.target_table(), tab, base, t_end, warmup, n_spikes, times, senders,
                    counts, t_last, isi_sum, isi_sumsq)
    if n_rec < 0:
        raise ValueError("an input took a neuron below the model's table (v_min)")
    t_stop = stop_time(n_rec < n_spikes, t_end, times[:n_rec], t_last, size > 0)
    return SpikeRecord(times=times[:n_rec], senders=senders[:n_rec], counts=counts,
                       isi_sum=isi_sum, isi_sumsq=isi_sumsq, t_start=warmup, t_stop=t_stop,
                       meta={**network.describe(), "record": record, "backend": "reference"},
                       ), phi


# ---- populations, excitation, delays, refractory periods (docs/design.md §2.12)

OK, BELOW_TABLE, CASCADE = 0, 1, 2      # how ``_run_populations`` ended


class Population(NamedTuple):
    """One population of ``simulate_populations``: ``len(phases)`` neurons.

    Attributes
    ----------
    model : NeuronModel
        LIF, QIF, EIF or a TableModel; its ``tau`` (s) is the population's.
    phases : array_like (n,)
        Initial phases (phase units), at most the model's threshold phase; for quiescent
        neurons their voltages.
    drive : float or array_like (n,)
        The drive I (the model's voltage units). LIF neurons with I <= 1 are quiescent: they
        relax to V = I and fire only where inputs take them to threshold; this oracle holds
        their voltage V (reset 0, threshold 1) and advances it as I + (V - I) e^(-dt / tau).
    t_ref : float
        Refractory period (s), >= 0.
    """

    model: object
    phases: object
    drive: object
    t_ref: float = 0.0


@njit(cache=True)
def _later(t_hi, t_lo, x):
    """The time ``(t_hi, t_lo) + x`` (s) as a normalised pair: the compensated clock's sum."""
    s = t_hi + x
    z = s - t_hi
    err = (t_hi - (s - z)) + (x - z) + t_lo
    top = s + err
    return top, err - (top - s)


@njit(cache=True)
def _before(a_hi, a_lo, b_hi, b_lo):
    """The time ``a`` is before ``b`` (normalised pairs)."""
    return a_hi < b_hi or (a_hi == b_hi and a_lo < b_lo)


@njit(cache=True)
def _earlier(heap, a, b):
    """Row ``a`` of the delivery heap is due before row ``b``: rows are (time as a pair,
    emission serial, synapse), compared in that order."""
    for c in range(4):
        if heap[a, c] != heap[b, c]:
            return heap[a, c] < heap[b, c]
    return False


@njit(cache=True)
def _swap(heap, a, b):
    for c in range(4):
        heap[a, c], heap[b, c] = heap[b, c], heap[a, c]


@njit(cache=True)
def _push(heap, size, t_hi, t_lo, serial, synapse):
    """Add a delivery to the binary heap of ``size`` rows (grown when full); returns the heap
    and its new size."""
    if size == heap.shape[0]:
        grown = np.empty((2 * size, 4))
        grown[:size] = heap
        heap = grown
    heap[size, 0], heap[size, 1], heap[size, 2], heap[size, 3] = t_hi, t_lo, serial, synapse
    i = size
    while i > 0 and _earlier(heap, i, (i - 1) // 2):
        _swap(heap, i, (i - 1) // 2)
        i = (i - 1) // 2
    return heap, size + 1


@njit(cache=True)
def _pop(heap, size):
    """Remove the first delivery of the heap of ``size`` rows; returns the new size."""
    size -= 1
    _swap(heap, 0, size)
    i = 0
    while 2 * i + 1 < size:
        c = 2 * i + 1
        if c + 1 < size and _earlier(heap, c + 1, c):
            c += 1
        if not _earlier(heap, c, i):
            break
        _swap(heap, i, c)
        i = c
    return size


@njit(cache=True)
def _grow(a):
    out = np.empty(2 * a.shape[0], a.dtype)
    out[:a.shape[0]] = a
    return out


@njit(cache=True)
def _take(model, drive, omega, base, tab, refractory, quiet, phi, i, coupling):
    """Apply the input ``coupling`` to neuron ``i`` unless it is refractory (the arrays per
    neuron, as in ``_run_populations``; a quiescent neuron's ``phi`` is its voltage); False
    where it took ``i`` below its model's table."""
    if refractory[i]:
        return True
    if quiet[i]:
        phi[i] += coupling
    else:
        phi[i] = _phase_jump(model[i], phi[i], drive[i], coupling, omega[i], tab, base[i])
    return phi[i] == phi[i]


@njit(cache=True)
def _run_populations(model, drive, omega, seconds_per_phase, phi_reset, phi_th, t_ref, base,
                     quiet, tau, tab, indptr, targets, coupling, delay, ext_times, ext_targets,
                     ext_weights, phi, t_end, n_spikes):
    """The loop of ``simulate_populations`` (every argument before ``tab`` per neuron, the
    synapses as CSR out-lists, the external events as ``ext_*``, in time order); returns
    (how it ended, spikes, times, senders, time)."""
    n = phi.shape[0]
    refractory = np.zeros(n, np.bool_)
    free_hi, free_lo = np.zeros(n), np.zeros(n)        # end of each refractory period
    heap = np.empty((64, 4))
    size = 0
    times = np.empty(min(n_spikes, 1024))
    senders = np.empty(times.shape[0], np.int32)
    n_rec = serial = burst = ext = 0          # ``ext``: the next external event
    t_hi = t_lo = 0.0
    while True:
        cross = math.inf                    # the next threshold crossing without input
        for i in range(n):
            if not refractory[i] and not quiet[i]:
                cross = min(cross, (phi_th[i] - phi[i]) * seconds_per_phase[i])
        c_hi, c_lo = _later(t_hi, t_lo, cross) if cross < math.inf else (math.inf, 0.0)
        e_hi, e_lo = c_hi, c_lo             # the next event: crossing, end of refractoriness,
        for i in range(n):                  # delivery or external event
            if refractory[i] and _before(free_hi[i], free_lo[i], e_hi, e_lo):
                e_hi, e_lo = free_hi[i], free_lo[i]
        if size > 0 and _before(heap[0, 0], heap[0, 1], e_hi, e_lo):
            e_hi, e_lo = heap[0, 0], heap[0, 1]
        if ext < ext_times.shape[0] and _before(ext_times[ext], 0.0, e_hi, e_lo):
            e_hi, e_lo = ext_times[ext], 0.0
        if e_hi == math.inf or _before(t_end, 0.0, e_hi, e_lo):
            return OK, n_rec, times[:n_rec], senders[:n_rec], t_hi
        dt = (e_hi - t_hi) + (e_lo - t_lo)
        hit = e_hi == c_hi and e_lo == c_lo
        for i in range(n):
            if quiet[i]:
                if not refractory[i]:
                    phi[i] = drive[i] + (phi[i] - drive[i]) * math.exp(-dt / tau[i])
            elif not refractory[i]:
                if hit and (phi_th[i] - phi[i]) * seconds_per_phase[i] == cross:
                    phi[i] = phi_th[i]
                else:
                    phi[i] += dt / seconds_per_phase[i]
        if e_hi != t_hi or e_lo != t_lo:
            burst = 0
        t_hi, t_lo = e_hi, e_lo
        for i in range(n):                  # 1. refractory periods that end now
            if refractory[i] and not _before(t_hi, t_lo, free_hi[i], free_lo[i]):
                refractory[i] = False
        while size > 0 and heap[0, 0] == t_hi and heap[0, 1] == t_lo:     # 2. deliveries
            s = np.int64(heap[0, 3])
            size = _pop(heap, size)
            if not _take(model, drive, omega, base, tab, refractory, quiet, phi, targets[s],
                         coupling[s]):
                return BELOW_TABLE, n_rec, times[:n_rec], senders[:n_rec], t_hi
        while ext < ext_times.shape[0] and ext_times[ext] == t_hi and t_lo == 0.0:  # 3. external
            if not _take(model, drive, omega, base, tab, refractory, quiet, phi, ext_targets[ext],
                         ext_weights[ext]):
                return BELOW_TABLE, n_rec, times[:n_rec], senders[:n_rec], t_hi
            ext += 1
        while True:                         # 4. spikes, the lowest index at or past threshold first
            j = -1
            for i in range(n):
                if phi[i] >= phi_th[i] and not refractory[i]:
                    j = i
                    break
            if j < 0:
                break
            burst += 1
            if burst > n:
                return CASCADE, n_rec, times[:n_rec], senders[:n_rec], t_hi
            if n_rec == times.shape[0]:
                times, senders = _grow(times), _grow(senders)
            times[n_rec] = t_hi
            senders[n_rec] = j
            n_rec += 1
            phi[j] = phi_reset[j]
            if t_ref[j] > 0.0:
                refractory[j] = True
                free_hi[j], free_lo[j] = _later(t_hi, t_lo, t_ref[j])
            for s in range(indptr[j], indptr[j + 1]):
                if delay[s] > 0.0:
                    d_hi, d_lo = _later(t_hi, t_lo, delay[s])
                    heap, size = _push(heap, size, d_hi, d_lo, serial, s)
                elif not _take(model, drive, omega, base, tab, refractory, quiet, phi, targets[s],
                               coupling[s]):
                    return BELOW_TABLE, n_rec, times[:n_rec], senders[:n_rec], t_hi
            serial += 1
            if n_rec == n_spikes:
                return OK, n_rec, times[:n_rec], senders[:n_rec], t_hi


def _neurons(populations):
    """Per-neuron arrays of ``populations`` (model ids, drives, omegas, seconds per phase,
    reset and threshold phases, refractory periods, table bases, phases) and the tables."""
    columns = {name: [] for name in ("model", "drive", "omega", "spp", "reset", "th", "t_ref",
                                     "base", "quiet", "tau", "phi")}
    blocks, offset = [], 0
    for a, pop in enumerate(populations):
        pop = Population(*pop)
        model_id = _model_id(pop.model)
        phases = np.asarray(pop.phases, float)
        if phases.ndim != 1 or not np.all(np.isfinite(phases)):
            raise ValueError(f"populations[{a}].phases must be a 1-D array of finite phases")
        if np.any(phases > pop.model.phase_threshold):
            raise ValueError(f"populations[{a}].phases must be at most the threshold phase "
                             f"{pop.model.phase_threshold:g}; got {phases.max():g}")
        n = phases.shape[0]
        drive = np.broadcast_to(np.asarray(pop.drive, float), (n,)).copy()
        quiet = (drive <= 1.0) if model_id == LIF else np.zeros(n, np.bool_)
        lowest = 0.0 if model_id == QIF else -math.inf   # LIF: quiescent; tables: ``_cells``
        if not np.all(np.isfinite(drive) & (drive > lowest)):
            raise ValueError(f"populations[{a}].drive must be finite" + (
                f" and > {lowest:g} for {pop.model.name} (to reach threshold)"
                if model_id == QIF else ""))
        t_ref = validate.real(f"populations[{a}].t_ref (s)", pop.t_ref, 0.0, math.inf)
        if model_id == TABLE:
            tab, base = _tables(pop.model, drive)
            omega = 1.0 / tab[base + H_S_R]
            blocks.append(tab)
            base = base + offset
            offset += tab.shape[0]
        else:
            with np.errstate(invalid="ignore", divide="ignore"):    # quiescent: none
                omega = np.where(quiet, math.nan, pop.model.omega(np.where(quiet, 2.0, drive)))
            base = np.zeros(n, np.int64)
        for name, value in (("model", model_id), ("drive", drive), ("omega", omega),
                            ("spp", pop.model.tau / omega), ("reset", pop.model.phase_reset),
                            ("th", pop.model.phase_threshold), ("t_ref", t_ref),
                            ("base", base), ("quiet", quiet), ("tau", pop.model.tau),
                            ("phi", phases)):
            columns[name].append(np.broadcast_to(value, (n,)))
    arrays = {name: np.concatenate(parts) for name, parts in columns.items()}
    return arrays, np.concatenate(blocks) if blocks else np.zeros(1)


def _external(external, n):
    """The external events (times (s), targets, weights) as arrays, checked; none for None."""
    if external is None:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0)
    if not isinstance(external, tuple) or len(external) != 3:
        raise ValueError("external must be None or a tuple (times, targets, weights) of 1-D "
                         f"arrays; got {type(external).__name__}")
    times, targets, weights = external
    if np.ndim(times) != 1:
        raise ValueError(f"external times (s) must be a 1-D array; got {np.ndim(times)} "
                         "dimensions")
    size = (len(times),)
    times = validate.finite_array("external times (s)", times, size)
    if np.any(times < 0.0):
        raise ValueError(f"external times (s) must be >= 0; got {times.min():g}")
    if np.any(np.diff(times) < 0.0):
        k = int(np.argmax(np.diff(times) < 0.0))
        raise ValueError(f"external times (s) must be non-decreasing; got {times[k]!r} then "
                         f"{times[k + 1]!r} at {k}, {k + 1}")
    targets = validate.finite_array("external targets (as many as the external times)",
                                    targets, size)
    if np.any((targets < 0) | (targets >= n) | (targets != np.round(targets))):
        raise ValueError(f"external targets must be integer neuron indices in [0, {n})")
    weights = validate.finite_array("external weights (as many as the external times)",
                                    weights, size)
    return times + 0.0, targets.astype(np.int64), weights     # + 0.0: -0.0 as 0.0


def simulate_populations(populations, indptr, targets, coupling, delay, t_end=None,
                         n_spikes=None, external=None):
    """Simulate populations with excitation, synaptic delays, refractory periods and external
    input events, with the conventional O(N)-per-event algorithm (the semantics of
    docs/design.md §2.12).

    Neurons 0..N-1 are the populations' in the order given. At an event all phases advance
    to its time (refractory neurons stay at reset) and the next event is the earliest of:
    the first threshold crossing without input, the end of a refractory period, a delivery,
    an external event.

    * A neuron spikes when its phase reaches threshold: it restarts at the reset phase and
      is refractory during [t_spike, t_spike + t_ref), half-open: inputs arriving then are
      ignored, one arriving exactly at t_spike + t_ref is taken; its phase stays at reset
      until t_spike + t_ref (free period t_ref + T).
    * A spike of j at t delivers ``coupling[s]`` to ``targets[s]`` at t + ``delay[s]`` for
      each synapse s of its out-list: phi -> PTC(phi, J), unless the target is refractory
      then. An input may take the phase past threshold (the module docstring says how it
      is held): the inputs of one instant sum, as in NEST's precise models.
    * At one instant, in this order: ends of refractory periods; the deliveries due, in the
      order of their spikes' emission (earlier spikes first, equal times in the order the
      spikes were processed), one spike's in out-list order; the external events due, in
      the order given; then the spikes: the lowest index at or past threshold spikes first,
      its zero-delay deliveries are applied at once in out-list order, then again the lowest
      index at or past threshold, and so on. A neuron taken to or past threshold by an input
      thus spikes after all the deliveries and external events due at that instant, which
      sum (an inhibitory one may take it back below threshold: then it does not spike).
    * An external event (t, i, J) applies J to neuron i at exactly t (the float given, not
      a sum) by the same rules as a delivery: phi -> PTC(phi, J) unless i is refractory
      then (the same half-open rule); past threshold it is held as a delivery's is.
    * More than N spikes at one instant (a zero-delay cascade that does not end) is an error.
    * Times are normalised compensated pairs (t + d and t + t_ref by two-sum), so that equal
      sums are equal; a recorded time is the pair's leading float.

    Parameters
    ----------
    populations : sequence of Population (or (model, phases, drive, t_ref) tuples)
    indptr : array_like (N + 1,)
        Out-list offsets: the synapses of neuron j are ``indptr[j]:indptr[j + 1]``.
    targets : array_like (S,)
        Postsynaptic neuron of each synapse.
    coupling : array_like (S,)
        J of each synapse (voltage jump, the target model's units; > 0 excitatory).
    delay : array_like (S,)
        Delay of each synapse (s), >= 0.
    t_end : float, optional
        Stop after the last event at or before ``t_end`` (s).
    n_spikes : int, optional
        Stop just after this many spikes (their zero-delay deliveries applied).
    external : (times, targets, weights) of array_like (E,), optional
        External input events: absolute times (s; finite, >= 0, non-decreasing), target
        neurons in [0, N) and weights J (voltage jump, the target model's units; finite,
        any sign). Events after the stop are not applied.

    Returns
    -------
    times : ndarray (float64)
        Spike times (s), in the order processed.
    senders : ndarray (int32)
        The neuron of each spike.
    phases : ndarray (N,)
        Every neuron's phase just after the last processed event.
    """
    if t_end is None and n_spikes is None:
        raise ValueError("give t_end (s) or n_spikes (or both) to say when to stop")
    t_end = math.inf if t_end is None else validate.real("t_end (s)", t_end, 0.0, math.inf)
    n_spikes = UNLIMITED if n_spikes is None else validate.integer("n_spikes", n_spikes, 1,
                                                                   UNLIMITED)
    neurons, tab = _neurons(populations)
    n = neurons["phi"].shape[0]
    indptr = validate.finite_array("indptr", indptr, (n + 1,), np.int64)
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ValueError("indptr must start at 0 and never decrease")
    size = (int(indptr[-1]),)
    targets = validate.finite_array("targets (as many as indptr[-1])", targets, size, np.int64)
    if np.any((targets < 0) | (targets >= n)):
        raise ValueError(f"targets must be neuron indices in [0, {n - 1}]")
    coupling = validate.finite_array("coupling (one J per synapse)", coupling, size)
    delay = validate.finite_array("delay (s, one per synapse)", delay, size)
    if np.any(delay < 0.0):
        raise ValueError(f"delay must be >= 0 (s); got {delay.min():g}")
    ext_times, ext_targets, ext_weights = _external(external, n)
    phi = neurons["phi"].copy()
    how, _, times, senders, t = _run_populations(
        neurons["model"], neurons["drive"], neurons["omega"], neurons["spp"],
        neurons["reset"], neurons["th"], neurons["t_ref"], neurons["base"], neurons["quiet"],
        neurons["tau"], tab, indptr,
        targets, coupling, delay, ext_times, ext_targets, ext_weights, phi, t_end, n_spikes)
    if how == BELOW_TABLE:
        raise ValueError(f"at t = {t!r} s an input took a neuron below its model's table (v_min)")
    if how == CASCADE:
        raise ValueError(f"a zero-delay cascade that does not end: more than {n} spikes at "
                         f"t = {t!r} s; add a refractory period (t_ref > 0) or a delay")
    return times.copy(), senders.copy(), phi
