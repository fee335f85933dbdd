"""Validation against NEST 3 (iaf_psc_delta_ps, precise spike times): the same networks, spike
for spike where the dynamics are stable, rates and CV distributions on Brunel's states.

Not part of CI. NEST is not a dependency of the project; to run this script, put NEST and the
project in one environment, e.g. a virtual environment that sees the project's installation:

    python -m venv --system-site-packages /tmp/nestsys
    /tmp/nestsys/bin/pip install nest-simulator          # a binary wheel (NEST 3.10 on PyPI)
    /tmp/nestsys/bin/python benchmarks/nest_validation.py            # about 8 minutes on 2 cores
    /tmp/nestsys/bin/python benchmarks/nest_validation.py --quick    # small, under a minute
    /tmp/nestsys/bin/python benchmarks/nest_validation.py --n-e 10000 --t 2   # the paper's N

Without NEST (``import nest`` fails) it says so and exits 0; ``--no-nest`` runs our side and
the mapping alone (a smoke test of this script).

The mapping (``nest_model``): our LIF is V' = (V - V_reset) / (V_th - V_reset), threshold 1,
reset 0, dV'/dt = (I - V') / tau, an input J' a jump of V'. On iaf_psc_delta_ps with E_L = 0,
V_th = theta, V_reset = v_reset (span = theta - v_reset; ``sp.brunel``'s own theta and
v_reset, else 20 mV and 0): I_e = (v_reset + span I) C_m / tau_m (the resting asymptote),
weight span J' (mV), delay and t_ref in ms (multiples of the resolution; NEST needs every
delay and t_ref >= the resolution, so networks with zero delay or t_ref = 0 cannot be
compared), initial V_m = v_reset + span V'(phi) from our initial phases
(``model.phase_to_voltage``). Both discard the inputs that arrive while a neuron is
refractory (NEST's ``refractory_input`` False). Connectivity is our exact out-lists
(``net.out_lists()``), connected one to one from arrays.

Checks:

1. Stable networks (inhibitory, delay and refractoriness; one population, and two with
   different tau, drive, t_ref, delays and rules): the same spikes, neuron by neuron; reports
   the largest time difference.
2. Brunel's states (Brunel 2000, Fig. 8; ``sp.brunel``: model A with the Poisson input
   replaced by its mean, eta theta): SR (g 3, eta 2), AI (g 5, eta 2), SI fast (g 6, eta 4).
   Both tools run the same deterministic network; where it is chaotic the spike sequences
   part, so we compare population rates (batch means over windows: difference in standard
   errors) and the distributions of per-neuron CVs of the ISIs (two-sample KS). SI slow
   (g 4.5, eta 0.9) needs eta > 1 without noise (a constant drive below threshold leaves the
   network silent): it is run in NEST with Brunel's Poisson input only, with the other three,
   as the paper's reference (section 3; ``--no-poisson`` skips it). Brunel's states depend on
   C_E (1000 in the paper), so N_E is smaller than the paper's 10 000 by default and epsilon
   = C_E / N_E larger (``--n-e``, ``--c-e``).

Inputs arriving at one instant: both tools sum them before the threshold test (NEST's
iaf_psc_delta_ps: its SliceRingBuffer accumulates spikes of equal stamp and offset; ours since
0.5, docs/design.md section 2.12). With excitation and equal delays such ties are common
(input-triggered spikes of several neurons happen at one instant and reach common targets
together); before 0.5 ours applied them one by one and E/I networks parted from NEST's at the
first tie with mixed signs near threshold. Chaotic networks still part in time (a rounding
difference grows); at the first parting the script replays that neuron by hand from our spikes
(``replay``, ``why_parted``) to say which tool's spike follows the rule.
"""
import argparse
import math
import sys
import time

import numpy as np

import sparseprop_gpu as sp

C_M = 250.0      # pF; any value: I_e scales with it
STATES = {"SR": (3.0, 2.0), "AI": (5.0, 2.0), "SI fast": (6.0, 4.0), "SI slow": (4.5, 0.9)}


# ---------------------------------------------------------------- the mapping
def voltage_scale(net):
    """(theta, v_reset) in mV of ``net``'s voltages: sp.brunel's, else (20, 0)."""
    par = getattr(net, "parametrisation", None) or {}
    if par.get("name") == "brunel":
        return float(par["theta"]), float(par["v_reset"])
    return 20.0, 0.0


