"""Issue 11, items 2 and 3: one sweep owns a store at a time (the lock, the run token); what
each batch wrote is recorded and checked; damaged stores are found, named and repaired; the
same checksums for single records."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

import sparseprop_gpu as sp
from sparseprop_gpu.distributed import run_batch, run_sweep
from sparseprop_gpu.storage import integrity, metadata, writing
from sparseprop_gpu.storage.lock import StoreLock

SPEC = {"network": {"model": "lif", "n": 40, "k": 5, "tau": 0.01, "j0": 1.0, "target_rate": 3.0},
        "sweep": {"seed": [1, 2, 3, 4, 5]},
        "run": {"t_end": 0.2, "record": "spikes", "per_neuron": ["count", "rate"],
                "batch_size": 2, "backend": "cpu"}}


def files(path):
    root = Path(path)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    run_sweep(SPEC, path, in_process=True, progress=False)
    return path


def committed(path):
    """A store of SPEC with every batch committed, not finished."""
    sweep = sp.Sweep(**SPEC)
    writing.create(path, sweep)
    for b in range(sweep.n_batches):
        run_batch(str(path), sweep, b)
    return sweep


def write_lock(path, **fields):
    held = {"kind": "sparseprop-lock", "host": socket.gethostname(), "pid": os.getpid(),
            "token": "theirs", "started": time.time(), "heartbeat": time.time(), **fields}
    Path(f"{path}.lock").write_text(json.dumps(held))


# ---------------------------------------------------------------- item 2: one owner
def test_a_second_live_sweep_is_refused_with_overwrite_too(reference, tmp_path):
    before = files(reference)
    with StoreLock(reference):
        for overwrite in (False, True):
            with pytest.raises(ValueError, match=f"out: {reference} is in use by another "
                               f"sweep \\(host {socket.gethostname()}, pid {os.getpid()}"):
                run_sweep(SPEC, reference, in_process=True, overwrite=overwrite,
                          progress=False)
    assert files(reference) == before and not Path(f"{reference}.lock").exists()
    path = tmp_path / "s.zarr"
    write_lock(path, host="elsewhere", pid=1)          # another host's live sweep
    with pytest.raises(ValueError, match="in use by another sweep \\(host elsewhere"):
        run_sweep(SPEC, path, in_process=True, progress=False)
    assert not path.exists()


def test_a_stale_lock_is_taken_over_with_a_message(reference, tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                         # a pid that is dead on this host
    for i, fields in enumerate(({"pid": gone.pid},
                                {"host": "elsewhere", "heartbeat": time.time() - 1e4})):
        path = tmp_path / f"s{i}.zarr"
        write_lock(path, **fields)
        report = run_sweep(SPEC, path, in_process=True, progress=False)
        assert "took over the stale lock" in str(report)
        assert ("is gone" if i == 0 else "no heartbeat for") in str(report)
        assert files(path) == files(reference) and not Path(f"{path}.lock").exists()


def test_a_lock_that_is_not_ours_is_never_replaced(tmp_path):
    path = tmp_path / "s.zarr"
    Path(f"{path}.lock").write_text("somebody's notes")
    with pytest.raises(ValueError, match="is not a sparseprop lock"):
        run_sweep(SPEC, path, in_process=True, progress=False)
    assert Path(f"{path}.lock").read_text() == "somebody's notes"


def test_a_worker_with_another_token_writes_nothing(tmp_path, monkeypatch):
    sweep = sp.Sweep(**SPEC)
    path = tmp_path / "s.zarr"
    writing.create(path, sweep, token="mine")
    with pytest.raises(ValueError, match="no longer this sweep's store \\(its run token is "
                                         "mine, this sweep's theirs.*batch 0 .*not written"):
        run_batch(str(path), sweep, 0, token="theirs")
    assert not (path / "instance_int64" / "c").exists()            # no data
    # taken over between the batch's data and its marker: not committed
    real = integrity.write_batch_manifest

    def taken_over(*args):
        real(*args)
        writing.claim(path, "another run")

    monkeypatch.setattr(writing, "write_batch_manifest", taken_over)
    with pytest.raises(ValueError, match="its run token is another run"):
        run_batch(str(path), sweep, 1, token="mine")
    assert not metadata.done_batches(path).any()


def test_the_token_is_the_running_sweeps_only(tmp_path, monkeypatch):
    path = tmp_path / "s.zarr"
    seen = []
    real = writing.write_batch

    def spy(path, sweep, b, result, token=None):
        seen.append((token, zarr.open_group(path).attrs["sparseprop"].get("token")))
        return real(path, sweep, b, result, token)

    monkeypatch.setattr(writing, "write_batch", spy)
    run_sweep(SPEC, path, in_process=True, progress=False)
    assert len(seen) == 3 and all(mine == theirs and mine for mine, theirs in seen)
    assert "token" not in zarr.open_group(path).attrs["sparseprop"]      # finished: none


# ---------------------------------------------------------------- item 3: damage
def damage(file, how):
    data = file.read_bytes()
    if how == "delete":
        file.unlink()
    elif how == "truncate":
        file.write_bytes(data[:len(data) // 2])
    else:
        file.write_bytes(data[:8] + bytes(b ^ 0xFF for b in data[8:16]) + data[16:])


TARGETS = {"instance_float64": ("instance_float64", "c/0/1", "0.0", "batch 1 \\(instances 2..3"),
           "count": ("count", "c/1/0", "0.0", "batch 1 \\(instances 2..3"),
           "spikes": ("spikes/times_000001", "c/0", "c/0", "batch 1 \\(instances 2..3")}


@pytest.mark.parametrize("finished", [False, True])
@pytest.mark.parametrize("how", ["delete", "truncate", "flip"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_a_damaged_chunk_is_named_and_repaired_by_resume(reference, tmp_path, finished, how,
                                                        target):
    path = tmp_path / "s.zarr"
    committed(path)
    if finished:
        run_sweep(SPEC, path, in_process=True, progress=False)
    array, running, final, where = TARGETS[target]
    damage(path / array / (final if finished else running), how)
    if finished and target != "spikes":     # a final chunk holds every batch
        where = "batches 0..2 \\(instances 0..4\\)"
    named = f"array {array}, {where}"
    if how == "flip":                 # the sizes are right: found by the checksums
        with pytest.raises(ValueError, match=f"is damaged.*\n  {named}.*does not match its "
                                             "checksum"):
            sp.open_results(path, partial=True, verify="full")
    else:
        with pytest.raises(ValueError, match=f"is damaged.*\n  {named}.*"
                                             f"{'is missing' if how == 'delete' else 'bytes'}"):
            sp.open_results(path, partial=True)
    if how != "flip":
        with pytest.raises(ValueError, match="repair it with --resume"):
            run_sweep(SPEC, path, in_process=True, progress=False)
    report = run_sweep(SPEC, path, in_process=True, progress=False, resume=True)
    assert "repaired 1 damaged objects" in str(report)
    assert files(path) == files(reference)
    sp.open_results(path, verify="full")


@pytest.mark.parametrize("finished", [False, True])
def test_missing_array_metadata_is_an_error_and_is_written_again(reference, tmp_path,
                                                                finished):
    path = tmp_path / "s.zarr"
    committed(path)
    if finished:
        run_sweep(SPEC, path, in_process=True, progress=False)
    (path / "rate" / "zarr.json").unlink()
    with pytest.raises(ValueError, match="array rate, batches 0..2 \\(instances 0..4\\): its "
                                         "metadata \\(zarr.json\\) is missing"):
        sp.open_results(path, partial=True)
    run_sweep(SPEC, path, in_process=True, progress=False, resume=True)
    assert files(path) == files(reference)


def test_a_lost_manifest(reference, tmp_path):
    path = tmp_path / "s.zarr"
    committed(path)
    (path / integrity.batch_manifest(2)).unlink()
    with pytest.raises(ValueError, match="array manifest, batch 2 \\(instances 4..4.*its "
                                         "manifest .* is missing"):
        sp.open_results(path, partial=True)
    run_sweep(SPEC, path, in_process=True, progress=False, resume=True)
    assert files(path) == files(reference)
    group = zarr.open_group(path, mode="r+")
    meta = dict(group.attrs)["sparseprop"]
    del meta["manifest"]
    group.attrs["sparseprop"] = meta
    with pytest.raises(ValueError, match="the store's manifest .* is missing"):
        sp.open_results(path)
    with pytest.raises(ValueError, match="--overwrite"):
        run_sweep(SPEC, path, in_process=True, progress=False, resume=True)


def test_verify_is_checked(reference):
    with pytest.raises(ValueError, match="verify must be one of 'sizes', 'full'; got 'all'"):
        sp.open_results(reference, verify="all")


# ---------------------------------------------------------------- single records
@pytest.mark.parametrize("suffix", [".npz", ".zarr"])
def test_a_damaged_record_is_a_value_error_naming_the_array(tmp_path, suffix):
    rec = sp.simulate(sp.Network(model=sp.LIF(0.01), n=30, k=3, j0=1.0, target_rate=3.0),
                      t_end=0.3)
    path = tmp_path / f"run{suffix}"
    rec.save(path)
    np.testing.assert_array_equal(sp.load_record(path).times, rec.times)
    if suffix == ".zarr":
        chunk = next((path / "counts" / "c").rglob("*"))
        damage(chunk, "truncate")
        with pytest.raises(ValueError, match="is damaged: its array 'counts' cannot be read"):
            sp.load_record(path)
        return
    import zipfile
    with np.load(path) as f:                         # same sizes, other bytes
        arrays = {name: f[name] for name in f.files}
    arrays["counts"] = arrays["counts"] + 1
    with zipfile.ZipFile(path, "w") as z:
        for name, data in arrays.items():
            with z.open(f"{name}.npy", "w") as out:
                np.lib.format.write_array(out, data)
    with pytest.raises(ValueError, match="is damaged: array 'counts' does not match the "
                                         "checksum"):
        sp.load_record(path)


def test_load_record_refuses_a_sweep_store_and_a_foreign_npz(reference, tmp_path):
    with pytest.raises(ValueError, match="not a sparseprop record"):
        sp.load_record(reference)
    foreign = tmp_path / "x.npz"
    np.savez(foreign, times=np.zeros(3))
    with pytest.raises(ValueError, match="not a sparseprop record"):
        sp.load_record(foreign)
