"""InstanceTable: the per-instance parameters of M network instances, one column each.

The only road from a specification to the engine: ``simulate`` is a table of one instance,
an ``Ensemble`` and a sweep batch are tables of many, and analysis rebuilds an instance's
network from the same table. Columns are validated once, vectorised: the range of every
column for all instances at once, and the model's own checks (does the neuron fire, can its
lookup table be built) once per distinct parameter row, not per instance. A ``Network`` is
built only when a caller asks for one (``network(i)``).
"""
import numbers

import numpy as np

from .. import config, validate
from ..kernels import models as km
from . import memory
from .inputs import Stimulus
from .network import SEED_MAX, Network, check_phases, random_phases
from .populations import PopulationNetwork, rebuild

COLUMNS = ("n", "k", "seed", "ic_seed", "tau", "j0", "target_rate", "drive", "coupling", "t_ref")
"""Every per-instance parameter, in the order results and stores list them."""
SEEDS = ("seed", "ic_seed")
BALANCED = ("j0", "target_rate")
DIRECT = ("drive", "coupling")
INTEGER_RANGES = {"n": (2, 2**31 - 1), "k": (1, 2**31 - 1), "seed": (0, SEED_MAX),
                  "ic_seed": (0, SEED_MAX)}


class InstanceError(ValueError):
    """A per-instance parameter is out of range: ``instance``, ``name`` and ``reason``."""

    def __init__(self, instance, name, reason):
        super().__init__(f"instance {instance}: {reason}")
        self.instance, self.name, self.reason = instance, name, reason

    @classmethod
    def naming(cls, instance, exc, names=COLUMNS):
        """The InstanceError of ``exc``, a scalar check's ValueError for ``instance``: its
        parameter is the one of ``names`` its message starts with (None if none)."""
        reason = str(exc)
        name = next((n for n in sorted(names, key=len, reverse=True) if reason.startswith(n)),
                    None)
        return cls(instance, name, reason)


