"""Neuron models: LIF and QIF (closed-form phase transition curves), EIF and TableModel (tables).

A model knows its membrane time constant ``tau`` (s); a network adds the drive
``I`` and the coupling ``J`` (voltage jump per input, in the model's voltage
units). See docs/design.md §2.1 for the formulas.
"""
import copy
import functools
import math

import numpy as np

from .. import config, validate
from ..kernels import models as km


MAX_T_REF_TAUS = 600.0
"""The longest refractory period, in membrane time constants: the exp keys hold
exp(t_ref / tau) times keys up to 2**64 (docs/design.md §2.13), finite below ~620."""


def check_refractory(t_ref, tau):
    """``t_ref`` (s) as a float, in [0, MAX_T_REF_TAUS * tau]; ValueError naming it else."""
    return validate.real(f"t_ref (s, at most {MAX_T_REF_TAUS:g} tau)", t_ref, 0.0,
                         MAX_T_REF_TAUS * tau)


class NeuronModel:
    """Base class: a one-dimensional neuron as a phase oscillator.

    Parameters
    ----------
    tau : float
        Membrane time constant (s), > 0.
    """

    name = ""
    kernel_id = -1
    phase_reset = 0.0
    phase_threshold = 1.0
    exp_key = False
    drive_range = (-math.inf, math.inf)
    """Open lower and closed upper bound of a drive the neuron can take (closed forms)."""

    def __init__(self, tau=0.01):
        self.tau = validate.real("tau", tau, 0.0, math.inf, low_open=True)

    def __repr__(self):
        return f"{type(self).__name__}(tau={self.tau!r})"

    def __eq__(self, other):
        return type(self) is type(other) and self.tau == other.tau

    def __hash__(self):
        return hash((type(self).__name__, self.tau))

    def params(self):
        """Parameters besides ``tau`` that rebuild the model: ``MODELS[name](tau, **params)``."""
        return {}

    def with_tau(self, tau):
        """The same model with membrane time constant ``tau`` (s), > 0."""
        tau = validate.real("tau", tau, 0.0, math.inf, low_open=True)
        if tau == self.tau:
            return self
        other = copy.copy(self)         # tables are per drive, in units of tau: shared
        other.tau = tau
        return other

    def check_drive(self, drive):
        """Return ``drive`` as a float, or raise if the neuron would never fire."""
        raise NotImplementedError

    def check_drives(self, drive):
        """Raise, naming the first such neuron, if a per-neuron ``drive`` (ndarray) never fires."""
        low, high = self.drive_range
        for i in np.flatnonzero(~((drive > low) & (drive <= high))):
            try:
                self.check_drive(float(drive[i]))
            except ValueError as exc:
                raise ValueError(f"neuron {i}: {exc}") from None

    def balanced_drive(self, k, j0, target_rate):
        """Drive ``I`` of the balanced-state parametrisation, tau sqrt(K) j0 nu (+1 for LIF)."""
        return self.tau * math.sqrt(k) * j0 * target_rate

    def omega(self, drive):
        """Phase velocity per membrane time constant (phase units; vectorised)."""
        raise NotImplementedError

    def external_to_drive(self, external):
        """Drive I from the external drive I_ext of the balanced parametrisation."""
        return external

    def neuron_params(self, drive, coupling, tau):
        """Per-neuron constants (rows ``kernels.models.N_*``) of a heterogeneous network.

        Parameters
        ----------
        drive, tau : ndarray (n,)
            Each neuron's drive and membrane time constant (s).
        coupling : float
        """
        omega = self.omega(drive)
        table = np.empty((drive.shape[0], km.N_NEURON))
        table[:, km.N_OMEGA] = omega
        table[:, km.N_KICK] = self._kick(drive, coupling)
        table[:, km.N_TPP] = tau / omega
        return table

    def period(self, drive):
        """Free period from reset to threshold without input (s)."""
        return self.tau * (self.phase_threshold - self.phase_reset) / self.omega(drive)

    def kernel_params(self, drive, coupling, key="phase", rebase=True, rebase_at=None,
                      t_ref=0.0):
        """The float64 parameter vector the device code reads (``kernels.models.P_*``).

        ``rebase_at`` overrides the rebasing threshold (keys in seconds for the time key);
        ``t_ref`` is the refractory period (s), held in the units of ``key``.
        """
        drive = self.check_drive(drive)
        t_ref = check_refractory(t_ref, self.tau)
        omega = float(self.omega(drive))
        par = np.zeros(km.N_PAR)
        par[km.P_OMEGA] = omega
        par[km.P_KICK] = self._kick(drive, coupling)
        par[km.P_PHI_RESET] = self.phase_reset
        par[km.P_PHI_TH] = self.phase_threshold
        par[km.P_TAU] = self.tau
        par[km.P_TPP] = self.tau / omega
        par[km.P_EXP_THR] = self._exp_threshold(drive)
        par[km.P_T_REF] = t_ref
        par[km.P_REF] = {"exp": math.exp(t_ref / self.tau), "time": t_ref}.get(
            key, t_ref * omega / self.tau)
        span = self.phase_threshold - self.phase_reset
        if not rebase:
            par[km.P_REBASE_AT] = math.inf
        elif rebase_at is not None:
            par[km.P_REBASE_AT] = rebase_at
        elif key == "exp":
            par[km.P_REBASE_AT] = 2.0 ** km.REBASE_BITS
        else:
            par[km.P_REBASE_AT] = 16.0 * span
        return par

    def _exp_threshold(self, drive):
        return math.nan


