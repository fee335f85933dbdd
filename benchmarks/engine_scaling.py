"""SparseProp against the conventional engine: cost per spike and per synaptic event against N.

Run:  python benchmarks/engine_scaling.py            (about 2 minutes on 2 cores)
      python benchmarks/engine_scaling.py --quick    (small sizes, a smoke test)

Everything is measured side by side in this one process; each figure is the best
of ``--repeats`` timings (the machine is shared). Networks: inhibitory LIF,
balanced state (j0 = 1, target rate 1 Hz, tau = 10 ms), K = 100, after a warm-up
of max(N, 20 000) spikes so the queue holds a steady state.
"""
import argparse
import time

import numpy as np

import sparseprop_gpu as sp
from sparseprop_gpu import reference
from sparseprop_gpu.engine.cpu import CpuRunner
from sparseprop_gpu.config import FAN_BITS, SUMMARY_BUFFER
from sparseprop_gpu.runs.simulate import engine_state

K = 100


def network(n, connectivity="auto", k=K):
    return sp.Network(model=sp.LIF(tau=0.01), n=n, k=k, j0=1.0, target_rate=1.0, seed=1,
                      connectivity=connectivity)


def sparseprop_cost(net, spikes, repeats, key="exp", fan_bits=FAN_BITS):
    """Best ns per network spike of the SparseProp engine, and its state in bytes."""
    state = engine_state(net, key=key, fan_bits=fan_bits, buffer_spikes=SUMMARY_BUFFER)
    runner = CpuRunner(state, parallel=False)
    one = np.array([0])
    runner.advance(one, t_end=np.inf, warmup=0.0, max_spikes=max(net.n, 20_000), keep=False)
    best = np.inf
    for _ in range(repeats):
        tick = time.perf_counter()
        runner.advance(one, t_end=np.inf, warmup=0.0, max_spikes=spikes, keep=False)
        best = min(best, (time.perf_counter() - tick) / state.n_proc[0] * 1e9)
    return best, state.nbytes()


def conventional_cost(net, spikes, repeats):
    """Best ns per network spike of the O(N) reference engine."""
    reference.simulate(net, n_spikes=10, record="summary")          # compile
    best = np.inf
    for _ in range(repeats):
        tick = time.perf_counter()
        reference.simulate(net, n_spikes=spikes, record="summary")
        best = min(best, (time.perf_counter() - tick) / spikes * 1e9)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    spikes = 20_000 if args.quick else 200_000
    r = args.repeats

    print(f"SparseProp vs conventional, LIF, K = {K}, best of {r}; * marks the connectivity "
          "that 'auto' picks")
    print(f"{'N':>9} {'connectivity':>13} {'ns/spike':>9} {'ns/event':>9} {'B/neuron':>9} "
          f"{'conv ns/spike':>14} {'speed-up':>9}")
    cost = {}
    conv = {}
    for n in sizes:
        if n <= 100_000:
            conv[n] = conventional_cost(network(n), max(200, 2 * 10**8 // n // 100), r)
        for mode in ("stored", "on_the_fly"):
            net = network(n, mode)
            cost[n, mode], nbytes = sparseprop_cost(net, spikes, r)
            if n in conv:
                conv_txt, ratio = f"{conv[n]:14.0f}", f"{conv[n] / cost[n, mode]:9.0f}"
            else:
                extrapolated = conv[max(conv)] * n / max(conv)
                conv_txt = f"{extrapolated:10.0f} (x)"
                ratio = f"{extrapolated / cost[n, mode]:5.0f} (x)"
            mark = "*" if network(n).connectivity == mode else " "
            print(f"{n:>9} {mode:>12}{mark} {cost[n, mode]:9.0f} {cost[n, mode] / K:9.2f} "
                  f"{nbytes / n:9.1f} {conv_txt} {ratio}")
    print("(x): extrapolated, the conventional cost per spike scaled linearly in N from the "
          "largest N measured")
    lo, hi = sizes[0], sizes[-1]
    auto = cost[hi, network(hi).connectivity] / cost[lo, network(lo).connectivity]
    print(f"cost per spike, N = {hi:g} over N = {lo:g}: {cost[hi, 'on_the_fly'] / cost[lo, 'on_the_fly']:.2f}x "
          f"on the fly, {cost[hi, 'stored'] / cost[lo, 'stored']:.2f}x stored, {auto:.2f}x with 'auto'")

    n = 10_000 if args.quick else 100_000
    print(f"\nChoices at N = {n}, K = {K}, on the fly (ns per synaptic event, best of {r})")
    rows = [(f"key exp, fan-out {1 << b}", dict(fan_bits=b)) for b in (3, 4, 5, 6)]
    rows.append((f"key phase, fan-out {1 << FAN_BITS}", dict(key="phase")))
    for label, opts in rows:
        choice, _ = sparseprop_cost(network(n, "on_the_fly"), spikes, r, **opts)
        print(f"  {label:<28} {choice / K:6.2f}")


if __name__ == "__main__":
    main()