def on_grid(values_ms, resolution, what):
    """``values_ms`` rounded to the resolution grid; an error if they are not on it."""
    values = np.asarray(values_ms, float)
    steps = np.rint(values / resolution)
    if np.any(np.abs(steps * resolution - values) > 1e-9 * np.maximum(1.0, np.abs(values))):
        raise ValueError(f"{what} must be multiples of the resolution {resolution} ms for "
                         f"NEST; got {np.unique(values)[:5]}")
    return steps * resolution


def nest_model(net, resolution=0.1):
    """Everything NEST needs to simulate ``net`` (a PopulationNetwork of LIF neurons).

    Returns a dict: ``params`` a list of (start, stop, dict of iaf_psc_delta_ps parameters)
    per population, ``v_m`` (n,) initial potentials (mV), ``sources``, ``targets`` (node ids,
    1-based), ``weights`` (mV) and ``delays`` (ms) per synapse.
    """
    if not isinstance(net, sp.PopulationNetwork) or not isinstance(net.model, sp.LIF):
        raise ValueError(f"a PopulationNetwork of sp.LIF neurons maps onto iaf_psc_delta_ps; "
                         f"got {net!r}")
    theta, v_reset = voltage_scale(net)
    span = theta - v_reset
    params, v_m = [], np.empty(net.n)
    phases = net.initial_phases
    for a, (model, pop) in enumerate(zip(net.population_models(), net.populations)):
        lo, hi = int(net.pop_start[a]), int(net.pop_start[a + 1])
        tau_ms = pop.tau * 1e3
        t_ref = on_grid(pop.t_ref * 1e3, resolution, f"t_ref of {pop.name}")
        if t_ref < resolution:
            raise ValueError(f"iaf_psc_delta_ps needs t_ref >= the resolution {resolution} ms; "
                             f"population {pop.name} has {pop.t_ref * 1e3:g} ms")
        params.append((lo, hi, {"E_L": 0.0, "V_th": theta, "V_reset": v_reset, "C_m": C_M,
                                "tau_m": tau_ms, "t_ref": float(t_ref),
                                "I_e": (v_reset + span * pop.drive) * C_M / tau_ms}))
        v_m[lo:hi] = v_reset + span * model.phase_to_voltage(phases[lo:hi], pop.drive)
    indptr, targets, coupling, delay = net.out_lists()
    delays = on_grid(delay * 1e3, resolution, "delays")
    if delays.size and delays.min() < resolution:
        raise ValueError(f"NEST needs every delay >= the resolution {resolution} ms; got "
                         f"{delays.min()} ms")
    sources = np.repeat(np.arange(net.n, dtype=np.int64), np.diff(indptr)) + 1
    return {"params": params, "v_m": v_m, "sources": sources, "targets": targets + 1,
            "weights": coupling * span, "delays": delays, "theta": theta, "span": span}


def poisson_input(net):
    """Brunel's external input of ``net`` (an sp.brunel network): (rate Hz of one generator
    per neuron, weight mV); nu_ext = eta nu_thr on C_E synapses of J."""
    par = net.parametrisation
    c_e = max(int(round(par["epsilon"] * par["n_e"])), 1)
    nu_thr = par["theta"] / (par["j"] * c_e * par["tau"])
    return par["eta"] * nu_thr * c_e, par["j"]


# ---------------------------------------------------------------- the two simulators
def quiet(nest):
    """Errors only (NEST >= 3.9 spells it ``nest.verbosity``)."""
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:
        nest.set_verbosity("M_ERROR")


def run_ours(net, t_end):
    """(times ms, senders 0-based, seconds) of our engine up to ``t_end`` (s)."""
    sp.simulate(net, n_spikes=10, record="spikes")            # compile, outside the timing
    tick = time.perf_counter()
    rec = sp.simulate(net, t_end=t_end, record="spikes")
    return rec.times * 1e3, rec.senders.astype(np.int64), time.perf_counter() - tick


