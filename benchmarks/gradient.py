"""Cost of the exact gradient against the forward run, side by side in one process.

    python benchmarks/gradient.py [--sizes 1000 10000 100000] [--spikes 200000]

For each N (the reference inhibitory LIF network, K = 100, stored below 1e5 neurons): the wall
time per network spike of the forward run alone (``sp.simulate``, spikes kept), of
``trajectory`` (the forward run, one replay, the checkpoints) and of ``backward`` (each segment
replayed again, the adjoint back through it), and the backward pass's memory against the
forward run's spikes. The issue's goal: the backward pass at most 2x the forward cost, with the
same growth in N.
"""
import argparse
import time

import numpy as np

import sparseprop_gpu as sp
from sparseprop_gpu import bench
from sparseprop_gpu.runs.gradient import backward, trajectory


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--spikes", type=int, default=200_000)
    args = parser.parse_args()
    small = bench.reference_network(1000)
    backward(trajectory(small, 100), np.ones(100))                      # compile
    print(f"{args.spikes} spikes, K = 100; {bench.machine()}")
    print(f"{'N':>8} {'forward us':>11} {'trajectory us':>14} {'backward us':>12} "
          f"{'backward/fwd':>13} {'(traj+bwd)/fwd':>15} {'memory MB':>10} {'K S 8 MB':>9}")
    for n in args.sizes:
        net = bench.reference_network(n)
        sp.simulate(net, n_spikes=1000, record="spikes")
        tick = time.perf_counter()
        sp.simulate(net, n_spikes=args.spikes, record="spikes")
        forward = (time.perf_counter() - tick) / args.spikes * 1e6
        tick = time.perf_counter()
        run = trajectory(net, args.spikes)
        traj = (time.perf_counter() - tick) / args.spikes * 1e6
        tick = time.perf_counter()
        grad = backward(run, np.ones(args.spikes))
        back = (time.perf_counter() - tick) / args.spikes * 1e6
        print(f"{n:>8} {forward:>11.3g} {traj:>14.3g} {back:>12.3g} {back / forward:>13.3g} "
              f"{(traj + back) / forward:>15.3g} {grad.peak_bytes / 1e6:>10.3g} "
              f"{net.k * args.spikes * 8 / 1e6:>9.3g}", flush=True)


if __name__ == "__main__":
    main()
