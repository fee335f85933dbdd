"""Firing rate of uncoupled LIF neurons under Poisson input against the diffusion
approximation (Siegert's formula), for a few weights and rates (docs/design.md §2.15).

    python benchmarks/diffusion.py [--neurons 200] [--t-end 20]
"""
import argparse

import sparseprop_gpu as sp
from sparseprop_gpu.analysis.theory import lif_rate_diffusion, poisson_moments

TAU, T_REF, WARMUP = 0.01, 0.002, 1.0
CASES = [(1.2, -0.004, 5000.0), (1.5, -0.01, 5500.0), (1.5, -0.005, 11000.0)]
"""(drive, weight, rate per neuron (Hz)): mu = 1, 0.95, 0.95."""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=200)
    parser.add_argument("--t-end", type=float, default=20.0)
    args = parser.parse_args()
    print(f"{'drive':>6} {'J':>7} {'R (Hz)':>8} {'mu':>6} {'sigma':>6} {'theory':>8} "
          f"{'engine':>8} {'rel':>7}")
    for drive, weight, rate in CASES:
        net = sp.PopulationNetwork(sp.LIF(tau=TAU), [sp.Population("E", args.neurons, drive,
                                                                   T_REF)], [],
                                   inputs=[sp.PoissonInput("E", rate, weight)], noise_seed=4)
        rec = sp.simulate(net, t_end=args.t_end, warmup=WARMUP, record="summary")
        mu, sigma = poisson_moments(drive, weight, rate, TAU)
        want = lif_rate_diffusion(mu, sigma, TAU, t_ref=T_REF)
        got = rec.counts.sum() / (args.neurons * (args.t_end - WARMUP))
        print(f"{drive:6.2f} {weight:7.3f} {rate:8.0f} {mu:6.3f} {sigma:6.3f} {want:8.3f} "
              f"{got:8.3f} {got / want - 1:+7.2%}")


if __name__ == "__main__":
    main()
