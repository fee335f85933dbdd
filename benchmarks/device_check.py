"""Device check for a lent GPU: CUDA ensemble throughput and agreement with the CPU backend.

Run on the GPU machine (see device_check.sh; nothing to download there):
    python benchmarks/device_check.py             # M = 1024 and 16384, N = 1000, K = 100
    python benchmarks/device_check.py --simulate  # M = 4, N = 40, K = 5, NUMBA_ENABLE_CUDASIM=1

The full run takes about 1-2 minutes (most of it compiling); each phase has a limit.

Networks (--model lif, qif, eif or ei; lif by default; ei: the E/I network of
benchmarks/populations.py, delays and refractoriness, through the population kernel): inhibitory,
balanced state (tau = 10 ms, j0 = 1, target rate 1 Hz, as in
engine_scaling.py), each instance m with its own on-the-fly topology and initial state
from seed m, no warm-up. Every run stops each instance after the same number of spikes
(``n_spikes``), so the work of a run is known in advance: M * n_spikes * K synaptic events.

What it prints, all measured in this one process:
- GPU (cuda backend, via run_ensemble) at each M: recorded spikes, synaptic events per
  second (spikes * K / seconds) over the launch loop only ("engine": kernel launches and
  their outcome copies, synchronised) and over the whole run_ensemble call ("wall":
  also the batch build on the host and the transfers). The kernel is compiled by a
  small run first, which is not timed.
- CPU (cpu backend, all cores, prange over instances) on fewer instances: the same
  figures, and the GPU/CPU ratio of events per second (so scaled per instance).
- The fraction of the H200's memory bandwidth (4.8 TB/s) the engine rate would use,
  under a stated assumption of the bytes moved per synaptic event (see BYTES_PER_EVENT).
- Layout: the Batch arrays as they are, instance-major (row m of each array is
  instance m, so the threads of a warp touch different rows); a neuron-major layout is
  not implemented, and this script says so.
- Agreement: ~8 sampled instances of the largest run against the CPU backend (same
  seeds): spike counts per neuron equal; and a short record="spikes" run, senders equal
  and times within 1e-12 s.

Every phase runs under a time limit (SIGALRM; a kernel already launched finishes first,
so device_check.sh also wraps the whole script in `timeout`). The spikes per instance of
each timed run are sized from the throughput measured in the phase before (a smaller M,
so a lower rate), so each run lasts about --target-s or less.
Imports only numpy, numba (numba-cuda), cupy and the project: no zarr, dask or tqdm.
"""
import argparse
import json
import os
import signal
import sys
import time
import traceback

HBM_BYTES_PER_S = 4.8e12        # H200 HBM3e peak (NVIDIA data sheet)
# Bytes moved per synaptic event, two assumptions (both stated in the output):
BYTES_PER_EVENT = {
    # useful bytes: the target's 8-byte key read (gather) and written back, and its
    # group's 8-byte minimum read (pq_set_in_group); a lower bound on the traffic
    "24B": 24,
    # DRAM granularity: the key's 32-byte sector read and written back; group minima
    # (N/32 per instance, 256 B at N = 1000) assumed resident in L2
    "64B": 64,
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("lif", "qif", "eif", "ei", "brunel"), default="lif",
                        help="neuron model (eif: the table kernel, input map; ei: an E/I LIF "
                             "network of two populations with delays and refractoriness, the "
                             "population kernel; brunel: Brunel's model A from rest with its "
                             "Poisson input, the population kernel with input and quiescent "
                             "populations)")
    parser.add_argument("--simulate", action="store_true",
                        help="run on the CUDA simulator (NUMBA_ENABLE_CUDASIM=1) at tiny sizes")
    parser.add_argument("--sizes", type=str, default=None,
                        help="comma-separated instance counts M (default 1024,16384)")
    parser.add_argument("-n", type=int, default=None, help="neurons per instance (default 1000)")
    parser.add_argument("-k", type=int, default=None, help="out-degree (default 100)")
    parser.add_argument("--target-s", type=float, default=None,
                        help="aimed duration of each timed run (default 8 s; 2 s simulated)")
    parser.add_argument("--sample", type=int, default=8, help="instances checked against the CPU")
    parser.add_argument("--block-sizes", type=str, default=None,
                        help="THREADS_PER_BLOCK values tried at the largest M "
                             "(default 32,64,128; '' to skip)")
    parser.add_argument("--budget-s", type=float, default=150.0,
                        help="skip optional phases once the script has run this long")
    parser.add_argument("--json", type=str, default=None, help="also write the results here")
    args = parser.parse_args()
    sim = args.simulate
    args.sizes = [int(s) for s in (args.sizes or ("4" if sim else "1024,16384")).split(",")]
    args.n = args.n or (40 if sim else 1000)
    args.k = args.k or (5 if sim else 100)
    args.target_s = args.target_s or (2.0 if sim else 8.0)
    blocks = args.block_sizes if args.block_sizes is not None else ("2,4" if sim else "32,64,128")
    args.block_sizes = [int(b) for b in blocks.split(",") if b.strip()]
    return args