class LIF(NeuronModel):
    """Leaky integrate-and-fire: tau dV/dt = -V + I, threshold 1, reset 0.

    Phase phi in [0, 1] with V = I (1 - exp(-phi / omega)), omega = 1 / ln(I / (I - 1)),
    computed as 1 / log1p(1 / (I - 1)) (full precision for every allowed I). Needs a
    suprathreshold drive, 1 < I <= ``config.LIF_MAX_DRIVE`` (above it the engine's keys hold a
    phase to less than ~1e-9 of a period; docs/design.md §2.11).
    """

    name = "lif"
    kernel_id = km.LIF
    exp_key = True
    drive_range = (1.0, config.LIF_MAX_DRIVE)

    def check_drive(self, drive):
        return validate.real("drive (LIF needs I > 1 to reach threshold; above "
                             f"{config.LIF_MAX_DRIVE:g} its phases cannot be held exactly)",
                             drive, *self.drive_range, low_open=True)

    def balanced_drive(self, k, j0, target_rate):
        return self.external_to_drive(super().balanced_drive(k, j0, target_rate))

    def external_to_drive(self, external):
        """I = 1 + I_ext, refused where the sum cannot keep I_ext to ``config.DRIVE_RTOL``."""
        drive = 1.0 + external
        lost = np.abs((drive - 1.0) - external) > config.DRIVE_RTOL * np.abs(external)
        if np.any(lost):
            value = float(np.asarray(external)[lost].flat[0]) if np.ndim(external) else external
            raise ValueError(f"the drive I = 1 + I_ext with I_ext = {value:.6g} cannot hold "
                             f"I_ext in float64 to {config.DRIVE_RTOL:.1g} (relative): LIF "
                             f"needs I_ext >= {2.0**-53 / config.DRIVE_RTOL:.2g}; give drive "
                             "and coupling directly for a drive this close to threshold")
        return drive

    def exp_neuron_params(self, drive, coupling):
        """Per-neuron constants of the exp-time key (rows ``kernels.models.N_EXP_*``)."""
        table = np.zeros((drive.shape[0], km.N_NEURON))
        table[:, km.N_EXP_KICK] = coupling / (drive - 1.0)
        table[:, km.N_EXP_RESET] = self._exp_threshold(drive)
        return table

    def omega(self, drive):
        # ln(I / (I - 1)) = log1p(1 / (I - 1)): I - 1 is exact for I < 2**53, so no digit is
        # lost however large I is (the quotient I / (I - 1) would round to 1 + O(1e-16))
        return 1.0 / np.log1p(1.0 / (np.asarray(drive, float) - 1.0))

    def ptc(self, phi, drive, coupling):
        """Phase after an input of strength ``coupling`` at phase ``phi`` (vectorised); +inf
        where the input reaches the asymptote V = I."""
        w = self.omega(drive)
        with np.errstate(divide="ignore"):
            return -w * np.log1p(np.expm1(-np.asarray(phi, dtype=float) / w) - coupling / drive)

    def phase_to_voltage(self, phi, drive):
        """Membrane potential at phase ``phi``."""
        return -drive * np.expm1(-np.asarray(phi, dtype=float) / self.omega(drive))

    def voltage_to_phase(self, v, drive):
        """Phase of membrane potential ``v`` (v < I)."""
        return -self.omega(drive) * np.log1p(-np.asarray(v, dtype=float) / drive)

    def _kick(self, drive, coupling):
        return coupling / drive

    def _exp_threshold(self, drive):
        """I / (I - 1) = exp(1 / omega): one rounding, as I - 1 is exact."""
        return drive / (drive - 1.0)


