"""Throughput of a Fisher-information ensemble on the CPU cores: trials per second.

    python benchmarks/fisher.py [--n-e 400] [--trials 100] [--window 0.2 0.4]

Brunel's model A from rest (g = 5, eta = 2, N = 1.25 n_e), theta = g, dtheta = 0.5, spike counts of
40 neurons in the window: ``fisher_information`` runs 2 x trials instances as one ensemble on
every core; the time includes the estimate (negligible).
"""
import argparse
import os
import time

import sparseprop_gpu as sp
from sparseprop_gpu import analysis as an, bench


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-e", type=int, default=400)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--window", type=float, nargs=2, default=[0.2, 0.4])
    args = parser.parse_args()
    net = sp.brunel(n_e=args.n_e, external="poisson", seed=1)
    sp.run_ensemble(sp.Ensemble(net, g=[5.0, 5.5]), t_end=0.01)                     # compile
    tick = time.perf_counter()
    res = an.fisher_information(net, "g", 5.0, 0.5, args.trials, tuple(args.window),
                                neurons=range(40))
    took = time.perf_counter() - tick
    trials = 2 * args.trials
    print(f"Brunel A from rest, N = {net.n}, window {args.window} s, {trials} trials on "
          f"{os.cpu_count()} cores: {took:.3g} s, {trials / took:.3g} trials/s, "
          f"{trials * args.window[1] / took:.3g} simulated s per s; I = "
          f"{res.estimate.information:.4g} +- {res.estimate.stderr:.2g} (1/g^2); {bench.machine()}")


if __name__ == "__main__":
    main()
