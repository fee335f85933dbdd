"""Sweeps on Dask: a LocalCluster of process workers, a killed sweep resumed, worker errors.

Each LocalCluster costs a few seconds to start, so there are few of them here.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr

import sparseprop_gpu as sp
from sparseprop_gpu.distributed import SweepError, run_sweep

from conftest import fail_batches_with_seed

pytest.importorskip("distributed")

SPEC = {"network": {"model": "lif", "n": 60, "k": 6, "tau": 0.01, "j0": 1.0},
        "sweep": {"target_rate": {"linspace": [1.0, 4.0, 3]}, "seed": {"range": 5}},
        "run": {"t_end": 0.4, "warmup": 0.1, "record": "spikes", "per_neuron": True,
                "batch_size": 7, "backend": "cpu"}}


def store_arrays(path):
    """Every array of the store, the per-batch spike arrays included, by name."""
    group = zarr.open_group(path, mode="r")
    out = {name: arr[:] for name, arr in group.arrays()}
    if "spikes" in group:
        out.update({f"spikes/{name}": arr[:] for name, arr in group["spikes"].arrays()})
    return out


def assert_bitwise_equal(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        assert (a[name].dtype, a[name].shape) == (b[name].dtype, b[name].shape), name
        assert a[name].tobytes() == b[name].tobytes(), name


def flat(path):
    """The sweep's arrays independent of its batch size: per instance, and spikes flat."""
    ds = sp.open_results(path)
    out = {name: ds[name].values for name in ds.data_vars if name != "batch_done"}
    out.update({name: ds[name].values for name in ds.coords})
    out.update(times=ds.sp.times, senders=ds.sp.senders, offsets=ds.sp.offsets)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    run_sweep(SPEC, path, in_process=True, progress=False)
    return path


@pytest.mark.parametrize("workers", [1, 2])
def test_local_cluster_of_process_workers_gives_the_same_arrays(reference, tmp_path, workers):
    path = tmp_path / "cluster.zarr"
    spec = {**SPEC, "run": {**SPEC["run"], "batch_size": 1 if workers == 2 else 64}}
    report = run_sweep(spec, path, workers=workers, progress=False)
    assert f"LocalCluster({workers} process workers" in report.runner
    assert report.batches_done == sp.Sweep(**spec).n_batches and not report.failures
    assert_bitwise_equal(flat(reference), flat(path))


def test_a_worker_exception_is_reported_with_its_batch(reference, tmp_path, monkeypatch):
    from distributed import Client, LocalCluster
    # batch 2 only: it starts at instance 14
    fail_batches_with_seed(monkeypatch, 4, ArithmeticError("injected on a worker"))
    # threads, so that the patch is seen by the worker; the scheduling path is Dask's
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        path = tmp_path / "fail.zarr"
        with pytest.raises(SweepError) as info:
            run_sweep(SPEC, path, client=client, progress=False)
    message = str(info.value)
    assert "batch 2 (instances 14..14; target_rate=4, seed=4)" in message
    assert "ArithmeticError: injected on a worker" in message
    assert info.value.report.batches_done == 2
    np.testing.assert_array_equal(sp.open_results(path, partial=True)["done"].values,
                                  np.arange(15) < 14)
    monkeypatch.undo()                            # the real record_ensemble again
    report = run_sweep(SPEC, path, in_process=True, progress=False, resume=True)
    assert report.batches_run == 1
    assert_bitwise_equal(store_arrays(reference), store_arrays(path))


def test_a_sweep_killed_with_sigkill_resumes_to_the_same_store(tmp_path):
    toml = tmp_path / "slow.toml"
    toml.write_text('[network]\nmodel = "lif"\nn = 80\nk = 8\ntau = 0.01\nj0 = 1.0\n'
                    '[sweep]\ntarget_rate = [1.0, 2.0, 3.0, 4.0]\nseed = {range = 12}\n'
                    '[run]\nt_end = 1.5\nwarmup = 0.2\nrecord = "spikes"\nper_neuron = true\n'
                    'batch_size = 1\nbackend = "cpu"\n')
    sweep = sp.Sweep.load(toml)
    full = tmp_path / "full.zarr"
    run_sweep(sweep, full, in_process=True, progress=False)

    killed = tmp_path / "killed.zarr"
    proc = subprocess.Popen([sys.executable, "-m", "sparseprop_gpu.cli", "sweep", str(toml),
                             "--out", str(killed), "--workers", "2", "--quiet"],
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    done_before = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                done_before = int(zarr.open_array(killed, path="batch_done", mode="r")[:].sum())
            except Exception:        # not created yet
                done_before = 0
            if done_before >= 4:
                break
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)   # the client and its workers, mid-write
        proc.wait()
    done = zarr.open_array(killed, path="batch_done", mode="r")[:]
    assert 4 <= done.sum() < sweep.n_batches, "the sweep was not killed in the middle"
    with pytest.raises(ValueError, match="unfinished run of this sweep"):
        run_sweep(sweep, killed, in_process=True, progress=False)
    report = run_sweep(sweep, killed, in_process=True, progress=False, resume=True)
    assert report.batches_run == sweep.n_batches - int(done.sum())    # exactly the missing
    assert_bitwise_equal(store_arrays(full), store_arrays(killed))
    assert run_sweep(sweep, killed, in_process=True, progress=False).batches_run == 0
