"""Cost of a Lyapunov spectrum against the forward simulation, side by side in one process.

    python benchmarks/lyapunov.py [--n 10000] [--m 10 100] [--spikes 100000]

For each m: the wall time of ``lyapunov_spectrum`` (its forward run, the tangent replay and the
QR steps, timed apart) over that of the forward run of the same spikes alone (``sp.simulate``,
spikes kept), after a first call that compiles both. The reference inhibitory LIF network
(K = 100, on the fly). The issue's goal: at N = 1e4, m = 100 no more than 20x.
"""
import argparse
import time

import numpy as np

import sparseprop_gpu as sp
from sparseprop_gpu import bench
from sparseprop_gpu.analysis import lyapunov


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--m", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--spikes", type=int, default=100_000)
    args = parser.parse_args()
    net = bench.reference_network(args.n)
    lyapunov.lyapunov_spectrum(net, m=2, n_spikes=100, warmup=0)           # compile
    tick = time.perf_counter()
    sp.simulate(net, n_spikes=args.spikes, record="spikes")
    forward = time.perf_counter() - tick
    print(f"N = {args.n}, K = {net.k}, {args.spikes} spikes; forward run {forward:.3g} s "
          f"({forward / args.spikes * 1e6:.3g} us per spike); {bench.machine()}")
    print(f"{'m':>5} {'spectrum s':>11} {'ratio':>7} {'us/spike':>9} {'lambda_2 (1/s)':>15}")
    for m in args.m:
        tick = time.perf_counter()
        spec = lyapunov.lyapunov_spectrum(net, m=m, n_spikes=args.spikes, warmup=0)
        took = time.perf_counter() - tick
        second = spec.exponents[1] if m > 1 else np.nan
        print(f"{m:>5} {took:>11.3g} {took / forward:>7.3g} {took / args.spikes * 1e6:>9.3g} "
              f"{second:>15.4g}", flush=True)


if __name__ == "__main__":
    main()
