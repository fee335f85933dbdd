"""The gradients of a mini-batch on the GPU against the CPU, in one process (device check).

    python benchmarks/device_gradient.py [--batch 1024] [--json out.json]

The Yin-Yang showcase's network (5 -> 120 -> 3 QIF neurons, layered, weights of both signs),
``--batch`` samples of random input latencies, 2 n spikes each: the forward run as one ensemble
on each backend (``trajectories``), then ``backwards`` on each; prints the largest relative
difference of the gradients (per connection, drives, initial phases) and the wall time per
sample of each.
"""
import argparse
import json
import time

import numpy as np

import sparseprop_gpu as sp
from sparseprop_gpu.runs.gradient import backwards, trajectories
from sparseprop_gpu.specification.layered import layered


def network_and_phases(batch, seed=0):
    targets, mask, first = layered([5, 120, 3])
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.3, 0.5, targets.shape) * mask
    net = sp.Network(model=sp.QIF(tau=0.01), n=targets.shape[0], k=targets.shape[1],
                     drive=0.01, targets=targets, weights=weights)
    phases = np.zeros((batch, net.n))
    phases[:, :5] = np.pi - rng.uniform(0.04, 0.44, (batch, 5))
    return net, phases


def timed(backend, net, phases, dl_dt):
    tick = time.perf_counter()
    runs = trajectories(net, phases, 2 * net.n, backend=backend)
    forward = time.perf_counter() - tick
    tick = time.perf_counter()
    grads = backwards(runs, dl_dt, per_synapse=True, drives=True, backend=backend)
    return runs, grads, forward, time.perf_counter() - tick


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    net, phases = network_and_phases(args.batch)
    dl_dt = np.random.default_rng(1).normal(size=(args.batch, 2 * net.n))
    for backend in ("cpu", "cuda"):                      # compile
        timed(backend, net, phases[:2], dl_dt[:2])
    out = {"batch": args.batch}
    results = {}
    for backend in ("cpu", "cuda"):
        runs, grads, forward, back = timed(backend, net, phases, dl_dt)
        results[backend] = (runs, grads)
        out[backend] = {"forward_us_per_sample": forward / args.batch * 1e6,
                        "backward_us_per_sample": back / args.batch * 1e6}
    same = all(np.array_equal(a.times, b.times) for a, b in zip(results["cpu"][0],
                                                                 results["cuda"][0]))
    worst = 0.0
    for a, b in zip(results["cpu"][1], results["cuda"][1]):
        for x, y in ((a.synapses, b.synapses), (a.drives, b.drives),
                     (a.initial_phases, b.initial_phases)):
            worst = max(worst, float(np.max(np.abs(x - y)) / max(np.max(np.abs(x)), 1e-300)))
    out.update(same_spikes=bool(same), gradient_max_rel_diff=worst)
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
