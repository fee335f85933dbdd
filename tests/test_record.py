"""Record statistics against numpy on the spike list; files round-trip; writes are atomic."""
import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu.runs import recordio
from sparseprop_gpu.runs.record import SpikeRecord


@pytest.fixture(scope="module")
def record():
    net = sp.Network(model=sp.LIF(tau=0.01), n=300, k=20, j0=1.0, target_rate=5.0, seed=2)
    return sp.simulate(net, t_end=2.0, warmup=0.5)


def test_rates_and_cv_from_the_spike_list(record):
    rates = np.bincount(record.senders, minlength=record.n) / 1.5
    np.testing.assert_allclose(record.rates(), rates)
    cv = np.full(record.n, np.nan)
    for i in range(record.n):
        isi = np.diff(record.times[record.senders == i])
        if isi.size >= 2:
            cv[i] = isi.std() / isi.mean()
    np.testing.assert_allclose(record.cv_isi(), cv, rtol=1e-9, equal_nan=True)


def test_edge_cases_are_nan_not_zero():
    rec = SpikeRecord(times=np.array([0.1, 0.2, 0.3]), senders=np.array([1, 1, 2], np.int32),
                      counts=np.array([0, 2, 1]), isi_sum=np.array([0.0, 0.1, 0.0]),
                      isi_sumsq=np.array([0.0, 0.01, 0.0]), t_start=0.0, t_stop=1.0)
    assert np.all(np.isnan(rec.cv_isi()))       # silent, one interval, single spike
    np.testing.assert_allclose(rec.rates(), [0.0, 2.0, 1.0])
    assert "silent neurons          1" in rec.summary()


@pytest.mark.parametrize("suffix", [".npz", ".zarr"])
def test_save_and_load(record, tmp_path, suffix):
    path = tmp_path / f"run{suffix}"
    record.save(path)
    back = sp.load_record(path)
    for name, data in record.arrays().items():
        np.testing.assert_array_equal(getattr(back, name), data)
    assert back.t_start == record.t_start and back.t_stop == record.t_stop
    assert back.meta == record.meta


@pytest.mark.parametrize("suffix", [".npz", ".zarr"])
def test_failed_save_keeps_the_old_file(record, tmp_path, suffix, monkeypatch):
    path = tmp_path / f"run{suffix}"
    record.save(path)
    def fail(*args):
        raise OSError("disk full")
    monkeypatch.setattr(recordio.os, "rename", fail)   # fails once the new file is written
    with pytest.raises(OSError):
        record.save(path, overwrite=True)
    monkeypatch.undo()
    np.testing.assert_array_equal(sp.load_record(path).times, record.times)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_unknown_suffix(record, tmp_path):
    with pytest.raises(ValueError, match="out"):
        record.save(tmp_path / "run.h5")
