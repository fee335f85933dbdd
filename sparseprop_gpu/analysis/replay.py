"""Exact voltages from spikes: the replay of an instance's dynamics through its recorded spikes
(``voltage_traces``) and the Golomb-Hansel synchrony measure on it (``chi``, ``chi_from_traces``).
"""
import math

import numpy as np
from numba import njit

from .data import as_output, spike_data

LIF_KIND, QIF_KIND, OTHER_KIND = 0, 1, 2


@njit(cache=True)
def _replay(kind, times, senders, start, table, phi, t_last, known, speed, drive, coupling,
            omega, phi_reset, phi_th, grid, out, check):
    """Advance every neuron's phase through the spikes up to each grid time, and sample it.

    Events at a time ``<= grid[g]`` are applied before sample ``g``. A neuron's phase is known
    from the start (``known``) or from its first own spike on; unknown phases are NaN. ``check[0]``
    collects the largest |phase - threshold| of a known neuron just before its own spike (0 for
    spikes consistent with the network), ``check[1]`` how many such spikes were checked.
    Returns the index of the first spike not yet applied.
    """
    s = start
    n_spk = times.shape[0]
    k = table.shape[1]
    for g in range(grid.shape[0]):
        tg = grid[g]
        while s < n_spk and times[s] <= tg:
            t = times[s]
            j = senders[s]
            if known[j]:
                pre = phi[j] + (t - t_last[j]) * speed[j]
                dev = abs(pre - phi_th)
                if dev > check[0]:
                    check[0] = dev
                check[1] += 1.0
            for c in range(k):
                i = table[j, c]
                if known[i]:
                    p = phi[i] + (t - t_last[i]) * speed[i]
                    if kind == 0:
                        p = -omega[i] * math.log(math.exp(-p / omega[i]) - coupling / drive[i])
                    else:
                        p = 2.0 * math.atan(math.tan(0.5 * p) + coupling / math.sqrt(drive[i]))
                    phi[i] = p
                    t_last[i] = t
            phi[j] = phi_reset
            t_last[j] = t
            known[j] = True
            s += 1
        for i in range(phi.shape[0]):
            if known[i]:
                out[i, g] = min(phi[i] + (tg - t_last[i]) * speed[i], phi_th)
            else:
                out[i, g] = math.nan
    return s


class _Replay:
    """Exact phase reconstruction of one instance from its spikes (see ``voltage_traces``)."""

    def __init__(self, network, times, senders, t_start, initial_known):
        model = network.model
        n = network.n
        self.model, self.network = model, network
        self.times = np.ascontiguousarray(times, np.float64)
        self.senders = np.ascontiguousarray(senders, np.int64)
        if self.times.size > 1 and np.any(np.diff(self.times) < 0):
            order = np.argsort(self.times, kind="stable")
            self.times, self.senders = self.times[order], self.senders[order]
        self.table = np.ascontiguousarray(network.target_table(), np.int64)
        self.drive = np.broadcast_to(np.asarray(network.drive, float), (n,)).copy()
        tau = np.broadcast_to(np.asarray(network.tau, float), (n,))
        self.omega = np.asarray(model.omega(self.drive), float).copy()
        self.speed = self.omega / tau
        if getattr(network, "weights", None) is not None:
            raise ValueError("network: replaying voltages of a network with per-connection "
                             "weights is not built (one coupling only)")
        self.coupling = float(network.coupling)
        self.kind = {"lif": LIF_KIND, "qif": QIF_KIND}.get(model.name, OTHER_KIND)
        if initial_known:
            self.phi = np.array(network.initial_phases, float)
            self.known = np.ones(n, np.bool_)
        else:
            self.phi = np.full(n, model.phase_reset)
            self.known = np.zeros(n, np.bool_)
        self.t_last = np.full(n, float(t_start))
        self.next = 0
        self.check = np.zeros(2)

    def phases(self, grid):
        """(n, G) phases at the increasing times ``grid`` (after the previous call's grid)."""
        grid = np.ascontiguousarray(grid, np.float64)
        out = np.empty((self.phi.size, grid.size))
        m = self.model
        if self.kind != OTHER_KIND:
            self.next = _replay(self.kind, self.times, self.senders, self.next, self.table,
                                self.phi, self.t_last, self.known, self.speed, self.drive,
                                self.coupling, self.omega, float(m.phase_reset),
                                float(m.phase_threshold), grid, out, self.check)
            return out
        # any other model (e.g. table models): the same loop with the model's own vectorised
        # PTC applied to the K targets of each spike (one Python step per spike)
        th = float(m.phase_threshold)
        for g, tg in enumerate(grid):
            while self.next < self.times.size and self.times[self.next] <= tg:
                t, j = self.times[self.next], self.senders[self.next]
                if self.known[j]:
                    pre = self.phi[j] + (t - self.t_last[j]) * self.speed[j]
                    self.check[0] = max(self.check[0], abs(pre - th))
                    self.check[1] += 1
                tg_ = self.table[j]
                tg_ = tg_[self.known[tg_]]
                p = self.phi[tg_] + (t - self.t_last[tg_]) * self.speed[tg_]
                self.phi[tg_] = m.ptc(p, self.drive[tg_], self.coupling)
                self.t_last[tg_] = t
                self.phi[j], self.t_last[j], self.known[j] = m.phase_reset, t, True
                self.next += 1
            out[:, g] = np.where(self.known, np.minimum(
                self.phi + (tg - self.t_last) * self.speed, th), np.nan)
        return out

    def observe(self, phases, observable):
        """``phases`` (n, G) as they are, or as voltages (``observable="voltage"``)."""
        if observable == "phase":
            return phases
        return self.model.phase_to_voltage(phases, self.drive[:, None])


