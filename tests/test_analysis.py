"""sparseprop_gpu.analysis: every statistic against a direct numpy computation on hand-built
spike trains (edge cases included), on records, ensembles and sweep stores; chi; conversions."""
import math

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import analysis as an
from sparseprop_gpu import reference
from sparseprop_gpu.analysis.replay import _Replay

# neuron -> spike times; 2 is silent, 3 fires once, 4 twice (one interval), 5 at the window edges
TRAINS = {0: [0.05, 0.15, 0.32, 0.41, 0.77, 0.93], 1: [0.11, 0.12, 0.13, 0.61, 0.62],
          3: [0.5], 4: [0.2, 0.7], 5: [0.0, 0.25, 0.5, 0.75, 1.0], 6: [0.3, 0.31, 0.9, 0.95]}
N = 7


def build(trains=TRAINS, n=N, t_start=0.0, t_stop=1.0, summary=False):
    """A SpikeRecord of hand-built trains, counts and ISI moments computed directly."""
    times = np.concatenate([np.asarray(t, float) for t in trains.values()] + [np.empty(0)])
    senders = np.concatenate([np.full(len(t), i) for i, t in trains.items()] + [np.empty(0, int)])
    order = np.argsort(times, kind="stable")
    counts = np.array([len(trains.get(i, [])) for i in range(n)], np.int64)
    isi = [np.diff(trains.get(i, [])) for i in range(n)]
    rec = sp.SpikeRecord(times=times[order], senders=senders[order].astype(np.int32),
                         counts=counts, isi_sum=np.array([d.sum() for d in isi]),
                         isi_sumsq=np.array([(d * d).sum() for d in isi]), t_start=t_start,
                         t_stop=t_stop)
    if summary:
        rec.times, rec.senders = np.empty(0), np.empty(0, np.int32)
    return rec


def direct_cv(train):
    d = np.diff(train)
    return np.std(d) / np.mean(d) if d.size >= 2 else np.nan


def direct_fano(train, t0, t1, w):
    n_win = int(np.floor((t1 - t0) / w + 1e-9))
    if n_win < 2:
        return np.nan
    t = np.asarray(train)
    c = np.array([np.count_nonzero((t >= t0 + k * w) & (t < t0 + (k + 1) * w))
                  for k in range(n_win)])
    return np.var(c, ddof=1) / c.mean() if c.mean() > 0 else np.nan


def test_counts_rates_mean_rate():
    rec = build()
    counts = np.array([len(TRAINS.get(i, [])) for i in range(N)])
    np.testing.assert_array_equal(an.spike_counts(rec), counts)
    np.testing.assert_allclose(an.rates(rec), counts / 1.0)
    assert an.rates(rec)[2] == 0.0                       # silent: a true 0 rate
    assert an.mean_rate(rec) == pytest.approx(counts.sum() / N)
    shifted = build(t_start=0.2, t_stop=0.7)             # counts as given, window 0.5 s
    np.testing.assert_allclose(an.rates(shifted), counts / 0.5)
    empty = build({}, n=3, t_start=1.0, t_stop=1.0)      # empty window: undefined, NaN
    assert np.isnan(an.rates(empty)).all() and math.isnan(an.mean_rate(empty))


def test_cv_isi_against_numpy_spikes_and_summary():
    rec = build()
    expected = np.array([direct_cv(TRAINS.get(i, [])) for i in range(N)])
    got = an.cv_isi(rec)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[[2, 3, 4]]).all()                # silent, one spike, one interval
    np.testing.assert_allclose(an.cv_isi(build(summary=True)), expected, rtol=1e-9,
                               equal_nan=True)
    np.testing.assert_allclose(rec.cv_isi(), expected, rtol=1e-9, equal_nan=True)
    # unsorted input (hand-made) gives the same
    data = an.SpikeData.from_arrays(rec.times[::-1], rec.senders[::-1], n=N, t_stop=1.0)
    np.testing.assert_allclose(an.cv_isi(data), expected, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("window", [0.1, 0.25, 0.3, 0.5])
def test_fano_factor_against_numpy(window):
    rec = build()
    expected = np.array([direct_fano(TRAINS.get(i, []), 0.0, 1.0, window) for i in range(N)])
    got = an.fano_factor(rec, window)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[2])                              # silent: mean 0, undefined
    everything = np.concatenate(list(TRAINS.values()))
    pop = an.fano_factor(rec, window, population=True)
    assert pop == pytest.approx(direct_fano(everything, 0.0, 1.0, window), rel=1e-12)


