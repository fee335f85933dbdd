"""Issue 11 (first part): record files never remove what the project did not write, the
destination is checked before anything is computed, and the time key runs identical neurons."""
import subprocess
import sys

import numpy as np
import pytest
import zarr

import sparseprop_gpu as sp


@pytest.fixture(scope="module")
def record():
    net = sp.Network(model=sp.LIF(tau=0.01), n=50, k=5, j0=1.0, target_rate=2.0, seed=1)
    return sp.simulate(net, t_end=0.2)


@pytest.mark.parametrize("suffix", [".npz", ".zarr"])
def test_an_existing_record_is_replaced_only_with_overwrite(record, tmp_path, suffix):
    path = tmp_path / f"run{suffix}"
    record.save(path)
    with pytest.raises(ValueError, match="exists"):
        record.save(path)
    record.save(path, overwrite=True)
    np.testing.assert_array_equal(sp.load_record(path).times, record.times)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_what_is_not_a_record_is_never_replaced(record, tmp_path):
    folder = tmp_path / "mine.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    store = tmp_path / "store.zarr"
    zarr.open_group(store, mode="w").attrs["x"] = 1
    foreign = tmp_path / "data.npz"
    np.savez(foreign, a=np.arange(3))
    for path in (folder, store, foreign):
        with pytest.raises(ValueError, match="not a sparseprop record"):
            record.save(path, overwrite=True)
    assert (folder / "notes.txt").read_text() == "precious" and store.is_dir()
    with pytest.raises(ValueError, match="not a sparseprop record"):
        sp.load_record(foreign)


def test_the_destination_is_checked_before_simulating(tmp_path):
    regular = tmp_path / "x.zarr"
    regular.write_text("a file")
    for out, words in ((tmp_path / "absent" / "x.npz", "does not exist"), (regular, "exists")):
        done = subprocess.run([sys.executable, "-m", "sparseprop_gpu.cli", "simulate", "-n",
                               "50", "-k", "5", "--t-end", "1000", "--out", str(out), "--quiet"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and words in done.stderr, done.stderr
        assert "mean rate" not in done.stdout          # nothing was simulated
    assert regular.read_text() == "a file"


def test_the_time_key_runs_identical_neurons_like_the_phase_key():
    for model in (sp.LIF(tau=0.01), sp.QIF(tau=0.01)):
        net = sp.Network(model=model, n=300, k=20, j0=1.0, target_rate=2.0, seed=4)
        a = sp.simulate(net, n_spikes=2000, key="phase")
        b = sp.simulate(net, n_spikes=2000, key="time")
        np.testing.assert_array_equal(a.senders[:300], b.senders[:300])
        np.testing.assert_allclose(a.times[:300], b.times[:300], rtol=0, atol=1e-12)
