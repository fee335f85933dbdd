"""Cost of the exact gradient against the forward run, side by side in one process.

    python benchmarks/gradient.py [--sizes 1000 10000 100000] [--spikes 200000]
    python benchmarks/gradient.py --dense 500 1000 2000 --dense-spikes 2000
    python benchmarks/gradient.py --minibatch 32

For each N (the reference inhibitory LIF network, K = 100, stored below 1e5 neurons): the wall
time per network spike of the forward run alone (``sp.simulate``, spikes kept), of
``trajectory`` (the forward run, one replay, the checkpoints) and of ``backward`` (each segment
replayed again, the adjoint back through it), and the backward pass's memory against the
forward run's spikes. The issue's goal: the backward pass at most 2x the forward cost, with the
same growth in N.

``--dense``: against the conventional backward pass at those N: a forward run that advances all
N phases at every spike (O(N) per spike, the next spiker by argmax), keeping each spike's
targets and PTC slopes, then dense Jacobian-transpose-vector products back (an N x N matrix per
spike, O(N^2)); its dL/dphi(0) is checked against ``backward``'s.
"""
import argparse
import time

import numpy as np

import sparseprop_gpu as sp
from sparseprop_gpu import bench
from sparseprop_gpu.runs.gradient import backward, trajectory


def dense_gradient(net, times, dl_dt):
    """dL/dphi(0) of L = sum dl_dt[s] t_s by the conventional passes (see the module's doc)."""
    model, drive, n = net.model, net.drive, net.n
    omega = float(model.omega(drive))
    tpp, kick = net.model.tau / omega, float(model._kick(drive, net.coupling))
    table = net.target_table()
    phases = np.array(net.initial_phases, np.float64)
    kept = []
    for s in range(times.size):                       # forward: O(N) per spike
        j = int(np.argmax(phases))
        phases += model.phase_threshold - phases[j]
        row = table[j]
        z = np.exp(-phases[row] / omega)
        kept.append((j, row, z / (z - kick)))          # g'(phi) of LIF's PTC
        phases[row] = model.ptc(phases[row], drive, net.coupling)
        phases[j] = model.phase_reset
    adjoint = np.zeros(n)
    for s in range(times.size - 1, -1, -1):           # backward: dense J^T lambda, O(N^2)
        j, row, slope = kept[s]
        jac = np.eye(n)
        jac[row, row] = slope
        jac[row, j] += 1.0 - slope
        adjoint = jac.T @ adjoint
        adjoint[j] -= tpp * dl_dt[s]
    return adjoint


def dense(sizes, spikes):
    print(f"conventional backward (dense), {spikes} spikes, K = 100")
    print(f"{'N':>8} {'ours us':>9} {'dense us':>10} {'dense/ours':>11} {'max rel diff':>13}")
    for n in sizes:
        net = bench.reference_network(n)
        w = np.random.default_rng(0).normal(size=spikes)
        tick = time.perf_counter()
        grad = backward(trajectory(net, spikes), w)
        ours = (time.perf_counter() - tick) / spikes * 1e6
        tick = time.perf_counter()
        other = dense_gradient(net, trajectory(net, spikes).times, w)
        conventional = (time.perf_counter() - tick) / spikes * 1e6
        diff = np.max(np.abs(other - grad.initial_phases)) / np.max(np.abs(grad.initial_phases))
        print(f"{n:>8} {ours:>9.3g} {conventional:>10.3g} {conventional / ours:>11.3g} "
              f"{diff:>13.2g}", flush=True)


def minibatch(batch, repeat=5):
    import os
    from device_gradient import network_and_phases
    from sparseprop_gpu.runs.gradient import backwards, trajectories
    print(f"mini-batch of {batch} against one sample at a time, {os.cpu_count()} cores; "
          f"us per sample, best of {repeat}")
    print(f"{'network':>22} {'one by one':>11} {'mini-batch':>11} {'speed-up':>9}")
    cases = [("Yin-Yang 5-120-3", *network_and_phases(batch), 216)]
    for n in (1000, 10_000):
        net = bench.reference_network(n)
        rng = np.random.default_rng(n)
        cases.append((f"reference N = {n}", net, rng.uniform(0.0, 1.0, (batch, n)), 2000))
    for name, net, phases, spikes in cases:
        dl_dt = np.random.default_rng(2).normal(size=(batch, spikes))
        alone = [sp.Network(model=net.model, n=net.n, k=net.k, seed=net.seed, drive=net.drive,
                            connectivity=net.connectivity, targets=net.targets,
                            initial_phases=p, **({"weights": net.weights} if net.weights
                                                 is not None else {"coupling": net.coupling}))
                 for p in phases]
        backwards(trajectories(net, phases[:2], spikes), dl_dt[:2])      # compile
        one, many = [], []
        for _ in range(repeat):
            tick = time.perf_counter()
            for b, other in enumerate(alone):
                backward(trajectory(other, spikes), dl_dt[b])
            one.append((time.perf_counter() - tick) / batch * 1e6)
            tick = time.perf_counter()
            backwards(trajectories(net, phases, spikes), dl_dt)
            many.append((time.perf_counter() - tick) / batch * 1e6)
        print(f"{name:>22} {min(one):>11.4g} {min(many):>11.4g} {min(one) / min(many):>9.3g}",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--spikes", type=int, default=200_000)
    parser.add_argument("--dense", type=int, nargs="+", default=None)
    parser.add_argument("--dense-spikes", type=int, default=2000)
    parser.add_argument("--minibatch", type=int, default=None)
    args = parser.parse_args()
    small = bench.reference_network(1000)
    backward(trajectory(small, 100), np.ones(100))                      # compile
    if args.dense:
        return dense(args.dense, args.dense_spikes)
    if args.minibatch:
        return minibatch(args.minibatch)
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