def test_fano_factor_edge_cases():
    rec = build()
    assert np.isnan(an.fano_factor(rec, 0.6)).all()      # one window: no variance
    assert np.isnan(an.fano_factor(rec, 2.0)).all()      # no full window at all
    assert math.isnan(an.fano_factor(rec, 2.0, population=True))
    regular = build({0: np.arange(10) * 0.1 + 0.05}, n=1)
    assert an.fano_factor(regular, 0.1)[0] == 0.0        # one spike per window: a true 0
    with pytest.raises(ValueError, match="window"):
        an.fano_factor(rec, 0.0)
    with pytest.raises(ValueError, match="spikes"):
        an.fano_factor(build(summary=True), 0.1)


def test_population_rate_against_numpy():
    rec = build(t_start=0.2, t_stop=0.9)
    edges, rate = an.population_rate(rec, 0.1, t_from=0.0, t_to=1.0)
    np.testing.assert_allclose(edges, np.linspace(0, 1, 11))
    everything = np.concatenate(list(TRAINS.values()))
    direct = np.array([np.count_nonzero((everything >= a) & (everything < b))
                       for a, b in zip(edges[:-1], edges[1:])]) / (N * 0.1)
    inside = (edges[:-1] >= 0.2 - 1e-12) & (edges[1:] <= 0.9 + 1e-12)
    np.testing.assert_allclose(rate[inside], direct[inside])
    assert np.isnan(rate[~inside]).all()                 # bins outside the window: NaN
    quiet = build({0: [0.05]}, n=2)
    _, r = an.population_rate(quiet, 0.25)
    np.testing.assert_allclose(r, [2.0, 0.0, 0.0, 0.0])  # bins without spikes: 0


def test_rate_and_cv_distributions():
    rec = build()
    rates = an.rates(rec)
    edges, hist = an.rate_distribution(rec, bins=4, range=(0, 8))
    np.testing.assert_array_equal(hist, np.histogram(rates, bins=4, range=(0, 8))[0])
    edges, dens = an.rate_distribution(rec, bins=4, range=(0, 8), density=True)
    np.testing.assert_allclose(dens, np.histogram(rates, bins=4, range=(0, 8), density=True)[0])
    cv = an.cv_isi(rec)
    edges, hist = an.cv_distribution(rec, bins=5)
    ref_hist, ref_edges = np.histogram(cv[np.isfinite(cv)], bins=5)
    np.testing.assert_allclose(edges, ref_edges)
    np.testing.assert_array_equal(hist, ref_hist)        # NaN CVs left out


def three_instances():
    """SpikeData of three instances of different sizes and windows, and each alone."""
    recs = [build(), build({0: [0.1, 0.3, 0.35, 0.8], 2: [0.4]}, n=3, t_stop=0.9),
            build({}, n=5, t_start=0.0, t_stop=1.0)]
    data = an.SpikeData(np.concatenate([r.times for r in recs]),
                        np.concatenate([r.senders for r in recs]),
                        np.concatenate([[0], np.cumsum([r.times.size for r in recs])]),
                        [r.n for r in recs], 0.0, [r.t_stop for r in recs])
    return data, recs


