"""Continuing runs: a run stopped and continued is bitwise the run that never stopped.

``simulate(..., continue_from=record)``, ``run_ensemble(..., continue_from=ds)``, the record
files that carry the state, checkpointed runs (also killed and run again) and
``sparseprop simulate --continue``.
"""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu.cli import main

FIELDS = ("times", "senders", "counts", "isi_sum", "isi_sumsq")


def assert_same(a, b):
    for name in FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.t_start == b.t_start and a.t_stop == b.t_stop
    for name in a.state:
        assert np.array_equal(a.state[name], b.state[name]), name


def lif(**kw):
    return sp.Network(sp.LIF(), n=400, k=40, j0=1.0, target_rate=5.0, seed=3, **kw)


NETWORKS = {
    "lif exp key": (lif, {}),
    "lif phase key": (lif, {"key": "phase"}),
    "qif": (lambda: sp.Network(sp.QIF(), n=300, k=30, j0=1.0, target_rate=5.0, seed=4), {}),
    "eif tables": (lambda: sp.Network(sp.EIF(), n=200, k=20, j0=1.0, target_rate=5.0, seed=5),
                   {}),
    "heterogeneous, time key": (
        lambda: sp.Network(sp.LIF(), n=300, k=30, coupling=-0.05, seed=6,
                           drive=sp.heterogeneous(lambda i, n: 1.2 + 0.3 * i / n)), {}),
}


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("record", ["spikes", "summary"])
def test_continued_equals_uninterrupted(name, record):
    make, options = NETWORKS[name]
    net = make()
    full = sp.simulate(net, t_end=1.5, warmup=0.1, record=record, **options)
    first = sp.simulate(net, t_end=0.4, warmup=0.1, record=record, **options)
    second = sp.simulate(net, t_end=0.9, continue_from=first)
    assert_same(full, sp.simulate(net, t_end=1.5, continue_from=second))


def test_continued_by_spike_count():
    net = lif()
    full = sp.simulate(net, n_spikes=3000, warmup=0.2)
    first = sp.simulate(net, n_spikes=1000, warmup=0.2)
    assert_same(full, sp.simulate(net, n_spikes=3000, continue_from=first))


@pytest.mark.parametrize("suffix", [".npz", ".zarr"])
def test_state_saved_with_the_record(tmp_path, suffix):
    net = lif()
    first = sp.simulate(net, t_end=0.5)
    first.save(tmp_path / f"a{suffix}")
    loaded = sp.SpikeRecord.load(tmp_path / f"a{suffix}")
    assert_same(first, loaded)
    assert_same(sp.simulate(net, t_end=1.0),
                sp.simulate(net, t_end=1.0, continue_from=tmp_path / f"a{suffix}"))


def test_refused_continuations():
    net = lif()
    first = sp.simulate(net, t_end=0.5, warmup=0.1)
    cases = [(dict(t_end=0.5), "t_end must be above 0.5"),
             (dict(t_end=1.0, warmup=0.0), "warmup must be 0.1"),
             (dict(t_end=1.0, record="summary"), "record must be 'spikes'"),
             (dict(t_end=1.0, key="phase"), "key must be 'exp'"),
             (dict(n_spikes=int(first.counts.sum())), "n_spikes counts the whole run")]
    for options, message in cases:
        with pytest.raises(ValueError, match=message):
            sp.simulate(net, continue_from=first, **options)
    other = sp.Network(sp.LIF(), n=400, k=40, j0=1.0, target_rate=5.0, seed=4)
    with pytest.raises(ValueError, match="seed = 3"):
        sp.simulate(other, t_end=1.0, continue_from=first)
    stateless = sp.SpikeRecord(**{name: getattr(first, name) for name in FIELDS},
                               t_start=0.1, t_stop=0.5, meta=first.meta)
    with pytest.raises(ValueError, match="no final state"):
        sp.simulate(net, t_end=1.0, continue_from=stateless)
    with pytest.raises(ValueError, match="network must be a sp.Network"):
        sp.simulate("net", t_end=1.0)


@pytest.mark.parametrize("record", ["summary", "spikes"])
def test_ensemble_continued(record):
    net = lif()
    ens = sp.Ensemble(net, seeds=range(5), j0=np.linspace(0.8, 1.2, 5), n=[400, 200, 400, 250, 300])
    full = sp.run_ensemble(ens, t_end=1.5, record=record, warmup=0.1, batch_size=2)
    first = sp.run_ensemble(ens, t_end=0.5, record=record, warmup=0.1, batch_size=3)
    both = sp.run_ensemble(ens, t_end=1.5, continue_from=first)
    for name in full.data_vars:
        assert np.array_equal(full[name].values, both[name].values, equal_nan=True), name
    one = sp.simulate(first.sp.network(1), t_end=1.5, continue_from=first.sp.record(1))
    assert np.array_equal(one.counts, full.sp.record(1).counts)
    with pytest.raises(ValueError, match="5 instances, the ensemble 4"):
        sp.run_ensemble(sp.Ensemble(net, seeds=range(4)), t_end=2.0, continue_from=first)


