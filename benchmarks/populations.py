"""Networks of populations against the inhibitory network: ns per synaptic event, side by side.

Run:  python benchmarks/populations.py            (N = 1e4, 1e5, 1e6; about 5 minutes on 2 cores)
      python benchmarks/populations.py --quick    (N = 1e3, 1e4, a smoke test)
      python benchmarks/populations.py --sizes 100000 --k 1000 --pairs 5

Target (the issue): the cost per synaptic event of an E/I network with delays and refractoriness
within 1.5x of the inhibitory network's, at N = 1e4 to 1e6 and K = 100 to 1000.

Networks, all LIF (threshold 1, reset 0), on the engine's exp key, one instance, serial:

* E/I, on the fly: N_E = 0.8 N excitatory and N_I = 0.2 N inhibitory neurons, drive ``--drive``
  (2: each fires alone), tau 20 ms, t_ref 2 ms, delay 1.5 ms on every block; fixed out-degree
  0.8 K into E and 0.2 K into I (K targets per spike in all, so every neuron receives on
  average 0.8 K excitatory and 0.2 K inhibitory inputs); J_E = ``--j`` / sqrt(K) and
  J_I = -g J_E with g = ``--g`` (6): inhibition-dominated, asynchronous and irregular.
* E/I, stored, fixed in-degree: ``sp.brunel`` (model A with constant external drive, g = 5,
  eta = 2, J = 0.1 mV, D = 1.5 ms, t_ref = 2 ms) with epsilon = K_stored / N, so that C_E + C_I
  = K_stored (1000: Brunel's own epsilon = 0.1 at N = 1e4); at N <= ``--stored-max``.
* Inhibitory: the single-population network of ``engine_scaling.py`` (tau 10 ms, j0 = 1,
  target rate 1 Hz, no delay, no t_ref), the same N and the same K (on the fly against the E/I
  network on the fly, stored against the stored one).

Measurement: both networks are warmed up (compilation, and max(2 N, 20 000) spikes so the
queues and FIFOs hold a steady state), then timed alternately A B A B ... for ``--pairs``
pairs on the same running state, each timing ``spikes`` network spikes (clamped 5 N to
[2e5, 2e6]). Synaptic events are counted exactly: the spikes of each neuron in the timed
segment times its out-degree. The ratio is the median of the per-pair ratios (the machine is
shared: only ratios measured side by side mean anything); the ns columns are the medians.

Then a decomposition at one N (``--decompose``, default the second size; 0 for none), all
timed round-robin: the inhibitory network as sp.Network, as a PopulationNetwork of one
population (the populations' engine, its time-based exp key), split into two identical
populations with the E/I network's four blocks, with t_ref, with the delay, with both, and
the E/I network itself: each step's cost against sp.Network's.
"""
import argparse
import math
import sys
import time

import numpy as np

import sparseprop_gpu as sp
from sparseprop_gpu.config import SUMMARY_BUFFER
from sparseprop_gpu.engine.cpu import CpuRunner
from sparseprop_gpu.runs.simulate import engine_state

TAU, T_REF, DELAY = 20e-3, 2e-3, 1.5e-3


def ei_network(n, k, drive, j, g, delay=DELAY, t_ref=T_REF, inputs=()):
    """The E/I network on the fly (fixed out-degree 0.8 k into E, 0.2 k into I), with the
    external ``inputs`` (``sp.PoissonInput``) if given."""
    n_e = int(round(0.8 * n))
    k_e = int(round(0.8 * k))
    j_e = j / math.sqrt(k)
    pops = [sp.Population("E", n_e, drive, t_ref), sp.Population("I", n - n_e, drive, t_ref)]
    projections = [sp.Projection(s, t, j_e if s == "E" else -g * j_e, delay,
                                 k=k_e if t == "E" else k - k_e)
                   for s in ("E", "I") for t in ("E", "I")]
    return sp.PopulationNetwork(sp.LIF(tau=TAU), pops, projections, seed=1,
                                connectivity="on_the_fly", inputs=inputs)


def brunel_network(n, k):
    """sp.brunel at N = n with C_E + C_I = k (fixed in-degree, stored)."""
    return sp.brunel(n_e=int(round(0.8 * n)), g=5.0, eta=2.0, epsilon=k / n, seed=1,
                     connectivity="stored")


def inhibitory_network(n, k, connectivity):
    return sp.Network(model=sp.LIF(tau=0.01), n=n, k=k, j0=1.0, target_rate=1.0, seed=1,
                      connectivity=connectivity)


