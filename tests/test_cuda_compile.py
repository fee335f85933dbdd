"""The real CUDA kernels (closed-form and table models, with and without refractory periods
and excitation, the loop of populations, and the gradients' backward pass) compile for sm_90
(H100/H200) on a machine with no GPU.

``numba.cuda.compile_ptx`` turns the cuda backend's kernel into PTX without a driver,
and ``ptxas -arch=sm_90 -v`` (from the ``numba-cuda[cu12]`` wheels) assembles it and
reports registers, spills and the stack frame (docs/design.md §6.2). The argument
types come from a real Batch through ``engine.layout``, as the runner passes them.

Both tools come with the dev extra; this test fails, and does not skip, when they are
missing, so that CI cannot pass without compiling the kernel.
"""
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CC = (9, 0)
ARCH = "sm_90"
INSTALL = ('install the dev extra: pip install -e ".[dev]" (it brings numba-cuda[cu12], '
           "with NVVM and ptxas)")

# Bytes of local-memory spill stores or loads allowed in any function of the kernel.
# The kernel has none today. A spill in the event loop would put a register's value in
# local memory, which lives in DRAM (cached in L1/L2 at best): a round trip per synaptic
# event in a loop whose whole cost is about one global load and store per event. Any
# spill is a regression to look at (ptxas's register count is reported alongside).
SPILL_BOUND_BYTES = 0

# Runs in a fresh interpreter: the fake device and numba.cuda's state stay out of the
# other tests, and the real (not simulated) compiler is used even when the parent runs
# under NUMBA_ENABLE_CUDASIM=1.
CHILD = r"""
import itertools, json, sys
import numba
from numba import config, types
from numba import cuda
import numba.cuda.dispatcher as dispatcher

assert not config.ENABLE_CUDASIM, "the CUDA simulator is on in the compile subprocess"


class FakeDevice:
    # compile_device() of register_jitable callees asks the driver for the current
    # device's compute capability; with no driver, stand in an sm_90 device.
    compute_capability = (9, 0)


dispatcher.get_current_device = lambda: FakeDevice()

import sparseprop_gpu as sp
from sparseprop_gpu.engine import cuda as backend, layout
from sparseprop_gpu.runs.simulate import engine_state

out = {"numba_cuda": __import__("importlib.metadata").metadata.version("numba-cuda")}
launch = {"t_end": 1.0, "warmup": 0.0, "keep": True, "max_spikes": 1}


def compile_variant(variant, batch, name):
    # the launch's arguments, from the engine's one declaration (engine.layout)
    args = layout.arguments(batch.arrays(), batch.constants(), launch)
    signature = (types.int64[::1],) + tuple(numba.typeof(a) for a in args)
    assert batch.variant == variant, (batch.variant, variant)
    launched = backend.KERNELS[variant]
    ptx, restype = cuda.compile_ptx(launched.py_func, signature, device=False, cc=(9, 0))
    with open(f"{sys.argv[1]}/{name}.ptx", "w") as f:
        f.write(ptx)
    out[name] = {"chars": len(ptx), "restype": str(restype),
                 "signature": [str(t) for t in signature]}


assert set(backend.KERNELS) == set(layout.VARIANTS), sorted(backend.KERNELS)
for (tabulated, featured), model in (((False, False), sp.LIF(tau=0.01)),
                                     ((True, False), sp.EIF(tau=0.01)),
                                     ((False, True), sp.LIF(tau=0.01)),
                                     ((True, True), sp.EIF(tau=0.01))):
    net = sp.Network(model=model, n=200, k=20, j0=1.0, target_rate=1.0, seed=1,
                     connectivity="on_the_fly", t_ref=0.002 if featured else 0.0)
    name = ("tables" if tabulated else "closed_form") + ("_featured" if featured else "")
    compile_variant((tabulated, featured, False), engine_state(net, key="phase",
                                                               buffer_spikes=64), name)

# the loops of populations (blocked): delays, refractory periods, excitation, stored blocks;
# LIF on the exp-time key, and a table model (EIF: one lookup table per block) on the time key;
# without and with external input (Poisson onto E, a stimulus)
P, J = sp.Population, sp.Projection
for (tabulated, model, drives, key, name), external in itertools.product((
        (False, sp.LIF(tau=0.01), (2.0, 2.5), "exp", "populations"),
        (True, sp.EIF(tau=0.01), (1.5, 2.0), "time", "populations_tables")), (False, True)):
    inputs = dict(inputs=[sp.PoissonInput("E", 100.0, 0.05, 10)],
                  stimulus=sp.Stimulus([0.01, 0.02], [3, 170], [0.2, -0.1])) if external else {}
    net = sp.PopulationNetwork(
        model, [P("E", 160, drives[0], 0.002), P("I", 40, drives[1], 0.0)],
        [J("E", "E", 0.02, 0.0015, k=16), J("E", "I", 0.03, 0.0, indegree=16),
         J("I", "E", -0.12, 0.001, p=0.3), J("I", "I", -0.1, 0.0, k=8)], seed=2, **inputs)
    compile_variant((tabulated, external, True), engine_state(net, key=key, buffer_spikes=64),
                    name + ("_inputs" if external else ""))

# the backward pass of a mini-batch (one sample per thread): LIF on the fly, QIF weighted and
# per connection, with the drives' gradients
import numpy as np
from sparseprop_gpu.runs.gradient import backward_arguments, trajectories
for name, model, connectivity in (("backward_lif", sp.LIF(tau=0.01), "on_the_fly"),
                                  ("backward_qif_weighted", sp.QIF(tau=0.01), "stored")):
    net = sp.Network(model=model, n=40, k=5, j0=1.0, target_rate=5.0, seed=1,
                     connectivity=connectivity)
    if connectivity == "stored":
        net = sp.Network(model=model, n=40, k=5, drive=net.drive, seed=1,
                         weights=np.full((40, 5), net.coupling))
    runs = trajectories(net, np.stack([net.initial_phases] * 2), 30, segment=10)
    args = backward_arguments(runs, np.zeros((2, 30)), [None, None],
                              connectivity == "stored", True)
    signature = tuple(numba.typeof(a) for a in args)
    ptx, _ = cuda.compile_ptx(backend.backward_kernel, signature, device=False, cc=(9, 0))
    with open(f"{sys.argv[1]}/{name}.ptx", "w") as f:
        f.write(ptx)
    out[name] = {"chars": len(ptx)}
print(json.dumps(out))
"""


