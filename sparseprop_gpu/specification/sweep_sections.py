"""The three sections of a sweep specification ([network], [sweep], [run]): each key checked
for its type and put in a normal form that JSON keeps; the ranges of the values are checked
by ``InstanceTable``, the run settings by ``settings.check_run``."""
import inspect
import math
import numbers

import numpy as np

from .. import validate
from ..options import BACKENDS, CONNECTIVITY, KEYS, PER_NEURON, RECORD, SWEEP_MODES
from .models import MODELS

NETWORK_KEYS = ("model", "model_params", "tau", "n", "k", "j0", "target_rate", "drive", "coupling", "seed",
                "ic_seed", "connectivity", "t_ref")
SWEEPABLE = ("n", "k", "tau", "j0", "target_rate", "drive", "coupling", "seed", "ic_seed", "t_ref")
"""A [network] key left out is null in the normal form, and a stored specification drops its null
keys (``storage.metadata.stored``): ``t_ref``, added in 0.4, leaves the specifications of stores
written before as they were."""
INTEGER = ("n", "k", "seed", "ic_seed", "n_e", "n_i", "noise_seed")
KINDS = ("single", "brunel", "balanced")
"""``[network] network = ...``: one population (the keys above; the default, not written in the
normal form) or a network of populations from ``sp.brunel`` or ``sp.balanced``."""
POPULATION_KEYS = {
    "brunel": ("network", "n_e", "g", "eta", "j", "delay", "t_ref", "epsilon", "gamma", "tau",
               "theta", "v_reset", "seed", "ic_seed", "noise_seed", "connectivity", "inputs",
               "external"),
    "balanced": ("network", "model", "model_params", "tau", "n_e", "n_i", "k", "j_ee", "j_ie",
                 "j_ei", "j_ii", "ext_e", "ext_i", "nu", "delay", "t_ref", "seed", "ic_seed",
                 "noise_seed", "connectivity", "inputs")}
POPULATION_SWEEPABLE = {
    "brunel": POPULATION_KEYS["brunel"][1:-3],
    "balanced": POPULATION_KEYS["balanced"][4:-2]}
"""The keys a sweep of a network of populations may sweep: the constructor's parameters (its
model's tau is fixed for ``balanced``) and the seeds. ``inputs`` (a list of Poisson inputs,
tables with ``target``, ``rate``, ``weight`` and ``sources``) and ``noise_seed`` (since 0.6)
are null where not given, so the specifications of stores written before are unchanged; so is
brunel's ``external`` (since 0.7): null for its default, "mean", or "poisson"."""
INPUT_KEYS = ("target", "rate", "weight", "sources")


def kind_of(network):
    """The network kind of a [network] section (``KINDS``)."""
    return network.get("network", "single")


def network_keys(network):
    """The keys of a [network] section's normal form."""
    kind = kind_of(network)
    return NETWORK_KEYS if kind == "single" else POPULATION_KEYS[kind]


def sweepable(network):
    """The keys a sweep of this [network] may sweep."""
    kind = kind_of(network)
    return SWEEPABLE if kind == "single" else POPULATION_SWEEPABLE[kind]
RUN_KEYS = ("t_end", "n_spikes", "warmup", "record", "per_neuron", "backend", "batch_size",
            "buffer_spikes", "key", "state")
RUN_DEFAULTS = {"t_end": None, "n_spikes": None, "warmup": 0.0, "record": "summary",
                "per_neuron": False, "backend": "auto", "batch_size": 64, "buffer_spikes": None,
                "key": "auto", "state": None}
NETWORK_DEFAULTS = {"model_params": {}, "tau": 0.01, "seed": 0, "ic_seed": None, "connectivity": "auto"}
PER_NEURON_DEFAULT = PER_NEURON[:3]
STATE_NEEDS = ("count", "isi_sum", "isi_sumsq")
"""The per-neuron arrays a store keeps with ``state = true``: a run continues from them and
the final state."""
RANGE_FORMS = ("linspace", "geomspace", "range")


def _unknown(section, given, allowed):
    for key in given:
        if key not in allowed:
            raise ValueError(f"{section}.{key}: unknown key; allowed: {', '.join(allowed)}")


def network_section(section):
    section = dict(section)
    kind = section.pop("network", "single")
    validate.choice("network.network", kind, KINDS)
    if kind != "single":
        return _population_section(kind, section)
    _unknown("network", section, NETWORK_KEYS)
    out = {**NETWORK_DEFAULTS, **section}
    if "model" not in section:
        raise ValueError(f"network.model is missing: one of {', '.join(map(repr, MODELS))}")
    if out["model"] not in MODELS:
        raise ValueError(f"network.model must be one of {', '.join(map(repr, MODELS))}; "
                         f"got {out['model']!r}")
    out["model_params"] = _model_params(out["model"], out["model_params"])
    try:
        MODELS[out["model"]](tau=out["tau"], **out["model_params"])
    except ValueError as exc:
        raise ValueError(f"network.{exc}") from None
    validate.choice("network.connectivity", out["connectivity"], CONNECTIVITY)
    for name in SWEEPABLE:
        value = out.get(name)
        if value is None:
            out.setdefault(name, None)
            continue
        out[name] = _scalar(f"network.{name}", name, value)
    return {name: out[name] for name in NETWORK_KEYS}