def _observable(model, observable):
    """``observable`` checked, with "auto" resolved for ``model``."""
    if observable == "auto":
        return "phase" if model.name == "qif" else "voltage"
    if observable not in ("voltage", "phase"):
        raise ValueError(f"observable must be 'auto', 'voltage' or 'phase'; got {observable!r}")
    return observable


def _networks(data, network):
    """A function m -> Network for the instances of ``data``."""
    from ..runs.ensemble import Ensemble
    from ..specification.network import Network
    if network is None:
        if data.networks is None:
            raise ValueError("pass network= (the simulated Network, or the Ensemble)")
        return data.networks
    if isinstance(network, Network):
        if len(data) != 1:
            raise ValueError("network= must be an Ensemble or a list of Networks, one per "
                             f"instance ({len(data)}), for several instances")
        return lambda _m: network
    if isinstance(network, Ensemble):
        network = network.instances
    network = list(network)
    if len(network) != len(data):
        raise ValueError(f"network= has {len(network)} networks for {len(data)} instances")
    return lambda m: network[m]


def _initial_known(data, net, m):
    """Whether instance ``m``'s phases are known at its start (the network's initial ones)."""
    return float(data.t_start[m]) == 0.0 and net.initial_phases is not None


def voltage_traces(source, grid, network=None, observable="voltage", instance=None):
    """Exact membrane potentials (or phases) of every neuron at the times ``grid``.

    Between events a neuron's phase grows at its constant velocity; at each recorded spike the
    sender resets and its K targets (``network.target_table()``) jump through the model's phase
    transition curve. Replaying the spike record through these rules gives the phases, hence the
    voltages, exactly (to rounding), at any time. The phases are known from the start when the
    record begins at t = 0 (the network's ``initial_phases``); after a warm-up, a neuron's phase
    is known from its first spike in the record on, and NaN before it.

    Parameters
    ----------
    source : SpikeRecord, EnsembleResult, Dataset or SpikeData, with spikes
    grid : array_like (G,)
        Increasing sample times (s).
    network : Network, Ensemble or list of Networks, optional
        The simulated network(s). Default: rebuilt from the record's metadata (or the sweep's
        specification): right unless the network had user-given targets or initial state.
    observable : {"voltage", "phase", "auto"}
    instance : int, optional
        Which instance (required for several).

    Returns
    -------
    ndarray (n, G)
    """
    data = spike_data(source)
    data.need_spikes("voltage_traces")
    if len(data) > 1:
        if instance is None:
            raise ValueError(f"instance= is needed: this source has {len(data)} instances")
        nets = _networks(data, network)
        data, net = data.instance(instance), nets(instance)
    else:
        net = _networks(data, network)(0)
    grid = np.asarray(grid, np.float64)
    if grid.ndim != 1 or np.any(np.diff(grid) < 0):
        raise ValueError("grid must be a 1-d array of increasing times")
    rep = _Replay(net, data.times, data.senders, data.t_start[0], _initial_known(data, net, 0))
    return rep.observe(rep.phases(grid), _observable(net.model, observable))


def chi_from_traces(traces):
    """Golomb-Hansel synchrony chi of sampled traces, shape (neuron, time).

    chi^2 = Var_t(mean_i V_i(t)) / mean_i Var_t(V_i(t)): 1 for identical traces, about
    1/sqrt(N) for N independent ones. NaN when no trace varies (or there are none).
    """
    v = np.asarray(traces, np.float64)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] < 2:
        return math.nan
    pop = v.mean(axis=0)
    denominator = v.var(axis=1).mean()
    if not denominator > 0:
        return math.nan
    return float(math.sqrt(pop.var() / denominator))


