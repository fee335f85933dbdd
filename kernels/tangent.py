"""Tangent dynamics of the event map (docs/design.md §2.18, §2.19): the single-spike Jacobian,
its action on m tangent vectors along a recorded spike sequence, and its transpose (the adjoint)
backwards through it.

Compared at equal times (Monteforte and Wolf 2010), a spike of ``j`` changes only its K
targets' phases: row ``i`` of its Jacobian holds g'(phi_i) at ``i`` and 1 - g'(phi_i) at ``j``
(phi_i the target's phase just before the input), the identity elsewhere, so moving m vectors
costs O(K m) per spike. The phases are replayed from the engine's spike times as offsets to the
global phase shift, as the phase key holds them; one population of a closed-form model, inputs
to refractory targets the identity (the slice built so far).
"""
import math

import numpy as np
from numba.extending import register_jitable

from .connectivity import draw_targets, STORED
from .models import LIF, P_KICK, P_OMEGA, P_PHI_RESET, P_PHI_TH, P_REF, P_T_REF, P_TPP


@register_jitable
def transition(model, phi, omega, kick, drive):
    """One input at phase ``phi``: ``(g(phi), g'(phi), dg/dJ)``, the phase after it (as
    ``models.ptc``), its derivatives in the phase and in the coupling J (``kick`` J / I for LIF,
    J / sqrt(I) for QIF; ``drive`` I). One exp and one log (LIF), one tan and one atan (QIF)."""
    if model == LIF:
        rest = math.exp(-phi / omega) - kick
        return -omega * math.log(rest), (rest + kick) / rest, omega / (drive * rest)
    h = math.tan(0.5 * min(max(phi, -math.pi), math.pi))   # a replayed tie may round past pi
    u = h + kick
    return 2.0 * math.atan(u), (1.0 + h * h) / (1.0 + u * u), 2.0 / (math.sqrt(drive)
                                                                     * (1.0 + u * u))


@register_jitable
def refractory_at(times, senders, lo, t_ref, refractory_end):
    """Each neuron's end of refractoriness (s) at spike ``lo``, from the spikes of the last
    t_ref before it (a checkpoint holds no more): its last spike's time + t_ref where that is
    after ``times[lo]``, -inf else; nothing when t_ref = 0."""
    if t_ref <= 0.0:
        return
    for i in range(refractory_end.shape[0]):
        refractory_end[i] = -math.inf
    s = lo - 1
    while s >= 0 and lo < times.shape[0] and times[s] + t_ref > times[lo]:
        j = senders[s]
        if refractory_end[j] == -math.inf:
            refractory_end[j] = times[s] + t_ref
        s -= 1


@register_jitable
def record_inputs(model, mp, drive, conn_mode, target_table, kicks, seed, n, k, bitmap, drawn,
                  candidates, refractory_end, offsets, senders, times, t0, lo, hi, targets, slopes,
                  d_coupling, d_drive, sources, roots):
    """Replay spikes ``lo .. hi - 1`` as ``replay_tangents`` does, without vectors, writing the
    inputs of spike s to row ``s - lo`` of ``targets`` (int32[., k]), ``slopes`` (g'),
    ``d_coupling`` (dg/dJ) and, unless it has no rows, ``d_drive`` (dg/dI at the input's
    phase); returns the replay's largest distance from threshold. ``kicks`` (n, k): a weighted
    network's kick per connection, (1, 1) else. An input to a refractory target (below reset
    before ``refractory_end``, float64[n] scratch, unread without a refractory period, as the
    engine's rule) is the identity: g' = 1, dg/dJ = dg/dI = 0. ``sources[s - lo]`` gets the
    neuron whose phase spike s's time follows: its sender, or for a spike an excitatory input
    caused (LIF) the root of its instant's cascade; ``roots`` (int32[n] scratch where LIF
    inputs can excite, [1] else) holds each neuron's while it is past threshold. LIF goes
    through ``record_lif_inputs``."""
    if model == LIF:
        return record_lif_inputs(mp, drive, conn_mode, target_table, kicks, seed, n, k, bitmap,
                                 drawn, candidates, refractory_end, offsets, senders, times, t0,
                                 lo, hi, targets, slopes, d_coupling, d_drive, sources, roots)
    drives = d_drive.shape[0] > 0
    weighted = kicks.shape[0] > 1
    tpp = mp[P_TPP]
    omega = mp[P_OMEGA]
    kick = mp[P_KICK]
    threshold = mp[P_PHI_TH]
    reset = mp[P_PHI_RESET]
    t_ref = mp[P_T_REF]
    refractory_at(times, senders, lo, t_ref, refractory_end)
    worst = 0.0
    for s in range(lo, hi):
        j = senders[s]
        shift = (times[s] - t0) / tpp
        worst = max(worst, abs(offsets[j] + shift - threshold))
        if conn_mode == STORED:
            row = target_table[j]
        else:
            draw_targets(seed, j, n, k, bitmap, drawn, candidates)
            row = drawn
        r = s - lo
        for c in range(k):
            i = np.uint64(row[c])
            targets[r, c] = row[c]
            if t_ref > 0.0 and offsets[i] + shift < reset and times[s] < refractory_end[i]:
                slopes[r, c], d_coupling[r, c] = 1.0, 0.0       # refractory: ignored
                if drives:
                    d_drive[r, c] = 0.0
                continue
            own = kicks[j, c] if weighted else kick
            after, slopes[r, c], d_coupling[r, c] = transition(model, offsets[i] + shift, omega,
                                                               own, drive)
            if drives:                  # QIF: dg/dI = -kick dg/dJ / (2 sqrt(I))
                d_drive[r, c] = -own * d_coupling[r, c] / (2.0 * math.sqrt(drive))
            offsets[i] = after - shift
        offsets[j] = reset - mp[P_REF] - shift
        sources[r] = j                  # QIF: no input reaches threshold
        if t_ref > 0.0:
            refractory_end[j] = times[s] + t_ref
    return worst


