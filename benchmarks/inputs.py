"""The cost of external input: the E/I network of benchmarks/populations.py without input
and with Poisson input onto both populations, timed alternately on one machine.

Run:  python benchmarks/inputs.py                  (N = 1e5, K = 100)
      python benchmarks/inputs.py --n 10000 --pairs 3

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


if __name__ == "__main__":
    main()