def numba_cuda_installed():
    """Whether the numba-cuda distribution (not numba's deprecated built-in numba.cuda) is there."""
    try:
        importlib.metadata.version("numba-cuda")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def find_ptxas():
    """Path of ptxas: the one next to numba-cuda's NVVM wheels first, then CUDA_HOME, PATH."""
    if importlib.util.find_spec("cuda") is not None:
        try:
            from cuda import pathfinder
            found = pathfinder.find_nvidia_binary_utility("ptxas")
            if found:
                return found
        except Exception:
            pass
    try:
        spec = importlib.util.find_spec("nvidia.cuda_nvcc")
    except ImportError:
        spec = None
    if spec is not None:
        for root in spec.submodule_search_locations or ():
            path = Path(root, "bin", "ptxas")
            if path.is_file():
                return str(path)
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            path = Path(os.environ[var], "bin", "ptxas")
            if path.is_file():
                return str(path)
    return shutil.which("ptxas")


def parse_ptxas(text):
    """{function: {stack, spill_stores, spill_loads[, registers]}} and the entry's name."""
    functions = {}
    for name, stack, stores, loads in re.findall(
            r"Function properties for (\S+)\s*\n\s*(\d+) bytes stack frame, "
            r"(\d+) bytes spill stores, (\d+) bytes spill loads", text):
        functions[name] = {"stack": int(stack), "spill_stores": int(stores),
                           "spill_loads": int(loads)}
    entries = re.findall(r"Compiling entry function '([^']+)'", text)
    registers = re.findall(r"Used (\d+) registers", text)
    if entries and registers:
        functions.setdefault(entries[0], {})["registers"] = int(registers[0])
    return functions, (entries[0] if entries else None)