def test_ensemble_continued_by_spike_count():
    ens = sp.Ensemble(lif(), seeds=range(4), j0=[0.8, 1.0, 1.1, 1.3])
    full = sp.run_ensemble(ens, n_spikes=2000)
    both = sp.run_ensemble(ens, n_spikes=2000, continue_from=sp.run_ensemble(ens, n_spikes=600))
    for name in ("count", "isi_sum", "t_stop", "state_keys"):
        assert np.array_equal(full[name].values, both[name].values, equal_nan=True), name


def test_checkpointed_run(tmp_path, monkeypatch):
    monkeypatch.setattr(sp.config, "FIRST_SEGMENT", 1500)
    net = lif()
    full = sp.simulate(net, t_end=2.0)
    path = tmp_path / "run.npz"
    assert_same(full, sp.simulate(net, t_end=2.0, checkpoint=path, checkpoint_every=1e-3))
    assert_same(full, sp.SpikeRecord.load(path))
    assert_same(sp.simulate(net, t_end=3.0),           # found there and continued
                sp.simulate(net, t_end=3.0, checkpoint=path))


KILLED = """
import sys, time
import sparseprop_gpu as sp
sp.config.FIRST_SEGMENT = 2000
net = sp.Network(sp.LIF(), n=2000, k=50, j0=1.0, target_rate=5.0, seed=7)
sp.simulate(net, t_end=float(sys.argv[2]), checkpoint=sys.argv[1], checkpoint_every=0.05)
"""


def test_killed_checkpointed_run_resumes(tmp_path):
    """A checkpointed run SIGKILLed part way, run again, equals one uninterrupted run."""
    path = str(tmp_path / "run.zarr")
    t_end = 40.0
    proc = subprocess.Popen([sys.executable, "-c", KILLED, path, str(t_end)])
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(path) and sp.SpikeRecord.load(path).t_stop > 2.0:
            break
        time.sleep(0.2)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    part = sp.SpikeRecord.load(path)
    assert killed and part.t_stop < t_end, "the run ended before it could be killed"
    subprocess.run([sys.executable, "-c", KILLED, path, str(t_end)], check=True, timeout=300)
    net = sp.Network(sp.LIF(), n=2000, k=50, j0=1.0, target_rate=5.0, seed=7)
    assert_same(sp.simulate(net, t_end=t_end), sp.SpikeRecord.load(path))


def test_cli_continue(tmp_path, capsys):
    a, b = str(tmp_path / "a.zarr"), str(tmp_path / "b.npz")
    common = ["-n", "400", "-k", "40", "--rate", "5", "--seed", "3", "--quiet"]
    assert main(["simulate", *common, "--t-end", "0.5", "--out", a]) == 0
    assert main(["simulate", "--continue", a, "--t-end", "1.5", "--quiet"]) == 0
    assert main(["simulate", *common, "--t-end", "1.5", "--out", b]) == 0
    assert_same(sp.SpikeRecord.load(b), sp.SpikeRecord.load(a))
    capsys.readouterr()
    assert main(["simulate", "--continue", a, "-n", "5", "--t-end", "3"]) == 2
    assert "leave out -n" in capsys.readouterr().err
    assert main(["simulate", "--continue", a]) == 2
    assert "--t-end or --n-spikes" in capsys.readouterr().err
    assert main(["simulate", *common, "--checkpoint", "1"]) == 2
    assert "give --out too" in capsys.readouterr().err


def test_state_in_ensemble_dataset():
    ds = sp.run_ensemble(sp.Ensemble(lif(), seeds=range(2)), t_end=0.3)
    assert ds["state_keys"].dims == ("instance", "neuron")
    assert ds["state_clock"].dims == ("instance", "clock")
    assert json.loads(ds.attrs["sparseprop"])["t_end"] == 0.3


def test_sweep_store_keeps_the_state(tmp_path):
    """A store of a sweep with [run] state = true holds every instance's final state: an
    instance continues alone, or the whole sweep as an ensemble, bitwise."""
    from sparseprop_gpu.distributed import run_sweep
    spec = {"network": {"model": "lif", "n": 50, "k": 5, "tau": 0.01, "j0": 1.0},
            "sweep": {"target_rate": [1.0, 3.0], "seed": {"range": 3}, "n": [40, 50]},
            "run": {"t_end": 0.5, "warmup": 0.1, "record": "spikes", "state": True,
                    "batch_size": 4, "backend": "cpu"}}
    run_sweep(spec, tmp_path / "s.zarr", in_process=True, progress=False)
    store = sp.open_results(tmp_path / "s.zarr")
    assert {"count", "isi_sum", "isi_sumsq", "state_keys", "state_clock"} <= set(store.data_vars)
    sweep = sp.Sweep(**spec)
    ensemble = sp.Ensemble.from_sweep(sweep, 0, len(sweep))
    memory = sp.run_ensemble(ensemble, **sweep.run_kwargs())
    for name in store.data_vars:
        if name != "batch_done":
            assert np.array_equal(memory[name].values, store[name].values, equal_nan=True), name
    net = store.sp.network(3)
    assert_same(sp.simulate(net, t_end=1.0, warmup=0.1),
                sp.simulate(net, t_end=1.0, continue_from=store.sp.record(3)))
    both = sp.run_ensemble(ensemble, t_end=1.0, continue_from=store)
    full = sp.run_ensemble(ensemble, t_end=1.0, warmup=0.1, record="spikes")
    for name in ("count", "isi_sum", "state_keys", "spike_time"):
        assert np.array_equal(full[name].values, both[name].values, equal_nan=True), name
