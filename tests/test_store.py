"""The sweep store: Zarr 3 layout, commit markers, resume, refusing a different sweep."""
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr

import sparseprop_gpu as sp
from sparseprop_gpu.storage import finishing, layout, metadata, writing
from sparseprop_gpu.distributed import run_sweep

SPEC = {"network": {"model": "qif", "n": 40, "k": 5, "tau": 0.02, "j0": 1.0, "target_rate": 3.0},
        "sweep": {"seed": [1, 2, 3, 4, 5]},
        "run": {"t_end": 0.3, "record": "summary", "batch_size": 2, "backend": "cpu"}}


INTS = ["n", "k", "seed", "ic_seed", "spike_count"]
FLOATS = ["tau", "drive", "coupling", "j0", "target_rate", "rate_mean", "rate_std", "cv_isi_mean",
          "silent_fraction", "t_stop"]


def row(group, quantity):
    """(packed array, row) holding ``quantity``."""
    for name in layout.PACKED:
        quantities = group[name].attrs["quantities"]
        if quantity in quantities:
            return group[name], quantities.index(quantity)
    raise KeyError(quantity)


def test_layout_attributes_and_chunks(tmp_path):
    sweep = sp.Sweep(**SPEC)
    path = tmp_path / "s.zarr"
    assert writing.prepare(path, sweep) == [0, 1, 2]
    group = zarr.open_group(path, mode="r")
    assert group.metadata.zarr_format == 3
    stored = group.attrs["sparseprop"]
    # what the specification gives is not stored twice, nor its unset (null) keys
    assert set(stored) == {"kind", "format", "ready", "spec", "version", "backend"}
    assert None not in stored["spec"]["network"].values()
    meta = metadata.metadata(path)
    assert meta["kind"] == "sweep" and meta["ready"] and meta["version"] == sp.__version__
    assert meta["format"] == layout.FORMAT == 2
    assert meta["spec"] == json.loads(sweep.to_json())
    assert meta["backend"] == {"requested": "cpu", "used": []}
    assert (meta["instances"], meta["batches"], meta["batch_size"]) == (5, 3, 2)
    assert (meta["neurons"], meta["swept"], meta["mode"], meta["shape"], meta["record"],
            meta["per_neuron"]) == (40, ["seed"], "grid", [5], "summary", [])
    assert sorted(name for name, _ in group.arrays()) == ["batch_done", "instance_float64",
                                                          "instance_int64"]
    for name, quantities in (("instance_int64", INTS), ("instance_float64", FLOATS)):
        arr = group[name]
        assert arr.attrs["quantities"] == quantities
        assert arr.shape == (len(quantities), 5) and arr.chunks == (len(quantities), 2)
        assert arr.metadata.dimension_names == ("quantity_" + name[9:], "instance")
    ints, floats = group["instance_int64"][:], group["instance_float64"][:]
    assert np.all(ints == -1) and np.all(np.isnan(floats))           # each batch writes its own
    assert "count" not in group and "spikes" not in group            # summary only
    assert not metadata.done_batches(path).any()


def test_the_layout_packs_by_dtype_whatever_is_swept():
    direct = {"n": np.array([40]), "k": np.array([5]), "seed": np.array([1]),
              "ic_seed": np.array([1]), "drive": np.array([1.0]), "coupling": np.array([-1.0])}
    assert layout.layout(direct, "spikes") == {
        "instance_int64": ["n", "k", "seed", "ic_seed", "spike_count", "n_recorded"],
        "instance_float64": ["drive", "coupling", "rate_mean", "rate_std", "cv_isi_mean",
                             "silent_fraction", "t_stop"]}


def test_a_store_of_another_format_is_refused_by_name(tmp_path):
    path = tmp_path / "s.zarr"
    run_sweep(SPEC, path, in_process=True, progress=False)
    group = zarr.open_group(path, mode="r+")
    old = {**metadata.metadata(path), "format": 1, "version": "0.0.9"}
    group.attrs.update({"sparseprop": old})
    with pytest.raises(ValueError, match="is a sweep store of format 1 \\(written by "
                                         "sparseprop-gpu 0.0.9\\); this version .* reads "
                                         "format 2 only"):
        sp.open_results(path)
    for resume in (False, True):
        with pytest.raises(ValueError, match="^out: .* is a sweep store of format 1"):
            run_sweep(SPEC, path, in_process=True, progress=False, resume=resume)
    report = run_sweep(SPEC, path, in_process=True, progress=False, overwrite=True)
    assert report.batches_done == 3 and metadata.metadata(path)["format"] == 2


