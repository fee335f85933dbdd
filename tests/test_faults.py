"""Fault injection: a sweep SIGKILLed at random store writes (creating the store, a batch's
data, its manifest, its marker, the finishing rewrite, the lock), resumed, always ends
bitwise equal to an uninterrupted run.

One subprocess runs the cases: it runs the sweep once uninterrupted (counting its store
writes, W), then, for as long as the time budget allows, forks a child that runs the sweep
and SIGKILLs itself at write N (N uniform in [0, W)); half the time a second child resumes
it and is killed at a random write too; then the sweep is resumed to the end and every file
of the store compared with the uninterrupted run's. Forking a warm process makes a case
cost a few tens of milliseconds instead of an interpreter's start.
"""
import json
import os
import subprocess
import sys
import textwrap

BUDGET_S = 20.0

SERVER = textwrap.dedent('''
    import json, os, random, shutil, signal, sys, time
    from pathlib import Path
    from zarr.storage import LocalStore
    import sparseprop_gpu as sp

    SPEC = {"network": {"model": "lif", "n": 40, "k": 5, "tau": 0.01, "j0": 1.0,
                        "target_rate": 3.0},
            "sweep": {"seed": [1, 2, 3, 4, 5]},
            "run": {"t_end": 0.2, "record": "spikes", "per_neuron": ["count", "rate"],
                    "batch_size": 2, "backend": "cpu"}}
    root, budget = Path(sys.argv[1]), float(sys.argv[2])
    writes = {"count": 0, "kill_at": None}
    real = {name: getattr(LocalStore, name)
            for name in ("set", "set_if_not_exists", "delete", "delete_dir")}

    def counting(name):
        async def method(self, key, *args, **kwargs):
            if writes["kill_at"] is not None and writes["count"] == writes["kill_at"]:
                (root / "killed_at").write_text(f"{name} {key}")
                os.kill(os.getpid(), signal.SIGKILL)
            writes["count"] += 1
            return await real[name](self, key, *args, **kwargs)
        return method

    for name in real:
        setattr(LocalStore, name, counting(name))

    def files(path):
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
                if p.is_file()}

    def killed(path, kill_at, resume):
        pid = os.fork()
        if pid == 0:                              # the child: the sweep, killed at a write
            writes.update(count=0, kill_at=kill_at)
            try:
                sp.run_sweep(SPEC, path, in_process=True, progress=False, resume=resume)
            finally:
                os._exit(0)                       # ran through: N was past its writes
        os.waitpid(pid, 0)
        where = root / "killed_at"
        text = where.read_text() if where.exists() else "ran through"
        where.unlink(missing_ok=True)
        return text

    reference = root / "reference.zarr"
    sp.run_sweep(SPEC, reference, in_process=True, progress=False)
    total = writes["count"]
    expected = files(reference)
    rng = random.Random(11)
    cases, started = [], time.perf_counter()
    while time.perf_counter() - started < budget:
        path = root / f"case{len(cases)}.zarr"
        points = [killed(path, rng.randrange(total), resume=False)]
        if rng.random() < 0.5:
            points.append(killed(path, rng.randrange(total), resume=True))
        sp.run_sweep(SPEC, path, in_process=True, progress=False, resume=True)
        got = files(path)
        same = got == expected and not Path(f"{path}.lock").exists()
        cases.append({"killed at": points, "equal": same,
                      "differ": sorted(k for k in set(got) | set(expected)
                                       if got.get(k) != expected.get(k))})
        shutil.rmtree(path)
    print(json.dumps({"writes": total, "cases": cases}))
''')


def phase(point):
    """The step of the sweep a kill point (``method key``) interrupted."""
    method, _, key = point.partition(" ")
    if point == "ran through":
        return "none (ran through)"
    if key.endswith(".lock"):
        return "the lock"
    if "/manifest/" in key:
        return "a batch manifest"
    if key.startswith("batch_done/c/"):
        return "a commit marker"
    if method == "delete_dir" and key == "batch_done":
        return "finish: dropping the markers"
    if key == "zarr.json" or (method == "delete_dir" and key == ""):
        return "creation or the root attributes"
    if key.startswith("spikes/") or "/c/" in key:
        return "a batch's data"
    if key.endswith("zarr.json"):
        return "creation (array metadata) or finish (new metadata)"
    return "finish: rewriting into final chunks"


def test_a_sweep_killed_at_random_writes_resumes_bitwise_equal(tmp_path):
    # the workqueue threading layer can be forked (GNU OpenMP's cannot)
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    done = subprocess.run([sys.executable, "-c", SERVER, str(tmp_path), str(BUDGET_S)],
                          capture_output=True, text=True, timeout=BUDGET_S + 240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    cases = result["cases"]
    counts = {}
    for case in cases:
        for point in case["killed at"]:
            counts[phase(point)] = counts.get(phase(point), 0) + 1
    print(f"\nfault injection: {len(cases)} cases, {sum(counts.values())} kills over the "
          f"{result['writes']} store writes of the sweep:")
    for name, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {count:4d}  {name}")
    bad = [case for case in cases if not case["equal"]]
    assert not bad, f"{len(bad)} of {len(cases)} resumed stores differ: {bad[:3]}"
    assert len(cases) >= 10