def test_vectorised_over_instances_equals_each_alone():
    data, recs = three_instances()
    for fn in (an.rates, an.cv_isi, lambda s: an.fano_factor(s, 0.2), an.spike_counts):
        together = fn(data)
        assert together.shape == (3, N)
        for m, rec in enumerate(recs):
            np.testing.assert_allclose(together[m, :rec.n], fn(rec), equal_nan=True)
            assert np.isnan(together[m, rec.n:]).all()   # padding beyond the instance's n
    np.testing.assert_allclose(an.mean_rate(data), [an.mean_rate(r) for r in recs])
    assert an.mean_rate(data)[2] == 0.0
    pop = an.fano_factor(data, 0.2, population=True)
    np.testing.assert_allclose(pop, [an.fano_factor(r, 0.2, population=True) for r in recs],
                               equal_nan=True)
    edges, rate = an.population_rate(data, 0.1)
    for m, rec in enumerate(recs):
        _, alone = an.population_rate(rec, 0.1, t_from=0.0, t_to=1.0)
        np.testing.assert_allclose(rate[m], alone, equal_nan=True)
    edges, hist = an.rate_distribution(data, bins=6, range=(0, 12))
    for m, rec in enumerate(recs):
        np.testing.assert_array_equal(hist[m], np.histogram(an.rates(rec), 6, (0, 12))[0])


def test_ensemble_result():
    net = sp.Network(model=sp.LIF(tau=0.01), n=200, k=20, j0=1.0, target_rate=5.0, seed=3)
    ens = sp.Ensemble(net, seeds=[3, 4, 5], n=[200, 150, 200])
    out = sp.run_ensemble(ens, t_end=1.0, warmup=0.2, record="spikes", backend="cpu")
    np.testing.assert_allclose(np.asarray(an.rates(out)), out["rate"].values, equal_nan=True)
    np.testing.assert_allclose(np.asarray(an.cv_isi(out)), out["cv_isi"].values, rtol=1e-9,
                               equal_nan=True)
    np.testing.assert_allclose(np.asarray(an.mean_rate(out)), out["rate_mean"].values)
    for m in range(3):
        np.testing.assert_allclose(np.asarray(an.fano_factor(out, 0.1))[m, :out.sp.record(m).n],
                                   an.fano_factor(out.sp.record(m), 0.1), equal_nan=True)
    values, info = an.chi(out, ens, n_samples=200, return_info=True)
    values = np.asarray(values)
    assert values.shape == (3,) and np.all((values > 0) & (values < 1))
    assert all(i["max_phase_error"] < 1e-9 for i in info)
    # without network=: rebuilt from the parameters and seeds, the same
    np.testing.assert_allclose(np.asarray(an.chi(out, n_samples=200)), values)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("analysis") / "sweep.zarr"
    sweep = sp.Sweep(network=dict(model="lif", n=120, k=12, tau=0.01),
                     sweep=dict(j0=[0.5, 1.0], target_rate=[2.0, 4.0], seed=range(2)),
                     run=dict(t_end=1.0, warmup=0.25, record="spikes", per_neuron=True,
                              batch_size=3))
    sp.run_sweep(sweep, path, in_process=True, progress=False)
    return path


def test_dataset_and_store_path(store):
    ds = sp.open_results(store)
    rates = an.rates(ds)
    assert rates.dims == ("instance", "neuron") and "j0" in rates.coords
    np.testing.assert_allclose(rates.values, ds.rate.values, equal_nan=True)
    np.testing.assert_allclose(an.cv_isi(store).values, ds.cv_isi.values, rtol=1e-9,
                               equal_nan=True)
    np.testing.assert_allclose(an.mean_rate(ds).values, ds.rate_mean.values)
    assert an.mean_rate(ds).groupby("j0").mean().sizes["j0"] == 2
    for m in (0, 5):
        times, senders = ds.sp.spikes(m)
        alone = an.SpikeData.from_arrays(times, senders, n=120, t_start=0.25, t_stop=1.0)
        np.testing.assert_allclose(an.fano_factor(ds, 0.05).values[m], an.fano_factor(alone, 0.05),
                                   equal_nan=True)
    chi, info = an.chi(ds, n_samples=100, return_info=True)
    assert chi.dims == ("instance",) and np.isfinite(chi.values).all()
    assert max(i["max_phase_error"] for i in info) < 1e-9   # the sweep's networks, rebuilt