ARGS = parse_args()
if ARGS.simulate:                       # before numba is imported anywhere
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    import warnings
    # the simulator runs the kernels on numpy scalars, whose uint64 hashing wraps on purpose
    warnings.filterwarnings("ignore", message="overflow encountered", category=RuntimeWarning)

import numpy as np                      # noqa: E402

import sparseprop_gpu as sp             # noqa: E402
from sparseprop_gpu import config                       # noqa: E402
from sparseprop_gpu.engine import cuda as cuda_backend    # noqa: E402
from report import print_table as markdown_table   # noqa: E402

START = time.perf_counter()
RESULTS = {"args": {k: v for k, v in vars(ARGS).items()}, "phases": {}, "runs": [],
           "checks": {}}
# limits (s) per phase; a timed run is sized to about --target-s inside them
LIMITS = {"setup": 60, "compile": 180 if ARGS.simulate else 120, "pilot": 60, "gpu": 60,
          "cpu": 60, "blocks": 60, "check counts": 60, "check spikes": 60}


class PhaseTimeout(Exception):
    pass


def phase(name, fn, *args, limit=None, **kw):
    """Run one phase under a time limit; returns its value, or None if it failed."""
    limit = int(limit or LIMITS.get(name.split(" M=")[0], 60))

    def alarm(signum, frame):
        raise PhaseTimeout(f"phase '{name}' ran over its {limit} s limit")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(limit)
    tick = time.perf_counter()
    try:
        value = fn(*args, **kw)
        outcome = "ok"
    except PhaseTimeout as exc:
        value, outcome = None, f"TIMEOUT: {exc}"
    except Exception as exc:
        traceback.print_exc()
        value, outcome = None, f"ERROR: {type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    took = time.perf_counter() - tick
    RESULTS["phases"][name] = {"outcome": outcome, "seconds": round(took, 3)}
    print(f"[{time.perf_counter() - START:7.1f} s] {name}: {outcome} ({took:.2f} s)", flush=True)
    return value


def network():
    from sparseprop_gpu.specification.models import MODELS
    if ARGS.model == "ei":      # as benchmarks/populations.py: 0.8 K into E, 0.2 K into I
        n_e, k_e = int(0.8 * ARGS.n), int(round(0.8 * ARGS.k))
        j_e = 1.0 / ARGS.k ** 0.5
        pops = [sp.Population("E", n_e, 2.0, 0.002), sp.Population("I", ARGS.n - n_e, 2.0, 0.002)]
        return sp.PopulationNetwork(
            sp.LIF(tau=0.02), pops,
            [sp.Projection(s, t, j_e if s == "E" else -6.0 * j_e, 0.0015,
                           k=k_e if t == "E" else ARGS.k - k_e) for s in "EI" for t in "EI"],
            seed=0, connectivity="on_the_fly")
    if ARGS.model == "brunel":  # N = n, C_E + C_I = k, g 5, eta 2, at rest, Poisson input
        n_e = int(0.8 * ARGS.n)
        return sp.brunel(n_e=n_e, epsilon=ARGS.k / ARGS.n, external="poisson", seed=0,
                         gamma=(ARGS.n - n_e) / n_e)
    return sp.Network(model=MODELS[ARGS.model](tau=0.01), n=ARGS.n, k=ARGS.k, j0=1.0,
                      target_rate=1.0, seed=0, connectivity="on_the_fly")


