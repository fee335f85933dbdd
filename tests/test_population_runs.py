"""Networks of populations through the runs: ensembles, continuation, sweeps and their stores,
per-population summaries, the command line (the engine against the oracle:
tests/test_populations.py)."""
import json
import subprocess
import sys

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import analysis
from sparseprop_gpu.specification.sweep_sections import network_section

P, J = sp.Population, sp.Projection


def small_brunel(**kw):
    return sp.brunel(**{"n_e": 160, "g": 6.0, "eta": 2.0, "j": 0.2, "seed": 3, **kw})


def test_an_ensemble_is_its_instances_run_alone_whatever_the_batch():
    net = small_brunel()
    ensemble = sp.Ensemble(net, seeds=[3, 4, 5], g=[6.0, 5.0, 7.0], delay=[1.5e-3, 1e-3, 2e-3])
    results = [sp.run_ensemble(ensemble, t_end=0.1, record="spikes", backend="cpu",
                               batch_size=size) for size in (1, 3)]
    for m in range(3):
        alone = sp.simulate(ensemble.table.network(m), t_end=0.1)
        for ds in results:
            times, senders = ds.sp.spikes(m)
            np.testing.assert_array_equal(times, alone.times)
            np.testing.assert_array_equal(senders, alone.senders)
    assert list(results[0]["g"].values) == [6.0, 5.0, 7.0]
    assert "state_keys" not in results[0]          # no continuation of such ensembles yet


def test_an_ensemble_takes_only_the_constructor_s_parameters():
    with pytest.raises(ValueError, match="unknown per-instance parameter 'theta_x'"):
        sp.Ensemble(small_brunel(), theta_x=[1.0, 2.0])
    with pytest.raises(ValueError, match="instance 1: eta"):
        sp.Ensemble(small_brunel(), eta=[2.0, 0.5])
    plain = sp.PopulationNetwork(sp.LIF(), [P("A", 10, 2.0)], [J("A", "A", -0.1, k=3)])
    with pytest.raises(ValueError, match="sp.brunel or sp.balanced"):
        sp.Ensemble(plain, g=[1.0])


def test_population_summaries_are_the_populations_means():
    net = small_brunel()
    rec = sp.simulate(net, t_end=0.2)
    out = analysis.population_summaries(rec, window=0.05)
    rates, cvs = rec.rates(), rec.cv_isi()
    fano = analysis.fano_factor(rec, 0.05)
    for name, part in (("E", slice(0, 160)), ("I", slice(160, 200))):
        assert out[name]["rate"] == pytest.approx(np.nanmean(rates[part]))
        assert out[name]["cv_isi"] == pytest.approx(np.nanmean(cvs[part]))
        assert out[name]["fano"] == pytest.approx(np.nanmean(fano[part]))
    single = sp.simulate(sp.Network(sp.LIF(), n=20, k=3, j0=1.0, target_rate=1.0), t_end=0.1)
    with pytest.raises(ValueError, match="not a run of a network of populations"):
        analysis.population_summaries(single)


@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
def test_a_run_of_populations_continues_from_its_record_bitwise(tmp_path, connectivity):
    pops = [P("E", 80, 2.0, 0.002), P("I", 20, 2.5, 0.0)]
    prj = [J("E", "E", 0.03, 1.5e-3, k=8), J("E", "I", 0.05, 0.0, p=0.2),
           J("I", "E", -0.2, 1e-3, k=8), J("I", "I", -0.1, 2e-3, p=0.3)]
    net = sp.PopulationNetwork(sp.LIF(tau=0.01), pops, prj, seed=4, connectivity=connectivity)
    whole = sp.simulate(net, t_end=0.3)
    sp.simulate(net, t_end=0.1).save(tmp_path / "first.zarr")
    rest = sp.simulate(net, t_end=0.3, continue_from=tmp_path / "first.zarr")
    np.testing.assert_array_equal(rest.times, whole.times)
    np.testing.assert_array_equal(rest.senders, whole.senders)
    saved = sp.simulate(net, t_end=0.3, checkpoint=tmp_path / "run.npz", checkpoint_every=1e-3)
    np.testing.assert_array_equal(saved.times, whole.times)
    other = sp.PopulationNetwork(sp.LIF(tau=0.01), pops, prj, seed=5, connectivity=connectivity)
    with pytest.raises(ValueError, match="seed"):
        sp.simulate(other, t_end=0.3, continue_from=tmp_path / "first.zarr")


