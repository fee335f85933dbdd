"""The oracle (``sparseprop_gpu.reference``) is independent of the engine, and its own phase
transition curves of table models are exact to round-off."""
import ast
import inspect
import math
import types

import numpy as np
import pytest

import sparseprop_gpu as sp
from sparseprop_gpu import reference
from sparseprop_gpu.specification import lookup

ENGINE = ("sparseprop_gpu.kernels", "sparseprop_gpu.specification.lookup",
          "sparseprop_gpu.compiled")        # compiled: the digest of (and an import of) kernels/
PTC_TOL = 1e-14     # phase units; measured worst 2e-15 (brute force below, closed forms)

GL_X, GL_W = np.polynomial.legendre.leggauss(20)


def is_engine(name):
    return any(name == part or name.startswith(part + ".") for part in ENGINE)


def imported_modules(module):
    """Absolute names of everything ``module``'s source imports, at any level."""
    package = module.__package__.split(".")
    names = []
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def test_the_oracle_imports_nothing_of_the_engine():
    names = imported_modules(reference)
    assert "sparseprop_gpu.specification.models.TableModel" in names        # the parse sees imports
    assert [name for name in names if is_engine(name)] == []
    for name, value in vars(reference).items():
        origin = (value.__name__ if isinstance(value, types.ModuleType)
                  else getattr(value, "__module__", None))
        assert not (isinstance(origin, str) and is_engine(origin)), (name, origin)


def test_the_oracle_never_reads_the_engine_tables(monkeypatch):
    """An EIF network runs in the oracle with every table method of the model disabled."""
    net = sp.Network(model=sp.EIF(tau=0.01), n=200, k=20, j0=1.0, target_rate=5.0, seed=1)
    before, _ = reference.simulate(net, n_spikes=100)
    reference.oracle_table.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("the oracle read the engine's tables")

    for name in ("table", "table_array", "tables", "_table_set", "omega", "ptc",
                 "phase_to_voltage", "voltage_to_phase", "check_drive", "check_drives"):
        monkeypatch.setattr(sp.TableModel, name, refuse)
    monkeypatch.setattr(lookup, "build_table", refuse)
    after, _ = reference.simulate(net, n_spikes=100)
    np.testing.assert_array_equal(after.times, before.times)
    np.testing.assert_array_equal(after.senders, before.senders)


def eif_rhs(v):
    """F of sp.EIF(): delta_t = 0.1, v_t = 0, written out here."""
    return -v + 0.1 * np.exp(np.minimum(10.0 * v, 700.0))


def brute_force_s(v, drive, step):
    """s(V) of sp.EIF() (tau units) by brute force: 20-point Gauss-Legendre on uniform
    cells of ``step`` volts from V to 6, then 200 geometric cells from 6 to v_spike = 1000
    (where 1 / (F + I) < 1e-25)."""
    uniform = np.linspace(v, 6.0, int(math.ceil((6.0 - v) / step)) + 1)
    edges = np.concatenate([uniform, 6.0 + np.expm1(np.linspace(0.0, math.log(995.0), 201)[1:])])
    edges[-1] = 1000.0
    a, b = edges[:-1, None], edges[1:, None]
    nodes = 0.5 * (a + b) + 0.5 * (b - a) * GL_X
    return float(np.sum(0.5 * (b - a) * GL_W / (eif_rhs(nodes) + drive)))