def ensemble(seeds):
    return sp.Ensemble(network(), seeds=[int(s) for s in seeds])


def synchronize():
    from numba import cuda
    cuda.synchronize()


def timed_run(backend, m, n_spikes, label=None, seeds=None):
    """run_ensemble on m instances (seeds 0..m-1), n_spikes each; returns figures and the
    result Dataset."""
    seeds = range(m) if seeds is None else seeds
    tick = time.perf_counter()
    ens = ensemble(seeds)
    build = time.perf_counter() - tick
    tick = time.perf_counter()
    result = sp.run_ensemble(ens, n_spikes=n_spikes, record="summary", backend=backend)
    if backend == "cuda":
        synchronize()
    wall = time.perf_counter() - tick
    spikes = int(result["spike_count"].sum())
    events = spikes * ARGS.k
    meta = result.sp.meta
    engine = meta["engine_seconds"]
    run = {"label": label or backend, "backend": meta["backend"], "M": m, "N": ARGS.n,
           "K": ARGS.k, "n_spikes": n_spikes, "model_s": float(np.mean(result["t_stop"].values)),
           "spikes": spikes, "events": events,
           "ensemble_build_s": build, "wall_s": wall, "engine_s": engine,
           "events_per_s_engine": events / max(engine, 1e-12),
           "events_per_s_wall": events / max(wall, 1e-12),
           "threads_per_block": config.THREADS_PER_BLOCK if backend == "cuda" else None}
    return run, result


def calibrate(backend, m, spikes, min_s=0.3, high=200_000):
    """A pilot run, repeated with more spikes (x10 at most) until it takes min_s."""
    while True:
        run, result = timed_run(backend, m, spikes, label=f"{backend} pilot")
        if run["engine_s"] >= min_s or spikes >= high:
            return run, result
        spikes = int(min(high, spikes * min(10.0, 2 * min_s / max(run["engine_s"], 1e-9))))


def sized_spikes(rate, m, target_s, low=50, high=200_000):
    """Spikes per instance for a run of m instances to last about target_s at ``rate``."""
    return int(np.clip(target_s * rate / (m * ARGS.k), low, high))


def setup():
    usable, message = cuda_backend.status()
    info = {"cuda_usable": usable, "cuda": message, "numba_threads": None,
            "python": sys.version.split()[0], "numpy": np.__version__}
    import numba
    info["numba"] = numba.__version__
    info["numba_threads"] = numba.get_num_threads()
    try:
        import importlib.metadata as md
        info["numba_cuda"] = md.version("numba-cuda")
    except Exception:
        info["numba_cuda"] = None
    if not ARGS.simulate:
        try:
            import cupy
            info["cupy"] = cupy.__version__
            free, total = cupy.cuda.Device().mem_info
            info["gpu_memory_gb"] = round(total / 2**30, 1)
        except Exception as exc:
            info["cupy"] = f"unusable: {exc}"
    for name in ("zarr", "tqdm", "dask"):
        info[f"{name}_imported"] = name in sys.modules
    print("setup:", json.dumps(info), flush=True)
    RESULTS["setup"] = info
    return info


def state_bytes_per_instance():
    ens = ensemble([0])
    return int(ens.batch(np.arange(1), "exp", 4096).nbytes())


def compare_counts(gpu_result, rows, n_spikes):
    seeds = [int(gpu_result["seed"].values[r]) for r in rows]
    cpu = sp.run_ensemble(ensemble(seeds), n_spikes=n_spikes, record="summary", backend="cpu")
    report = []
    for i, r in enumerate(rows):
        a, b = gpu_result["count"].values[r], cpu["count"].values[i]
        report.append({"instance": int(r), "seed": seeds[i], "spikes_gpu": int(a.sum()),
                       "spikes_cpu": int(b.sum()), "neurons_differing": int((a != b).sum())})
    ok = all(x["neurons_differing"] == 0 for x in report)
    return {"ok": ok, "n_spikes": n_spikes, "instances": report}


