"""Network: N identical neurons, fixed out-degree K, one coupling, a refractory period, seeds."""
import math

import numpy as np

from .. import config, validate
from ..compiled import target_table
from ..options import CONNECTIVITY
from . import memory
from .models import MODELS, NeuronModel, check_refractory

SEED_MAX = 2**63 - 1


def random_phases(model, n, ic_seed):
    """Initial phases drawn uniformly on [reset, threshold) from ``ic_seed``."""
    rng = np.random.default_rng([ic_seed, 0x1C])
    return rng.uniform(model.phase_reset, model.phase_threshold, n)


def check_phases(model, name, phases, shape):
    """``phases`` as a float64 array of ``shape``, checked finite and below threshold (above
    reset where the reset is -pi, QIF)."""
    phases = validate.finite_array(name, phases, shape)
    if np.any(phases >= model.phase_threshold):
        raise ValueError(f"{name} must be below the threshold phase "
                         f"{model.phase_threshold:g} (a voltage within rounding of "
                         f"threshold has the threshold's phase); got {np.max(phases)!r}")
    if model.phase_reset < 0 and np.any(phases <= model.phase_reset):
        raise ValueError(f"{name} must be in ({model.phase_reset:g}, "
                         f"{model.phase_threshold:g}); got {np.min(phases)!r}")
    return phases


class Heterogeneous:
    """A per-neuron value: an array of n values, or a function ``f(i, n)`` of the index.

    Parameters
    ----------
    values : array_like (n,) or callable
        The values, or ``f(i, n)`` taking the array of indices ``0..n-1`` and ``n``.
    """

    def __init__(self, values):
        self.values = values

    def resolve(self, name, n):
        """The ``n`` values as a float64 array, checked finite."""
        memory.check(f"n = {n}: the per-neuron {name}", 24 * n,
                     "use fewer neurons, or identical neurons")
        values = self.values(np.arange(n), n) if callable(self.values) else self.values
        try:
            values = np.asarray(values)
        except ValueError:
            raise ValueError(f"{name} must be an array of shape ({n},); got a ragged "
                             "sequence") from None
        if values.shape == ():
            values = np.full(n, values)
        return validate.finite_array(name, values, (n,))

    def __repr__(self):
        return f"heterogeneous({self.values!r})"


def heterogeneous(values):
    """Mark a network parameter (``drive`` or ``tau``) as per-neuron; see ``Heterogeneous``."""
    return Heterogeneous(values)