def _population_section(kind, section):
    """The normal form of a [network] of populations: every key of ``POPULATION_KEYS[kind]``,
    the constructor's default where not given."""
    from . import populations
    keys = POPULATION_KEYS[kind]
    _unknown("network", section, keys[1:])
    defaults = {name: p.default for name, p in
                inspect.signature(getattr(populations, kind)).parameters.items()
                if p.default is not inspect.Parameter.empty}
    defaults.pop("external", None)            # null for the default: see POPULATION_SWEEPABLE
    out = {"network": kind, **{name: defaults.get(name) for name in keys[1:]}, **section}
    if kind == "balanced":
        for name in ("model", "n_e", "n_i", "k"):
            if name not in section:
                raise ValueError(f"network.{name} is missing (network = 'balanced')")
        if out["model"] not in ("lif", "qif"):
            raise ValueError(f"network.model must be 'lif' or 'qif' for network = 'balanced'; "
                             f"got {out['model']!r}")
        out["model_params"] = _model_params(out["model"], out["model_params"] or {})
        out["tau"] = 0.01 if out["tau"] is None else out["tau"]
    validate.choice("network.connectivity", out["connectivity"], CONNECTIVITY)
    out["inputs"] = _inputs(out["inputs"])
    if kind == "brunel" and out["external"] is not None:
        validate.choice("network.external", out["external"], ("mean", "poisson"))
        out["external"] = None if out["external"] == "mean" else out["external"]
    for name in POPULATION_SWEEPABLE[kind]:
        if out[name] is not None:
            out[name] = _scalar(f"network.{name}", name, out[name])
    if kind == "balanced":
        out["tau"] = _scalar("network.tau", "tau", out["tau"])
    return {name: out[name] for name in keys}


def _inputs(inputs):
    """The normal form of ``[network] inputs``: None, or a list of Poisson inputs as tables of
    ``INPUT_KEYS`` (``sources`` 1 where not given), types checked (ranges: the network)."""
    if inputs is None:
        return None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise ValueError("network.inputs must be a list of tables {target, rate, weight, "
                         f"sources}}; got {inputs!r}")
    out = []
    for at, given in enumerate(inputs):
        where = f"network.inputs[{at}]"
        _unknown(where, given, INPUT_KEYS)
        for name in ("target", "rate", "weight"):
            if name not in given:
                raise ValueError(f"{where}.{name} is missing")
        if not isinstance(given["target"], str):
            raise ValueError(f"{where}.target must be a population name; got {given['target']!r}")
        out.append({"target": given["target"],
                    "rate": validate.real(f"{where}.rate", given["rate"]),
                    "weight": validate.real(f"{where}.weight", given["weight"]),
                    "sources": validate.integer(f"{where}.sources", given.get("sources", 1))})
    return out


def _model_params(model, params):
    """The model's parameters besides tau (a table of them), checked by name."""
    if not isinstance(params, dict):
        raise ValueError(f"network.model_params must be a table of the {model} model's "
                         f"parameters; got {params!r}")
    allowed = [name for name in inspect.signature(MODELS[model]).parameters if name != "tau"]
    for name, value in params.items():
        if name not in allowed:
            raise ValueError(f"network.model_params.{name}: not a parameter of the {model} model; "
                             f"allowed: {', '.join(allowed) or 'none'}")
        if not isinstance(value, numbers.Real) or isinstance(value, bool) and name != "input_map":
            raise ValueError(f"network.model_params.{name} must be a number; got {value!r}")
    return dict(params)


def _scalar(where, name, value):
    """A fixed or swept value checked for its type (ranges: ``InstanceTable``)."""
    if name in INTEGER:
        return validate.integer(where, value)
    return validate.real(where, value)


def sweep_section(section, allowed=SWEEPABLE):
    section = dict(section)
    mode = section.pop("mode", "grid")
    validate.choice("sweep.mode", mode, SWEEP_MODES)
    _unknown("sweep", section, allowed + ("mode",))
    values = {name: _normal_form(name, value) for name, value in section.items()}
    # the order of the keys is the order of the instances; JSON written with sorted keys
    # would lose it, so it is kept as a list
    return {"mode": mode, "values": values, "order": list(values)}


