"""``sparseprop bench`` and ``sparseprop_gpu.bench``: they run and report every figure (no
timing is asserted: this machine is shared)."""
import subprocess
import sys

import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import bench

KEYS = {"n", "t_sim", "spikes", "rate_hz", "wall_s", "setup_s", "us_per_spike",
        "wall_per_sim_s", "spikes_per_s", "peak_mib"}


def run(*args):
    return subprocess.run([sys.executable, "-m", "sparseprop_gpu.cli", "bench", *args],
                          check=False, capture_output=True, text=True, timeout=300)


def test_measure_reports_every_figure():
    row = bench.measure(bench.reference_network(300, k=20), t_end=0.5)
    assert set(row) == KEYS
    assert row["n"] == 300 and row["t_sim"] == 0.5 and row["spikes"] > 0
    assert row["rate_hz"] == pytest.approx(row["spikes"] / 300 / 0.5)
    assert row["us_per_spike"] == pytest.approx(row["wall_s"] / row["spikes"] * 1e6)
    assert row["wall_per_sim_s"] == pytest.approx(row["wall_s"] / 0.5)
    assert row["peak_mib"] is None or row["peak_mib"] > 0


def test_reference_network_is_the_readme_network():
    net = bench.reference_network(1000)
    same = sp.Network(model=sp.LIF(tau=0.01), n=1000, k=100, j0=1.0, target_rate=1.0, seed=1)
    assert (net.n, net.k, net.drive, net.coupling, net.t_ref) == \
        (same.n, same.k, same.drive, same.coupling, same.t_ref)


def test_bench_prints_one_row_per_size():
    done = run("-n", "200", "-n", "300", "-k", "20", "--t-end", "0.2", "--repeat", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "os.cpu_count()" in lines[0]
    head = next(i for i, line in enumerate(lines) if line.split()[:1] == ["N"])
    assert lines[head].split() == ["N", "sim", "s", "spikes", "rate", "Hz", "wall", "s",
                                   "us/spike", "wall", "s/sim", "s", "spikes/s"]
    rows = [line.split() for line in lines[head + 1:]]
    assert [row[0] for row in rows] == ["200", "300"]
    assert all(len(row) == 8 and int(row[2]) > 0 for row in rows)


def test_bench_times_brunel_s_model_a_with_its_poisson_input():
    done = run("-n", "200", "-k", "20", "--t-end", "0.1", "--repeat", "1", "--brunel", "200",
               "--brunel-t-end", "0.05")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Brunel's model A"))
    row = lines[at + 1].split()
    assert row[0] == "250" and int(row[2]) > 0


@pytest.mark.parametrize("args, message", [
    (["-n", "1"], "-n must be an integer in [101, 2147483647]"),
    (["-n", "50", "-k", "10", "-n", "5"], "-n must be an integer in [11, 2147483647]"),
    (["--t-end", "0"], "--t-end must be a finite number of simulated seconds > 0; got 0"),
    (["--t-end", "-1"], "--t-end must be a finite number of simulated seconds > 0; got -1"),
    (["-k", "0"], "-k must be an integer in [1, "),
    (["--repeat", "0"], "--repeat must be an integer >= 1; got 0"),
    (["--brunel-t-end", "0"], "--brunel-t-end must be a finite number of simulated seconds"),
])
def test_bad_input_is_refused_with_the_option_and_its_range(args, message):
    done = run(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("sparseprop: error: " + message), done.stderr
    assert done.stdout == ""