class QIF(NeuronModel):
    """Quadratic integrate-and-fire (theta neuron): tau dV/dt = V^2 + I.

    Phase phi in [-pi, pi] with V = sqrt(I) tan(phi / 2), omega = 2 sqrt(I);
    spike at V = +inf, reset to -inf. Needs I > 0.
    """

    name = "qif"
    kernel_id = km.QIF
    phase_reset = -math.pi
    phase_threshold = math.pi
    drive_range = (0.0, math.inf)

    def check_drive(self, drive):
        return validate.real("drive (QIF needs I > 0 to fire)", drive, *self.drive_range,
                             low_open=True)

    def omega(self, drive):
        return 2.0 * np.sqrt(drive)

    def ptc(self, phi, drive, coupling):
        """Phase after an input of strength ``coupling`` at phase ``phi`` (vectorised)."""
        phi = np.asarray(phi, dtype=float)
        return 2.0 * np.arctan(np.tan(0.5 * phi) + coupling / np.sqrt(drive))

    def phase_to_voltage(self, phi, drive):
        """Membrane potential at phase ``phi``."""
        return np.sqrt(drive) * np.tan(0.5 * np.asarray(phi, dtype=float))

    def voltage_to_phase(self, v, drive):
        """Phase of membrane potential ``v``."""
        return 2.0 * np.arctan(np.asarray(v, dtype=float) / np.sqrt(drive))

    def _kick(self, drive, coupling):
        return coupling / np.sqrt(drive)


