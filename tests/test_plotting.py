"""sparseprop_gpu.plotting: every figure runs headless, returns matplotlib objects and renders
to PNG; ``sparseprop sweep --plots``; the package imports without matplotlib."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

import sparseprop_gpu as sp  # noqa: E402
from sparseprop_gpu import plotting  # noqa: E402
from sparseprop_gpu.cli import main  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from report import parse_scaling  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"

SCALING_TEXT = """\
        N  connectivity  ns/spike  ns/event  B/neuron  conv ns/spike  speed-up
     1000       stored*       333      3.33     486.6           2166         7
     1000   on_the_fly        599      5.99      87.9           2166         4
    10000       stored*       418      4.18     441.3          11290        27
    10000   on_the_fly        589      5.89      41.6          11290        19
  1000000       stored       1234     12.34     436.0    2200000 (x)  1750 (x)
  1000000   on_the_fly*      1007     10.07      36.4    2200000 (x)  2150 (x)
"""


def render(ax, path):
    """Save the Axes' figure as PNG; check it is a non-trivial PNG."""
    assert isinstance(ax, Axes)
    ax.figure.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 2000
    plt.close(ax.figure)


@pytest.fixture(scope="module")
def record():
    net = sp.Network(model=sp.LIF(tau=0.01), n=300, k=30, j0=1.0, target_rate=5.0, seed=1)
    return sp.simulate(net, t_end=1.0, warmup=0.2)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("plots") / "grid.zarr"
    sweep = sp.Sweep(network=dict(model="lif", n=100, k=10, tau=0.01),
                     sweep=dict(j0=[0.5, 1.0, 2.0], target_rate={"geomspace": [1.0, 8.0, 4]},
                                seed=range(2)),
                     run=dict(t_end=0.6, warmup=0.1, record="spikes", per_neuron=True,
                              batch_size=8))
    sp.run_sweep(sweep, path, in_process=True, progress=False)
    return path


def test_raster(record, tmp_path):
    ax = plotting.raster(record)
    lines = ax.get_lines()
    assert lines[0].get_xdata().size == record.times.size
    assert ax.get_xlim() == (record.t_start, record.t_stop)
    render(ax, tmp_path / "raster.png")
    ax = plotting.raster(record, neurons=50, rate_bin=0.01, t_from=0.3, t_to=0.6)
    assert np.all(ax.get_lines()[0].get_ydata() < 50)
    assert len(ax.figure.axes) == 2                       # the population-rate twin axis
    render(ax, tmp_path / "raster_rate.png")


def test_histograms(record, store, tmp_path):
    render(plotting.rate_histogram(record), tmp_path / "rates.png")
    render(plotting.cv_histogram(record, bins=20), tmp_path / "cv.png")
    ds = sp.open_results(store)
    ax = plotting.rate_histogram(ds, by="j0")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "j0 = 0.5", "j0 = 1", "j0 = 2"]
    render(ax, tmp_path / "rates_by.png")
    render(plotting.cv_histogram(ds, by="target_rate", log=True), tmp_path / "cv_by.png")
    with pytest.raises(ValueError, match="one label per instance"):
        plotting.rate_histogram(ds, by=[1, 2])


def test_sweep_heatmap_and_curve(store, tmp_path):
    ds = sp.open_results(store)
    ax = plotting.sweep_heatmap(ds, "rate_mean")
    assert ax.get_ylabel() == "j0" and ax.get_xlabel() == "target_rate"
    mesh = ax.collections[0]
    expected = ds.sp.grid("rate_mean").mean("seed").transpose("j0", "target_rate").values
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(expected.shape), expected)
    render(ax, tmp_path / "heat.png")
    ax = plotting.sweep_heatmap(store, "rate", x="j0", y="target_rate", reduce="std")
    render(ax, tmp_path / "heat_neuron.png")
    render(plotting.sweep_heatmap(ds.sp.grid("cv_isi_mean").mean("seed")), tmp_path / "da.png")
    render(plotting.sweep_curve(ds, "rate_mean", x="target_rate", hue="j0"),
           tmp_path / "curve.png")


def test_scaling_plot(tmp_path):
    ax = plotting.scaling_plot(parse_scaling(SCALING_TEXT))
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "conventional, extrapolated" in labels and "SparseProp, on the fly" in labels
    render(ax, tmp_path / "scaling.png")
    d = {"n": [1e3, 1e4, 1e5], "ns_per_spike": [300, 400, 700],
         "conventional_ns_per_spike": [2e3, 1e4, 2e5]}
    render(plotting.scaling_plot(d), tmp_path / "scaling_dict.png")
    render(plotting.scaling_plot(np.array([[1e3, 300], [1e4, 400]]), guides=False),
           tmp_path / "scaling_array.png")


def test_ptc_plot(tmp_path):
    ax = plotting.ptc_plot(sp.LIF(tau=0.01), 1.1, -0.1)
    plotting.ptc_plot(sp.QIF(tau=0.01), 0.1, -0.1, ax=ax)
    assert len(ax.get_lines()) == 4                       # two curves and two zero lines
    render(ax, tmp_path / "ptc.png")


def test_write_sweep_figures_and_cli(store, tmp_path):
    written = plotting.write_sweep_figures(store, out_dir=tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(f"grid_{x}.png" for x in (
        "heatmap_rate_mean", "heatmap_cv_isi_mean", "heatmap_silent_fraction",
        "rate_histogram", "cv_histogram", "raster_instance0"))
    for p in written:
        assert p.read_bytes().startswith(PNG)
    spec = tmp_path / "one.toml"
    spec.write_text('[network]\nmodel = "qif"\nn = 60\nk = 6\nj0 = 1.0\n'
                    '[sweep]\ntarget_rate = [1.0, 2.0]\nseed = {range = 2}\n'
                    '[run]\nt_end = 0.3\nrecord = "summary"\n')
    out = tmp_path / "one.zarr"
    assert main(["sweep", str(spec), "--out", str(out), "--in-process", "--quiet",
                 "--plots"]) == 0
    assert sorted(p.name for p in tmp_path.glob("one_*.png")) == [
        "one_curve_cv_isi_mean.png", "one_curve_rate_mean.png", "one_curve_silent_fraction.png"]
    assert main(["sweep", str(spec), "--out", "s3://bucket/x.zarr", "--plots"]) == 2


def test_import_without_matplotlib():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import sparseprop_gpu as sp, sparseprop_gpu.plotting as pl\n"
            "sp.analysis.rates\n"
            "try:\n    pl.scaling_plot({'n': [1, 2], 'ns_per_spike': [1, 2]})\n"
            "except ImportError as exc:\n    print('ImportError', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ImportError plotting needs matplotlib" in out.stdout