@register_jitable
def record_lif_inputs(mp, drive, conn_mode, target_table, kicks, seed, n, k, bitmap, drawn,
                      candidates, refractory_end, offsets, senders, times, t0, lo, hi, targets,
                      slopes, d_coupling, d_drive, sources, roots):
    """``record_inputs`` for LIF without a transcendental per input: each neuron held as
    u = exp(-offset / omega), so that z = exp(-phi / omega) = u / G with G = exp((t - t0') /
    tau); an input is u -= kick G (the exp key's addition), g' = u / (u - kick G) and dg/dJ =
    omega G / (I (u - kick G)). The origin t0' moves (u /= G) before G could overflow; the
    offsets are converted in and out, O(n) per call. dg/dI (``d_drive`` with rows) takes two
    logs per input: (omega' / omega) g - (z phi omega' / omega + omega kick / I) / (z - kick),
    omega' = omega^2 / (I (I - 1)). An excitatory input that takes u to or past threshold
    (u <= G e^{-1/omega}) marks the neuron with its cascade's root; the inputs of the instant
    keep summing in u (linear in V, as the engine sums them), and the neuron's spike at the
    instant records that root as its source."""
    tau = mp[P_TPP] * mp[P_OMEGA]
    omega = mp[P_OMEGA]
    kick = mp[P_KICK]
    drives = d_drive.shape[0] > 0
    weighted = kicks.shape[0] > 1
    rate = omega / (drive * (drive - 1.0))          # omega' / omega
    threshold = mp[P_PHI_TH]
    t_ref = mp[P_T_REF]
    restart = math.exp(mp[P_REF] / omega)           # z after a reset: below it by t_ref
    at_threshold = math.exp(-threshold / omega)     # z at threshold
    excite = kick > 0.0                             # the largest weight
    refractory_at(times, senders, lo, t_ref, refractory_end)
    for i in range(n):
        offsets[i] = math.exp(-offsets[i] / omega)
        if excite:
            roots[i] = -1
    origin = t0
    if excite and 0 < lo < times.shape[0] and times[lo - 1] == times[lo]:
        first = lo - 1                              # a segment starting inside an instant:
        while first > 0 and times[first - 1] == times[lo]:   # who is past threshold there
            first -= 1                              # was taken there by its first spike
        start = at_threshold * math.exp((times[lo] - origin) / tau)
        for i in range(n):
            if offsets[i] <= start:
                roots[i] = senders[first]
    worst = 0.0
    for s in range(lo, hi):
        j = np.uint64(senders[s])
        if (times[s] - origin) / tau > 600.0:              # exp(600) is far from overflow
            scale = math.exp(-(times[s] - origin) / tau)
            for i in range(n):
                offsets[i] *= scale
            origin = times[s]
        big_g = math.exp((times[s] - origin) / tau)
        root = j
        if excite and roots[j] >= 0:                # a caused spike: past threshold
            root = np.uint64(roots[j])
            roots[j] = -1
        else:
            worst = max(worst, abs(-omega * math.log(offsets[j] / big_g) - threshold))
        r = s - lo
        sources[r] = root
        if conn_mode == STORED:
            row = target_table[j]
        else:
            draw_targets(seed, j, n, k, bitmap, drawn, candidates)
            row = drawn
        step = kick * big_g
        for c in range(k):
            i = np.uint64(row[c])
            own = kicks[j, c] if weighted else kick
            u = offsets[i]
            targets[r, c] = row[c]
            if t_ref > 0.0 and u > big_g and times[s] < refractory_end[i]:
                slopes[r, c], d_coupling[r, c] = 1.0, 0.0       # refractory: ignored
                if drives:
                    d_drive[r, c] = 0.0
                continue
            rest = u - (own * big_g if weighted else step)
            if excite:
                if rest <= at_threshold * big_g:        # to or past threshold: spikes now
                    roots[i] = root
                elif roots[i] >= 0:                     # taken back below in the instant
                    roots[i] = -1
                if rest <= 0.0:                         # past V = I: no phase; it spikes at
                    slopes[r, c], d_coupling[r, c] = 0.0, 0.0   # this instant, so its
                    if drives:                                  # inputs' derivatives go
                        d_drive[r, c] = 0.0                     # unused
                    offsets[i] = rest
                    continue
            slopes[r, c] = u / rest
            d_coupling[r, c] = omega * big_g / (drive * rest)
            if drives:
                z, left = u / big_g, rest / big_g
                phi = -omega * math.log(z)
                d_drive[r, c] = rate * -omega * math.log(left) - (z * phi * rate
                                                                  + omega * own / drive) / left
            offsets[i] = rest
        offsets[j] = big_g * restart
        if t_ref > 0.0:
            refractory_end[j] = times[s] + t_ref
    shift = (origin - t0) / mp[P_TPP]
    for i in range(n):                  # (a neuron past V = I in a cascade: far past threshold)
        offsets[i] = -omega * math.log(max(offsets[i], 1e-300)) - shift
    return worst