def _normal_form(name, value):
    """A swept value as JSON-able data: a list, or {form: arguments}."""
    where = f"sweep.{name}"
    if isinstance(value, range):
        value = {"range": [value.start, value.stop, value.step]}
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in RANGE_FORMS:
            raise ValueError(f"{where} must be a list or one of {{linspace = [a, b, num]}}, "
                             f"{{geomspace = [a, b, num]}}, {{range = stop}} or "
                             f"{{range = [start, stop, step]}}; got {value!r}")
        form, args = next(iter(value.items()))
        if form == "range":
            if isinstance(args, numbers.Integral) and not isinstance(args, bool):
                args = [args]
            if (not isinstance(args, (list, tuple)) or not 1 <= len(args) <= 3 or any(
                    isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in args)):
                raise ValueError(f"{where}: range takes an integer stop or [start, stop(, step)] "
                                 f"of integers; got {args!r}")
            args = [int(a) for a in args]
            if len(args) == 3 and args[2] == 0:
                raise ValueError(f"{where}: range step must not be 0")
        else:
            if (not isinstance(args, (list, tuple)) or len(args) != 3
                    or any(isinstance(a, bool) or not isinstance(a, numbers.Real) for a in args[:2])
                    or isinstance(args[2], bool) or not isinstance(args[2], numbers.Integral)):
                raise ValueError(f"{where}: {form} takes [a, b, num] with real a, b and an "
                                 f"integer num; got {args!r}")
            if not all(math.isfinite(a) for a in args[:2]):
                raise ValueError(f"{where}: {form} bounds must be finite; got {args!r}")
            if form == "geomspace" and (args[0] <= 0 or args[1] <= 0):
                raise ValueError(f"{where}: geomspace bounds must be > 0; got {args!r}")
            args = [float(args[0]), float(args[1]), int(args[2])]
        return {form: args}
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{where} must be a list, {{linspace = [a, b, num]}}, "
                         f"{{geomspace = [a, b, num]}} or {{range = ...}}; got {value!r} "
                         "(a fixed value belongs in [network])")
    items = np.asarray(value).tolist() if isinstance(value, np.ndarray) else list(value)
    return [_scalar(f"{where}[{i}]", name, item) for i, item in enumerate(items)]


def axis_length(name, form):
    """The number of values of a swept key's normal form, without making them."""
    if isinstance(form, list):
        return len(form)
    kind, args = next(iter(form.items()))
    if kind == "range":
        return len(range(*args))
    if args[2] < 0:
        raise ValueError(f"sweep.{name}: {kind} num must be >= 0; got {args[2]}")
    return args[2]


def axis_values(name, form):
    where = f"sweep.{name}"
    if isinstance(form, list):
        values = np.asarray(form, dtype=np.int64 if name in INTEGER else np.float64)
    else:
        kind, args = next(iter(form.items()))
        if kind == "range":
            values = np.arange(*args, dtype=np.int64)
        else:
            a, b, num = args
            values = (np.linspace if kind == "linspace" else np.geomspace)(a, b, num)
            if name in INTEGER:
                if not np.all(values == np.round(values)):
                    raise ValueError(f"{where} must be integers, but {kind} {args} gives "
                                     f"{values.tolist()}; use {{range = ...}} or a list")
                values = np.round(values).astype(np.int64)
    if values.size == 0:
        raise ValueError(f"{where} is empty: a swept parameter needs at least one value")
    return values


def run_section(section):
    _unknown("run", section, RUN_KEYS)
    out = {**RUN_DEFAULTS, **section}
    for name in ("t_end", "warmup"):
        if out[name] is not None:
            out[name] = _scalar(f"run.{name}", name, out[name])
    if out["warmup"] is None:
        out["warmup"] = 0.0
    for name, allowed in (("record", RECORD), ("backend", BACKENDS), ("key", KEYS)):
        validate.choice(f"run.{name}", out[name], allowed)
    out["batch_size"] = validate.integer("run.batch_size", out["batch_size"], 1, 2**31 - 1)
    for name in ("n_spikes", "buffer_spikes"):
        if out[name] is not None:
            out[name] = validate.integer(f"run.{name}", out[name], 1, 2**62)
    per = out["per_neuron"]
    if per is True:
        per = list(PER_NEURON_DEFAULT)
    elif per is False or per is None:
        per = []
    elif isinstance(per, (list, tuple)) and all(isinstance(p, str) for p in per):
        for p in per:
            if p not in PER_NEURON:
                raise ValueError(f"run.per_neuron: unknown array {p!r}; allowed: "
                                 f"{', '.join(PER_NEURON)}")
        per = [p for p in PER_NEURON if p in per]
    else:
        raise ValueError(f"run.per_neuron must be true, false or a list of "
                         f"{', '.join(PER_NEURON)}; got {per!r}")
    if out["state"] not in (None, False, True):
        raise ValueError(f"run.state must be true or false; got {out['state']!r}")
    out["state"] = out["state"] or None          # null: not kept (and not written in the spec)
    if out["state"]:                             # a continuation needs them
        per = [p for p in PER_NEURON if p in per or p in STATE_NEEDS]
    out["per_neuron"] = per
    return {name: out[name] for name in RUN_KEYS}


def first_difference(a, b, prefix=""):
    """The dotted key where two JSON-like values first differ (None if equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return f"{prefix}{key}"
            found = first_difference(a[key], b[key], f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    if a != b:
        return prefix.rstrip(".") or "spec"
    return None
