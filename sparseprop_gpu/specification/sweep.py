"""Sweep specifications (TOML or ``sp.Sweep(...)``): validated, expanded, cut into batches.

A specification has three sections::

    [network]                      # the fixed parameters of every instance
    model = "lif"
    n = 2000
    k = 50
    tau = 0.01
    [sweep]                        # the swept parameters: a grid over them, first key slowest
    j0 = [0.5, 1.0, 2.0]
    target_rate = {linspace = [0.5, 4.0, 8]}
    seed = {range = 16}
    [run]                          # how each instance runs and what is kept
    t_end = 5.0
    warmup = 1.0
    record = "summary"
    backend = "auto"
    batch_size = 64

Everything is checked before anything runs: unknown keys, wrong types, empty ranges, and the
parameters of every instance (one ``InstanceTable`` of them all, validated once: a bad value
is refused by the same checks as ``sp.Network``); the message names the key. The same specification always gives the
same instances in the same order, and batch ``b`` holds instances
``b * batch_size .. (b + 1) * batch_size - 1``. A result depends only on its instance, never on
the batch it ran in, so the batch size and the number of workers change no value.
"""
import functools
import json
import math
import os

import numpy as np

from . import memory
from . import populations
from .inputs import PoissonInput
from .instances import InstanceError, InstanceTable, PopulationTable
from .models import MODELS
from .network import Network
from .settings import check_run
from .sweep_sections import (INTEGER, axis_length, axis_values, kind_of,
                             network_section, run_section, sweep_section, sweepable)