@register_jitable
def adjoint_spikes(senders, times, lo, hi, k, tpp, t_ref, targets, slopes, d_coupling, d_drive,
                   sources, pending, dl_dt, adjoint, d_synapse, per_synapse, flow, since,
                   d_drives):
    """Take the adjoint (dL/dphi at equal times, float64[n]) back through spikes ``hi - 1``
    down to ``lo`` (their inputs as ``record_inputs`` wrote them, row ``s - lo``), adding each
    spike time's dL/dt_s (``dl_dt``, indexed by s): O(K) per spike. Returns dL/dJ of these
    spikes; with ``per_synapse`` also adds dL/dw of each connection to ``d_synapse[j, c]``
    (the c-th target of j). Where ``d_drive`` has rows, adds dL/dI_i to ``d_drives[i]``: the
    inputs' dg/dI, and the velocity's d(1/tpp)/dI = ``flow`` times the adjoint's integral over
    time, taken when a neuron's adjoint changes (``since[i]``: the time its value began, going
    back; the host adds each neuron's last piece down to t = 0), and the restart phase's
    -t_ref omega / tau: -t_ref ``flow`` per reset. A caused spike (``sources[s - lo]`` not its
    sender) moves with its root's phase at the root's spike: its inputs' (1 - g') terms, its
    time's -tpp dL/dt_s and the sender's adjoint after it wait in ``pending[root]`` (float64[n]
    where LIF inputs can excite) until the root's spike adds them, untouched by the inputs the
    root takes after its spike in the instant; the sender's adjoint before it is 0."""
    drives = d_drive.shape[0] > 0
    d_j = 0.0
    for s in range(hi - 1, lo - 1, -1):
        j = np.uint64(senders[s])
        t = times[s]
        r = s - lo
        into = 0.0
        for c in range(k):
            i = np.uint64(targets[r, c])
            after = adjoint[i]
            if drives:
                d_drives[i] += after * (flow * (since[i] - t) + d_drive[r, c])
                since[i] = t
            into += after * (1.0 - slopes[r, c])
            weight = after * d_coupling[r, c]
            d_j += weight
            if per_synapse:
                d_synapse[j, c] += weight
            adjoint[i] = slopes[r, c] * after
        if drives:
            d_drives[j] += adjoint[j] * flow * (since[j] - t - t_ref)
            since[j] = t
        e = np.uint64(sources[r])
        if e == j:                                  # t_s = t - tpp (phi_j - threshold)
            adjoint[j] += into - tpp * dl_dt[s]
            if pending.shape[0] > 1:
                adjoint[j] += pending[j]
                pending[j] = 0.0
        else:                                       # t_s = the root's: d phi_j' = d phi_e(t_e)
            pending[e] += adjoint[j] + into - tpp * dl_dt[s]
            adjoint[j] = 0.0
    return d_j