def run_nest(nest, net, t_end, resolution, threads, poisson=False, constant=True):
    """(times ms, senders 0-based, seconds) of NEST on ``net`` up to ``t_end`` (s).

    ``poisson``: add Brunel's Poisson input (sp.brunel networks); ``constant``: keep the
    constant drive (False with Poisson input: Brunel's own model, no I_e)."""
    tick = time.perf_counter()
    spec = nest_model(net, resolution)
    nest.ResetKernel()
    quiet(nest)
    if nest.GetDefaults("iaf_psc_delta_ps").get("refractory_input", False):
        raise RuntimeError("iaf_psc_delta_ps keeps refractory input here; ours discards it")
    nest.SetKernelStatus({"resolution": resolution, "local_num_threads": threads,
                          "rng_seed": 12345})
    nodes = nest.Create("iaf_psc_delta_ps", net.n)
    for lo, hi, p in spec["params"]:
        p = dict(p)
        if not constant:
            p["I_e"] = 0.0
        nodes[lo:hi].set(p)
    nodes.set(V_m=spec["v_m"].tolist())
    nest.Connect(spec["sources"], spec["targets"], conn_spec="one_to_one",
                 syn_spec={"synapse_model": "static_synapse", "weight": spec["weights"],
                           "delay": spec["delays"]})
    if poisson:
        rate, weight = poisson_input(net)
        delay = on_grid(net.parametrisation["delay"] * 1e3, resolution, "delay")
        gen = nest.Create("poisson_generator_ps", params={"rate": rate})
        nest.Connect(gen, nodes, syn_spec={"weight": weight, "delay": float(delay)})
    recorder = nest.Create("spike_recorder")
    nest.Connect(nodes, recorder)
    built = time.perf_counter()
    nest.Simulate(t_end * 1e3)
    events = recorder.get("events")
    times = np.asarray(events["times"], float)
    senders = np.asarray(events["senders"], np.int64) - 1
    order = np.lexsort((senders, times))
    return times[order], senders[order], time.perf_counter() - tick, built - tick


# ---------------------------------------------------------------- comparisons
def trains(times, senders, n):
    """Per-neuron sorted spike times."""
    order = np.lexsort((times, senders))
    times, senders = times[order], senders[order]
    cuts = np.searchsorted(senders, np.arange(n + 1))
    return [times[cuts[i]:cuts[i + 1]] for i in range(n)]


def parting(x, y, tol_ms=1e-6):
    """The first time two spike trains (ms) differ (a spike more than ``tol_ms`` off, or one
    missing), inf if never; and the largest |difference| over their matched spikes."""
    m = min(len(x), len(y))
    d = np.abs(x[:m] - y[:m])
    bad = np.nonzero(d > tol_ms)[0]
    t = float(min(x[bad[0]], y[bad[0]])) if bad.size else math.inf
    if len(x) != len(y):
        t = min(t, float(x[m] if len(x) > m else y[m]))
    return t, float(d.max()) if m else 0.0


def compare_spikes(ours, theirs, n, t_end_ms, margin_ms=1e-6):
    """Spike-for-spike agreement on [0, t_end - margin): (same counts for every neuron, number
    of spikes of each, largest |time difference| ms over matched spikes, first time the trains
    part or None, fraction of the time-sorted sequence with the same sender, the neuron that
    parts first)."""
    keep_a, keep_b = ours[0] < t_end_ms - margin_ms, theirs[0] < t_end_ms - margin_ms
    a = trains(ours[0][keep_a], ours[1][keep_a], n)
    b = trains(theirs[0][keep_b], theirs[1][keep_b], n)
    same_counts = all(len(x) == len(y) for x, y in zip(a, b))
    part = np.array([parting(x, y) for x, y in zip(a, b)])
    first = int(np.argmin(part[:, 0]))
    parted = float(part[first, 0])
    sa, sb = ours[1][keep_a], theirs[1][keep_b]
    m = min(len(sa), len(sb))
    same_order = float(np.mean(sa[:m] == sb[:m])) if m else 1.0
    return (same_counts, int(keep_a.sum()), int(keep_b.sum()), float(part[:, 1].max()),
            None if parted == math.inf else parted, same_order, first)