def short(name):
    """A readable form of a mangled name."""
    match = re.search(r"(advance_kernel|backward_kernel)", name)
    return match.group(1) if match else name[:60]


def test_kernel_compiles_for_sm90_without_spills(tmp_path):
    if not numba_cuda_installed():
        pytest.fail("numba-cuda is not installed, so the CUDA kernel cannot be compiled; "
                    + INSTALL)
    ptxas = find_ptxas()
    if ptxas is None:
        pytest.fail(f"ptxas was not found (nvidia-cuda-nvcc wheel, CUDA_HOME or PATH); {INSTALL}")

    env = {key: value for key, value in os.environ.items() if key != "NUMBA_ENABLE_CUDASIM"}
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env,
                           capture_output=True, text=True, timeout=480)
    assert child.returncode == 0, (
        f"compile_ptx for cc {CC} failed (if numba.cuda or NVVM is missing: {INSTALL}):\n"
        f"{child.stdout[-3000:]}\n{child.stderr[-6000:]}")
    info = json.loads(child.stdout.strip().splitlines()[-1])

    lines = [f"CUDA kernels for {ARCH} (numba-cuda {info['numba_cuda']}, ptxas {ptxas})"]
    spilled = {}
    for name in ("closed_form", "tables", "closed_form_featured", "tables_featured",
                 "populations", "populations_tables", "populations_inputs",
                 "populations_tables_inputs", "backward_lif", "backward_qif_weighted"):
        cubin = tmp_path / f"{name}.cubin"
        assembled = subprocess.run([ptxas, f"-arch={ARCH}", "-v", str(tmp_path / f"{name}.ptx"),
                                    "-o", str(cubin)], capture_output=True, text=True,
                                   timeout=120)
        text = assembled.stdout + assembled.stderr
        assert assembled.returncode == 0, f"ptxas -arch={ARCH} failed:\n{text[-6000:]}"
        functions, entry = parse_ptxas(text)
        assert entry is not None and "registers" in functions.get(entry, {}), (
            f"could not read ptxas's report:\n{text[-6000:]}")
        e = functions[entry]
        lines.append(f"  {short(entry)} ({name}, {info[name]['chars']} PTX chars): "
                     f"{e['registers']} registers, {e['spill_stores']} B spill stores, "
                     f"{e['spill_loads']} B spill loads, {e['stack']} B stack frame")
        lines += [f"    {short(fn)}: {f['spill_stores']} B spill stores, {f['spill_loads']} B "
                  f"spill loads, {f['stack']} B stack frame"
                  for fn, f in functions.items() if fn != entry]
        spilled.update({f"{name}: {short(fn)}": (f["spill_stores"], f["spill_loads"])
                        for fn, f in functions.items()
                        if max(f["spill_stores"], f["spill_loads"]) > SPILL_BOUND_BYTES})
    report = "\n".join(lines)
    print("\n" + report)
    assert not spilled, (f"register spills above {SPILL_BOUND_BYTES} B (stores, loads): "
                         f"{spilled}\n{report}")


def test_parse_ptxas_reads_registers_and_spills():
    text = """ptxas info    : Compiling entry function '_Z14advance_kernelPd' for 'sm_90'
ptxas info    : Function properties for _Z14advance_kernelPd
    48 bytes stack frame, 16 bytes spill stores, 24 bytes spill loads
ptxas info    : Used 255 registers, used 0 barriers, 48 bytes cumulative stack size
ptxas info    : Function properties for helper
    8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
"""
    functions, entry = parse_ptxas(text)
    assert entry == "_Z14advance_kernelPd"
    assert functions[entry] == {"stack": 48, "spill_stores": 16, "spill_loads": 24,
                                "registers": 255}
    assert functions["helper"] == {"stack": 8, "spill_stores": 0, "spill_loads": 0}