def compare_spikes(seeds, n_spikes):
    gpu = sp.run_ensemble(ensemble(seeds), n_spikes=n_spikes, record="spikes", backend="cuda")
    cpu = sp.run_ensemble(ensemble(seeds), n_spikes=n_spikes, record="spikes", backend="cpu")
    report = []
    for i, seed in enumerate(seeds):
        (tg, sg), (tc, sc) = gpu.sp.spikes(i), cpu.sp.spikes(i)
        n = min(tg.size, tc.size)
        differ = np.flatnonzero(sg[:n] != sc[:n])
        first = int(differ[0]) if differ.size else (n if tg.size != tc.size else -1)
        upto = first if first >= 0 else n
        dt = float(np.max(np.abs(tg[:upto] - tc[:upto]))) if upto else 0.0
        report.append({"seed": int(seed), "spikes_gpu": int(tg.size), "spikes_cpu": int(tc.size),
                       "first_mismatch": first, "max_abs_dt_before_it": dt})
    ok = all(x["first_mismatch"] == -1 and x["max_abs_dt_before_it"] <= 1e-12 for x in report)
    return {"ok": ok, "n_spikes": n_spikes, "atol_s": 1e-12, "instances": report}


def print_table(runs, cpu_rate):
    head = ["run", "M", "spikes/inst", "model s", "spikes", "build s", "wall s", "engine s",
            "events/s engine", "events/s wall", "GPU/CPU", "%BW 24B", "%BW 64B"]
    rows = []
    for r in runs:
        rate = r["events_per_s_engine"]
        ratio = rate / cpu_rate if cpu_rate and r["backend"] == "cuda" else None
        bw = {k: 100 * rate * b / HBM_BYTES_PER_S for k, b in BYTES_PER_EVENT.items()}
        r.update(ratio_to_cpu=ratio, bandwidth_percent=bw)
        rows.append([r["label"], r["M"], r["n_spikes"], f"{r['model_s']:.3g}", r["spikes"],
                     f"{r['ensemble_build_s']:.2f}", f"{r['wall_s']:.3f}", f"{r['engine_s']:.3f}",
                     f"{rate:.3e}", f"{r['events_per_s_wall']:.3e}",
                     "-" if ratio is None else f"{ratio:.2f}x",
                     f"{bw['24B']:.2f}" if r["backend"] == "cuda" else "-",
                     f"{bw['64B']:.2f}" if r["backend"] == "cuda" else "-"])
    markdown_table(head, rows)