def chi(source, network=None, n_samples=1000, t_from=None, t_to=None, observable="auto",
        known_fraction=0.95, return_info=False):
    """Golomb-Hansel synchrony measure chi from exact voltages on a time grid.

    The voltages are reconstructed exactly from the spikes (``voltage_traces``) at
    ``n_samples`` equally spaced times in ``[t_from, t_to]`` and
    chi^2 = Var_t(mean_i V_i) / mean_i Var_t(V_i) (``chi_from_traces``), accumulated in chunks
    of the grid so memory stays O(n) per chunk. chi is 1 for perfect synchrony and of order
    1/sqrt(N) for asynchronous activity.

    Parameters
    ----------
    source : with spikes (record="spikes")
    network : Network, Ensemble or list of Networks, optional
        As in ``voltage_traces``.
    n_samples : int
    t_from, t_to : float, optional
        The grid's ends (default: the window). When the phases at ``t_start`` are unknown (a
        warm-up was discarded) ``t_from`` defaults to the time by which ``known_fraction`` of the
        neurons that fire in the window have fired once; neurons whose phase is still unknown at
        ``t_from`` (they have not fired yet, silent ones included) are left out.
    observable : {"auto", "voltage", "phase"}
        "auto": the voltage for LIF (and other models with bounded voltage), the phase for QIF,
        whose voltage tan(phase / 2) has no finite variance over time.
    return_info : bool
        Also return a dict per instance: neurons used, t_from, t_to, and ``max_phase_error``,
        the largest |phase - threshold| of the replay at a recorded spike (about 1e-12 when the
        spikes belong to ``network``; a large value means the wrong network).

    Returns
    -------
    float (a record) or ndarray (M,); NaN where undefined (fewer than two samples, no neuron
    known, no variance). With ``return_info``, ``(chi, info)``.
    """
    data = spike_data(source)
    data.need_spikes("chi")
    nets = _networks(data, network)
    n_samples = int(n_samples)
    values = np.full(len(data), np.nan)
    infos = []
    for m in range(len(data)):
        one = data.instance(m) if len(data) > 1 else data
        net = nets(m)
        values[m], info = _chi_one(one, net, n_samples, t_from, t_to, observable, known_fraction)
        infos.append(info)
    if data.single:
        out = float(values[0])
        return (out, infos[0]) if return_info else out
    out = as_output(data, values, extra_dims=(), name="chi")
    return (out, infos) if return_info else out


def _chi_one(data, net, n_samples, t_from, t_to, observable, known_fraction):
    """chi of one instance and its info dict (see ``chi``)."""
    t0, t1 = float(data.t_start[0]), float(data.t_stop[0])
    info = {"neurons": 0, "t_from": math.nan, "t_to": math.nan, "max_phase_error": math.nan}
    if not np.isfinite(t1) or data.n[0] != net.n:
        if data.n[0] != net.n:
            raise ValueError(f"network has n = {net.n}, the record {int(data.n[0])}")
        return math.nan, info
    initial = _initial_known(data, net, 0)
    if t_from is None:
        t_from = t0 if initial else _known_by(data, net.n, known_fraction, t0)
    t_to = t1 if t_to is None else float(t_to)
    info.update(t_from=float(t_from), t_to=t_to)
    if n_samples < 2 or not t_to > t_from:
        return math.nan, info
    rep = _Replay(net, data.times, data.senders, t0, initial)
    moments = _sampled_moments(rep, np.linspace(t_from, t_to, n_samples),
                               _observable(net.model, observable), net.n)
    if moments is None:
        return math.nan, info
    pop, var_i = moments
    denominator = var_i.mean()
    info.update(neurons=var_i.size,
                max_phase_error=float(rep.check[0]) if rep.check[1] else math.nan)
    if not denominator > 0:
        return math.nan, info
    return float(math.sqrt(pop.var() / denominator)), info


def _known_by(data, n, fraction, t0):
    """The time (s) by which ``fraction`` of the neurons that fire have fired once (``t0``
    when none fires)."""
    if not data.times.size:
        return t0
    first = np.full(n, np.inf)
    np.minimum.at(first, data.senders, data.times)
    fired = np.sort(first[np.isfinite(first)])
    return float(fired[min(fired.size - 1, int(math.ceil(fraction * fired.size)) - 1)])


def _sampled_moments(rep, grid, observable, n):
    """The observable's population mean at each time of ``grid`` (G,) and the variance over
    ``grid`` of each neuron known at ``grid[0]``, replayed in chunks so memory stays O(n) per
    chunk; None when no neuron is known at ``grid[0]``."""
    chunk = max(2, (1 << 22) // max(n, 1))
    pop = np.empty(grid.size)
    use = None
    for lo in range(0, grid.size, chunk):
        v = rep.observe(rep.phases(grid[lo:lo + chunk]), observable)
        if use is None:
            use = np.isfinite(v[:, 0])
            if not use.any():
                return None
            shift = v[use, 0].copy()
            s1 = np.zeros(int(use.sum()))
            s2 = np.zeros_like(s1)
        x = v[use] - shift[:, None]
        s1 += x.sum(axis=1)
        s2 += (x * x).sum(axis=1)
        pop[lo:lo + chunk] = v[use].mean(axis=0)
    mean = s1 / grid.size
    return pop, np.maximum(s2 / grid.size - mean * mean, 0.0)