def test_summary_store(tmp_path):
    sweep = sp.Sweep(network=dict(model="qif", n=80, k=8, tau=0.01, j0=1.0, target_rate=3.0),
                     sweep=dict(seed=range(3)),
                     run=dict(t_end=0.5, per_neuron=["count", "isi_sum", "isi_sumsq"]))
    sp.run_sweep(sweep, tmp_path / "s.zarr", in_process=True, progress=False)
    ds = sp.open_results(tmp_path / "s.zarr")
    np.testing.assert_allclose(an.mean_rate(ds).values, ds.rate_mean.values)
    assert np.isfinite(an.cv_isi(ds).values).any()
    with pytest.raises(ValueError, match="spikes"):
        an.population_rate(ds, 0.1)


# ------------------------------------------------------------------------- chi and the replay
def test_chi_from_traces():
    rng = np.random.default_rng(0)
    trace = np.sin(np.linspace(0, 20, 500)) + rng.normal(0, 0.1, 500)
    assert an.chi_from_traces(np.tile(trace, (50, 1))) == pytest.approx(1.0, abs=1e-12)
    for n in (100, 400):
        # independent traces: chi = 1/sqrt(N) up to a relative error ~ sqrt(2/T) (T = 4000
        # samples: 2 %); stated tolerance 15 %
        chi = an.chi_from_traces(rng.normal(0, 1, (n, 4000)))
        assert chi * math.sqrt(n) == pytest.approx(1.0, rel=0.15)
    assert math.isnan(an.chi_from_traces(np.ones((5, 10))))          # no variance
    assert math.isnan(an.chi_from_traces(np.empty((0, 10))))         # no neurons


@pytest.mark.parametrize("model", [sp.LIF(tau=0.01), sp.QIF(tau=0.01)])
def test_replay_equals_reference_phases(model):
    net = sp.Network(model=model, n=300, k=30, j0=1.0, target_rate=5.0, seed=2)
    rec, phases = reference.simulate(net, n_spikes=4000)
    replay = _Replay(net, rec.times, rec.senders, 0.0, True)
    got = replay.phases(np.array([rec.t_stop]))[:, 0]
    np.testing.assert_allclose(got, phases, rtol=0, atol=1e-9)
    assert replay.check[1] > 3000 and replay.check[0] < 1e-9


def test_voltage_traces_of_uncoupled_lif_are_closed_form():
    tau, drive = 0.01, 1.5
    v0 = np.linspace(0.0, 0.9, 6)
    net = sp.Network(model=sp.LIF(tau=tau), n=6, k=1, drive=drive, coupling=0.0,
                     initial_voltages=v0)
    rec = sp.simulate(net, t_end=0.05)
    grid = np.linspace(0, 0.05, 101)
    v = an.voltage_traces(rec, grid, net)
    period = tau * math.log(drive / (drive - 1))
    for i in range(6):
        t_first = tau * math.log((drive - v0[i]) / (drive - 1))   # time to threshold from v0
        since = np.where(grid < t_first, grid + tau * math.log(drive / (drive - v0[i])),
                         (grid - t_first) % period)
        expected = drive * (1 - np.exp(-since / tau))
        ok = np.abs(((grid - t_first) % period)) > 1e-9          # skip samples at a spike
        np.testing.assert_allclose(v[i, ok], expected[ok], atol=1e-9)


