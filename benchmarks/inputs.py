"""The cost of external input: the E/I network of benchmarks/populations.py without input
and with Poisson input onto both populations, timed alternately on one machine.

Run:  python benchmarks/inputs.py                  (N = 1e5, K = 100)
      python benchmarks/inputs.py --n 10000 --pairs 3

Then ns per external event alone: N uncoupled LIF neurons (I = 1.2, t_ref 2 ms) under inhibitory
Poisson input (1 kHz per neuron, J = -0.004), on the exp-time and the time key.

Each network is warmed up (compilation and 2 N spikes), then timed A B A B ... on the same
running state, ``--spikes`` network spikes a segment. Columns: ns per synaptic event without
input (A), ns per event with input (B: synaptic events plus external events, which are
counted exactly from the engine's per-population event counters), external events per
synaptic event in B, and B's ns per event over A's (the median of the per-pair ratios).
An external event costs two counter draws, a log1p and one queue update; a synaptic event
one queue update: the ratio says what the rest costs.
"""
import argparse
import time

import numpy as np

import sparseprop_gpu as sp
from populations import Timed, ei_network
from sparseprop_gpu.engine.cpu import CpuRunner
from sparseprop_gpu.runs.simulate import engine_state


class TimedInput(Timed):
    """``Timed`` that also counts the external events of each segment."""

    def segment(self, spikes):
        ext = int(self.state.ext_count[0].sum())
        tick = time.perf_counter()
        before = self.state.counts[0].copy()
        self.runner.advance(self.one, t_end=np.inf, warmup=0.0, max_spikes=spikes, keep=False)
        took = time.perf_counter() - tick
        synaptic = int(np.dot(self.state.counts[0] - before, self.degree))
        external = int(self.state.ext_count[0].sum()) - ext
        return took / (synaptic + external) * 1e9, external / synaptic


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--spikes", type=int, default=500_000)
    parser.add_argument("--rate", type=float, default=5.0, help="Hz per source")
    parser.add_argument("--sources", type=int, default=100, help="C_ext per neuron")
    args = parser.parse_args()
    weight = 0.5 / np.sqrt(args.k)
    inputs = [sp.PoissonInput("E", args.rate, weight, args.sources),
              sp.PoissonInput("I", args.rate, weight, args.sources)]
    warm = 2 * args.n
    a = TimedInput(ei_network(args.n, args.k, 2.0, 0.5, 6.0), warm)
    b = TimedInput(ei_network(args.n, args.k, 2.0, 0.5, 6.0, inputs=inputs), warm)
    rows = []
    for _ in range(args.pairs):
        (cost_a, _), (cost_b, share) = a.segment(args.spikes), b.segment(args.spikes)
        rows.append((cost_a, cost_b, share))
    rows = np.array(rows)
    print(f"N = {args.n}, K = {args.k}, Poisson input {args.sources} x {args.rate:g} Hz of "
          f"J = {weight:.3g} onto E and I; {args.pairs} pairs")
    print(f"{'A ns/syn event':>15} {'B ns/event':>11} {'ext/syn':>8} {'B/A':>6} {'range':>11}")
    ratio = rows[:, 1] / rows[:, 0]
    print(f"{np.median(rows[:, 0]):15.2f} {np.median(rows[:, 1]):11.2f} "
          f"{np.median(rows[:, 2]):8.3f} {np.median(ratio):6.2f} "
          f"{ratio.min():5.2f}-{ratio.max():<5.2f}")
    print_uncoupled(sorted({10_000, args.n}))


def uncoupled(n, key, spikes=200_000):
    """ns per external event of n uncoupled neurons under Poisson input, and events per spike."""
    net = sp.PopulationNetwork(sp.LIF(tau=0.02), [sp.Population("E", n, 1.2, 0.002)], [],
                               inputs=[sp.PoissonInput("E", 1000.0, -0.004)], noise_seed=1)
    state = engine_state(net, key=key, buffer_spikes=4096)
    runner = CpuRunner(state, parallel=False)
    one = np.array([0])
    runner.advance(one, t_end=np.inf, warmup=0.0, max_spikes=20_000, keep=False)
    events, fired = int(state.ext_count[0].sum()), int(state.counts[0].sum())
    tick = time.perf_counter()
    runner.advance(one, t_end=np.inf, warmup=0.0, max_spikes=spikes, keep=False)
    took = time.perf_counter() - tick
    events = int(state.ext_count[0].sum()) - events
    return took / events * 1e9, events / (int(state.counts[0].sum()) - fired)


def print_uncoupled(sizes):
    print(f"\n{'N':>8} {'key':>5} {'ns/ext event':>13} {'events/spike':>13}")
    for n in sizes:
        for key in ("exp", "time"):
            cost, per_spike = uncoupled(n, key)
            print(f"{n:8d} {key:>5} {cost:13.1f} {per_spike:13.1f}", flush=True)


if __name__ == "__main__":
    main()