def test_a_batch_is_visible_only_with_its_marker_and_resume_runs_the_rest(tmp_path):
    sweep = sp.Sweep(**SPEC)
    path = tmp_path / "s.zarr"
    writing.prepare(path, sweep)
    from sparseprop_gpu.distributed import run_batch
    run_batch(str(path), sweep, 1)
    # a batch whose data was written but whose marker was not (killed in between)
    lo, hi = sweep.batch_bounds(2)
    rate, i = row(zarr.open_group(path, mode="r+"), "rate_mean")
    rate[i, lo:hi] = 123.0
    np.testing.assert_array_equal(metadata.done_batches(path), [False, True, False])
    ds = sp.open_results(path, partial=True)
    np.testing.assert_array_equal(ds["done"].values, [False, False, True, True, False])
    # the parameters of every instance (of batches not run: from the specification)
    np.testing.assert_array_equal(ds["seed"].values, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(ds["drive"].values, sweep.parameters()["drive"])
    assert ds["seed"].dtype == np.int64 and np.isnan(ds["rate_mean"].values[:2]).all()
    with pytest.raises(ValueError, match="incomplete \\(1 of 3 batches done\\)"):
        sp.open_results(path)
    report = run_sweep(SPEC, path, in_process=True, progress=False, resume=True)
    assert (report.batches_run, report.batches_skipped) == (2, 1)
    full = tmp_path / "full.zarr"
    run_sweep(SPEC, full, in_process=True, progress=False)
    a, b = zarr.open_group(path, mode="r"), zarr.open_group(full, mode="r")
    for name, arr in b.arrays():
        assert arr[:].tobytes() == a[name][:].tobytes(), name
    assert zarr.open_group(path).attrs["sparseprop"]["backend"]["used"] == ["cpu"]
    again = run_sweep(SPEC, path, in_process=True, progress=False)      # finished: no work
    assert again.batches_run == 0 and "nothing to do" in str(again)


def test_an_interrupted_creation_is_started_again(tmp_path):
    sweep = sp.Sweep(**SPEC)
    path = tmp_path / "s.zarr"
    group = zarr.open_group(path, mode="w")
    group.attrs.update({"sparseprop": {"kind": "sweep", "ready": False, "spec": {}}})
    assert writing.prepare(path, sweep) == [0, 1, 2]
    assert zarr.open_group(path).attrs["sparseprop"]["ready"]


def test_an_output_path_holding_something_else_is_refused(tmp_path):
    path = tmp_path / "s.zarr"
    run_sweep(SPEC, path, in_process=True, progress=False)
    other = {**SPEC, "sweep": {"seed": [1, 2, 3, 4, 6]}}
    with pytest.raises(ValueError, match="holds a different sweep \\(sweep.seed is "
                                         "\\[1, 2, 3, 4, 5\\] there, \\[1, 2, 3, 4, 6\\] here\\)"):
        run_sweep(other, path, in_process=True)
    bigger = {**SPEC, "run": {**SPEC["run"], "batch_size": 3}}
    with pytest.raises(ValueError, match="run.batch_size is 2 there, 3 here"):
        run_sweep(bigger, path, in_process=True, resume=True)
    report = run_sweep(bigger, path, in_process=True, overwrite=True, progress=False)
    assert report.batches_done == 2
    record = tmp_path / "run.zarr"
    sp.simulate(sp.Network(model=sp.LIF(0.01), n=20, k=3, j0=1.0, target_rate=2.0),
                t_end=0.1).save(record)
    for overwrite in (False, True):         # never deleted
        with pytest.raises(ValueError, match="exists and is not a sparseprop sweep store"):
            run_sweep(SPEC, record, in_process=True, overwrite=overwrite)
    assert sp.load_record(record).n == 20
    with pytest.raises(ValueError, match="is not a sparseprop sweep store"):
        sp.open_results(record)


def test_bad_run_arguments(tmp_path):
    with pytest.raises(ValueError, match="workers must be an integer in \\[1,"):
        run_sweep(SPEC, tmp_path / "s.zarr", workers=0)
    with pytest.raises(ValueError, match="at most one of scheduler, client and in_process"):
        run_sweep(SPEC, tmp_path / "s.zarr", scheduler="tcp://127.0.0.1:1", in_process=True)
    from sparseprop_gpu.engine import cuda
    if not cuda.status()[0]:
        with pytest.raises(ValueError, match="run.backend: backend 'cuda' is not usable"):
            run_sweep({**SPEC, "run": {**SPEC["run"], "backend": "cuda"}}, tmp_path / "s.zarr",
                      in_process=True)
    assert not (tmp_path / "s.zarr").exists()      # refused before anything was created


def test_summaries_match_the_ensemble_result(tmp_path):
    path = tmp_path / "s.zarr"
    run_sweep(SPEC, path, in_process=True, progress=False)
    sweep = sp.Sweep(**SPEC)
    out = sp.run_ensemble(sp.Ensemble.from_sweep(sweep, 0, 5), **sweep.run_kwargs())
    ds = sp.open_results(path)
    np.testing.assert_allclose(ds["rate_mean"].values, np.nanmean(out["rate"].values, axis=1), rtol=1e-12)
    np.testing.assert_allclose(ds["rate_std"].values, np.nanstd(out["rate"].values, axis=1), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN rows: no CV
        cv_mean = np.nanmean(out["cv_isi"].values, axis=1)
    np.testing.assert_allclose(ds["cv_isi_mean"].values, cv_mean, rtol=1e-12)
    np.testing.assert_array_equal(ds["spike_count"].values, out["count"].values.sum(axis=1))
    np.testing.assert_array_equal(ds["silent_fraction"].values, np.mean(out["count"].values == 0, axis=1))
    np.testing.assert_array_equal(ds["t_stop"].values, out["t_stop"].values)
    np.testing.assert_array_equal(ds["drive"].values, out["drive"].values)
    assert ds["spike_count"].dtype == np.int64
    with pytest.raises(ValueError, match="kept no spikes"):
        ds.sp.spikes(0)
    assert ds.sp.spec["network"]["model"] == "qif" and ds.sp.sweep() == sweep


def store_files(path):
    """Every file of a store by relative path, with its bytes."""
    root = Path(path)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def committed_unfinished(path, spec=SPEC):
    """A store whose batches are all committed but which was not finished (killed before)."""
    from sparseprop_gpu.distributed import run_batch
    sweep = sp.Sweep(**spec)
    writing.prepare(path, sweep)
    for b in range(sweep.n_batches):
        run_batch(str(path), sweep, b)
    return sweep


def test_a_finished_store_has_one_chunk_per_array(tmp_path):
    path = tmp_path / "s.zarr"
    sweep = committed_unfinished(path)
    before = {name: arr[:] for name, arr in zarr.open_group(path, mode="r").arrays()}
    assert (path / "instance_float64" / "c" / "0" / "2").exists()   # a batch's chunk, running
    report = run_sweep(SPEC, path, in_process=True, progress=False)   # finishes, runs nothing
    assert report.batches_run == 0
    group = zarr.open_group(path, mode="r")
    assert group.attrs["sparseprop"]["finished"]
    # the markers are dropped: `finished` says every batch is committed
    assert sorted(name for name, _ in group.arrays()) == ["instance_float64", "instance_int64"]
    assert not (path / "batch_done").exists()
    for name, arr in group.arrays():
        assert arr[:].tobytes() == before[name].tobytes(), name
        assert arr.metadata.chunk_key_encoding.name == "v2"
        assert not (path / name / "c").exists()                     # old chunks gone
    # the integers are one block; the floats one block a quantity, under v2 keys (a chunk
    # all fill value, such as an all-NaN cv_isi_mean, is not written)
    assert group["instance_int64"].chunks == (5, 5)
    assert group["instance_float64"].chunks == (1, 5)
    assert (path / "instance_int64" / "0.0").exists()
    assert {p.name for p in (path / "instance_float64").glob("*.0")} <= {
        f"{i}.0" for i in range(len(FLOATS))}
    assert (path / "instance_float64" / f"{FLOATS.index('rate_mean')}.0").exists()
    assert len(list(path.rglob("zarr.json"))) == 3               # the root and two arrays
    ds = sp.open_results(path)
    np.testing.assert_array_equal(ds["rate_mean"].values,
                                  before["instance_float64"][FLOATS.index("rate_mean")])
    assert ds["done"].values.all() and ds["batch_done"].values.tolist() == [1, 1, 1]
    files = store_files(path)
    assert run_sweep(SPEC, path, in_process=True, progress=False).batches_run == 0
    assert store_files(path) == files                                 # finished: untouched
    assert writing.plan(path, sweep) == []


class Killed(BaseException):
    """Stands for SIGKILL: raised by the store at a chosen write and never caught."""


def test_a_finish_killed_at_any_write_is_completed_to_the_same_store(tmp_path, monkeypatch):
    from zarr.storage import LocalStore
    sweep = committed_unfinished(tmp_path / "unfinished.zarr")
    reference = tmp_path / "reference.zarr"
    shutil.copytree(tmp_path / "unfinished.zarr", reference)
    finishing.finish(reference, ["cpu"])
    expected = store_files(reference)
    real = {name: getattr(LocalStore, name) for name in ("set", "delete_dir")}
    calls = {"left": None}

    def dying(name):
        async def method(self, *args, **kwargs):
            if calls["left"] is not None:
                if calls["left"] == 0:
                    raise Killed(name)
                calls["left"] -= 1
            return await real[name](self, *args, **kwargs)
        return method

    for name in real:
        monkeypatch.setattr(LocalStore, name, dying(name))
    kill_at = 0
    while True:
        path = tmp_path / f"killed{kill_at}.zarr"
        shutil.copytree(tmp_path / "unfinished.zarr", path)
        calls["left"] = kill_at
        try:
            finishing.finish(path, ["cpu"])
        except Killed:
            pass
        else:
            break                                 # the finish ran through: every point done
        finally:
            calls["left"] = None
        if kill_at % 2:                           # resumed by the command, or by finish
            assert run_sweep(sweep, path, in_process=True, progress=False,
                             resume=True).batches_run == 0
            writing.record_backends(path, ["cpu"])
        else:
            finishing.finish(path, ["cpu"])
        assert store_files(path) == expected, f"killed at write {kill_at}"
        kill_at += 1
    # per array: its chunks, metadata, old chunks deleted; the attributes; the markers deleted
    assert kill_at >= 3 * len(layout.PACKED) + 2


def test_open_results_reads_every_state_of_a_finish(tmp_path, monkeypatch):
    """Between the steps of rewriting one array, readers see the same values."""
    path = tmp_path / "s.zarr"
    committed_unfinished(path)
    want = sp.open_results(path)["rate_mean"].values
    arr, i = row(zarr.open_group(path, mode="r+"), "rate_mean")
    # new chunk written, metadata not yet: the old chunks are read
    (path / "instance_float64" / f"{i}.0").write_bytes(b"garbage that must never be read")
    np.testing.assert_array_equal(sp.open_results(path)["rate_mean"].values, want)
    finishing._rechunk(arr)                             # done properly; old chunks gone
    np.testing.assert_array_equal(sp.open_results(path)["rate_mean"].values, want)
    assert not (path / "instance_float64" / "c").exists()


def test_embedded_cluster_size_follows_the_batches(monkeypatch):
    from sparseprop_gpu import distributed
    monkeypatch.setattr(distributed, "_cores", lambda: 8)
    few = sp.Sweep(**{**SPEC, "run": {**SPEC["run"], "batch_size": 1}})       # 5 batches
    many = sp.Sweep(**{**SPEC, "sweep": {"seed": list(range(100))}})         # 50 batches
    assert distributed.default_workers(few) == 1        # then 8 numba threads in it
    assert distributed.default_workers(many) == 8
