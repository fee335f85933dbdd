"""Statistics of spike records, ensembles and sweep stores, vectorised over instances.

Every function takes a *source*:

* a ``SpikeRecord`` (``sp.simulate``): results are per neuron, shape ``(n,)``, or scalars;
* an ``EnsembleResult`` (``sp.run_ensemble``): results are ``(instance, neuron)`` arrays padded
  to the largest ``n`` with NaN, or ``(instance,)`` arrays;
* an ``xarray.Dataset`` from ``sp.open_results`` or the path of a sweep store: the same
  arrays as for an ensemble, returned as ``xarray.DataArray`` with the instance coordinates
  (so ``analysis.rates(ds).groupby("j0")`` works);
* a ``SpikeData``, the common flat form all of them are turned into (``SpikeData.from_arrays``
  builds one from your own ``(times, senders)`` arrays).

Spikes are kept flat, as one ``times`` and one ``senders`` array with per-instance offsets (the
NWB Units layout), and every statistic is computed by sorting and ``np.bincount`` over all
instances at once: no Python object is made per spike train, and no Python loop runs per spike
or per neuron. (``chi`` replays each instance's dynamics in compiled code, one call per
instance.)

Modules: ``data`` (``SpikeData``, ``spike_data``), ``statistics`` (counts, rates, ISI CV, Fano
factor, population rate, distributions), ``populations`` (per-population rate, CV, Fano of a
network of populations), ``replay`` (exact voltages, ``chi``), ``export`` (neo,
NWB), ``theory`` (mean-field rates to hold runs against; SciPy, the ``theory`` extra),
``fisher`` (linear Fisher information of responses about a stimulus parameter, bias-corrected;
``fisher_information`` runs its trials as an ensemble), ``lyapunov`` (Lyapunov spectra from the
single-spike Jacobians, along the engine's spikes).

Conventions (each function's docstring repeats the relevant ones):

* The analysis window of an instance is ``[t_start, t_stop]`` (the record's warm-up time and its
  end time). A statistic that is undefined is NaN, never 0: the rate in an empty window, the ISI
  CV with fewer than two intervals, the Fano factor of a neuron that never fires or with fewer
  than two counting windows, the population rate in a bin not inside the window.
* Neurons beyond an instance's own ``n`` (ensembles of different sizes) are NaN.
"""
from .data import SpikeData, spike_data
from .export import to_neo, to_neo_spiketrains, to_nwb_units, write_nwb
from .fisher import fisher_information, information_curve, linear_fisher
from .lyapunov import lyapunov_spectra, lyapunov_spectrum
from .populations import population_summaries
from .replay import chi, chi_from_traces, voltage_traces
from .statistics import (cv_distribution, cv_isi, fano_factor, mean_rate, population_rate,
                         rate_distribution, rates, spike_counts)
from .theory import lif_rate_diffusion, poisson_moments

__all__ = ["SpikeData", "spike_data", "spike_counts", "rates", "mean_rate", "population_rate",
           "cv_isi", "fano_factor", "rate_distribution", "cv_distribution", "voltage_traces",
           "chi", "chi_from_traces", "to_neo", "to_nwb_units", "population_summaries",
           "lif_rate_diffusion", "poisson_moments"]