class Network:
    """A sparse recurrent network of identical neurons.

    Give either the balanced-state parametrisation (``j0`` and ``target_rate``:
    ``I = tau sqrt(K) j0 nu`` (+1 for LIF), ``J = -j0 / sqrt(K)``) or the drive and
    coupling directly (``drive`` and ``coupling``).

    Heterogeneous neurons: ``drive=sp.heterogeneous(...)`` and/or
    ``tau=sp.heterogeneous(...)``. With the balanced parametrisation a per-neuron
    ``drive`` is the external drive ``I_ext`` of each neuron (``I = 1 + I_ext`` for
    LIF), replacing ``tau sqrt(K) j0 nu``; with the direct one it is ``I``. Such a
    network runs on the time key (docs/design.md §2.4); identical neurons keep the
    faster phase or exponential key. ``profiles`` keeps those ``sp.heterogeneous``
    specifications by name, so that an ensemble resolves them for each instance's n.

    Parameters
    ----------
    model : NeuronModel
        ``LIF(tau)``, ``QIF(tau)``, ``EIF(...)`` or ``TableModel(...)``.
    n : int
        Number of neurons, >= 2.
    k : int
        Out-degree: distinct targets per neuron, 1 <= k <= n - 1 (no autapses).
    j0 : float, optional
        Coupling strength of the balanced parametrisation, > 0.
    target_rate : float, optional
        Rate of the balance equation (Hz), > 0.
    drive : float, optional
        External drive ``I`` (model voltage units); must make the neuron fire.
    coupling : float, optional
        Voltage jump ``J`` per input: < 0 inhibitory, > 0 excitatory (an input to or past
        threshold makes the neuron spike at once; docs/design.md §2.13).
    t_ref : float
        Refractory period (s), >= 0: after a spike a neuron ignores inputs for ``t_ref``
        and then restarts from reset.
    seed : int
        Network (connectivity) seed, 0 <= seed < 2**63.
    ic_seed : int, optional
        Initial-condition seed (defaults to ``seed``); phases are uniform on
        [reset, threshold).
    connectivity : {"auto", "stored", "on_the_fly"}
        Keep an (n, k) target table or redraw targets at every spike; both give the
        same network. "auto" stores it for n < 100 000 where it fits in memory; "stored"
        is refused when it does not (``specification.memory``).
    targets : array_like of int, shape (n, k), optional
        A user-supplied target table (then ``seed`` does not set the topology).
    initial_phases, initial_voltages : array_like, shape (n,), optional
        Initial state, at most one of them; phases below threshold, voltages below
        the threshold voltage.
    tau : Heterogeneous, optional
        Per-neuron membrane time constants (s), > 0; default: the model's.
    weights : array_like (n, k), optional
        A coupling per connection, in place of ``coupling`` (with ``drive``): row j holds the
        voltage jumps of j's inputs to ``target_table()[j]``. Stored connectivity, LIF or QIF,
        one drive; ``coupling`` is then the largest weight (it decides whether inputs can
        excite).
    """

    def __init__(self, model, n, k, *, j0=None, target_rate=None, drive=None, coupling=None,
                 seed=0, ic_seed=None, connectivity="auto", targets=None,
                 initial_phases=None, initial_voltages=None, tau=None, t_ref=0.0, weights=None):
        if not isinstance(model, NeuronModel):
            raise ValueError(f"model must be a NeuronModel such as sp.LIF() or sp.QIF(); got {model!r}")
        self.model = model
        self.n = validate.integer("n", n, 2, 2**31 - 1)
        self.k = validate.integer("k", k, 1, self.n - 1)
        self.seed = validate.integer("seed", seed, 0, SEED_MAX)
        self.ic_seed = self.seed if ic_seed is None else validate.integer("ic_seed", ic_seed, 0, SEED_MAX)
        self.weights = None if weights is None else self._check_weights(weights, coupling, j0,
                                                                         connectivity, drive)
        if self.weights is not None:
            coupling = float(self.weights.max())
        self._set_coupling(j0, target_rate, drive, coupling)
        self._set_tau(tau)
        self.t_ref = check_refractory(t_ref, float(np.min(self.tau)))
        span = model.phase_threshold - model.phase_reset
        self._shortest_period = float(np.min(self.tau * span / model.omega(self.drive)))
        validate.choice("connectivity", connectivity, CONNECTIVITY)
        if targets is not None:
            if connectivity == "on_the_fly":
                raise ValueError("connectivity must be 'stored' or 'auto' when a targets table is given")
            self.targets = self._check_targets(targets)
            self.connectivity = "stored"
        else:
            self.targets = None
            table = memory.target_table_bytes(self.n, self.k)
            if connectivity == "auto" and self.weights is not None:
                connectivity = "stored"         # a weight per stored connection
            if connectivity == "auto":
                connectivity = ("stored" if self.n < config.STORED_BELOW and memory.fits(table)
                                else "on_the_fly")
            elif connectivity == "stored":
                memory.check(f"connectivity = 'stored': the (n, k) = ({self.n}, {self.k}) "
                             "target table", table, "connectivity='on_the_fly' draws the same "
                             "targets at every spike in O(n) memory")
            self.connectivity = connectivity
        self._phases = self._initial_phases(initial_phases, initial_voltages)
        self._table = None

    @property
    def initial_phases(self):
        """Initial phases, (n,): given, or drawn from ``ic_seed`` when first asked for."""
        if self._phases is None:
            self._phases = random_phases(self.model, self.n, self.ic_seed)
        return self._phases

    def _set_coupling(self, j0, target_rate, drive, coupling):
        balanced = j0 is not None or target_rate is not None
        per_neuron = isinstance(drive, Heterogeneous)
        self.profiles = {"drive": drive} if per_neuron else {}
        direct = (drive is not None and not (balanced and per_neuron)) or coupling is not None
        if balanced == direct or (balanced and (j0 is None or target_rate is None)) or (
                direct and (drive is None or coupling is None)):
            raise ValueError("give either j0 and target_rate (balanced state) "
                             "or drive and coupling (direct), not a mix")
        if balanced:
            self.j0 = validate.real("j0", j0, 0.0, math.inf, low_open=True)
            self.target_rate = validate.real("target_rate (Hz)", target_rate, 0.0, math.inf,
                                             low_open=True)
            self.drive = self._balanced_drive(drive if per_neuron else None)
            self.coupling = -self.j0 / math.sqrt(self.k)
            return
        self.j0 = self.target_rate = None
        self.coupling = validate.real("coupling", coupling)
        if per_neuron:
            drive = drive.resolve("drive", self.n)
            self.model.check_drives(drive)
            self.drive = drive
        else:
            self.drive = self.model.check_drive(drive)

    def _balanced_drive(self, profile):
        """The drive of the balanced parametrisation, checked; an error names the parameters
        the user gave (``profile``: a per-neuron I_ext, or None for tau sqrt(K) j0 nu)."""
        model = self.model
        if profile is not None:
            try:
                drive = model.external_to_drive(profile.resolve("drive", self.n))
                model.check_drives(drive)
                return drive
            except ValueError as exc:
                raise ValueError(f"drive (the per-neuron external drive I_ext of the balanced "
                                 f"state): {exc}") from None
        external = model.tau * math.sqrt(self.k) * self.j0 * self.target_rate
        try:
            return model.check_drive(model.balanced_drive(self.k, self.j0, self.target_rate))
        except ValueError as exc:
            raise ValueError(
                f"the balanced drive from tau = {model.tau:g} s, j0 = {self.j0:g}, target_rate "
                f"= {self.target_rate:g} Hz and k = {self.k} (I_ext = tau sqrt(k) j0 "
                f"target_rate = {external:.6g}) cannot be used by the {model.name} model "
                f"[{exc}]: change tau, j0 or target_rate, or give drive and coupling "
                "directly") from None

    def _set_tau(self, tau):
        if tau is None:
            self.tau = self.model.tau
            return
        if not isinstance(tau, Heterogeneous):
            raise ValueError("tau must be sp.heterogeneous(...) (a scalar tau belongs to the model)")
        self.profiles["tau"] = tau
        values = tau.resolve("tau", self.n)
        if np.any(values <= 0):
            raise ValueError(f"tau must be > 0 (s) for every neuron; neuron "
                             f"{int(np.argmax(values <= 0))} has {values[values <= 0][0]:g}")
        self.tau = values

    @property
    def heterogeneous(self):
        """True when drive or tau differ per neuron (the time key runs it)."""
        return isinstance(self.drive, np.ndarray) or isinstance(self.tau, np.ndarray)

    def shortest_period(self):
        """The shortest free period of any neuron (s): inhibition only lengthens an interval.
        Found when the network is made, so that reading it touches no lookup table."""
        return self._shortest_period

    def neuron_params(self):
        """Per-neuron constants for the time key, shape (n, kernels.models.N_NEURON)."""
        drive = np.broadcast_to(self.drive, (self.n,)).astype(float)
        tau = np.broadcast_to(self.tau, (self.n,)).astype(float)
        return self.model.neuron_params(drive, self.coupling, tau)

    def _check_weights(self, weights, coupling, j0, connectivity, drive):
        if coupling is not None or j0 is not None:
            raise ValueError("weights replace coupling (and j0, target_rate): give drive and "
                             "weights")
        if connectivity == "on_the_fly":
            raise ValueError("weights need connectivity 'stored' or 'auto' (a weight per "
                             "stored connection)")
        if self.model.name not in ("lif", "qif"):
            raise ValueError(f"weights: per-connection weights are built for LIF and QIF "
                             f"(closed-form phase transition curves); got {self.model.name}")
        if isinstance(drive, Heterogeneous):
            raise ValueError("weights: one drive for every neuron (per-neuron drives and "
                             "per-connection weights together are not built)")
        return validate.finite_array(f"weights (one per connection, (n, k) = ({self.n}, "
                                     f"{self.k}))", weights, (self.n, self.k))

    def kicks(self):
        """A weighted network's kick per connection (``kernels.models.P_KICK``'s terms: J / I
        for LIF, J / sqrt(I) for QIF), (n, k) float64; None without weights."""
        if self.weights is None:
            return None
        return np.ascontiguousarray(self.model._kick(self.drive, self.weights), np.float64)

    def _check_targets(self, targets):
        expected = f"an (n, k) = ({self.n}, {self.k}) table of neuron indices"
        try:
            table = np.asarray(targets)
        except ValueError:
            raise ValueError(f"targets must be {expected}; got rows of different lengths "
                             "(a ragged list)") from None
        if table.dtype == object:
            raise ValueError(f"targets must be {expected}; got rows of different lengths "
                             "or entries that are not integers")
        if table.shape != (self.n, self.k):
            raise ValueError(f"targets must have shape (n, k) = ({self.n}, {self.k}); got {table.shape}")
        if table.dtype.kind not in "iu":
            raise ValueError(f"targets must hold integers; got dtype {table.dtype}")
        if table.min() < 0 or table.max() >= self.n:
            raise ValueError(f"targets must be neuron indices in [0, {self.n - 1}]")
        if np.any(table == np.arange(self.n)[:, None]):
            raise ValueError("targets must not contain self-connections (row j holding j)")
        ordered = np.sort(table, axis=1)
        if np.any(ordered[:, 1:] == ordered[:, :-1]):
            raise ValueError("targets must be distinct within each row")
        return np.ascontiguousarray(table, dtype=np.int32)

    def _initial_phases(self, phases, voltages):
        model = self.model
        if phases is not None and voltages is not None:
            raise ValueError("give initial_phases or initial_voltages, not both")
        if voltages is not None:
            v = validate.finite_array("initial_voltages", voltages, (self.n,))
            v_th = model.phase_to_voltage(model.phase_threshold, self.drive)
            if np.any(v >= v_th):
                raise ValueError(f"initial_voltages must be below the threshold voltage "
                                 f"{np.min(v_th):g}")
            phases = model.voltage_to_phase(v, self.drive)
            name = "initial_voltages (as phases)"
        elif phases is None:
            return None
        else:
            name = "initial_phases"
        return check_phases(model, name, phases, (self.n,))

    def target_table(self):
        """The (n, k) int32 target table: the stored one or one drawn from ``seed``."""
        if self.targets is not None:
            return self.targets
        if self._table is not None:
            return self._table
        table = target_table(self.seed, self.n, self.k)
        if self.connectivity == "stored":
            self._table = table
        return table

    def describe(self):
        """Plain-data description for records and stores."""
        def plain(value):
            if isinstance(value, np.ndarray):
                return {"per_neuron": True, "min": float(value.min()), "max": float(value.max()),
                        "mean": float(value.mean())}
            return value
        return {"model": self.model.name, "model_params": self.model.params(),
                "tau": plain(self.tau), "n": self.n, "k": self.k,
                "j0": self.j0, "target_rate": self.target_rate, "drive": plain(self.drive),
                "coupling": self.coupling, "seed": self.seed, "ic_seed": self.ic_seed,
                "connectivity": self.connectivity, **({"t_ref": self.t_ref} if self.t_ref else {}),
                **({"weights": self._describe_weights()} if self.weights is not None else {})}

    def _describe_weights(self):
        """The weights as a description holds them: summary and SHA-256 of their bytes."""
        import hashlib
        w = self.weights
        return {"min": float(w.min()), "max": float(w.max()), "mean": float(w.mean()),
                "sha256": hashlib.sha256(np.ascontiguousarray(w, np.float64).tobytes()).hexdigest()}

    @classmethod
    def from_description(cls, meta):
        """The Network that ``describe()`` described (identical neurons; rebuilt from its
        seeds). Raises ValueError for an unknown model or per-neuron parameters."""
        name, tau = meta.get("model"), meta.get("tau")
        if name not in MODELS or not isinstance(tau, (int, float)) or \
                isinstance(meta.get("drive"), dict) or "weights" in meta:
            raise ValueError("cannot rebuild this network from its description (unknown model, "
                             "per-neuron parameters or per-connection weights): pass network=")
        model = MODELS[name](tau=tau, **meta.get("model_params", {}))
        return cls(model=model, n=meta["n"], k=meta["k"], drive=meta["drive"],
                   coupling=meta["coupling"], seed=meta["seed"], ic_seed=meta["ic_seed"],
                   t_ref=meta.get("t_ref", 0.0))

    def __repr__(self):
        drive = (f"drive=[{self.drive.min():.6g}..{self.drive.max():.6g}]" if
                 isinstance(self.drive, np.ndarray) else f"drive={self.drive:.6g}")
        tau = (f", tau=[{self.tau.min():.6g}..{self.tau.max():.6g}]"
               if isinstance(self.tau, np.ndarray) else "")
        return (f"Network({self.model!r}, n={self.n}, k={self.k}, {drive}{tau}, "
                f"coupling={self.coupling:.6g}, "
                + (f"t_ref={self.t_ref:.6g}, " if self.t_ref else "")
                + f"seed={self.seed}, connectivity={self.connectivity!r})")