def main():
    info = phase("setup", setup)
    if info is None:
        return 1
    gpu_ok = info["cuda_usable"]
    nbytes = phase("setup state bytes", state_bytes_per_instance)
    RESULTS["state_bytes_per_instance"] = nbytes
    m_pilot = min(64, min(ARGS.sizes))
    runs = []

    # CPU first: its compile is cached on disk, and it gives the comparison figure
    cpu_threads = info["numba_threads"]
    m_cpu = max(4, 4 * cpu_threads) if not ARGS.simulate else min(ARGS.sizes)
    phase("cpu compile", timed_run, "cpu", 2, 10, limit=180)
    pilot = phase("cpu pilot", calibrate, "cpu", m_cpu, 200 if ARGS.simulate else 1000)
    cpu_rate = None
    if pilot:
        spikes = sized_spikes(pilot[0]["events_per_s_engine"], m_cpu, ARGS.target_s / 2,
                              high=2_000_000)
        done = phase("cpu", timed_run, "cpu", m_cpu, spikes, label=f"cpu x{cpu_threads}")
        if done:
            runs.append(done[0])
            cpu_rate = done[0]["events_per_s_engine"]

    largest = None
    if gpu_ok:
        # the first launch compiles the kernel; not timed
        phase("compile", timed_run, "cuda", m_pilot, 10)
        pilot = phase("pilot", calibrate, "cuda", m_pilot, 100,
                      min_s=0.1 if ARGS.simulate else 0.3)
        rate = pilot[0]["events_per_s_engine"] if pilot else None
        for m in ARGS.sizes:
            if rate is None:
                break
            # total GPU throughput grows with M until the device saturates: sizing from the
            # smaller run's rate keeps this run at or under --target-s
            spikes = sized_spikes(rate, m, ARGS.target_s)
            done = phase(f"gpu M={m}", timed_run, "cuda", m, spikes, label="cuda")
            if not done:
                break
            runs.append(done[0])
            rate = done[0]["events_per_s_engine"]
            largest = done
        if largest and ARGS.block_sizes:
            m = largest[0]["M"]
            default = config.THREADS_PER_BLOCK
            for tpb in ARGS.block_sizes:
                if tpb == default:
                    continue
                if time.perf_counter() - START > ARGS.budget_s:
                    print(f"skipping block size {tpb}: over the {ARGS.budget_s} s budget")
                    continue
                config.THREADS_PER_BLOCK = tpb
                spikes = sized_spikes(rate, m, ARGS.target_s / 2)
                try:
                    done = phase(f"blocks M={m} tpb={tpb}", timed_run, "cuda", m, spikes,
                                 label=f"cuda tpb={tpb}")
                finally:
                    config.THREADS_PER_BLOCK = default
                if done:
                    runs.append(done[0])
        if largest:
            res = largest[1]
            m = largest[0]["M"]
            rows = np.unique(np.linspace(0, m - 1, min(ARGS.sample, m)).astype(np.int64))
            RESULTS["checks"]["counts"] = phase("check counts", compare_counts, res, rows,
                                                largest[0]["n_spikes"])
            seeds = [int(res["seed"].values[r]) for r in rows]
            RESULTS["checks"]["spikes"] = phase("check spikes", compare_spikes, seeds,
                                                50 if ARGS.simulate else 1000)
    else:
        print("GPU phases skipped:", info["cuda"])

    print()
    what = {"ei": "E/I LIF, two populations, delay 1.5 ms, t_ref 2 ms, on-the-fly topology",
            "brunel": "Brunel's model A from rest (g 5, eta 2, Poisson input), stored topology"
            }.get(ARGS.model, f"Inhibitory {ARGS.model.upper()}, balanced state, on-the-fly "
                              "topology")
    print(f"{what}, N = {ARGS.n}, K = {ARGS.k}, per instance (seed = instance index), "
          f"record='summary', no warm-up.")
    print(f"GPU: {info['cuda']}; CPU: {cpu_threads} numba threads on {os.cpu_count()} cores.")
    print("engine = launch loop (kernel launches + outcome copies, synchronised); wall = the "
          "whole run_ensemble call (batch build, transfers); build = Ensemble(...) on the host.")
    print()
    print_table(runs, cpu_rate)
    print()
    print("GPU/CPU: events per second of the engine, GPU at M instances against the CPU "
          f"backend at M = {m_cpu} on all its cores (both are per-event rates, so scaled per "
          "instance).")
    print(f"%BW: the engine rate times the bytes per synaptic event, over {HBM_BYTES_PER_S / 1e12}"
          " TB/s (H200 HBM3e). Assumed bytes per event: 24B = the 8-byte key read and written "
          "back plus the 8-byte group minimum read (useful bytes, a lower bound); 64B = the "
          "key's 32-byte DRAM sector read and written back, group minima resident in L2.")
    print("Layout: instance-major as is (row m of each Batch array is instance m; one thread "
          "per instance, so a warp's 32 threads touch 32 rows"
          + (f"; {nbytes} B of engine state per instance" if nbytes else "")
          + "). Neuron-major (instance index fastest) is not implemented, not measured.")
    for name, check in RESULTS["checks"].items():
        if check is None:
            print(f"check {name}: did not complete")
            continue
        verdict = "PASS" if check["ok"] else "FAIL"
        print(f"check {name} (n_spikes = {check['n_spikes']} per instance): {verdict}")
        for x in check["instances"]:
            print("   ", json.dumps(x))
    RESULTS["runs"] = runs
    RESULTS["total_s"] = time.perf_counter() - START
    print(f"\ntotal {RESULTS['total_s']:.1f} s")
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)
    failed = [n for n, c in RESULTS["checks"].items() if c is None or not c["ok"]]
    if not gpu_ok:
        return 2                        # the point of this script is the GPU
    return 1 if failed or not largest else 0


if __name__ == "__main__":
    sys.exit(main())