class InstanceTable:
    """M instances of one network specification, with per-instance parameters.

    Parameters
    ----------
    network : Network
        What every instance shares: the model (family and parameters besides tau), the
        connectivity mode, per-neuron profiles (``sp.heterogeneous``), a user-supplied
        targets table, and the initial phases of instances with its ``n`` and ``ic_seed``.
        Its own values fill the columns not given.
    phases : array_like (M, n), optional
        Every instance's initial phases (then ``n`` and ``ic_seed`` do not vary).
    **columns : scalar or sequence
        Any of ``COLUMNS`` (``j0``/``target_rate`` for a balanced network, ``drive``/
        ``coupling`` for a direct one); sequences must share one length M.

    Raises ``InstanceError`` (a ValueError) naming the first bad instance and parameter.
    """

    def __init__(self, network, phases=None, **columns):
        if not isinstance(network, Network):
            raise ValueError(f"network must be a sp.Network; got {network!r}")
        self.base = network
        self.balanced = network.j0 is not None
        self._check_names(columns)
        self.size = _common_length(columns)
        self.phases = None if phases is None else self._check_phases(phases, columns)
        memory.check_instances(self.size, "per-instance parameters")
        self.columns = self._fill(columns)
        self._check_ranges()
        self._rows, self.row = _distinct_rows(self.columns, self._row_names())
        self._networks = [self._row_network(i) for i in self._rows]
        self._derive()
        self.shared_table = self._shares_table()
        self.blocked = False

    # ------------------------------------------------------------------ construction
    def _check_names(self, columns):
        for name in columns:
            if name not in COLUMNS:
                raise ValueError(f"unknown per-instance parameter {name!r}; allowed: "
                                 f"{', '.join(COLUMNS)}")
        for name in self.base.profiles:
            if name in columns:
                raise ValueError(f"{name} is per neuron in this network (sp.heterogeneous), so "
                                 "it cannot also be given per instance")
        wrong = DIRECT if self.balanced else BALANCED
        for name in wrong:
            if name in columns:
                other = "j0/target_rate" if self.balanced else "drive/coupling"
                raise ValueError(f"{name} given per instance, but the network uses {other}")
        if self.base.weights is not None:
            varied = [name for name in ("n", "k", "seed", "drive", "coupling") if name in columns]
            if varied:
                raise ValueError(f"{varied[0]} cannot vary per instance in a network with "
                                 "per-connection weights (they belong to its one stored table)")
        if self.base.targets is not None and ("n" in columns or "k" in columns):
            if not all(np.all(np.asarray(columns.get(name, base)) == base)
                       for name, base in (("n", self.base.n), ("k", self.base.k))):
                raise ValueError("n and k cannot vary per instance when the network has a "
                                 "user-supplied targets table")

    def _check_phases(self, phases, columns):
        """The (M, n) initial phases of every instance (M from them where no column says)."""
        for name in ("n", "ic_seed"):
            if name in columns:
                raise ValueError(f"{name} cannot vary per instance when initial_phases are "
                                 "given (every instance has the network's n)")
        rows = np.shape(phases)[0] if np.ndim(phases) == 2 else self.size
        self.size = rows if self.size == 1 else self.size       # columns of one value broadcast
        return check_phases(self.base.model, f"initial_phases (one row of the network's n = "
                            f"{self.base.n} phases per instance)", phases,
                            (self.size, self.base.n))

    def _fill(self, columns):
        base = self.base
        own = {"n": base.n, "k": base.k, "seed": base.seed, "ic_seed": base.ic_seed,
               "tau": base.model.tau, "t_ref": base.t_ref}
        own.update({"j0": base.j0, "target_rate": base.target_rate} if self.balanced else
                   {"drive": base.drive, "coupling": base.coupling})
        if "seed" in columns and "ic_seed" not in columns:
            columns = {**columns, "ic_seed": columns["seed"]}
        out = {}
        for name, value in own.items():
            if name in base.profiles:
                continue
            out[name] = np.array(np.broadcast_to(columns.get(name, value), (self.size,)))
        return out

    def _check_ranges(self):
        for name, (low, high) in INTEGER_RANGES.items():
            _check_column(name, self.columns[name],
                          lambda value, name=name: validate.integer(name, value, low, high))
        n, k = self.columns["n"], self.columns["k"]
        for i in np.flatnonzero(k > n - 1)[:1]:
            try:
                validate.integer("k", int(k[i]), 1, int(n[i]) - 1)
            except ValueError as exc:
                raise InstanceError(int(i), "k", str(exc)) from None

    def _row_names(self):
        return [name for name in self.columns if name not in SEEDS]

    def _row_network(self, i):
        """The network of instance ``i`` with the base's seeds: its row's model checks."""
        try:
            return self._network(i, seed=self.base.seed, ic_seed=self.base.ic_seed)
        except ValueError as exc:
            raise InstanceError.naming(i, exc) from None

    def _network(self, i, seed, ic_seed, **extra):
        value = {name: self.columns[name][i].item() for name in self.columns}
        base = self.base
        kw = dict(n=value["n"], k=value["k"], seed=seed, ic_seed=ic_seed, t_ref=value["t_ref"],
                  **extra)
        if self.balanced:
            kw.update(j0=value["j0"], target_rate=value["target_rate"])
            if "drive" in base.profiles:
                kw["drive"] = base.profiles["drive"]
        else:
            kw.update(drive=base.profiles.get("drive", value.get("drive")),
                      coupling=value["coupling"])
        model = base.model.with_tau(value["tau"]) if "tau" in value else base.model
        return Network(model=model, connectivity="on_the_fly", tau=base.profiles.get("tau"),
                       **kw)

    def _derive(self):
        """Drive and coupling of every instance, from its row's network (balanced state)."""
        if self.balanced:
            row_nets = self._networks
            if "drive" not in self.base.profiles:
                self.columns["drive"] = np.array([row_nets[r].drive for r in self.row])
            self.columns["coupling"] = np.array([row_nets[r].coupling for r in self.row])

    def _shares_table(self):
        if self.base.targets is not None:
            return True
        same = all(np.all(self.columns[name] == getattr(self.base, name))
                   for name in ("n", "k", "seed"))
        return self.base.connectivity == "stored" and same

    # ------------------------------------------------------------------ access
    def __len__(self):
        return self.size

    @classmethod
    def of(cls, network):
        """The table of one instance: ``network`` itself."""
        return cls(network)

    def parameters(self, members=None):
        """Per-instance parameters (n, k, seed, ic_seed, tau, drive, coupling, and j0,
        target_rate for a balanced network; a per-neuron one left out; t_ref where some
        instance has one, so that results without refractoriness are as before) as arrays."""
        pick = slice(None) if members is None else np.asarray(members)
        shown = [name for name in COLUMNS if name in self.columns]
        if not np.any(self.columns["t_ref"] > 0.0):
            shown.remove("t_ref")
        return {name: self.columns[name][pick] for name in shown}

    def network(self, i):
        """The Network of instance ``i`` (its own seeds; the shared table where it has one)."""
        same_start = (self.columns["n"][i] == self.base.n
                      and self.columns["ic_seed"][i] == self.base.ic_seed)
        extra = {"initial_phases": self.initial_phases(i)} if same_start else {}
        try:
            net = self._network(i, int(self.columns["seed"][i]),
                                int(self.columns["ic_seed"][i]), **extra)
        except ValueError as exc:
            raise InstanceError(i, None, str(exc)) from None
        if self.shared_table:
            net.targets, net.connectivity = self.base.target_table(), "stored"
        net.weights = self.base.weights
        return net

    def shortest_period(self):
        """The shortest free period of any neuron of any instance (s)."""
        return min(net.shortest_period() for net in self._networks)

    def initial_phases(self, i):
        """Initial phases of instance ``i``: its row of the given ones, or the base network's
        where it has its n and ic_seed, else drawn from its own ic_seed."""
        if self.phases is not None:
            return self.phases[i]
        n, ic_seed = int(self.columns["n"][i]), int(self.columns["ic_seed"][i])
        if n == self.base.n and ic_seed == self.base.ic_seed:
            return self.base.initial_phases
        return random_phases(self.base.model, n, ic_seed)

    def target_table(self):
        """The stored (n, k) target table every instance shares, or None (on the fly)."""
        return self.base.target_table() if self.shared_table else None

    def engine_inputs(self, members, key_kind, rebase=True):
        """The arguments of ``engine.Batch`` for the instances ``members`` on ``key_kind``:
        model_id, key_kind, pars, phases, ks, seeds, target_table, neurons, lookups."""
        model = self.base.model
        per_row = {}
        for r in np.unique(self.row[members]):
            per_row[r] = row_constants(self._networks[r], key_kind, rebase)
        rows = [per_row[r] for r in self.row[members]]
        neurons = None if rows[0][1] is None else [neuron for _, neuron, _ in rows]
        lookups = None if model.kernel_id != km.TABLE else [lookup for _, _, lookup in rows]
        return dict(model_id=model.kernel_id, key_kind=key_kind,
                    pars=np.stack([par for par, _, _ in rows]),
                    phases=[self.initial_phases(i) for i in members],
                    ks=self.columns["k"][members], seeds=self.columns["seed"][members],
                    target_table=self.target_table(), neurons=neurons, lookups=lookups,
                    kicks=self.base.kicks())

    def __repr__(self):
        return f"InstanceTable({self.size} instances of {self.base!r})"


