"""The ``sparseprop`` command as a user runs it."""
import os
import subprocess
import sys

import numpy as np

import sparseprop_gpu as sp


def run(*args):
    return subprocess.run([sys.executable, "-m", "sparseprop_gpu.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_simulate_writes_a_record(tmp_path):
    out = tmp_path / "run.zarr"
    done = run("simulate", "-n", "500", "-k", "20", "--t-end", "1", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "mean rate (Hz)" in done.stdout
    rec = sp.load_record(out)
    net = sp.Network(model=sp.LIF(tau=0.01), n=500, k=20, j0=1.0, target_rate=1.0)
    np.testing.assert_array_equal(rec.times, sp.simulate(net, t_end=1.0).times)


def test_simulate_qif_summary_npz(tmp_path):
    out = tmp_path / "run.npz"
    done = run("simulate", "--model", "qif", "-n", "300", "-k", "10", "--t-end", "0.5",
               "--record", "summary", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    rec = sp.load_record(out)
    assert rec.times.size == 0 and rec.counts.sum() > 0


def test_bad_input_is_one_clear_line():
    done = run("simulate", "-n", "10", "-k", "10")
    assert done.returncode == 2
    assert done.stderr.strip() == "sparseprop: error: k must be an integer in [1, 9]; got 10"
    done = run("simulate", "--out", "run.h5")
    assert done.returncode == 2 and "out must end in .npz or .zarr" in done.stderr


def test_info():
    done = run("info")
    assert done.returncode == 0
    assert "backend cpu     available" in done.stdout
    assert "backend cuda" in done.stdout
    assert "backend auto    cpu" in done.stdout or "backend auto    cuda" in done.stdout


def test_second_run_does_not_recompile(tmp_path):
    """The compiled engine is cached on disk: a second process loads it."""
    script = ("import sparseprop_gpu as sp\n"
              "from sparseprop_gpu.engine import cpu\n"
              "net = sp.Network(model=sp.LIF(), n=50, k=5, j0=1.0, target_rate=1.0)\n"
              "sp.simulate(net, t_end=0.1)\n"
              "serial = cpu._LOOPS[False, False, False][0]\n"
              "print(sum(serial.stats.cache_misses.values()),"
              " sum(serial.stats.cache_hits.values()))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           env=env, timeout=300) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert runs[0].stdout.split() == ["1", "0"]      # compiled once ...
    assert runs[1].stdout.split() == ["0", "1"]      # ... then loaded from the cache


def test_simulate_eif_by_name(tmp_path):
    out = tmp_path / "eif.npz"
    done = run("simulate", "--model", "eif", "-n", "300", "-k", "10", "--t-end", "0.3",
               "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    rec = sp.load_record(out)
    net = sp.Network(model=sp.EIF(tau=0.01), n=300, k=10, j0=1.0, target_rate=1.0)
    np.testing.assert_array_equal(rec.times, sp.simulate(net, t_end=0.3).times)