def test_bernoulli_on_the_fly_is_the_stored_network():
    pops = [P("E", 90, 2.0, 0.002), P("I", 30, 2.5, 0.001)]
    prj = [J("E", "E", 0.02, 1e-3, p=0.1), J("E", "I", 0.03, 0.0, p=0.15),
           J("I", "E", -0.12, 1e-3, p=0.3), J("I", "I", -0.1, 0.0, p=1.0)]
    runs = {c: sp.PopulationNetwork(sp.LIF(tau=0.01), pops, prj, seed=2, connectivity=c)
            for c in ("stored", "on_the_fly")}
    lists = [net.out_lists() for net in runs.values()]
    for a, b in zip(*lists):
        np.testing.assert_array_equal(a, b)
    recs = [sp.simulate(net, n_spikes=1500) for net in runs.values()]
    np.testing.assert_array_equal(recs[0].times, recs[1].times)
    np.testing.assert_array_equal(recs[0].senders, recs[1].senders)


def brunel_sweep(**run):
    return sp.Sweep({"network": "brunel", "n_e": 160, "j": 0.2, "seed": 3},
                    {"g": [4.0, 6.0], "eta": [1.5, 3.0]},
                    {"t_end": 0.1, "per_neuron": True, "batch_size": 3, "backend": "cpu",
                     **run})


def test_a_sweep_of_brunel_networks_runs_into_a_store(tmp_path):
    sweep = brunel_sweep()
    assert len(sweep) == 4 and sweep.kind == "brunel"
    sp.run_sweep(sweep, tmp_path / "s.zarr", in_process=True, progress=False)
    ds = sp.open_results(tmp_path / "s.zarr")
    assert list(ds["g"].values) == [4.0, 4.0, 6.0, 6.0]
    assert list(ds["eta"].values) == [1.5, 3.0, 1.5, 3.0]
    for m in range(4):
        net = ds.sp.network(m)
        assert net.parametrisation["g"] == ds["g"].values[m]
        alone = sp.simulate(net, t_end=0.1)
        np.testing.assert_array_equal(ds["count"].values[m], alone.counts)
    summary = analysis.population_summaries(ds)
    assert summary["E"]["rate"].shape == (4,)
    assert summary["E"]["rate"][1] > summary["E"]["rate"][0]          # more drive, faster


