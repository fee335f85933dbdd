"""Sweep specifications: validation, expansion order, batches; runs in this process."""
import copy
from pathlib import Path

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu.cli import main
from sparseprop_gpu.distributed import SweepError, run_sweep
from sparseprop_gpu.specification.sweep import Sweep

from conftest import fail_batches_with_seed

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quickstart.toml"

SPEC = {"network": {"model": "lif", "n": 60, "k": 6, "tau": 0.01, "j0": 1.0},
        "sweep": {"target_rate": {"linspace": [1.0, 4.0, 3]}, "seed": {"range": 5}},
        "run": {"t_end": 0.4, "warmup": 0.1, "record": "spikes", "per_neuron": True,
                "batch_size": 7, "backend": "cpu"}}


def spec(**changes):
    """SPEC with changes given as section__key=value (value None deletes the key)."""
    out = copy.deepcopy(SPEC)
    for name, value in changes.items():
        section, key = name.split("__")
        if value is None:
            out[section].pop(key, None)
        else:
            out[section][key] = value
    return out


def arrays(path):
    """Every array of a sweep store, spikes included, by name."""
    import zarr
    group = zarr.open_group(path, mode="r")
    out = {name: arr[:] for name, arr in group.arrays()}
    if "spikes" in group:
        out["spikes"] = sp.open_results(path).sp
        out = {**out, "times": out["spikes"].times, "senders": out["spikes"].senders,
               "offsets": out["spikes"].offsets}
        del out["spikes"]
    return out


def assert_same_arrays(a, b, skip=("batch_done",)):
    assert set(a) == set(b)
    for name in a:
        if name in skip:
            continue
        assert a[name].dtype == b[name].dtype, name
        assert a[name].shape == b[name].shape, name
        assert a[name].tobytes() == b[name].tobytes(), name


# ---------------------------------------------------------------- specification
def test_the_quickstart_example_gives_384_instances_in_a_fixed_order():
    sweep = Sweep.load(EXAMPLE)
    assert len(sweep) == 384 and sweep.shape == (3, 8, 16)
    assert sweep.n_batches == 6 and sweep.batch_bounds(5) == (320, 384)
    pars = sweep.parameters()
    # the first key varies slowest, the last fastest
    np.testing.assert_array_equal(pars["seed"][:17], list(range(16)) + [0])
    np.testing.assert_array_equal(pars["j0"][::128], [0.5, 1.0, 2.0])
    np.testing.assert_array_equal(np.unique(pars["target_rate"]), np.linspace(0.5, 4.0, 8))
    assert pars["ic_seed"].tolist() == pars["seed"].tolist()
    again = Sweep.load(EXAMPLE)
    assert again == sweep
    for name in pars:
        np.testing.assert_array_equal(again.parameters()[name], pars[name])
    # a Python specification of the same sweep is the same sweep
    py = Sweep(network=dict(model="lif", n=2000, k=50, tau=0.01),
               sweep=dict(j0=[0.5, 1.0, 2.0], target_rate=np.linspace(0.5, 4.0, 8),
                          seed=range(16)),
               run=dict(t_end=5.0, warmup=1.0, record="summary", backend="auto",
                        batch_size=64))
    for name in pars:
        np.testing.assert_array_equal(py.parameters()[name], pars[name])


def test_each_batch_is_an_ensemble_of_its_instances():
    sweep = sp.Sweep(**spec())
    lo, hi = sweep.batch_bounds(1)
    ens = sp.Ensemble.from_sweep(sweep, lo, hi)
    assert len(ens) == hi - lo == 7
    for name, values in ens.parameters().items():
        np.testing.assert_array_equal(values, sweep.parameters(lo, hi)[name])
    assert "batch 1 (instances 7..13" in sweep.describe_batch(1)


def test_zip_mode_and_direct_parameters():
    sweep = sp.Sweep(network={"model": "qif", "n": 50, "k": 5, "coupling": -0.1},
                     sweep={"mode": "zip", "drive": [0.5, 1.0, 2.0], "seed": [3, 4, 5]},
                     run={"t_end": 0.2})
    assert len(sweep) == 3
    np.testing.assert_array_equal(sweep.parameters()["seed"], [3, 4, 5])
    assert "j0" not in sweep.parameters()


