"""Cost per synaptic event of each model and key against closed-form homogeneous LIF.

Run:  python benchmarks/models.py            (N = 1e5, K = 100; about a minute)
      python benchmarks/models.py --n 10000

Side by side in one process, best of three. Heterogeneous networks: a +-40 %
sinusoidal profile of the external drive over the neurons (and of tau where said).
"""
import argparse
import time

import numpy as np

import sparseprop_gpu as sp
from sparseprop_gpu.backends.cpu import CpuRunner
from sparseprop_gpu.batch import SUMMARY_BUFFER
from sparseprop_gpu.simulate import engine_state

K = 100


def cost(net, key, spikes=100_000, repeats=3):
    """Best ns per synaptic event after a warm-up of max(N, 20 000) spikes."""
    state = engine_state(net, key=key, buffer_spikes=SUMMARY_BUFFER)
    runner = CpuRunner(state, parallel=False)
    one = np.array([0])
    runner.advance(one, np.inf, 0.0, max(net.n, 20_000), keep=False)
    best = np.inf
    for _ in range(repeats):
        tick = time.perf_counter()
        runner.advance(one, np.inf, 0.0, spikes, keep=False)
        best = min(best, (time.perf_counter() - tick) / state.n_proc[0] * 1e9 / net.k)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    n = parser.parse_args().n

    def profile(i, size):
        return 0.1 * (1 + 0.4 * np.sin(2 * np.pi * i / size))

    def lif(**kw):
        return sp.Network(model=sp.LIF(tau=0.01), n=n, k=K, j0=1.0, target_rate=1.0, seed=1, **kw)

    rows = [("LIF, homogeneous, exp key", lif(), "exp"),
            ("LIF, homogeneous, phase key", lif(), "phase"),
            ("LIF, per-neuron drive, exp-time key", lif(drive=sp.heterogeneous(profile)), "exp"),
            ("LIF, per-neuron drive, time key", lif(drive=sp.heterogeneous(profile)), "time"),
            ("LIF, per-neuron drive and tau, time key",
             lif(drive=sp.heterogeneous(profile),
                 tau=sp.heterogeneous(lambda i, size: 0.01 * (1 + 0.2 * np.cos(i)))), "time"),
            ("QIF, homogeneous, phase key",
             sp.Network(model=sp.QIF(tau=0.01), n=n, k=K, j0=1.0, target_rate=1.0, seed=1),
             "phase")]
    base = None
    print(f"ns per synaptic event, N = {n}, K = {K}, best of 3; ratio to the first row")
    for label, net, key in rows:
        value = cost(net, key)
        base = base or value
        print(f"  {label:<42} {value:7.2f}  {value / base:5.2f}x")


if __name__ == "__main__":
    main()
