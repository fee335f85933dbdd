"""Per-instance summaries and padded per-neuron statistics of an ``EnsembleRecord``."""
import numpy as np

from .record import cv_from_moments, rates_from_counts

PARAMETERS = ("n", "k", "seed", "ic_seed", "tau", "drive", "coupling", "j0", "target_rate", "t_ref",
              "n_e", "n_i", "g", "eta", "j", "delay", "epsilon", "gamma", "theta", "v_reset",
              "j_ee", "j_ie", "j_ei", "j_ii", "ext_e", "ext_i", "nu")
"""The per-instance parameters a result holds (as coordinates), in the order a store packs them:
a single population's, then those of ``sp.brunel`` and ``sp.balanced``."""
SUMMARIES = {"rate_mean": np.float64, "rate_std": np.float64, "cv_isi_mean": np.float64,
             "spike_count": np.int64, "silent_fraction": np.float64, "t_stop": np.float64}
NEURON_DTYPES = {"count": np.int64, "rate": np.float64, "cv_isi": np.float64,
                 "isi_sum": np.float64, "isi_sumsq": np.float64}


def missing(dtype):
    """The value that stands for no value: -1 for integers, NaN for floats."""
    return -1 if np.dtype(dtype).kind in "iu" else np.nan


def summaries(result):
    """Per-instance summaries of an EnsembleRecord.

    Parameters
    ----------
    result : EnsembleRecord

    Returns
    -------
    dict
        One (instance,) array per name of ``SUMMARIES``, each instance's computed from its own
        neurons only (so independent of the batch it ran in).
    """
    size = len(result)
    out = {name: np.empty(size, dtype) for name, dtype in SUMMARIES.items()}
    ns = result.parameters["n"]
    for m in range(size):
        n = int(ns[m])
        counts = result.counts[m, :n]
        rates = rates_from_counts(counts, result.t_start, result.t_stop[m])
        cv = cv_from_moments(counts, result.isi_sum[m, :n], result.isi_sumsq[m, :n])
        valid = cv[~np.isnan(cv)]
        out["rate_mean"][m] = rates.mean()
        out["rate_std"][m] = rates.std()
        out["cv_isi_mean"][m] = valid.mean() if valid.size else np.nan
        out["spike_count"][m] = counts.sum()
        out["silent_fraction"][m] = np.count_nonzero(counts == 0) / n
        out["t_stop"][m] = result.t_stop[m]
    return out


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