@pytest.mark.parametrize("changes, words", [
    ({"network__tau_m": 0.01}, "network.tau_m: unknown key"),
    ({"sweep__delta_t": [0.1, 0.2]}, "sweep.delta_t: unknown key"),
    ({"network__model_params": {"delta_t": 0.1}},
     "network.model_params.delta_t: not a parameter of the lif model; allowed: none"),
    ({"network__model_params": 0.1}, "network.model_params must be a table"),
    ({"sweep__tau": [0.01, -0.02]}, "sweep.tau = -0.02: tau must be"),
    ({"run__t_stop": 1.0}, "run.t_stop: unknown key"),
    ({"network__n": "60"}, "network.n must be an integer"),
    ({"network__model": "hh"}, "network.model must be one of"),
    ({"network__tau": -1.0}, "network.tau"),
    ({"sweep__target_rate": [1.0, "fast"]}, "sweep.target_rate[1] must be a real number"),
    ({"sweep__target_rate": []}, "sweep.target_rate is empty"),
    ({"sweep__seed": {"range": 0}}, "sweep.seed is empty"),
    ({"sweep__target_rate": {"linspace": [1.0, 2.0, 0]}}, "sweep.target_rate is empty"),
    ({"sweep__target_rate": {"logspace": [1, 2, 3]}}, "sweep.target_rate must be a list or"),
    ({"sweep__target_rate": 2.0}, "a fixed value belongs in [network]"),
    ({"sweep__n": {"linspace": [50, 60, 4]}}, "sweep.n must be integers"),
    ({"sweep__j0": [1.0, -1.0]}, "sweep.j0 = -1.0: j0 must be"),
    ({"sweep__k": [5, 60]}, "sweep.k = 60: k must be"),
    ({"sweep__seed": [1, -2]}, "sweep.seed: seed must be"),
    ({"network__j0": None}, "network.j0 is missing"),
    ({"network__drive": 1.2}, "network: give either j0 and target_rate"),
    ({"run__batch_size": 0}, "run.batch_size must be an integer in [1,"),
    ({"run__record": "all"}, "run.record must be one of"),
    ({"run__per_neuron": ["rates"]}, "run.per_neuron: unknown array 'rates'"),
    ({"run__warmup": 1.0}, "warmup must be in [0, t_end)"),
    ({"run__t_end": "1s"}, "run.t_end must be a real number"),
    ({"sweep__mode": "zip"}, "sweep.mode = 'zip' needs lists of one length"),
])
def test_bad_specifications_are_refused_naming_the_key(changes, words):
    with pytest.raises(ValueError) as info:
        sp.Sweep(**spec(**changes))
    assert words in str(info.value)


def test_bad_files_and_sections(tmp_path):
    with pytest.raises(ValueError, match="unknown section \\[sweeps\\]"):
        Sweep.from_dict({"network": SPEC["network"], "sweeps": {}})
    with pytest.raises(ValueError, match="\\[network\\] is missing"):
        Sweep.from_dict({"run": {}})
    bad = tmp_path / "bad.toml"
    bad.write_text('[network]\nmodel = "lif"; n = 2000\n')
    with pytest.raises(ValueError, match="not valid TOML"):
        Sweep.load(bad)
    with pytest.raises(ValueError, match="no such file"):
        Sweep.load(tmp_path / "absent.toml")


