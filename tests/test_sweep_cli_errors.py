"""Issue 11, item 9 (sweeps): a clear message, never a traceback, for an unreachable
scheduler, a URL without its package, options that exclude each other; Ctrl-C stops a sweep
cleanly, resumable."""
import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zarr

import sparseprop_gpu as sp
from sparseprop_gpu import config
from sparseprop_gpu.cli import main
from sparseprop_gpu.distributed import run_sweep

TOML = ('[network]\nmodel = "lif"\nn = 50\nk = 5\nj0 = 1.0\n[sweep]\ntarget_rate = [1.0, 2.0]\n'
        'seed = {range = 3}\n[run]\nt_end = 0.2\nbatch_size = 4\nbackend = "cpu"\n')


@pytest.fixture
def toml(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(TOML)
    return path


@pytest.mark.parametrize("options, words", [
    (["--resume", "--overwrite"], "resume (--resume) and overwrite (--overwrite) cannot be "
                                  "given together"),
    (["--workers", "3", "--in-process"], "workers (--workers) sets the size of the embedded "
                                         "cluster and cannot be given with in_process "
                                         "(--in-process)"),
    (["--workers", "3", "--scheduler", "tcp://127.0.0.1:1"], "cannot be given with scheduler "
                                                             "(--scheduler)"),
])
def test_options_that_exclude_each_other_are_refused(toml, tmp_path, capsys, options, words):
    out = tmp_path / "s.zarr"
    assert main(["sweep", str(toml), "--out", str(out), "--quiet", *options]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists() and not Path(f"{out}.lock").exists()


def test_an_unreachable_scheduler_is_one_line_after_a_short_wait(toml, tmp_path, capsys,
                                                                monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(config, "SCHEDULER_TIMEOUT_S", 1.0)
    out = tmp_path / "s.zarr"
    started = time.perf_counter()
    assert main(["sweep", str(toml), "--out", str(out), "--quiet", "--scheduler",
                 "tcp://127.0.0.1:1"]) == 2
    assert time.perf_counter() - started < 10
    err = capsys.readouterr().err
    assert "scheduler: no Dask scheduler answers at tcp://127.0.0.1:1 within 1 s" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not Path(f"{out}.lock").exists()


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed")
def test_an_s3_url_without_s3fs_names_the_package(toml, capsys):
    assert main(["sweep", str(toml), "--out", "s3://bucket/s.zarr", "--in-process",
                 "--quiet"]) == 2
    assert "out: s3://bucket/s.zarr needs a package that is not installed: Install s3fs" in \
        capsys.readouterr().err
    with pytest.raises(ValueError, match="path: s3://bucket/s.zarr needs a package .*s3fs"):
        sp.open_results("s3://bucket/s.zarr")


def test_ctrl_c_stops_a_sweep_cleanly_and_it_resumes(tmp_path):
    toml = tmp_path / "slow.toml"
    toml.write_text('[network]\nmodel = "lif"\nn = 80\nk = 8\ntau = 0.01\nj0 = 1.0\n'
                    '[sweep]\ntarget_rate = [1.0, 2.0, 3.0, 4.0]\nseed = {range = 12}\n'
                    '[run]\nt_end = 1.5\nrecord = "spikes"\nbatch_size = 1\nbackend = "cpu"\n')
    out = tmp_path / "s.zarr"
    proc = subprocess.Popen([sys.executable, "-m", "sparseprop_gpu.cli", "sweep", str(toml),
                             "--out", str(out), "--in-process", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if zarr.open_array(out, path="batch_done", mode="r")[:].sum() >= 2:
                    break
            except Exception:        # not created yet
                pass
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "sparseprop: interrupted: " in err and f"--out {out} --resume" in err
    assert not Path(f"{out}.lock").exists()
    assert "token" not in zarr.open_group(out).attrs["sparseprop"]
    report = run_sweep(toml, out, in_process=True, progress=False, resume=True)
    assert 0 < report.batches_run < 48
    full = tmp_path / "full.zarr"
    run_sweep(toml, full, in_process=True, progress=False)
    a, b = sp.open_results(out, verify="full"), sp.open_results(full)
    assert a.sp.times.tobytes() == b.sp.times.tobytes()
    assert a["spike_count"].values.tobytes() == b["spike_count"].values.tobytes()