def replay(net, neuron, times, senders, t_stop):
    """Spike times (s) of one neuron of ``net`` driven by the spikes (``times`` s, ``senders``)
    of the rest, up to ``t_stop``, by hand: the inputs of one instant summed before the
    threshold test (both tools' rule)."""
    indptr, targets, coupling, delay = net.out_lists()
    into = np.nonzero(targets == neuron)[0]
    source = np.searchsorted(indptr, into, side="right") - 1
    arrivals, weights, order = [], [], []
    for syn, pre in zip(into, source):
        fired = np.nonzero(senders == pre)[0]
        arrivals.append(times[fired] + delay[syn])
        weights.append(np.full(fired.size, coupling[syn]))
        order.append(fired)
    arrivals, weights, order = (np.concatenate(x) for x in (arrivals, weights, order))
    pick = np.lexsort((order, arrivals))
    arrivals, weights = arrivals[pick], weights[pick]
    a = int(np.searchsorted(net.pop_start, neuron, side="right") - 1)
    model, pop = net.population_models()[a], net.populations[a]
    drive, tau, t_ref = pop.drive, pop.tau, pop.t_ref
    v, now, free_from, out = float(model.phase_to_voltage(net.initial_phases[neuron], drive)), \
        0.0, 0.0, []

    def drift(until):
        nonlocal v, now, free_from
        while True:
            if now < free_from:                       # refractory: at reset until free_from
                if free_from > until:
                    now = until
                    return
                now, v = free_from, 0.0
            crossing = now + tau * math.log((drive - v) / (drive - 1.0)) if v < 1.0 else now
            if crossing >= until:
                v = drive + (v - drive) * math.exp(-(until - now) / tau)
                now = until
                return
            out.append(crossing)
            now, free_from, v = crossing, crossing + t_ref, 0.0

    i = 0
    while i < arrivals.size and arrivals[i] < t_stop:
        j = i
        while j < arrivals.size and arrivals[j] == arrivals[i]:
            j += 1
        drift(arrivals[i])
        if now >= free_from:
            v += weights[i:j].sum()
            if v >= 1.0:
                out.append(now)
                free_from, v = now + t_ref, 0.0
        i = j
    drift(t_stop)
    return np.array(out)


def why_parted(net, ours, theirs, t_part_ms):
    """A sentence on the first neuron whose trains part: replayed by hand (``replay``) from
    our spikes before the parting."""
    a, b = trains(*ours[:2], net.n), trains(*theirs[:2], net.n)
    i = int(np.argmin([parting(x, y)[0] for x, y in zip(a, b)]))
    t_stop = (t_part_ms + 0.5) * 1e-3
    seconds = ours[0] * 1e-3
    by_hand = replay(net, i, seconds, ours[1], t_stop) * 1e3
    def first(train):                                                  # noqa: E306
        train = train[train <= t_part_ms + 0.5]
        return ", ".join(f"{t:.6f}" for t in train[:3]) or "none"
    return (f"neuron {i} ({net.names[int(np.searchsorted(net.pop_start, i, 'right') - 1)]}): "
            f"ours {first(a[i])}, NEST {first(b[i])}; replayed by hand from our spikes: "
            f"{first(by_hand)} (ms)")


def statistics(times, senders, net, t_from_ms, t_to_ms, windows=10):
    """Per population: mean rate (Hz), its standard error (batch means over ``windows``
    windows), per-neuron CVs of the ISIs (neurons with >= 3 spikes in the window)."""
    keep = (times >= t_from_ms) & (times < t_to_ms)
    times, senders = times[keep], senders[keep]
    length = (t_to_ms - t_from_ms) * 1e-3
    edges = np.linspace(t_from_ms, t_to_ms, windows + 1)
    out = {}
    for a, pop in enumerate(net.populations):
        lo, hi = int(net.pop_start[a]), int(net.pop_start[a + 1])
        mine = (senders >= lo) & (senders < hi)
        batch = np.histogram(times[mine], edges)[0] / pop.n / (length / windows)
        cvs = []
        for train in trains(times[mine], senders[mine] - lo, pop.n):
            if len(train) >= 3:
                isi = np.diff(train)
                cvs.append(isi.std() / isi.mean())
        out[pop.name] = (mine.sum() / pop.n / length, batch.std(ddof=1) / math.sqrt(windows),
                         np.array(cvs))
    return out


def ks(x, y):
    """Two-sample KS statistic and p-value (scipy if there, else the asymptotic form)."""
    if len(x) == 0 or len(y) == 0:
        return math.nan, math.nan
    try:
        from scipy.stats import ks_2samp
        result = ks_2samp(x, y)
        return float(result.statistic), float(result.pvalue)
    except ImportError:
        grid = np.sort(np.concatenate([x, y]))
        d = float(np.max(np.abs(np.searchsorted(np.sort(x), grid, "right") / len(x)
                                - np.searchsorted(np.sort(y), grid, "right") / len(y))))
        en = math.sqrt(len(x) * len(y) / (len(x) + len(y)))
        lam = (en + 0.12 + 0.11 / en) * d
        p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
        return d, float(min(max(p, 0.0), 1.0))


