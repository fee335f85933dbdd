"""Sweep overhead: the quickstart sweep on the embedded Dask cluster against run_ensemble here.

    python benchmarks/sweep_overhead.py [--spec examples/quickstart.toml] [--repeat 2]

Side by side, in one run (best of --repeat, alternating, after compiling):
- the 384 instances of the spec through ``run_ensemble`` in this process (backend cpu: all
  cores through prange), in the spec's batches;
- the same sweep with ``run_sweep`` on the embedded LocalCluster, the cluster's start-up, the
  store's creation and every write included (and, separately, on a cluster already started).
Then the finished store's size on disk (every file) against the raw size of its arrays
compressed as one block each with the store's codec (Zstd level 0): every parameter, summary
and commit marker that ``open_results`` gives, each on its own, however the store packs them
(the same arrays as format 1's, one array a quantity, had), and against their
uncompressed size, split into metadata (the zarr.json files) and chunks; the same for a larger,
cheap summary sweep (--large instances, batch_size 64 and 1024), where the fixed cost of the
metadata matters less, and the number of instances from which the store is within 1.2x.
Targets (issue 5): time ratio <= 1.3, size ratio <= 1.2.
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def store_bytes(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, files in os.walk(path) for name in files)


def metadata_bytes(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, files in os.walk(path) for name in files if name == "zarr.json")


def raw_bytes(path):
    """Compressed and raw bytes of the store's arrays, each one block: every variable of
    ``open_results`` (summaries, commit markers, per-neuron arrays) and every parameter,
    each compressed on its own as one block, whichever way the store packs them."""
    import sparseprop_gpu as sp
    from numcodecs import Zstd
    from sparseprop_gpu.runs.summaries import PARAMETERS
    ds = sp.open_results(path)
    names = [*ds.data_vars, *(name for name in PARAMETERS if name in ds.coords)]
    compressed = raw = 0
    for name in names:
        data = np.ascontiguousarray(ds[name].values)
        raw += data.nbytes
        compressed += len(Zstd(level=0).encode(data))
    return compressed, raw


def main():
    import sparseprop_gpu as sp
    from sparseprop_gpu.distributed import run_sweep

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "examples" / "quickstart.toml"))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, help="embedded cluster workers (default: cores)")
    parser.add_argument("--large", type=int, default=16384,
                        help="instances of the larger summary sweep for the size figures")
    args = parser.parse_args()

    sweep = sp.Sweep.load(args.spec)
    kw = {**sweep.run_kwargs(), "backend": "cpu"}
    spec = {"network": sweep.spec["network"],
            "sweep": {**sweep.spec["sweep"]["values"], "mode": sweep.spec["sweep"]["mode"]},
            "run": {**sweep.spec["run"], "backend": "cpu"}}
    sweep = sp.Sweep.from_dict(spec)
    print(f"{sweep}; {os.cpu_count()} cores")
    ensemble = sp.Ensemble.from_sweep(sweep, 0, len(sweep))
    small = sp.Ensemble.from_sweep(sweep, 0, 2)
    sp.run_ensemble(small, **{**kw, "t_end": 0.1, "warmup": 0.0})   # compile (or load the cache)

    tmp = Path(tempfile.mkdtemp(prefix="sweep_overhead_"))
    here, there, warm = [], [], []
    try:
        for i in range(args.repeat):
            started = time.perf_counter()
            out = sp.run_ensemble(ensemble, batch_size=sweep.batch_size, **kw)
            here.append(time.perf_counter() - started)
            spikes = int(out["spike_count"].sum())

            path = tmp / f"cold{i}.zarr"
            started = time.perf_counter()
            report = run_sweep(sweep, path, workers=args.workers, progress=False)
            there.append(time.perf_counter() - started)
            assert report.spikes == spikes and not report.failures
            ds = sp.open_results(path)
            np.testing.assert_array_equal(ds["spike_count"].values, out["spike_count"].values)

            from distributed import Client, LocalCluster
            from sparseprop_gpu.distributed import default_workers
            n = args.workers or default_workers(sweep)
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                client.run(_warm, spec, max(1, os.cpu_count() // n))          # workers import and load the compiled code
                started = time.perf_counter()
                run_sweep(sweep, tmp / f"warm{i}.zarr", client=client, progress=False)
                warm.append(time.perf_counter() - started)
        size = store_bytes(tmp / "cold0.zarr")
        compressed, raw = raw_bytes(tmp / "cold0.zarr")
        meta = metadata_bytes(tmp / "cold0.zarr")
        first_per_instance = compressed / len(sweep)
        larger = []
        for batch_size in (64, 1024):
            big = {"network": {"model": "lif", "n": 50, "k": 5, "j0": 1.0},
                   "sweep": {"target_rate": {"linspace": [1.0, 4.0, 8]},
                             "seed": {"range": args.large // 8}},
                   "run": {"t_end": 0.2, "record": "summary", "backend": "cpu",
                           "batch_size": batch_size}}
            path = tmp / f"large{batch_size}.zarr"
            run_sweep(big, path, in_process=True, progress=False)
            larger.append((batch_size, store_bytes(path), metadata_bytes(path),
                           *raw_bytes(path)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    a, b, c = min(here), min(there), min(warm)
    print(f"spikes                                   {spikes}")
    print(f"run_ensemble, one process, all cores     {a:7.2f} s")
    print(f"run_sweep, embedded LocalCluster (cold)  {b:7.2f} s   ratio {b / a:.2f}  "
          "(target <= 1.3)")
    print(f"run_sweep, cluster already started       {c:7.2f} s   ratio {c / a:.2f}  "
          f"({n} process worker{'s' if n > 1 else ''})")
    print(f"store on disk                            {size:7d} B")
    print(f"its arrays, compressed as one block each {compressed:7d} B   ratio "
          f"{size / compressed:.2f}  (target <= 1.2)")
    print(f"its arrays, uncompressed                 {raw:7d} B   ratio {size / raw:.2f}")
    print(f"  of the store: metadata (zarr.json)     {meta:7d} B; chunks {size - meta} B, "
          f"ratio {(size - meta) / compressed:.2f} to one block each")
    for batch_size, size, meta, compressed, raw in larger:
        print(f"summary sweep of {args.large} instances, batch_size {batch_size:4d}: store "
              f"{size} B, arrays compressed as one block {compressed} B, ratio "
              f"{size / compressed:.2f} (metadata {meta} B; chunks alone "
              f"{(size - meta) / compressed:.2f})")
    per_instance = compressed / args.large          # the last, larger sweep's
    print(f"the metadata is a fixed cost ({meta} B for these arrays); with "
          f"{per_instance:.1f} B of compressed arrays per instance the store is within 1.2x "
          f"from about {int(np.ceil(meta / (0.2 * per_instance)))} instances "
          f"(of the quickstart's arrays: {int(np.ceil(meta / (0.2 * first_per_instance)))})")


def _warm(spec, threads):
    import numba
    import sparseprop_gpu as sp
    numba.set_num_threads(threads)     # as the embedded cluster's workers run
    sweep = sp.Sweep.from_dict(spec)
    sp.run_ensemble(sp.Ensemble.from_sweep(sweep, 0, 1),
                    **{**sweep.run_kwargs(), "t_end": 0.1, "warmup": 0.0})


if __name__ == "__main__":
    main()