def test_chi_identical_and_independent_networks():
    # identical neurons, identical initial phases, no coupling: identical traces, chi = 1
    net = sp.Network(model=sp.LIF(tau=0.01), n=200, k=5, drive=1.4, coupling=0.0,
                     initial_phases=np.full(200, 0.3))
    rec = sp.simulate(net, t_end=0.3)
    assert an.chi(rec, net, n_samples=500) == pytest.approx(1.0, abs=1e-9)
    # uncoupled neurons with different frequencies: independent traces, chi = 1/sqrt(N);
    # the cross terms vanish as T grows (30 s, ~1000 periods; measured 0.997..1.006 for
    # N = 100..1600); stated tolerance 10 %
    for n in (100, 400):
        het = sp.Network(model=sp.LIF(tau=0.01), n=n, k=1, coupling=0.0,
                         drive=sp.heterogeneous(lambda i, m: 1.2 + 0.8 * i / m))
        rec = sp.simulate(het, t_end=30.0)
        value, info = an.chi(rec, het, n_samples=6000, return_info=True)
        assert info["neurons"] == n and info["max_phase_error"] < 1e-9
        assert value * math.sqrt(n) == pytest.approx(1.0, rel=0.10)


def test_chi_after_warmup_and_wrong_network():
    net = sp.Network(model=sp.QIF(tau=0.01), n=300, k=30, j0=1.0, target_rate=5.0, seed=4)
    rec = sp.simulate(net, t_end=1.5, warmup=0.5)
    value, info = an.chi(rec, net, n_samples=300, return_info=True)
    assert 0 < value < 1 and 0.5 < info["t_from"] < 1.5
    assert 0.9 * 300 * 0.95 <= info["neurons"] < 300 + 1    # those fired by t_from
    assert info["max_phase_error"] < 1e-9
    other = sp.Network(model=sp.QIF(tau=0.01), n=300, k=30, j0=1.0, target_rate=5.0, seed=5)
    _, wrong = an.chi(rec, other, n_samples=300, return_info=True)
    assert wrong["max_phase_error"] > 1e-3                 # the spikes are not its network's
    assert math.isnan(an.chi(rec, net, n_samples=1))         # one sample: undefined


# ------------------------------------------------------------------------- conversions
def test_to_neo_and_nwb_units():
    rec = build()
    neo = an.to_neo(rec)
    np.testing.assert_array_equal(neo["spike_time_array"], rec.times)
    np.testing.assert_array_equal(neo["channel_id_array"], rec.senders)
    np.testing.assert_array_equal(neo["all_channel_ids"], np.arange(N))
    assert (neo["t_start"], neo["t_stop"], neo["units"]) == (0.0, 1.0, "s")
    units = an.to_nwb_units(rec)
    index = units["spike_times_index"]
    assert index.shape == (N,) and index[-1] == rec.times.size
    for u in range(N):
        lo = index[u - 1] if u else 0
        np.testing.assert_array_equal(units["spike_times"][lo:index[u]], TRAINS.get(u, []))
    data, recs = three_instances()
    units = an.to_nwb_units(data)
    assert units["id"].size == sum(r.n for r in recs)
    np.testing.assert_array_equal(units["instance"], np.repeat([0, 1, 2], [r.n for r in recs]))
    u = N + 0                                              # instance 1, neuron 0
    np.testing.assert_array_equal(units["spike_times"][units["spike_times_index"][u - 1]:
                                                       units["spike_times_index"][u]],
                                  [0.1, 0.3, 0.35, 0.8])
    np.testing.assert_allclose(units["obs_intervals"][u], [0.0, 0.9])
    one = an.to_neo(data, instance=1)
    np.testing.assert_array_equal(one["channel_id_array"], [0, 0, 0, 2, 0])
    every = an.to_neo(data)
    assert every["channel_id_array"].max() == N + 2


def test_bad_sources():
    with pytest.raises(ValueError, match="source must be"):
        an.rates([1, 2, 3])
    with pytest.raises(ValueError, match="senders"):
        an.SpikeData.from_arrays([0.1], [5], n=3, t_stop=1.0)
    data, _ = three_instances()
    with pytest.raises(ValueError, match="network"):
        an.chi(data)