class PopulationTable:
    """M instances of a network of populations: per-instance seeds, and where the network came
    from a parametrisation (``brunel``, ``balanced``) any of its parameters (g, eta, j, delay,
    t_ref, n_e, ...), each distinct row built and checked once.

    Parameters
    ----------
    network : PopulationNetwork
    stimuli : sequence of Stimulus or None, optional
        Each instance's stimulus (None: the network's).
    **columns : scalar or sequence
        ``seed``, ``ic_seed``, ``noise_seed`` and the parametrisation's parameters.
    """

    def __init__(self, network, stimuli=None, **columns):
        self.base = network
        external = bool(network.poisson) or network.stimulus is not None or stimuli is not None
        self.seeds = SEEDS + (("noise_seed",) if external else ())
        allowed = self.seeds + tuple(k for k in (network.parametrisation or {}) if k != "name")
        for name in columns:
            if name not in allowed:
                raise ValueError(f"unknown per-instance parameter {name!r} for this network of "
                                 f"populations; allowed: {', '.join(allowed)}" + (
                                     "" if network.parametrisation else " (a network from "
                                     "sp.brunel or sp.balanced also takes its parameters)"))
        self.size = _common_length({**columns, **({} if stimuli is None else
                                                  {"stimuli": list(stimuli)})})
        memory.check_instances(self.size, "per-instance parameters")
        self.stimuli = None if stimuli is None else _stimuli(stimuli, network.stimulus)
        for name in self.seeds[1:]:        # the other seeds follow the network seed's
            if "seed" in columns and name not in columns:
                columns = {**columns, name: columns["seed"]}
        own = {"seed": network.seed, "ic_seed": network.ic_seed,
               "noise_seed": network.noise_seed}
        self.swept = [name for name in columns if name not in self.seeds]
        self.columns = {name: np.array(np.broadcast_to(columns.get(name, own.get(name)),
                                                       (self.size,)))
                        for name in list(self.seeds) + self.swept}
        for name in self.seeds:
            _check_column(name, self.columns[name],
                          lambda value, name=name: validate.integer(name, value, 0, SEED_MAX))
        self._rows, self.row = (_distinct_rows(self.columns, self.swept) if self.swept else
                                (np.zeros(1, np.int64), np.zeros(self.size, np.int64)))
        self._networks = []
        for i in self._rows:
            try:
                self._networks.append(self._network(i, network.seed, network.ic_seed,
                                                    network.noise_seed))
            except ValueError as exc:
                raise InstanceError.naming(i, exc, self.swept) from None
        self.columns["n"] = np.array([self._networks[r].n for r in self.row], np.int64)
        for i, stimulus in enumerate(self.stimuli or ()):
            try:
                stimulus is None or stimulus.check(int(self.columns["n"][i]))
            except ValueError as exc:
                raise InstanceError.naming(i, exc, self.swept) from None
        self.columns["k"] = np.array([self._networks[r].k for r in self.row], np.int64)
        self.shared_table = False
        self.blocked = True

    def _network(self, i, seed, ic_seed, noise_seed, stimulus=None):
        base = self.base
        if not self.swept and stimulus is None and \
                (seed, ic_seed, noise_seed) == (base.seed, base.ic_seed, base.noise_seed):
            return base
        params = {name: self.columns[name][i].item() for name in self.swept}
        return rebuild(base, params, seed, ic_seed, noise_seed, stimulus)

    def __len__(self):
        return self.size

    def network(self, i):
        """The PopulationNetwork of instance ``i``."""
        noise = self.columns["noise_seed"][i] if "noise_seed" in self.columns else \
            self.base.noise_seed
        return self._network(i, int(self.columns["seed"][i]), int(self.columns["ic_seed"][i]),
                             int(noise), self.stimuli[i] if self.stimuli else None)

    def parameters(self, members=None):
        """Per-instance parameters (n, seed, ic_seed, the swept ones) as arrays."""
        pick = slice(None) if members is None else np.asarray(members)
        return {name: self.columns[name][pick]
                for name in ("n",) + self.seeds + tuple(self.swept)}

    def shortest_period(self):
        """The shortest free period of any neuron of any instance (s)."""
        return min(net.shortest_period() for net in self._networks)

    def population_starts(self):
        """(names, starts (M, P + 1)): the populations and each instance's first neuron of
        each (they do not depend on the seeds)."""
        starts = np.stack([net.pop_start for net in self._networks])[self.row]
        return self.base.names, starts

    def fifo_total(self):
        """The most FIFO slots any instance needs (they do not depend on the seeds)."""
        return max(net.fifo_total() for net in self._networks)

    def stimulus_total(self):
        """The most stimulus events any instance has, plus one (the engine's end marker)."""
        given = self.stimuli or [self.base.stimulus]
        return max(len(s) if s is not None else 0 for s in given) + 1

    def engine_inputs(self, members, key_kind, rebase=True):
        """The arguments of ``engine.Batch`` for the instances ``members``."""
        nets = [self.network(int(i)) for i in members]
        inputs = [net.engine_inputs(key_kind, rebase) for net in nets]
        return dict(model_id=self.base.model.kernel_id, key_kind=key_kind,
                    pars=np.stack([par for par, _ in inputs]),
                    phases=[net.initial_phases for net in nets], ks=[1] * len(nets),
                    seeds=self.columns["seed"][members], blocks=[b for _, b in inputs])

    def __repr__(self):
        return f"PopulationTable({self.size} instances of {self.base!r})"


