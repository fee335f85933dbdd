"""The sweep store: Zarr 3 layout, commit markers, resume, refusing a different sweep."""
import json
import warnings

import numpy as np
import pytest
import zarr

import sparseprop_gpu as sp
from sparseprop_gpu import store
from sparseprop_gpu.distributed import run_sweep

SPEC = {"network": {"model": "qif", "n": 40, "k": 5, "tau": 0.02, "j0": 1.0, "target_rate": 3.0},
        "sweep": {"seed": [1, 2, 3, 4, 5]},
        "run": {"t_end": 0.3, "record": "summary", "batch_size": 2, "backend": "cpu"}}


def test_layout_attributes_and_chunks(tmp_path):
    sweep = sp.Sweep(**SPEC)
    path = tmp_path / "s.zarr"
    assert store.prepare(path, sweep) == [0, 1, 2]
    group = zarr.open_group(path, mode="r")
    assert group.metadata.zarr_format == 3
    meta = group.attrs["sparseprop"]
    assert meta["kind"] == "sweep" and meta["ready"] and meta["version"] == sp.__version__
    assert meta["spec"] == json.loads(sweep.to_json())
    assert meta["backend"] == {"requested": "cpu", "used": []}
    assert (meta["instances"], meta["batches"], meta["batch_size"]) == (5, 3, 2)
    for name in ("rate_mean", "cv_isi_mean", "spike_count", "seed", "drive"):
        arr = group[name]
        written_by_workers = name not in ("seed", "drive")
        assert arr.shape == (5,) and arr.chunks == ((2,) if written_by_workers else (5,))
        assert arr.metadata.dimension_names == ("instance",)
    np.testing.assert_array_equal(group["seed"][:], [1, 2, 3, 4, 5])   # parameters up front
    assert np.all(np.isnan(group["rate_mean"][:])) and np.all(group["spike_count"][:] == -1)
    assert "count" not in group and "spikes" not in group            # summary only
    assert not store.done_batches(path).any()


def test_a_batch_is_visible_only_with_its_marker_and_resume_runs_the_rest(tmp_path):
    sweep = sp.Sweep(**SPEC)
    path = tmp_path / "s.zarr"
    store.prepare(path, sweep)
    from sparseprop_gpu.distributed import run_batch
    run_batch(str(path), sweep, 1)
    # a batch whose data was written but whose marker was not (killed in between)
    lo, hi = sweep.batch_bounds(2)
    zarr.open_group(path, mode="r+")["rate_mean"][lo:hi] = 123.0
    np.testing.assert_array_equal(store.done_batches(path), [False, True, False])
    ds = sp.open_results(path, partial=True)
    np.testing.assert_array_equal(ds["done"].values, [False, False, True, True, False])
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
    assert store.prepare(path, sweep) == [0, 1, 2]
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
    from sparseprop_gpu.backends import cuda
    if not cuda.status()[0]:
        with pytest.raises(ValueError, match="run.backend: backend 'cuda' is not usable"):
            run_sweep({**SPEC, "run": {**SPEC["run"], "backend": "cuda"}}, tmp_path / "s.zarr",
                      in_process=True)
    assert not (tmp_path / "s.zarr").exists()      # refused before anything was created


def test_summaries_match_the_ensemble_result(tmp_path):
    path = tmp_path / "s.zarr"
    run_sweep(SPEC, path, in_process=True, progress=False)
    sweep = sp.Sweep(**SPEC)
    out = sp.run_ensemble(sweep.ensemble(0, 5), **sweep.run_kwargs())
    ds = sp.open_results(path)
    np.testing.assert_allclose(ds["rate_mean"].values, out.mean_rate, rtol=1e-12)
    np.testing.assert_allclose(ds["rate_std"].values, np.nanstd(out.rates, axis=1), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN rows: no CV
        cv_mean = np.nanmean(out.cv_isi, axis=1)
    np.testing.assert_allclose(ds["cv_isi_mean"].values, cv_mean, rtol=1e-12)
    np.testing.assert_array_equal(ds["spike_count"].values, out.counts.sum(axis=1))
    np.testing.assert_array_equal(ds["silent_fraction"].values, np.mean(out.counts == 0, axis=1))
    np.testing.assert_array_equal(ds["t_stop"].values, out.t_stop)
    np.testing.assert_array_equal(ds["drive"].values, out.parameters["drive"])
    assert ds["spike_count"].dtype == np.int64
    with pytest.raises(ValueError, match="kept no spikes"):
        ds.sp.spikes(0)
    assert ds.sp.spec["network"]["model"] == "qif" and ds.sp.sweep() == sweep