@register_jitable
def replay_tangents(model, mp, conn_mode, target_table, kicks, seed, n, k, bitmap, drawn,
                    candidates, refractory_end, offsets, senders, times, t0, lo, hi, vectors,
                    log_slopes):
    """Move the tangent vectors through spikes ``lo .. hi - 1`` of a recorded sequence.

    Parameters
    ----------
    model, mp, conn_mode, target_table, kicks, seed, n, k, bitmap, drawn, candidates :
        As ``engine.advance`` takes them (``mp`` the model constants' tuple, phase units;
        ``kicks`` a weighted network's kick per connection, (1, 1) else).
    refractory_end : float64[n]
        Scratch: each neuron's end of refractoriness (``refractory_at``); inputs to refractory
        targets are the identity.
    offsets : float64[n]
        Each neuron's phase minus the global shift S = (t - t0) / tpp; updated.
    senders : int32[S]; times : float64[S]
        The spikes (neuron, time in s) in the order the engine processed them.
    t0 : float
        The time (s) at which S is 0.
    vectors : float64[n, m]
        The m tangent vectors as columns; updated in place (row i: neuron i).
    log_slopes : float64[1]
        Adds sum log g' over the inputs: the log of the spikes' Jacobian determinants.

    Returns
    -------
    float
        The largest distance of a spiker's replayed phase from threshold: the replay's own
        check that it follows the engine (rounding only, ~1e-12).
    """
    tpp = mp[P_TPP]
    omega = mp[P_OMEGA]
    kick = mp[P_KICK]
    threshold = mp[P_PHI_TH]
    m = vectors.shape[1]
    weighted = kicks.shape[0] > 1
    reset = mp[P_PHI_RESET]
    t_ref = mp[P_T_REF]
    refractory_at(times, senders, lo, t_ref, refractory_end)
    worst = 0.0
    for s in range(lo, hi):
        j = senders[s]
        shift = (times[s] - t0) / tpp
        worst = max(worst, abs(offsets[j] + shift - threshold))
        if conn_mode == STORED:
            row = target_table[j]
        else:
            draw_targets(seed, j, n, k, bitmap, drawn, candidates)
            row = drawn
        for c in range(k):
            i = np.uint64(row[c])
            if t_ref > 0.0 and offsets[i] + shift < reset and times[s] < refractory_end[i]:
                continue                                    # refractory: the identity
            after, slope, _ = transition(model, offsets[i] + shift, omega,
                                         kicks[j, c] if weighted else kick, 1.0)
            log_slopes[0] += math.log(slope)
            offsets[i] = after - shift
            for v in range(m):
                vectors[i, v] = slope * vectors[i, v] + (1.0 - slope) * vectors[j, v]
        offsets[j] = reset - mp[P_REF] - shift
        if t_ref > 0.0:
            refractory_end[j] = times[s] + t_ref
    return worst


@register_jitable
def backward_instance(b, model, mp, drive, conn_mode, target_table, kicks, seed, n, k, segment,
                      times, senders, starts, checkpoints, dl_dt, adjoint, offsets, bitmap,
                      drawn, candidates, refractory_end, targets, slopes, d_coupling, d_drive,
                      sources, roots, pending, d_synapse, per_synapse, flow, since, d_drives,
                      out):
    """Sample ``b`` of a mini-batch (row b of every array): its adjoint taken back through all
    its spikes, each segment of ``segment`` spikes replayed from its checkpoint (``starts``
    (B, P) the segments' t0, ``checkpoints`` (B, P, n) their offsets), last first, as
    ``runs.gradient.backwards`` asks; one CUDA thread or one CPU iteration per sample.
    ``adjoint`` (B, n) holds dL/dphi of the final phases and ends as dL/dphi(0); ``out[b]``
    gets (dL/dJ, the replays' largest distance from threshold)."""
    size = times.shape[1]
    d_j = 0.0
    worst = 0.0
    for p in range(starts.shape[1] - 1, -1, -1):
        lo = p * segment
        hi = min(lo + segment, size)
        for i in range(n):
            offsets[b, i] = checkpoints[b, p, i]
        worst = max(worst, record_inputs(model, mp, drive, conn_mode, target_table, kicks, seed,
                                         n, k, bitmap[b], drawn[b], candidates[b],
                                         refractory_end[b], offsets[b], senders[b], times[b],
                                         starts[b, p], lo, hi, targets[b], slopes[b],
                                         d_coupling[b], d_drive[b], sources[b], roots[b]))
        d_j += adjoint_spikes(senders[b], times[b], lo, hi, k, mp[P_TPP], mp[P_T_REF],
                              targets[b], slopes[b], d_coupling[b], d_drive[b], sources[b],
                              pending[b], dl_dt[b], adjoint[b], d_synapse[b], per_synapse, flow,
                              since[b], d_drives[b])
    out[b, 0] = d_j
    out[b, 1] = worst