def test_a_sweep_of_brunel_networks_from_toml(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('[network]\nnetwork = "brunel"\nn_e = 160\nj = 0.2\n\n'
                    '[sweep]\ng = {linspace = [4.0, 6.0, 2]}\n\n[run]\nt_end = 0.05\n')
    sweep = sp.Sweep.load(path)
    assert sweep.spec["network"]["eta"] == 2.0 and sweep.spec["network"]["delay"] == 1.5e-3
    assert sp.Sweep.from_spec(json.loads(sweep.to_json())) == sweep


@pytest.mark.parametrize("network, sweep, run, match", [
    ({"network": "brunel", "n": 100}, {}, {}, "network.n: unknown key"),
    ({"network": "brunel"}, {"k": [1, 2]}, {}, "sweep.k: unknown key"),
    ({"network": "brunel", "n_e": 100}, {"eta": [2.0, 0.5]}, {}, "sweep.eta = 0.5"),
    ({"network": "brunel", "n_e": 100}, {}, {"state": True}, "run.state"),
    ({"network": "bruneI"}, {}, {}, "network.network"),
    ({"network": "balanced", "model": "lif", "n_e": 80}, {}, {}, "network.n_i is missing"),
    ({"network": "balanced", "model": "eif", "n_e": 80, "n_i": 20, "k": 10}, {}, {},
     "network.model must be 'lif' or 'qif'"),
])
def test_bad_population_sweeps_are_refused_naming_the_key(network, sweep, run, match):
    with pytest.raises(ValueError, match=match):
        sp.Sweep(network, sweep, {"t_end": 0.1, **run})


def test_a_balanced_sweep_runs():
    sweep = sp.Sweep({"network": "balanced", "model": "lif", "n_e": 80, "n_i": 20, "k": 16,
                      "t_ref": 0.002, "delay": 0.001}, {"nu": [1.0, 2.0]},
                     {"t_end": 0.05, "backend": "cpu"})
    ds = sp.run_ensemble(sp.Ensemble.from_sweep(sweep, 0, 2), t_end=0.05, backend="cpu")
    assert list(ds["nu"].values) == [1.0, 2.0]


def test_a_single_population_s_normal_form_is_unchanged():
    """Stores written before populations existed keep comparing equal to their specs."""
    section = network_section({"model": "lif", "n": 100, "k": 10, "j0": 1.0,
                               "target_rate": 1.0})
    assert "network" not in section
    assert network_section({"network": "single", "model": "lif", "n": 100, "k": 10,
                            "j0": 1.0, "target_rate": 1.0}) == section


def test_the_command_line_runs_brunel():
    out = subprocess.run([sys.executable, "-m", "sparseprop_gpu.cli", "simulate", "--network",
                          "brunel", "--n-e", "160", "--j", "0.2", "--t-end", "0.05", "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "population E" in out.stdout and "population I" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "sparseprop_gpu.cli", "simulate", "--network",
                          "brunel", "-k", "10"], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "leave out -k" in bad.stderr
    plain = subprocess.run([sys.executable, "-m", "sparseprop_gpu.cli", "simulate", "--g", "5"],
                           capture_output=True, text=True, timeout=300)
    assert plain.returncode != 0 and "--network brunel" in plain.stderr


def test_the_command_line_runs_brunel_with_poisson_input(tmp_path):
    command = [sys.executable, "-m", "sparseprop_gpu.cli", "simulate", "--network", "brunel",
               "--n-e", "160", "--j", "0.2", "--t-end", "0.05", "--quiet", "--noise-seed", "4",
               "--poisson", "E", "20", "0.5", "40", "--out", str(tmp_path / "r.npz")]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rec = sp.SpikeRecord.load(tmp_path / "r.npz")
    net = sp.brunel(n_e=160, j=0.2, inputs=[sp.PoissonInput("E", 20.0, 0.5, 40)], noise_seed=4)
    np.testing.assert_array_equal(rec.times, sp.simulate(net, t_end=0.05).times)
    bad = subprocess.run(command[:-2] + ["--poisson", "I", "x", "0.5", "1"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "give POP RATE WEIGHT SOURCES" in bad.stderr
    single = subprocess.run([sys.executable, "-m", "sparseprop_gpu.cli", "simulate", "--poisson",
                             "E", "1", "0.1", "1"], capture_output=True, text=True, timeout=300)
    assert single.returncode != 0 and "--poisson: options of --network brunel" in single.stderr


def test_a_stored_network_too_large_is_refused_before_drawing_it():
    with pytest.raises(ValueError, match="connectivity = 'stored'"):
        sp.brunel(n_e=10**8, epsilon=0.1)


def test_eif_populations_equal_the_oracle():
    from sparseprop_gpu import reference
    eif = sp.EIF(tau=0.01, tol=1e-12)
    pops = [P("E", 60, 0.5, 0.002), P("I", 15, 0.8, 0.001, 0.008)]
    prj = [J("E", "E", 0.02, 1.5e-3, k=6), J("E", "I", 0.03, 0.0, k=6),
           J("I", "E", -0.15, 1e-3, k=6), J("I", "I", -0.1, 0.0, p=0.3)]
    net = sp.PopulationNetwork(eif, pops, prj, seed=2)
    rec = sp.simulate(net, n_spikes=600)
    indptr, targets, coupling, delay = net.out_lists()
    oracle_pops = [reference.Population(m, net.initial_phases[net.pop_start[a]:
                                                              net.pop_start[a + 1]], p.drive,
                                        p.t_ref)
                   for a, (m, p) in enumerate(zip(net.population_models(), net.populations))]
    times, senders, _ = reference.simulate_populations(oracle_pops, indptr, targets, coupling,
                                                       delay, n_spikes=600)
    np.testing.assert_array_equal(senders, rec.senders)
    np.testing.assert_allclose(times, rec.times, rtol=0, atol=1e-11)


def test_results_and_stores_keep_each_population_s_summaries(tmp_path):
    sweep = sp.Sweep({"network": "brunel", "j": 0.2, "seed": 3}, {"n_e": [120, 160]},
                     {"t_end": 0.1, "batch_size": 2, "backend": "cpu"})
    sp.run_sweep(sweep, tmp_path / "s.zarr", in_process=True, progress=False)
    ds = sp.open_results(tmp_path / "s.zarr")
    assert "rate" not in ds                      # summary only: the stored means
    summary = analysis.population_summaries(ds)
    for m, n_e in enumerate((120, 160)):        # each instance its own population sizes
        rec = sp.simulate(ds.sp.network(m), t_end=0.1)
        rates = rec.rates()
        assert ds["rate_mean_E"].values[m] == pytest.approx(rates[:n_e].mean())
        assert ds["rate_mean_I"].values[m] == pytest.approx(rates[n_e:].mean())
        assert summary["I"]["rate"][m] == ds["rate_mean_I"].values[m]
    ens = sp.run_ensemble(sp.Ensemble.from_sweep(sweep, 0, 2), t_end=0.1, backend="cpu")
    np.testing.assert_array_equal(ens["rate_mean_E"].values, ds["rate_mean_E"].values)
    assert np.isnan(ds["fano_mean_E"].values).all()          # no spikes recorded: no Fano
    assert np.isnan(summary["E"]["fano"]).all()


@pytest.mark.parametrize("connectivity", ["stored", "on_the_fly"])
def test_the_memory_estimate_is_a_population_batch_s_arrays(connectivity):
    from sparseprop_gpu.runs.execute import batch_of
    from sparseprop_gpu.specification import memory
    from sparseprop_gpu.specification.instances import table_of
    pops = [P("E", 50, 2.0, 0.002), P("I", 20, 2.5)]
    prj = [J("E", "E", 0.02, 1e-3, k=5), J("I", "E", -0.1, 2e-3, p=0.2)]
    net = sp.PopulationNetwork(sp.LIF(tau=0.01), pops, prj, connectivity=connectivity)
    batch = batch_of(table_of(net), [0], "time", 64)
    actual = sum(array.nbytes for array in batch.arrays().values())
    synapses = batch.synapses.shape[0]
    scratch_only = (1, 1) if connectivity == "stored" else None   # no (n, k) table, no draws
    assert memory.engine_bytes(1, 70, batch.gathered.shape[1], 64, scratch_only, 1, pops=2,
                               fifo=net.fifo_total(), refractory_rows=70, excite_rows=70,
                               synapses=synapses,
                               segments=batch.segments.shape[0]) == actual


def test_t_ref_is_a_sweep_key_and_old_specifications_are_unchanged(tmp_path):
    sweep = sp.Sweep({"model": "lif", "n": 60, "k": 6, "drive": 1.5, "coupling": 0.05},
                     {"t_ref": [0.0, 0.003]}, {"t_end": 0.1, "backend": "cpu"})
    sp.run_sweep(sweep, tmp_path / "s.zarr", in_process=True, progress=False)
    ds = sp.open_results(tmp_path / "s.zarr")
    assert list(ds["t_ref"].values) == [0.0, 0.003]
    alone = sp.simulate(ds.sp.network(1), t_end=0.1)
    assert ds.sp.network(1).t_ref == 0.003
    assert int(ds["spike_count"].values[1]) == int(alone.counts.sum())
    from sparseprop_gpu.storage.metadata import stored
    plain = sp.Sweep({"model": "lif", "n": 60, "k": 6, "j0": 1.0, "target_rate": 1.0}, {},
                     {"t_end": 0.1})
    assert "t_ref" not in stored({"spec": plain.spec, "ready": True})["spec"]["network"]


def _loop_fano(times, senders, n, t_start, t_stop, window):
    """The windowed Fano factor the slow way: an (n, W) table of counts."""
    n_win = int(np.floor((t_stop - t_start) / window * (1 + 1e-12)))
    counts = np.zeros((n, max(n_win, 0)))
    for t, s in zip(times, senders):
        w = int(np.floor((t - t_start) / window))
        if 0 <= w < n_win:
            counts[s, w] += 1
    if n_win < 2:
        return np.full(n, np.nan)
    mean = counts.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, counts.var(axis=1, ddof=1) / mean, np.nan)


def test_the_windowed_fano_factor_is_the_table_of_counts_s():
    from sparseprop_gpu.runs.record import fano_factors
    rng = np.random.default_rng(7)
    n = 12
    times = np.sort(rng.uniform(-0.05, 0.47, 400))
    senders = rng.integers(0, n - 2, times.size)             # the last two neurons silent
    times[:3] = [0.0, 0.1, 0.4]                              # on window edges, in the last one
    senders[:3] = 0
    for t_start, t_stop, window in ((0.0, 0.47, 0.1), (0.02, 0.4, 0.05), (0.0, 0.15, 0.1),
                                    (0.1, 0.1, 0.1)):
        got = fano_factors(times, senders, n, t_start, t_stop, window)
        np.testing.assert_allclose(got, _loop_fano(times, senders, n, t_start, t_stop, window),
                                   rtol=1e-12)
        assert np.isnan(got[-2:]).all()
    assert np.isnan(fano_factors(times, senders, n, 0.0, 0.15, 0.1)).all()   # one window
    rec = sp.simulate(small_brunel(), t_end=0.3)                             # analysis uses it
    np.testing.assert_array_equal(analysis.fano_factor(rec, 0.05),
                                  fano_factors(rec.times, rec.senders, rec.n, rec.t_start,
                                               rec.t_stop, 0.05))


def test_ensembles_keep_each_population_s_fano_factor():
    from sparseprop_gpu.config import FANO_WINDOW
    net = small_brunel()
    ensemble = sp.Ensemble(net, seeds=[3, 4], g=[6.0, 5.0])
    ds = sp.run_ensemble(ensemble, t_end=0.3, record="spikes", backend="cpu", batch_size=2)
    summary = analysis.population_summaries(ds)
    windowed = analysis.population_summaries(ds, window=FANO_WINDOW)
    for m in range(2):
        alone = sp.simulate(ensemble.table.network(m), t_end=0.3)
        fano = analysis.fano_factor(alone, FANO_WINDOW)
        for name, part in (("E", slice(0, 160)), ("I", slice(160, 200))):
            assert np.isfinite(ds[f"fano_mean_{name}"].values[m])
            assert ds[f"fano_mean_{name}"].values[m] == pytest.approx(np.nanmean(fano[part]),
                                                                      rel=1e-12)
            assert summary[name]["fano"][m] == ds[f"fano_mean_{name}"].values[m]
            assert windowed[name]["fano"][m] == pytest.approx(summary[name]["fano"][m],
                                                              rel=1e-12)
    plain = sp.run_ensemble(ensemble, t_end=0.3, backend="cpu")       # no spikes: NaN
    assert np.isnan(plain["fano_mean_E"].values).all()
    assert np.isnan(plain["fano_mean_I"].values).all()
    assert np.isnan(analysis.population_summaries(plain)["E"]["fano"]).all()
    short = sp.run_ensemble(ensemble, t_end=0.15, record="spikes", backend="cpu")
    assert np.isnan(short["fano_mean_E"].values).all()               # one window


def test_sweep_stores_keep_each_population_s_fano_factor(tmp_path, monkeypatch):
    from sparseprop_gpu.config import FANO_WINDOW
    from sparseprop_gpu.storage import writing
    sweep = sp.Sweep({"network": "brunel", "j": 0.2, "seed": 3}, {"n_e": [120, 160]},
                     {"t_end": 0.3, "batch_size": 2, "backend": "cpu", "record": "spikes"})
    sp.run_sweep(sweep, tmp_path / "s.zarr", in_process=True, progress=False)
    ds = sp.open_results(tmp_path / "s.zarr")
    summary = analysis.population_summaries(ds)
    for m, n_e in enumerate((120, 160)):
        alone = sp.simulate(ds.sp.network(m), t_end=0.3)
        fano = analysis.fano_factor(alone, FANO_WINDOW)
        for name, part in (("E", slice(0, n_e)), ("I", slice(n_e, None))):
            stored = ds[f"fano_mean_{name}"].values[m]
            assert np.isfinite(stored)
            assert stored == pytest.approx(np.nanmean(fano[part]), rel=1e-12)
            assert summary[name]["fano"][m] == stored
    ens = sp.run_ensemble(sp.Ensemble.from_sweep(sweep, 0, 2), t_end=0.3, record="spikes",
                          backend="cpu")
    np.testing.assert_array_equal(ens["fano_mean_I"].values, ds["fano_mean_I"].values)

    old_layout = writing.layout                  # a store written before fano_mean_* opens

    def without_fano(*args):
        return {name: [q for q in rows if not q.startswith("fano_mean_")]
                for name, rows in old_layout(*args).items()}
    monkeypatch.setattr(writing, "layout", without_fano)
    sp.run_sweep(sweep, tmp_path / "old.zarr", in_process=True, progress=False)
    monkeypatch.undo()
    old = sp.open_results(tmp_path / "old.zarr")
    assert "fano_mean_E" not in old and "rate_mean_E" in old
    np.testing.assert_array_equal(old["rate_mean_E"].values, ds["rate_mean_E"].values)
    assert np.isnan(analysis.population_summaries(old)["E"]["fano"]).all()