def inhibitory_populations(n, k, split=False, delay=0.0, t_ref=0.0):
    """The inhibitory network as a PopulationNetwork (the same drive, coupling and out-degree):
    one population, or (``split``) two identical ones of 0.8 n and 0.2 n with the E/I
    network's four blocks (0.8 k and 0.2 k targets), with a delay and t_ref on every block."""
    base = inhibitory_network(n, k, "on_the_fly")
    drive, j = float(base.drive), float(base.coupling)
    if not split:
        return sp.PopulationNetwork(base.model, [sp.Population("A", n, drive, t_ref)],
                                    [sp.Projection("A", "A", j, delay, k=k)], seed=1,
                                    connectivity="on_the_fly")
    n_a, k_a = int(round(0.8 * n)), int(round(0.8 * k))
    pops = [sp.Population("A", n_a, drive, t_ref), sp.Population("B", n - n_a, drive, t_ref)]
    projections = [sp.Projection(s, t, j, delay, k=k_a if t == "A" else k - k_a)
                   for s in ("A", "B") for t in ("A", "B")]
    return sp.PopulationNetwork(base.model, pops, projections, seed=1, connectivity="on_the_fly")


def out_degrees(net):
    """(n,) int64: the synaptic events one spike of each neuron makes."""
    if isinstance(net, sp.Network):
        return np.full(net.n, net.k, np.int64)
    pops = len(net.populations)
    if net.connectivity == "stored":
        segments = net.synapse_lists()[1]
        return np.diff(segments[::pops])
    degree = np.zeros(pops, np.int64)
    for (a, _b), (rule, value, _, _) in net.projections.items():
        assert rule == "k"
        degree[a] += value
    return np.repeat(degree, [p.n for p in net.populations])


class Timed:
    """One network on the engine, advanced in timed segments from a steady state."""

    def __init__(self, net, warmup_spikes):
        self.net = net
        tick = time.perf_counter()
        self.degree = out_degrees(net)
        self.state = engine_state(net, key="exp", buffer_spikes=SUMMARY_BUFFER)
        self.runner = CpuRunner(self.state, parallel=False)
        self.built = time.perf_counter() - tick
        self.one = np.array([0])
        self.spikes = np.zeros(net.n, np.int64)    # spikes in the timed segments
        self.seconds = 0.0                          # simulated time of the timed segments
        self.segment(warmup_spikes)                 # compile and reach a steady state

    def segment(self, spikes):
        """Advance ``spikes`` network spikes: (ns per synaptic event, per-neuron spikes)."""
        before = self.state.counts[0].copy()
        t0 = self.state.time()
        tick = time.perf_counter()
        self.runner.advance(self.one, t_end=np.inf, warmup=0.0, max_spikes=spikes, keep=False)
        took = time.perf_counter() - tick
        fired = self.state.counts[0] - before
        self.seconds += self.state.time() - t0
        self.spikes += fired
        events = int(np.dot(fired, self.degree))
        return took / events * 1e9

    def rates(self):
        """Mean rate (Hz) of each population over the timed segments."""
        if isinstance(self.net, sp.Network):
            return [self.spikes.sum() / self.net.n / self.seconds]
        start = self.net.pop_start
        return [self.spikes[start[a]:start[a + 1]].sum() / (start[a + 1] - start[a])
                / self.seconds for a in range(len(start) - 1)]


def compare(label, make_a, make_b, n, pairs):
    """Time A and B alternately; print one row."""
    warm = max(2 * n, 20_000)
    spikes = int(np.clip(5 * n, 200_000, 2_000_000))
    a, b = Timed(make_a(), warm), Timed(make_b(), warm)
    cost_a, cost_b = [], []
    for _ in range(pairs):
        cost_a.append(a.segment(spikes))
        cost_b.append(b.segment(spikes))
    ratios = np.array(cost_a) / np.array(cost_b)
    rate_e, rate_i = a.rates()
    k_mean = float(a.degree.mean())
    print(f"{label:<16} {n:>9} {k_mean:>7.0f} {np.median(cost_a):>9.2f} {np.median(cost_b):>9.2f} "
          f"{np.median(ratios):>7.2f} {ratios.min():>5.2f}-{ratios.max():<5.2f} "
          f"{rate_e:>7.1f} {rate_i:>7.1f} {b.rates()[0]:>7.2f} {a.built:>6.1f}s {b.built:>5.1f}s",
          flush=True)
    return float(np.median(ratios))


