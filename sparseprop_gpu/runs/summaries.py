"""Per-instance summaries and padded per-neuron statistics of an ``EnsembleRecord``."""
import numpy as np

from ..config import FANO_WINDOW
from .record import cv_from_moments, fano_factors, rates_from_counts

PARAMETERS = ("n", "k", "seed", "ic_seed", "tau", "drive", "coupling", "j0", "target_rate", "t_ref",
              "n_e", "n_i", "g", "eta", "j", "delay", "epsilon", "gamma", "theta", "v_reset",
              "j_ee", "j_ie", "j_ei", "j_ii", "ext_e", "ext_i", "nu", "noise_seed")
"""The per-instance parameters a result holds (as coordinates), in the order a store packs them:
a single population's, then those of ``sp.brunel`` and ``sp.balanced``, then the noise seed of
external input (0.6, last: stores written before keep their order)."""
SUMMARIES = {"rate_mean": np.float64, "rate_std": np.float64, "cv_isi_mean": np.float64,
             "spike_count": np.int64, "silent_fraction": np.float64, "t_stop": np.float64}
NEURON_DTYPES = {"count": np.int64, "rate": np.float64, "cv_isi": np.float64,
                 "isi_sum": np.float64, "isi_sumsq": np.float64}


def missing(dtype):
    """The value that stands for no value: -1 for integers, NaN for floats."""
    return -1 if np.dtype(dtype).kind in "iu" else np.nan


POPULATION_SUMMARIES = ("rate_mean", "cv_isi_mean", "fano_mean")
"""What results and stores keep per population of a network of populations, as
``{summary}_{population name}`` (float64): the mean over its neurons of their rates (Hz), ISI
CVs (neurons with two intervals or more) and Fano factors of spike counts in windows of
``config.FANO_WINDOW`` s (``record.fano_factors``; neurons with a defined one). The Fano factor
needs the spikes: it is NaN in a run that did not record them (``record="summary"``), and
where no neuron of the population has one (silent, or fewer than two windows). Stores written
before it have no ``fano_mean_*``."""


def population_summary_names(names):
    """The summary variables of populations ``names``, in the order results keep them."""
    return [f"{what}_{name}" for name in names for what in POPULATION_SUMMARIES]


def summaries(result):
    """Per-instance summaries of an EnsembleRecord.

    Parameters
    ----------
    result : EnsembleRecord

    Returns
    -------
    dict
        One (instance,) array per name of ``SUMMARIES``, each instance's computed from its own
        neurons only (so independent of the batch it ran in); for a network of populations
        also ``population_summary_names`` (neurons numbered population after population;
        ``fano_mean_*`` from the recorded spikes, NaN when the run kept none).
    """
    size = len(result)
    out = {name: np.empty(size, dtype) for name, dtype in SUMMARIES.items()}
    names, starts = result.populations or ((), None)
    out.update({name: np.empty(size) for name in population_summary_names(names)})
    ns = result.parameters["n"]
    spikes = bool(names) and result.meta.get("record") == "spikes"
    for m in range(size):
        n = int(ns[m])
        counts = result.counts[m, :n]
        rates = rates_from_counts(counts, result.t_start, result.t_stop[m])
        cv = cv_from_moments(counts, result.isi_sum[m, :n], result.isi_sumsq[m, :n])
        out["rate_mean"][m] = rates.mean()
        out["rate_std"][m] = rates.std()
        out["cv_isi_mean"][m] = _defined_mean(cv)
        out["spike_count"][m] = counts.sum()
        out["silent_fraction"][m] = np.count_nonzero(counts == 0) / n
        out["t_stop"][m] = result.t_stop[m]
        for a, name in enumerate(names):
            part = slice(starts[m, a], starts[m, a + 1])
            out[f"rate_mean_{name}"][m] = rates[part].mean()
            out[f"cv_isi_mean_{name}"][m] = _defined_mean(cv[part])
        if spikes:
            own = slice(result.offsets[m], result.offsets[m + 1])
            fano = fano_factors(result.times[own], result.senders[own], n, result.t_start,
                                result.t_stop[m], FANO_WINDOW)
        for a, name in enumerate(names):
            out[f"fano_mean_{name}"][m] = (_defined_mean(fano[starts[m, a]:starts[m, a + 1]])
                                           if spikes else np.nan)
    return out


def _defined_mean(values):
    """The mean of the values that are not NaN (NaN if none is)."""
    valid = values[~np.isnan(values)]
    return valid.mean() if valid.size else np.nan


def per_neuron(result, names, n_max):
    """Per-neuron statistics, padded to ``n_max`` neurons.

    Parameters
    ----------
    result : EnsembleRecord
    names : sequence of str
        Names of ``NEURON_DTYPES``.
    n_max : int
        Width of the arrays: the largest network of the sweep.

    Returns
    -------
    dict
        One (instance, n_max) array per name. Beyond an instance's neurons: 0 for ``count``,
        ``missing`` for the others.
    """
    width = result.counts.shape[1]
    attribute = {"count": "counts", "rate": "rates"}
    out = {}
    for name in names:
        dtype = NEURON_DTYPES[name]
        values = getattr(result, attribute.get(name, name))
        if name in ("isi_sum", "isi_sumsq"):          # 0 for the neurons not in the network
            values = np.where(result.neurons, values, np.nan)
        out[name] = np.full((len(result), n_max), missing(dtype) if name != "count" else 0, dtype)
        out[name][:, :width] = values
    return out
