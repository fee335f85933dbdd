"""Per-population summaries of a network of populations: rate, ISI CV and Fano factor of each."""
import json
import warnings

import numpy as np

from .data import _is_dataset
from .statistics import cv_isi, fano_factor, rates


def populations_of(source):
    """[(name, first neuron, n)] of the populations of ``source`` (a SpikeRecord or a result
    Dataset of a ``PopulationNetwork``), from its description."""
    meta = source.sp.meta if _is_dataset(source) else getattr(source, "meta", None)
    if isinstance(meta, str):
        meta = json.loads(meta)
    if meta and meta.get("kind") == "sweep":         # the instances share the populations' order
        meta = source.sp.network(0).describe()
    if not meta or "populations" not in meta:
        raise ValueError("the source is not a run of a network of populations (its description "
                         "names no populations)")
    out, start = [], 0
    for p in meta["populations"]:
        out.append((p["name"], start, int(p["n"])))
        start += int(p["n"])
    return out


def population_summaries(source, window=None):
    """Rate, ISI CV and Fano factor of each population.

    Parameters
    ----------
    source : SpikeRecord or result Dataset of a ``PopulationNetwork``
    window : float, optional
        Counting window (s) of the Fano factor; needs the spikes (``record="spikes"``).
        Without it, a result or store that keeps ``fano_mean_<name>`` gives those (windows of
        ``config.FANO_WINDOW`` s; NaN where the run recorded no spikes), others NaN.

    Returns
    -------
    dict
        ``{name: {"rate": ..., "cv_isi": ..., "fano": ...}}``: the mean over the population's
        neurons of each neuron's rate (Hz), ISI CV (neurons with two intervals or more) and
        Fano factor of counts in windows (without ``window``: the stored ``fano_mean_<name>``,
        else NaN); scalars for a record, (instance,) arrays for an ensemble. A result or store
        that kept no per-neuron arrays gives its stored ``rate_mean_<name>`` and
        ``cv_isi_mean_<name>`` (the same means).
    """
    populations = populations_of(source)
    stored = [f"{what}_{name}" for name, _, _ in populations for what in ("rate_mean",
                                                                           "cv_isi_mean")]
    stored_fano = (_is_dataset(source) and window is None
                   and all(f"fano_mean_{name}" in source for name, _, _ in populations))
    if _is_dataset(source) and window is None and "rate" not in source and \
            all(name in source for name in stored):
        nan = np.full(source.sizes["instance"], np.nan)
        return {name: {"rate": np.asarray(source[f"rate_mean_{name}"].values),
                       "cv_isi": np.asarray(source[f"cv_isi_mean_{name}"].values),
                       "fano": (np.asarray(source[f"fano_mean_{name}"].values) if stored_fano
                                else nan)}
                for name, _, _ in populations}
    neuron_rates = np.asarray(rates(source))
    neuron_cv = np.asarray(cv_isi(source))
    neuron_fano = None if window is None else np.asarray(fano_factor(source, window))
    out = {}
    for name, start, n in populations:
        part = slice(start, start + n)
        with warnings.catch_warnings():           # all-NaN slices: NaN, as documented
            warnings.simplefilter("ignore", RuntimeWarning)
            out[name] = {
                "rate": np.nanmean(neuron_rates[..., part], axis=-1),
                "cv_isi": np.nanmean(neuron_cv[..., part], axis=-1),
                "fano": (np.nanmean(neuron_fano[..., part], axis=-1) if neuron_fano is not None
                         else np.asarray(source[f"fano_mean_{name}"].values) if stored_fano
                         else np.full(neuron_rates.shape[:-1], np.nan))}
    return out