class Sweep:
    """A validated parameter sweep: instances in a fixed order, cut into batches.

    Parameters
    ----------
    network : dict
        Fixed parameters: ``model`` ("lif", "qif" or "eif"), ``model_params`` (the model's
        other parameters, e.g. ``{"delta_t": 0.2}`` for eif), ``tau``, ``n``, ``k``, ``j0`` and
        ``target_rate`` (or ``drive`` and ``coupling``), ``seed``, ``ic_seed``,
        ``connectivity``. Or ``network = "brunel"`` (``"balanced"``) and the parameters of
        ``sp.brunel`` (``sp.balanced``: with ``model``, ``model_params`` and ``tau``), each
        fixed here or swept in ``sweep``.
    sweep : dict, optional
        Swept parameters (any of n, k, tau, j0, target_rate, drive, coupling, seed, ic_seed),
        each a list, a ``range``, a numpy array, ``{"linspace": [a, b, num]}``,
        ``{"geomspace": [a, b, num]}``, ``{"range": stop}`` or
        ``{"range": [start, stop(, step)]}``.
        ``mode="grid"`` (default) runs every combination, the first key varying slowest;
        ``mode="zip"`` pairs lists of equal length.
    run : dict, optional
        ``t_end``, ``n_spikes``, ``warmup``, ``record`` ("summary" or "spikes"),
        ``per_neuron`` (false, true, or a list of count, rate, cv_isi, isi_sum, isi_sumsq),
        ``backend``, ``batch_size`` (default 64), ``buffer_spikes``, ``key``, ``state``
        (true: the store keeps each instance's final state, and the per-neuron count and ISI
        sums, so that its runs can be continued).

    Use ``Sweep.load("spec.toml")`` for a TOML file. Raises ``ValueError`` naming the key
    (``"sweep.j0"``, ``"run.t_end"``, ...) for anything it cannot run.
    """

    def __init__(self, network, sweep=None, run=None):
        raw = {"network": network, "sweep": {} if sweep is None else sweep,
               "run": {} if run is None else run}
        for section, value in raw.items():
            if not isinstance(value, dict):
                raise ValueError(f"[{section}] must be a table (dict); got {type(value).__name__}")
        net = network_section(raw["network"])
        self.kind = kind_of(net)
        self.spec = {"network": net, "sweep": sweep_section(raw["sweep"], sweepable(net)),
                     "run": run_section(raw["run"])}
        self.model = None if self.kind == "brunel" else \
            MODELS[net["model"]](tau=net["tau"], **net["model_params"])
        if self.kind != "single" and self.spec["run"]["state"]:
            raise ValueError("run.state: a sweep of a network of populations cannot keep its "
                             "final state yet (its spikes in flight): leave state out")
        self.mode = self.spec["sweep"]["mode"]
        values = self.spec["sweep"]["values"]
        lengths = {name: axis_length(name, values[name]) for name in self.spec["sweep"]["order"]}
        if self.mode == "grid":
            self.shape = tuple(lengths.values())
            self.size = math.prod(self.shape)
        else:
            if len(set(lengths.values())) > 1:
                listed = ", ".join(f"sweep.{name}: {size}" for name, size in lengths.items())
                raise ValueError(f"sweep.mode = 'zip' needs lists of one length; got {listed}")
            self.shape = (next(iter(lengths.values()), 1),)
            self.size = self.shape[0]
        memory.check_instances(self.size, "[sweep] (" + " x ".join(
            f"{name}: {size}" for name, size in lengths.items()) + ")")
        self.axes = {name: axis_values(name, values[name]) for name in lengths}
        self.swept = tuple(self.axes)
        self.batch_size = self.spec["run"]["batch_size"]
        self.n_batches = -(-self.size // self.batch_size)
        self.instances = self._instance_table()
        self._check_run()
        self.n_max = int(self.instances.columns["n"].max())

    # ---------------------------------------------------------------- construction
    @classmethod
    def load(cls, path):
        """The sweep of a TOML file with [network], [sweep] and [run] tables."""
        try:
            import tomllib
        except ImportError:          # Python 3.10
            import tomli as tomllib
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise ValueError(f"spec: no such file {str(path)!r}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"spec: {path} is not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_spec(cls, spec):
        """The Sweep of a specification as stored (``Sweep.spec``, ``to_json``): built once per
        process for each distinct one, shared (it checks every instance: 1.4 s for 160 000)."""
        return _from_spec_json(json.dumps(spec, sort_keys=True))

    @classmethod
    def from_dict(cls, data):
        """The sweep of a dict with the keys network, sweep and run."""
        if not isinstance(data, dict):
            raise ValueError(f"a sweep specification must be a table; got {type(data).__name__}")
        unknown = [key for key in data if key not in ("network", "sweep", "run")]
        if unknown:
            raise ValueError(f"unknown section [{unknown[0]}]: a sweep has [network], [sweep] "
                             "and [run]")
        if "network" not in data:
            raise ValueError("[network] is missing: it names the model and the fixed parameters")
        return cls(data["network"], data.get("sweep"), data.get("run"))

    # ---------------------------------------------------------------- checks
    def _check_run(self):
        run = self.spec["run"]
        try:
            check_run(run["t_end"], run["n_spikes"], run["warmup"], run["record"], run["key"],
                      self.instances.base, self.instances)
        except ValueError as exc:
            raise ValueError(f"[run] {exc}") from None

    def _instance_table(self):
        """The InstanceTable (PopulationTable) of every instance, validated once; errors name
        the key."""
        cols = {name: values for name, values in self.columns(0, self.size).items()
                if values is not None}
        try:
            if self.kind != "single":
                swept = {name: cols[name] for name in ("seed", "ic_seed", "noise_seed")
                         + self.swept if name in cols}
                return PopulationTable(self._base_populations(cols), **swept)
            return InstanceTable(self._base_network(cols), **cols)
        except InstanceError as exc:
            raise ValueError(self._locate(exc, cols)) from None

    def _base_populations(self, cols):
        """The network of populations of instance 0."""
        net = self.spec["network"]
        value = {name: values[0].item() for name, values in cols.items()}
        inputs = [PoissonInput(**given) for given in net["inputs"] or ()]
        kw = dict(value, connectivity=net["connectivity"], inputs=inputs,
                  **({"external": net["external"]} if net.get("external") else {}))
        try:
            if self.kind == "brunel":
                return populations.brunel(**kw)
            return populations.balanced(self.model, **kw)
        except ValueError as exc:
            raise InstanceError.naming(0, exc, cols) from None

    def _base_network(self, cols):
        """The network of instance 0: what the instances share (model, connectivity)."""
        value = {name: values[0].item() for name, values in cols.items()}
        try:
            return Network(model=self.model.with_tau(value.pop("tau")),
                           connectivity=self.spec["network"]["connectivity"], **value)
        except ValueError as exc:
            raise InstanceError.naming(0, exc, cols) from None

    def _locate(self, exc, cols):
        where = "sweep" if exc.name in self.axes else "network"
        if exc.name in ("seed", "ic_seed", "noise_seed"):
            return f"{where}.{exc.name}: {exc.reason}"
        if exc.name is not None:
            return f"{where}.{exc.name} = {cols[exc.name][exc.instance].item()!r}: {exc.reason}"
        point = ", ".join(f"{name}={values[exc.instance].item()!r}" for name, values in cols.items())
        return f"[network]/[sweep] at {point}: {exc.reason}"

    # ---------------------------------------------------------------- instances
    def columns(self, lo, hi):
        """Per-instance values of n, k, tau, j0, target_rate, drive, coupling, seed, ic_seed for
        instances ``lo .. hi - 1`` (None where the key is unset)."""
        idx = np.arange(lo, hi, dtype=np.int64)
        if self.mode == "grid" and self.axes:
            position = np.unravel_index(idx, self.shape)
            swept = {name: axis[pos] for (name, axis), pos in zip(self.axes.items(), position)}
        else:
            swept = {name: axis[idx] for name, axis in self.axes.items()}
        net = self.spec["network"]
        out = {}
        for name in sweepable(net):
            if name in swept:
                out[name] = swept[name]
            elif net.get(name) is not None:
                dtype = np.int64 if name in INTEGER else np.float64
                out[name] = np.full(idx.size, net[name], dtype=dtype)
            else:
                out[name] = None
        if self.kind != "single":
            return out
        balanced = out["j0"] is not None or out["target_rate"] is not None
        drop = ("drive", "coupling") if balanced else ("j0", "target_rate")
        for name in drop:
            if out[name] is not None:
                return self._mixed()
            out.pop(name)
        for name in ("n", "k") + (("j0", "target_rate") if balanced else ("drive", "coupling")):
            if out[name] is None:
                raise ValueError(f"network.{name} is missing: give it in [network] or sweep it "
                                 "in [sweep]")
        return out

    @staticmethod
    def _mixed():
        raise ValueError("network: give either j0 and target_rate (balanced state) or drive "
                         "and coupling (direct), in [network] or [sweep], not a mix")

    def parameters(self, lo=0, hi=None):
        """Per-instance parameters (n, k, tau, seed, ic_seed, drive, coupling, and j0,
        target_rate in the balanced state) as arrays, for instances ``lo .. hi - 1``."""
        hi = self.size if hi is None else hi
        return self.instances.parameters(np.arange(lo, hi))

    def batch_bounds(self, b):
        """(lo, hi): batch ``b`` holds instances lo .. hi - 1."""
        if not 0 <= b < self.n_batches:
            raise IndexError(f"batch {b} out of range [0, {self.n_batches})")
        lo = b * self.batch_size
        return lo, min(lo + self.batch_size, self.size)

    def describe_batch(self, b):
        """A short text naming batch ``b``'s instances and the ranges of its parameters."""
        lo, hi = self.batch_bounds(b)
        pars = self.parameters(lo, hi)
        parts = []
        for name in self.swept or ("seed",):
            values = pars[name]
            lo_v, hi_v = values.min().item(), values.max().item()
            parts.append(f"{name}={lo_v:g}" if lo_v == hi_v else f"{name}={lo_v:g}..{hi_v:g}")
        return f"batch {b} (instances {lo}..{hi - 1}; {', '.join(parts)})"

    def network(self, i):
        """The Network (PopulationNetwork) of instance ``i``."""
        return self.instances.network(i)

    def run_kwargs(self):
        """Keyword arguments of ``run_ensemble`` for one batch."""
        run = self.spec["run"]
        return {**{name: run[name] for name in ("t_end", "n_spikes", "warmup", "record",
                                                "backend", "buffer_spikes", "key")},
                "state": bool(run["state"])}

    @property
    def population_names(self):
        """The populations of a sweep of networks of populations (() for one population)."""
        return () if self.kind == "single" else self.instances.base.names

    @property
    def per_neuron(self):
        return tuple(self.spec["run"]["per_neuron"])

    @property
    def record(self):
        return self.spec["run"]["record"]

    @property
    def keeps_state(self):
        """Whether the store keeps each instance's final state (``[run] state = true``)."""
        return bool(self.spec["run"]["state"])

    def to_json(self):
        return json.dumps(self.spec, sort_keys=True)

    def __len__(self):
        return self.size

    def __eq__(self, other):
        return isinstance(other, Sweep) and self.to_json() == other.to_json()

    def __repr__(self):
        axes = " x ".join(f"{name}[{axis.size}]" for name, axis in self.axes.items()) or "one point"
        what = self.spec["network"]["model"] if self.kind == "single" else self.kind
        return (f"Sweep({self.size} instances: {axes}, {what}, "
                f"{self.n_batches} batches of {self.batch_size})")


@functools.lru_cache(maxsize=8)
def _from_spec_json(text):
    spec = json.loads(text)
    values = spec["sweep"]["values"]
    sweep = {name: values[name] for name in spec["sweep"]["order"]}
    sweep["mode"] = spec["sweep"]["mode"]
    return Sweep(spec["network"], sweep, spec["run"])


def load(spec):
    """A Sweep from a Sweep, a dict or a TOML path."""
    if isinstance(spec, Sweep):
        return spec
    if isinstance(spec, dict):
        return Sweep.from_dict(spec)
    if isinstance(spec, (str, os.PathLike)):
        return Sweep.load(spec)
    raise ValueError(f"spec must be a sp.Sweep, a dict or the path of a TOML file; got {spec!r}")


__all__ = ["Sweep", "load"]