def decompose(n, k, args):
    """Where the E/I network's extra cost comes from: each row against the inhibitory
    network, all timed round-robin in one loop."""
    inh = lambda **kw: (lambda: inhibitory_populations(n, k, **kw))  # noqa: E731
    rows = [("inhibitory, sp.Network", lambda: inhibitory_network(n, k, "on_the_fly")),
            ("inhibitory, 1 population", inh()),
            ("inhibitory, 2 populations", inh(split=True)),
            ("  + t_ref 2 ms", inh(split=True, t_ref=T_REF)),
            ("  + delay 1.5 ms", inh(split=True, delay=DELAY)),
            ("  + t_ref and delay", inh(split=True, delay=DELAY, t_ref=T_REF)),
            ("E/I, delay and t_ref", lambda: ei_network(n, k, args.drive, args.j, args.g))]
    warm = max(2 * n, 20_000)
    spikes = int(np.clip(5 * n, 200_000, 2_000_000))
    timed = [Timed(make(), warm) for _, make in rows]
    cost = np.zeros((args.pairs, len(rows)))
    for p in range(args.pairs):
        for r, t in enumerate(timed):
            cost[p, r] = t.segment(spikes)
    ratio = np.median(cost / cost[:, :1], axis=0)
    print(f"\nDecomposition at N = {n}, K = {k}, on the fly (median of {args.pairs} rounds)")
    print(f"  {'network':<26} {'ns/event':>9} {'ratio':>6} {'Hz':>14}")
    for (label, _), t, c, q in zip(rows, timed, np.median(cost, axis=0), ratio):
        hz = " ".join(f"{x:6.1f}" for x in t.rates())
        print(f"  {label:<26} {c:9.2f} {q:6.2f} {hz:>14}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e3, 1e4 only")
    parser.add_argument("--sizes", type=int, nargs="+", help="network sizes N")
    parser.add_argument("--k", type=int, default=100, help="out-degree K of the on-the-fly "
                        "networks (default 100)")
    parser.add_argument("--k-stored", type=int, default=1000, help="in-degree C_E + C_I of "
                        "the stored Brunel network (default 1000)")
    parser.add_argument("--stored-max", type=int, default=100_000, help="largest N of the "
                        "stored case (default 1e5: 1e8 synapses)")
    parser.add_argument("--pairs", type=int, default=3, help="A B pairs timed (default 3)")
    parser.add_argument("--decompose", type=int, default=None, help="N of the decomposition "
                        "table (default: the second size; 0: none)")
    parser.add_argument("--drive", type=float, default=2.0)
    parser.add_argument("--j", type=float, default=1.0, help="J_E sqrt(K) (default 1)")
    parser.add_argument("--g", type=float, default=6.0, help="J_I / J_E (default 6)")
    args = parser.parse_args()
    sizes = args.sizes or ([1_000, 10_000] if args.quick else [10_000, 100_000, 1_000_000])

    print("command: python " + " ".join(sys.argv))
    print(f"E/I (N_E = 0.8 N, t_ref {T_REF * 1e3:g} ms, delay {DELAY * 1e3:g} ms on every block) "
          f"against the inhibitory network (no delay, no t_ref), same N and K; LIF, exp key, "
          f"serial; median of {args.pairs} interleaved pairs")
    print(f"on the fly: drive {args.drive:g}, J_E = {args.j:g}/sqrt(K), g = {args.g:g}; stored: "
          f"sp.brunel(g=5, eta=2, J=0.1 mV), epsilon = {args.k_stored} / N")
    print(f"{'network':<16} {'N':>9} {'K':>7} {'E/I ns':>9} {'inh ns':>9} {'ratio':>7} "
          f"{'range':>11} {'E Hz':>7} {'I Hz':>7} {'inh Hz':>7} {'build E/I, inh':>14}")
    print("  (ns: per synaptic event; K: mean synaptic events per spike of the E/I network)")
    worst = 0.0
    started = time.perf_counter()
    for n in sizes:
        worst = max(worst, compare("E/I on the fly", lambda: ei_network(n, args.k, args.drive,
                                                                          args.j, args.g),
                                   lambda: inhibitory_network(n, args.k, "on_the_fly"), n,
                                   args.pairs))
    for n in sizes:
        if n > args.stored_max or args.k_stored >= 0.2 * n:
            continue
        worst = max(worst, compare("Brunel stored", lambda: brunel_network(n, args.k_stored),
                                   lambda: inhibitory_network(n, args.k_stored, "stored"), n,
                                   args.pairs))
    print(f"worst ratio {worst:.2f} (goal <= 1.5)")
    n = sizes[min(1, len(sizes) - 1)] if args.decompose is None else args.decompose
    if n:
        decompose(n, args.k, args)
    print(f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