def _stimuli(stimuli, default):
    """Per-instance stimuli, checked: each a Stimulus, or None for ``default``."""
    out = []
    for i, stimulus in enumerate(stimuli):
        if stimulus is not None and not isinstance(stimulus, Stimulus):
            raise ValueError(f"stimuli[{i}] must be a sp.Stimulus or None; got "
                             f"{type(stimulus).__name__}")
        out.append(stimulus if stimulus is not None else default)
    return out


def table_of(network, **columns):
    """The instance table of ``network``: an InstanceTable, or a PopulationTable for a network
    of populations."""
    if isinstance(network, PopulationNetwork):
        return PopulationTable(network, **columns)
    return InstanceTable(network, **columns)


def row_constants(network, key_kind, rebase=True):
    """(par, neuron, lookup) of ``network`` for the engine: the model constants, the
    per-neuron constants of the time keys (None else; identical neurons on the time key get
    one row each, all equal) and a TABLE model's lookup table."""
    model = network.model
    lookup = model.tables(network.drive, network.coupling)[0] if model.kernel_id == km.TABLE \
        else None
    key = {km.KEY_EXP: "exp", km.KEY_EXP_TIME: "exp", km.KEY_PHASE: "phase",
           km.KEY_TIME: "time"}[key_kind]
    if not network.heterogeneous and key_kind != km.KEY_TIME:
        return model.kernel_params(network.drive, network.coupling, key=key, rebase=rebase,
                                   t_ref=network.t_ref), None, lookup
    if key_kind == km.KEY_EXP_TIME:
        par = model.kernel_params(float(network.drive[0]), network.coupling, key=key,
                                  rebase=rebase, t_ref=network.t_ref)
        return par, model.exp_neuron_params(network.drive, network.coupling), lookup
    neuron = network.neuron_params()
    span = model.phase_threshold - model.phase_reset
    rebase_at = config.REBASE_PERIODS * span * float(neuron[:, km.N_TPP].max())
    par = model.kernel_params(float(np.broadcast_to(network.drive, (network.n,))[0]),
                              network.coupling, key=key, rebase=rebase, rebase_at=rebase_at,
                              t_ref=network.t_ref)
    return par, neuron, lookup


def _common_length(columns):
    lengths = {name: len(value) for name, value in columns.items()
               if not isinstance(value, (numbers.Number, np.number))}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name}: {length}" for name, length in lengths.items())
        raise ValueError(f"per-instance parameters must all have the same length; got {listed}")
    size = next(iter(lengths.values()), 1)
    if size < 1:
        raise ValueError("an ensemble needs at least one instance; got empty parameter lists")
    return size


def _check_column(name, values, check):
    """Run the scalar ``check`` on the first value of the column that a vectorised test
    finds suspect (not integral, out of range); raise InstanceError naming its instance."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        try:
            check(int(values.min()))
            check(int(values.max()))
            return
        except ValueError:
            pass
    for i, value in enumerate(values.tolist()):
        try:
            check(value)
        except ValueError as exc:
            raise InstanceError(i, name, str(exc)) from None


def _distinct_rows(columns, names):
    """(first instance of each distinct row of ``columns[names]``, row index per instance)."""
    stacked = np.rec.fromarrays([columns[name] for name in names], names=names)
    _, first, inverse = np.unique(stacked, return_index=True, return_inverse=True)
    order = np.argsort(first)             # rows in the order their first instance comes
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return first[order], rank[inverse.ravel()]
