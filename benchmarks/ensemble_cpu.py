"""CPU ensemble throughput on 1 and 2 threads, side by side in one run.

Run:  python benchmarks/ensemble_cpu.py              (about a minute on 2 cores)
      python benchmarks/ensemble_cpu.py --quick      (a smoke test)

M instances (default 64) of an inhibitory LIF network in the balanced state (N = 1000,
K = 100, tau = 10 ms, j0 = 1, target rate 1 Hz, as in engine_scaling.py), each with its
own on-the-fly topology and initial state from seed m (``--shared``: one stored table,
initial states from ic_seed m), run with ``run_ensemble(backend="cpu")`` (a prange over
instances) at ``numba.set_num_threads(1)`` and ``(2)``. The runs alternate and each figure
is the best of ``--repeats`` (the machine is shared). Reported: instance-spikes per
second (network spikes summed over the instances), synaptic events per second (K per
spike), over the engine (the launch loop) and over the whole run_ensemble call, and the
2-thread / 1-thread ratio (target: >= 1.8x).
"""
import argparse
import os
import time

import numba
import numpy as np

import sparseprop_gpu as sp

from report import print_table

TARGET_RATIO = 1.8


def make_ensemble(m, n, k, shared):
    net = sp.Network(model=sp.LIF(tau=0.01), n=n, k=k, j0=1.0, target_rate=1.0, seed=0,
                     connectivity="stored" if shared else "on_the_fly")
    if shared:
        return sp.Ensemble(net, ic_seeds=list(range(m)))
    return sp.Ensemble(net, seeds=list(range(m)))


def run(ens, t_end, threads):
    """(spikes, engine seconds, wall seconds, result Dataset) of one run_ensemble on
    ``threads`` threads."""
    numba.set_num_threads(threads)
    tick = time.perf_counter()
    out = sp.run_ensemble(ens, t_end=t_end, record="summary", backend="cpu")
    wall = time.perf_counter() - tick
    return int(out["spike_count"].sum()), out.sp.meta["engine_seconds"], wall, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", type=int, default=64, help="instances")
    parser.add_argument("-n", type=int, default=1000, help="neurons per instance")
    parser.add_argument("-k", type=int, default=100, help="out-degree")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="aimed engine time of a 1-thread run (s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shared", action="store_true",
                        help="one stored topology for all instances (initial states differ)")
    parser.add_argument("--quick", action="store_true", help="short runs, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.repeats = 0.3, 1
    available = numba.config.NUMBA_NUM_THREADS
    threads = [1, 2]
    if available < 2:
        raise SystemExit(f"needs 2 numba threads; this machine has {available}")

    load_before = os.getloadavg()[0]
    tick = time.perf_counter()
    ens = make_ensemble(args.m, args.n, args.k, args.shared)
    build = time.perf_counter() - tick
    run(make_ensemble(2, args.n, args.k, args.shared), 0.01, 2)       # compile (cached on disk)
    pilot = 0.1 if args.quick else 1.0
    spikes, engine, _, _ = run(ens, pilot, 1)                          # pilot, sizes the runs
    t_end = float(np.clip(pilot * args.seconds / max(engine, 1e-9), 0.2, 1000.0))

    best = {t: None for t in threads}
    reference = None
    for _ in range(args.repeats):
        for t in threads:
            spikes, engine, wall, result = run(ens, t_end, t)
            if reference is None:
                reference = result["count"].values
            elif not np.array_equal(reference, result["count"].values):
                raise SystemExit(f"the {t}-thread run gave other spike counts than the first run")
            if best[t] is None or engine < best[t][1]:
                best[t] = (spikes, engine, wall)
    numba.set_num_threads(available)
    load_after = os.getloadavg()[0]

    topology = "one stored table" if args.shared else "on-the-fly topology per instance"
    print(f"CPU ensemble: M = {args.m} instances of inhibitory LIF, N = {args.n}, K = {args.k}, "
          f"{topology}, t_end = {t_end:.3g} s, record='summary'; best of {args.repeats}; "
          f"Ensemble(...) built in {build:.2f} s (not timed below)")
    head = ["threads", "spikes", "engine s", "wall s", "instance-spikes/s", "events/s",
            "ns/event/thread", "events/s wall"]
    rows = []
    for t in threads:
        spikes, engine, wall = best[t]
        rows.append([t, spikes, f"{engine:.3f}", f"{wall:.3f}", f"{spikes / engine:.3e}",
                     f"{spikes * args.k / engine:.3e}",
                     f"{engine * t / (spikes * args.k) * 1e9:.2f}",
                     f"{spikes * args.k / wall:.3e}"])
    print_table(head, rows)
    ratio = best[1][1] / best[2][1]
    ratio_wall = best[1][2] / best[2][2]
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"2-thread / 1-thread: {ratio:.2f}x engine ({verdict} the {TARGET_RATIO}x target), "
          f"{ratio_wall:.2f}x wall (the wall time includes the single-threaded batch build)")
    print(f"1-minute load average: {load_before:.2f} before, {load_after:.2f} after, on "
          f"{os.cpu_count()} cores (other work on the machine lowers the 2-thread figure)")


if __name__ == "__main__":
    main()