@pytest.mark.parametrize("drive", [0.1, 0.3])
def test_eif_ptc_against_brute_force_quadrature(drive):
    """phi = 1 - s(V) / s_r at chosen voltages V; the input J takes V to V + J, so the exact
    new phase is 1 - s(V + J) / s_r: both by brute force, then the oracle's PTC of phi."""
    eif = sp.EIF(tau=0.01)
    s_r = brute_force_s(-1.0, drive, 2e-3)
    assert brute_force_s(-1.0, drive, 4e-3) == pytest.approx(s_r, rel=1e-15, abs=0)   # converged
    s_r_oracle = reference.oracle_table(eif, drive)[reference.H_S_R]
    assert s_r_oracle == pytest.approx(s_r, rel=PTC_TOL, abs=0)
    for v in (-3.0, -1.0, -0.4, 0.0, 0.2, 0.45):
        phi = 1.0 - brute_force_s(v, drive, 2e-3) / s_r
        for kick in (-5.0, -0.5, -0.1, 0.05, 0.3):        # -5: from V = -3 into the leak tail
            expected = 1.0 - brute_force_s(v + kick, drive, 2e-3) / s_r
            assert reference.ptc(eif, phi, drive, kick) == pytest.approx(expected, abs=PTC_TOL)


def test_the_eif_design_reference_values():
    """DESIGN.md 2.1, as printed (15 and 12 digits)."""
    eif = sp.EIF(tau=0.01)
    period = reference.oracle_table(eif, 0.1)[reference.H_S_R]
    assert period == pytest.approx(2.98900730800703, abs=1e-14)
    phi = np.array([0.1, 0.5, 0.99])
    np.testing.assert_allclose(reference.ptc(eif, phi, 0.1, -0.1),
                               [0.0613170703633, 0.390121827845, 0.971727400320], atol=5e-13)


def test_table_models_with_closed_forms():
    """TableModel(-V) is LIF; TableModel(V^2) between -50 and 50 has an arctan time to spike."""
    leak = sp.TableModel(lambda v: -v, v_reset=0.0, v_spike=1.0, tau=0.01, tail="leak")
    phi = np.linspace(-1.0, 1.0, 401)
    for drive in (1.01, 1.1, 2.0):
        assert reference.oracle_table(leak, drive)[reference.H_S_R] == pytest.approx(
            math.log(drive / (drive - 1.0)), rel=PTC_TOL, abs=0)
        for kick in (-3.0, -0.5, -0.01, 0.01):            # -3: into the leak tail below -1
            with np.errstate(invalid="ignore"):
                expected = sp.LIF().ptc(phi, drive, kick)
            expected[~(expected < 1.0)] = np.inf           # at or past v_spike: saturated
            np.testing.assert_allclose(reference.ptc(leak, phi, drive, kick), expected,
                                       rtol=0, atol=PTC_TOL)
    drive, lo, hi = 0.1, -50.0, 50.0
    square = sp.TableModel(lambda v: v * v, v_reset=lo, v_spike=hi, tau=0.01)
    r = math.sqrt(drive)
    s_r = (math.atan(hi / r) - math.atan(lo / r)) / r
    v = np.linspace(lo, 49.0, 300)
    phi = 1.0 - (math.atan(hi / r) - np.arctan(v / r)) / r / s_r
    for kick in (-5.0, -0.5, 0.05, 0.5):                # v_min = -60: all within the table
        expected = 1.0 - (math.atan(hi / r) - np.arctan(np.minimum(v + kick, hi) / r)) / r / s_r
        np.testing.assert_allclose(reference.ptc(square, phi, drive, kick), expected,
                                   rtol=0, atol=PTC_TOL)


@pytest.mark.parametrize("drive, kick", [(0.1, -0.1), (0.35, -0.14), (0.3, 0.05)])
def test_the_engine_tables_meet_their_tolerance_against_the_oracle(drive, kick):
    """The oracle as a judge of the engine's tables (measured: at most 1e-11, at remaining
    phases near 0.01, where the input map starts)."""
    eif = sp.EIF(tau=0.01)
    rng = np.random.default_rng(11)
    phi = np.concatenate([rng.uniform(-1.0, 1.0, 3000), 1.0 - 10.0 ** rng.uniform(-15, 0, 500)])
    engine = eif.ptc(phi, drive, kick)
    assert np.max(np.abs(engine - reference.ptc(eif, phi, drive, kick))) < eif.tol