class TableModel(NeuronModel):
    """Any one-dimensional model tau dV/dt = F(V) + I, from tables (docs/design.md §2.3).

    Spike when V reaches ``v_spike``, reset to ``v_reset``. Phase phi in [0, 1],
    phi = 1 - T(V) / T(v_reset) with T(V) the time to spike from V; omega =
    tau / T(v_reset). The time to spike and its inverse are tabulated per drive
    (built once, cached; ``table(drive)``), with a phase transition curve accurate
    to ``tol`` against direct quadrature (checked at build time).

    Parameters
    ----------
    rhs : callable
        F(V); vectorised over numpy arrays if possible (else called per value).
    v_reset, v_spike : float
        Reset and spike voltages, v_reset < v_spike.
    tau : float
        Membrane time constant (s).
    v_min : float, optional
        Lowest voltage of the table (default: v_reset minus the larger of 1 and
        min(v_spike - v_reset, 10)). An input that takes a neuron below it stops
        the simulation with an error, unless ``tail="leak"``.
    tail : {None, "leak"}
        "leak": F(V) = -V below v_min (checked), handled exactly there.
    tol : float
        Largest error of the phase transition curve (phase units), >= 1e-12.
    cells : int, optional
        Cells per table (default: doubled from 64 until ``tol`` is met).
    v_top : float, optional
        Upper end of the tables (default v_spike): above, the time left to spike
        must be negligible (it is integrated once and interpolated linearly).
    input_map : bool
        Tabulate, per network, the phase transition curve of its input strength J
        as well (to the same ``tol``): one lookup per input instead of two, for the
        neurons in the map's range (remaining phase from 0.01 up to where the input
        leaves the table). False: every input takes the two lookups.
    """

    name = "table"
    kernel_id = km.TABLE

    def __init__(self, rhs, v_reset, v_spike, tau=0.01, *, v_min=None, tail=None, tol=1e-9,
                 cells=None, v_top=None, input_map=True):
        super().__init__(tau)
        if not isinstance(input_map, bool):
            raise ValueError(f"input_map must be True or False; got {input_map!r}")
        self.input_map = input_map
        if not callable(rhs):
            raise ValueError(f"rhs must be a function F(V); got {rhs!r}")
        self.rhs = rhs
        self.v_reset = validate.real("v_reset", v_reset, -math.inf, math.inf)
        self.v_spike = validate.real("v_spike", v_spike, -math.inf, math.inf)
        if not self.v_reset < self.v_spike:
            raise ValueError(f"v_reset must be below v_spike; got v_reset = {self.v_reset:g}, "
                             f"v_spike = {self.v_spike:g}")
        if v_min is None:
            v_min = self.v_reset - max(1.0, min(self.v_spike - self.v_reset, 10.0))
        self.v_min = validate.real("v_min", v_min, -math.inf, math.inf)
        if not self.v_min < self.v_reset:
            raise ValueError(f"v_min must be below v_reset = {self.v_reset:g}; got {self.v_min:g}")
        self.v_top = self.v_spike if v_top is None else validate.real(
            "v_top", v_top, self.v_reset, self.v_spike, low_open=True)
        if tail not in (None, "leak"):
            raise ValueError(f"tail must be None or 'leak'; got {tail!r}")
        self.tail = tail
        self.tol = validate.real("tol", tol, 0.0, 1.0, low_open=True)
        self.cells = None if cells is None else validate.integer("cells", cells, 1, 1 << 22)
        if tail == "leak":
            probe = self.v_min - np.array([0.0, 1.0, 10.0, 100.0])
            values = np.array([float(rhs(float(v))) for v in probe])
            if not np.allclose(values, -probe, rtol=1e-13, atol=1e-13):
                raise ValueError("tail='leak' needs F(V) = -V below v_min; F(V) + V there is "
                                 f"{values + probe}")

    def _key(self):
        return (self.rhs, self.tau, self.v_reset, self.v_spike, self.v_min, self.v_top,
                self.tail, self.tol, self.cells, self.input_map)

    def __repr__(self):
        return (f"{type(self).__name__}({getattr(self.rhs, '__name__', self.rhs)}, "
                f"v_reset={self.v_reset!r}, v_spike={self.v_spike!r}, tau={self.tau!r}, "
                f"tol={self.tol!r})")

    def __eq__(self, other):
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self):
        return hash((type(self).__name__,) + self._key())

    def table(self, drive):
        """The built table for ``drive`` (``sparseprop_gpu.specification.lookup.LookupTable``; cached)."""
        from .lookup import build_table
        drive = validate.real("drive", drive, -math.inf, math.inf)
        return build_table(self.rhs, drive, self.v_reset, self.v_spike, self.v_min, self.v_top,
                           self.tail == "leak", self.tol, self.cells)

    def table_array(self, drive, kick=None):
        """The flat float64 table the engine reads (``kernels.lookup``).

        With ``kick`` (the network's J, volts), the table holds that input's map too: one
        lookup per input instead of two for most neurons (``tables.with_input_map``).
        """
        if kick is None or not self.input_map:
            return self.table(drive).array
        from .lookup import with_input_map
        return with_input_map(self.table(drive), float(kick), self.tol)

    def check_drive(self, drive):
        drive = validate.real("drive", drive, -math.inf, math.inf)
        self.table(drive)        # raises if the neuron never fires or tol cannot be met
        return drive

    def _distinct(self, drive, fn):
        drive = np.asarray(drive, float)
        if drive.ndim == 0:
            return fn(float(drive))
        values, where = np.unique(drive, return_inverse=True)
        return np.array([fn(float(v)) for v in values])[where].reshape(drive.shape)

    def omega(self, drive):
        return self._distinct(drive, lambda d: 1.0 / self.table(d).s_r)

    def check_drives(self, drive):
        values = np.unique(drive)
        if values.shape[0] > config.MAX_DRIVES:
            raise ValueError(f"drive: table models (EIF, TableModel) take at most {config.MAX_DRIVES} "
                             f"distinct per-neuron drive values, one table each; got "
                             f"{values.shape[0]} (quantise the drive, e.g. np.round(drive, 2), "
                             "or use LIF or QIF, whose drive may differ for every neuron)")
        for value in values:
            self.check_drive(float(value))

    def tables(self, drive, kick=None):
        """The engine's tables of a network: ``(tab, base)``.

        ``tab`` holds the table (``table_array``) of each distinct value of ``drive``,
        one after another; ``base`` is where each neuron's starts (an int64 array the
        shape of ``drive``, or 0 for one drive).
        """
        values, where = np.unique(np.asarray(drive, float), return_inverse=True)
        tab, starts = self._table_set(tuple(values.tolist()), None if kick is None else float(kick))
        base = starts[where].reshape(np.shape(drive)) if np.ndim(drive) else 0
        return tab, base

    @functools.lru_cache(maxsize=256)
    def _table_set(self, values, kick):
        """The tables of the drives ``values`` one after another, and where each starts:
        cached, so that networks with the same drives and J share one array (a batch
        stores each distinct array once)."""
        self.check_drives(np.array(values))
        parts = [self.table_array(v, kick) for v in values]
        starts = np.cumsum([0] + [t.shape[0] for t in parts[:-1]]).astype(np.int64)
        return np.concatenate(parts), starts

    def neuron_params(self, drive, coupling, tau):
        table = super().neuron_params(drive, coupling, tau)
        table[:, km.N_LOOKUP_BASE] = self.tables(drive, coupling)[1]
        return table

    def _kick(self, drive, coupling):
        return coupling + 0.0 * np.asarray(drive, float)

    def _per_drive(self, drive, values, fn):
        """``fn(table data, values)`` for the values of each distinct drive.

        ``drive`` is a number or an array broadcastable to ``values``' shape.
        """
        values = np.asarray(values, float)
        drive = np.broadcast_to(np.asarray(drive, float), values.shape)
        out = np.empty(values.shape)
        for d in np.unique(drive):
            mask = drive == d
            out[mask] = fn(self.table(float(d)), values[mask])
        return out

    def ptc(self, phi, drive, coupling):
        """Phase after an input of strength ``coupling`` at phase ``phi`` (vectorised).

        With one ``coupling`` (the network's J) this reads the engine's table, input map
        included: the engine's phase transitions.
        """
        from .lookup import remaining_after_input

        def one(data, phi):
            tab = (self.table_array(data.quad.drive, kick=coupling) if np.ndim(coupling) == 0
                   else data.array)
            return 1.0 - remaining_after_input(tab, 1.0 - phi, coupling)
        return self._per_drive(drive, phi, one)

    def phase_to_voltage(self, phi, drive):
        """Membrane potential at phase ``phi``."""
        from .lookup import voltage_at
        return self._per_drive(drive, phi,
                               lambda data, phi: voltage_at(data.array, data.s_r * (1.0 - phi)))

    def voltage_to_phase(self, v, drive):
        """Phase of membrane potential ``v``."""
        from .lookup import time_to_spike
        return self._per_drive(drive, v,
                               lambda data, v: 1.0 - time_to_spike(data.array, v) / data.s_r)