# ---------------------------------------------------------------- the networks
def stable_networks(quick):
    """Inhibitory networks with delays and refractoriness, expected stable."""
    n = 500 if quick else 2000
    one = sp.PopulationNetwork(
        sp.LIF(tau=20e-3), [sp.Population("I", n, 1.5, 2e-3)],
        [sp.Projection("I", "I", -0.05, 1.5e-3, k=50)], seed=3)
    two = sp.PopulationNetwork(
        sp.LIF(tau=20e-3),
        [sp.Population("A", n * 3 // 4, 1.5, 2e-3), sp.Population("B", n // 4, 2.5, 1e-3, 10e-3)],
        [sp.Projection("A", "A", -0.04, 1.5e-3, k=40),
         sp.Projection("A", "B", -0.06, 0.5e-3, indegree=30),
         sp.Projection("B", "A", -0.08, 2.0e-3, p=0.05),
         sp.Projection("B", "B", -0.05, 1.0e-3, k=10)], seed=4, connectivity="stored")
    return [("inhibitory, 1 population, k = 50", one),
            ("inhibitory, 2 populations, mixed rules", two)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small networks, short runs")
    parser.add_argument("--n-e", type=int, default=None, help="N_E of the Brunel networks "
                        "(default 2000, --quick 1000; the paper: 10000)")
    parser.add_argument("--c-e", type=int, default=None, help="excitatory in-degree C_E of "
                        "the Brunel networks, epsilon = C_E / N_E (default 1000 as in the "
                        "paper, --quick 200); Brunel's states depend on C_E, not on N_E")
    parser.add_argument("--t", type=float, default=None, help="simulated seconds of the "
                        "Brunel runs (default 1, --quick 0.5); the first 20 %% are discarded")
    parser.add_argument("--t-stable", type=float, default=None, help="simulated seconds of "
                        "the stable runs (default 2, --quick 0.5)")
    parser.add_argument("--resolution", type=float, default=0.1, help="NEST's step (ms)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-poisson", action="store_true", help="skip the NEST runs with "
                        "Brunel's Poisson input")
    parser.add_argument("--no-nest", action="store_true", help="our side and the mapping only")
    args = parser.parse_args()
    n_e = args.n_e or (1000 if args.quick else 2000)
    c_e = args.c_e or (200 if args.quick else 1000)
    epsilon = c_e / n_e
    if not 0 < epsilon <= 1:
        parser.error(f"--c-e {c_e} must be at most --n-e {n_e}")
    t_end = args.t or (0.5 if args.quick else 1.0)
    t_stable = args.t_stable or (0.5 if args.quick else 2.0)
    print("command: " + " ".join([sys.executable] + sys.argv))

    nest = None
    if not args.no_nest:
        try:
            import nest                                        # noqa: F811
            quiet(nest)
        except Exception as exc:                               # ImportError, or a broken build
            print(f"NEST not installed: import nest failed ({type(exc).__name__}: {exc}); see "
                  f"the docstring for how to install it. Nothing to compare.")
            return 0
        print(f"NEST {nest.__version__}, iaf_psc_delta_ps, resolution {args.resolution} ms, "
              f"{args.threads} threads; sparseprop-gpu {sp.__version__}")

    print(f"\n1. Stable networks: spike for spike over {t_stable:g} s")
    for label, net in stable_networks(args.quick):
        spec = nest_model(net, args.resolution)
        ours = run_ours(net, t_stable)
        print(f"  {label}: n = {net.n}, {spec['sources'].size} synapses, ours {len(ours[0])} "
              f"spikes ({ours[2]:.1f} s)")
        if nest is None:
            continue
        theirs = run_nest(nest, net, t_stable, args.resolution, args.threads)
        same, n_a, n_b, worst, parted, order, _ = compare_spikes(ours, theirs, net.n,
                                                                 t_stable * 1e3)
        print(f"    NEST {n_b} spikes ({theirs[2]:.1f} s, {theirs[3]:.1f} s to build); "
              f"ours {n_a}: same count for every neuron: {same}; largest |dt| over matched "
              f"spikes {worst:.3g} ms; trains part at "
              f"{'never' if parted is None else f'{parted:.3f} ms'}; same sender at "
              f"{100 * order:.4f} % of the time-sorted sequence")
        if parted is not None:
            print("    first parting: " + why_parted(net, ours, theirs, parted))

    print(f"\n2. Brunel's states, N_E = {n_e}, N_I = {n_e // 4}, C_E = {c_e} (epsilon "
          f"{epsilon:g}), C_I = {round(epsilon * (n_e // 4))}, J 0.1 mV, "
          f"D 1.5 ms, t_ref 2 ms; constant drive eta theta in both tools; {t_end:g} s, "
          f"statistics on the last {0.8 * t_end:g} s")
    print(f"  {'state':<8} {'pop':>3} {'ours Hz':>9} {'NEST Hz':>9} {'diff/SE':>8} "
          f"{'CV ours':>8} {'CV NEST':>8} {'KS D':>6} {'KS p':>7} {'parted ms':>10}")
    t_from, t_to = 0.2 * t_end * 1e3, t_end * 1e3
    for state, (g, eta) in STATES.items():
        if eta <= 1.0:
            print(f"  {state:<8} eta = {eta} < 1: with a constant drive below threshold the "
                  "network is silent (sp.brunel needs eta > 1); no deterministic comparison "
                  "(see the Poisson runs below)")
            continue
        net = sp.brunel(n_e=n_e, g=g, eta=eta, epsilon=epsilon, seed=1)
        ours = run_ours(net, t_end)
        ours_stats = statistics(ours[0], ours[1], net, t_from, t_to)
        if nest is None:
            for pop, (rate, se, cvs) in ours_stats.items():
                print(f"  {state:<8} {pop:>3} {rate:9.2f} {'-':>9} {'-':>8} "
                      f"{np.median(cvs) if len(cvs) else math.nan:8.3f}")
            spec = nest_model(net, args.resolution)
            mine = trains(*ours[:2], net.n)[0]
            mine = mine[mine < 50.0]
            again = replay(net, 0, ours[0] * 1e-3, ours[1], 0.05) * 1e3
            same = again.size == mine.size and np.allclose(again, mine, rtol=0, atol=1e-9)
            print(f"           mapping: I_e {spec['params'][0][2]['I_e']:.6g} pA, weights "
                  f"{np.unique(np.round(spec['weights'], 12))} mV, V_m in "
                  f"[{spec['v_m'].min():.3f}, {spec['v_m'].max():.3f}] mV; neuron 0 replayed "
                  f"by hand to 50 ms: {again.size} spikes, "
                  f"{'the same as ours' if same else 'NOT the same as ours'}")
            continue
        theirs = run_nest(nest, net, t_end, args.resolution, args.threads)
        nest_stats = statistics(theirs[0], theirs[1], net, t_from, t_to)
        parted = compare_spikes(ours, theirs, net.n, t_end * 1e3)[4]
        cause = why_parted(net, ours, theirs, parted) if parted is not None else ""
        for pop in ours_stats:
            (ra, sa, ca), (rb, sb, cb) = ours_stats[pop], nest_stats[pop]
            z = (ra - rb) / math.hypot(sa, sb) if math.hypot(sa, sb) > 0 else math.nan
            d, p = ks(ca, cb)
            med = lambda c: np.median(c) if len(c) else math.nan  # noqa: E731
            print(f"  {state:<8} {pop:>3} {ra:9.2f} {rb:9.2f} {z:8.2f} {med(ca):8.3f} "
                  f"{med(cb):8.3f} {d:6.3f} {p:7.3f} "
                  f"{'never' if parted is None else f'{parted:.1f}':>10}", flush=True)
        print(f"           (ours {ours[2]:.1f} s, NEST {theirs[2]:.1f} s of which "
              f"{theirs[3]:.1f} s building)")
        if cause:
            print(f"           first parting: {cause}")

    if nest is not None and not args.no_poisson:
        print("\n3. Brunel's own model in NEST only (Poisson input nu_ext = eta nu_thr, no "
              "constant drive; the paper's states), same size and window")
        print(f"  {'state':<8} {'pop':>3} {'NEST Hz':>9} {'SE':>6} {'CV NEST':>8}")
        for state, (g, eta) in STATES.items():
            # eta <= 1 (SI slow): the structure is eta's, the initial voltages those of eta 2
            net = sp.brunel(n_e=n_e, g=g, eta=eta if eta > 1.0 else 2.0, epsilon=epsilon,
                            seed=1)
            net.parametrisation = dict(net.parametrisation, eta=eta)
            theirs = run_nest(nest, net, t_end, args.resolution, args.threads, poisson=True,
                              constant=False)
            for pop, (rate, se, cvs) in statistics(theirs[0], theirs[1], net, t_from,
                                                   t_to).items():
                print(f"  {state:<8} {pop:>3} {rate:9.2f} {se:6.2f} "
                      f"{np.median(cvs) if len(cvs) else math.nan:8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