# ---------------------------------------------------------------- running here
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The test sweep run in this process with batch_size 7."""
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    report = run_sweep(spec(), path, in_process=True, progress=False)
    assert report.batches_done == 3 and not report.failures
    return path


def test_in_process_sweep_equals_run_ensemble(reference):
    sweep = sp.Sweep(**spec())
    out = sp.run_ensemble(sp.Ensemble.from_sweep(sweep, 0, len(sweep)),
                          **sweep.run_kwargs())
    ds = sp.open_results(reference)
    np.testing.assert_array_equal(ds["count"].values, out["count"].values)
    np.testing.assert_array_equal(ds["spike_count"].values, out["count"].values.sum(axis=1))
    np.testing.assert_array_equal(ds.sp.times, out.sp.times)
    np.testing.assert_array_equal(ds.sp.senders, out.sp.senders)
    np.testing.assert_array_equal(ds.sp.offsets, out.sp.offsets)
    for i in (0, 6, 7, 14):
        times, senders = ds.sp.spikes(i)
        np.testing.assert_array_equal(times, out.sp.spikes(i)[0])
        np.testing.assert_array_equal(senders, out.sp.spikes(i)[1])
    np.testing.assert_allclose(ds["rate_mean"].values, out["rate_mean"].values, rtol=1e-12)
    np.testing.assert_array_equal(ds["rate"].values, out["rate"].values)
    np.testing.assert_array_equal(ds["cv_isi"].values, out["cv_isi"].values)
    assert np.all(ds["done"].values)
    means = ds.rate_mean.groupby("target_rate").mean()
    assert means.sizes["target_rate"] == 3
    grid = ds.sp.grid("rate_mean")
    assert grid.dims == ("target_rate", "seed") and grid.shape == (3, 5)
    np.testing.assert_array_equal(grid.values.ravel(), ds["rate_mean"].values)


@pytest.mark.parametrize("batch_size", [1, 64])
def test_batch_size_changes_no_array(reference, tmp_path, batch_size):
    path = tmp_path / f"b{batch_size}.zarr"
    run_sweep(spec(run__batch_size=batch_size), path, in_process=True, progress=False)
    a, b = arrays(reference), arrays(path)
    assert_same_arrays(a, b)


def test_a_failing_batch_is_reported_and_corrupts_nothing(reference, tmp_path, monkeypatch):
    # batch 1 only: it starts at instance 7
    fail_batches_with_seed(monkeypatch, 2, FloatingPointError("injected failure"))
    path = tmp_path / "fail.zarr"
    with pytest.raises(SweepError) as info:
        run_sweep(spec(), path, in_process=True, progress=False)
    message = str(info.value)
    assert "1 of 3 batches failed" in message
    assert "batch 1 (instances 7..13; target_rate=2.5..4, seed=0..4)" in message
    assert "FloatingPointError: injected failure" in message
    ds = sp.open_results(path, partial=True)
    np.testing.assert_array_equal(ds["done"].values, np.arange(15) // 7 != 1)
    ref = sp.open_results(reference)
    good = ds["done"].values
    for name in ("rate_mean", "spike_count", "count", "cv_isi"):
        np.testing.assert_array_equal(ds[name].values[good], ref[name].values[good])
    assert np.all(np.isnan(ds["rate_mean"].values[~good]))
    assert np.all(ds["spike_count"].values[~good] == -1)
    with pytest.raises(ValueError, match="1 of 3 batches|2 of 3 batches"):
        sp.open_results(path)
    with pytest.raises(ValueError, match="--resume"):
        run_sweep(spec(), path, in_process=True, progress=False)
    monkeypatch.undo()                            # the real record_ensemble again
    report = run_sweep(spec(), path, in_process=True, progress=False, resume=True)
    assert report.batches_run == 1 and report.batches_skipped == 2
    assert_same_arrays(arrays(reference), arrays(path))


def test_the_command_line(tmp_path, capsys):
    toml = tmp_path / "spec.toml"
    toml.write_text('[network]\nmodel = "lif"\nn = 50\nk = 5\nj0 = 1.0\n'
                    '[sweep]\ntarget_rate = [1.0, 2.0]\nseed = {range = 3}\n'
                    '[run]\nt_end = 0.2\nbatch_size = 4\nbackend = "cpu"\n')
    out = tmp_path / "cli.zarr"
    assert main(["sweep", str(toml), "--out", str(out), "--in-process", "--quiet"]) == 0
    assert "6 run, 6 in the sweep" in capsys.readouterr().out
    assert main(["sweep", str(toml), "--out", str(out), "--in-process", "--quiet"]) == 0
    assert "already complete; nothing to do" in capsys.readouterr().out
    toml.write_text(toml.read_text().replace("t_end = 0.2", "t_end = 0.3"))
    assert main(["sweep", str(toml), "--out", str(out), "--in-process", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep (run.t_end is 0.2 there, 0.3 here)" in err
    assert main(["sweep", str(toml), "--out", str(out), "--in-process", "--quiet",
                 "--overwrite"]) == 0
    assert sp.open_results(out)["t_stop"].values.max() == 0.3
    toml.write_text(toml.read_text().replace("k = 5", "k = 5\nkk = 1"))
    assert main(["sweep", str(toml), "--out", str(out), "--quiet"]) == 2
    assert "network.kk: unknown key" in capsys.readouterr().err


def test_key_order_is_the_instance_order_and_survives_the_store(tmp_path):
    """Reordering the swept keys reorders the instances: a different sweep, also on disk."""
    base = dict(network=dict(model="lif", n=50, k=5, target_rate=2.0),
                run=dict(t_end=0.05, batch_size=4))
    a = sp.Sweep(**base, sweep={"j0": [0.5, 1.0], "seed": {"range": 3}})
    b = sp.Sweep(**base, sweep={"seed": {"range": 3}, "j0": [0.5, 1.0]})
    assert a != b
    assert list(a.parameters()["seed"][:3]) == [0, 1, 2]
    assert list(b.parameters()["seed"][:3]) == [0, 0, 1]
    out = tmp_path / "order.zarr"
    sp.run_sweep(b, out, in_process=True, progress=False)
    ds = sp.open_results(out)
    again = ds.sp.sweep()
    assert again == b
    np.testing.assert_array_equal(again.parameters()["seed"], ds.seed.values)
    np.testing.assert_array_equal(again.parameters()["j0"], ds.j0.values)


def test_sweeping_tau_gives_each_instance_the_model_with_its_tau(tmp_path):
    sweep = sp.Sweep(**spec(sweep__tau=[0.01, 0.02], sweep__seed=[3], run__batch_size=2))
    path = tmp_path / "tau.zarr"
    run_sweep(sweep, path, in_process=True, progress=False)
    ds = sp.open_results(path)
    np.testing.assert_array_equal(ds["tau"].values, np.tile([0.01, 0.02], 3))   # the last key
    assert ds.rate_mean.groupby("tau").mean().sizes["tau"] == 2
    for i in range(len(sweep)):
        tau = float(ds["tau"].values[i])
        net = sp.Network(model=sp.LIF(tau=tau), n=60, k=6, j0=1.0, seed=3,
                         target_rate=float(ds["target_rate"].values[i]))
        alone = sp.simulate(net, t_end=0.4, warmup=0.1)
        times, senders = ds.sp.spikes(i)
        np.testing.assert_array_equal(senders, alone.senders)
        np.testing.assert_array_equal(times, alone.times)