def _eif_rhs(delta_t, v_t):
    def rhs(v):
        return -v + delta_t * np.exp(np.minimum((v - v_t) / delta_t, 700.0))
    return rhs


@functools.lru_cache(maxsize=None)
def _eif_rhs_cached(delta_t, v_t):
    return _eif_rhs(delta_t, v_t)


class EIF(TableModel):
    """Exponential integrate-and-fire: tau dV/dt = -V + delta_t exp((V - v_t) / delta_t) + I.

    Spike at ``v_spike``, reset to ``v_reset``; from tables (see ``TableModel``),
    with the exact leak tail below the table (any inhibitory input is handled) and
    the time above v_t + 40 delta_t (at most ~4e-18 tau) integrated once.
    """

    name = "eif"

    def __init__(self, tau=0.01, delta_t=0.1, v_t=0.0, v_reset=-1.0, v_spike=1000.0, *,
                 tol=1e-9, cells=None, input_map=True):
        self.delta_t = validate.real("delta_t", delta_t, 0.0, math.inf, low_open=True)
        self.v_t = validate.real("v_t", v_t, -math.inf, math.inf)
        v_reset = validate.real("v_reset", v_reset, -math.inf, math.inf)
        v_spike = validate.real("v_spike", v_spike, -math.inf, math.inf)
        v_min = min(self.v_t - 40.0 * self.delta_t - 2.0, v_reset - 1.0)
        v_top = min(self.v_t + 40.0 * self.delta_t, v_spike)
        if not v_reset < v_spike:
            raise ValueError(f"v_reset must be below v_spike; got v_reset = {v_reset:g}, "
                             f"v_spike = {v_spike:g}")
        super().__init__(_eif_rhs_cached(self.delta_t, self.v_t), v_reset, v_spike, tau,
                         v_min=v_min, tail="leak", tol=tol, cells=cells,
                         v_top=v_top if v_top > v_reset else None, input_map=input_map)

    def params(self):
        return {"delta_t": self.delta_t, "v_t": self.v_t, "v_reset": self.v_reset,
                "v_spike": self.v_spike, "tol": self.tol, "input_map": self.input_map}

    def __repr__(self):
        return (f"EIF(tau={self.tau!r}, delta_t={self.delta_t!r}, v_t={self.v_t!r}, "
                f"v_reset={self.v_reset!r}, v_spike={self.v_spike!r}, tol={self.tol!r})")


MODELS = {"lif": LIF, "qif": QIF, "eif": EIF}      # by name: CLI, sweep specifications, records
