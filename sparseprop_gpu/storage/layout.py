"""The arrays of a sweep store (format 2): names, dtypes, packed rows.

The format, and why it is so, is described in ``docs/design.md`` §4.2 and §5.9.
"""
import numpy as np

from ..runs.summaries import PARAMETERS, SUMMARIES, population_summary_names

FORMAT = 2
INTEGER_PARAMETERS = ("n", "k", "seed", "ic_seed", "n_e", "n_i", "noise_seed")
PACKED = {"instance_int64": np.int64, "instance_float64": np.float64}   # (quantity, instance)
MARKERS = "batch_done"
STATE_ARRAYS = {"state_keys": "neuron", "state_clock": "clock", "state_last_spike": "neuron"}
"""With ``[run] state = true``: each instance's final state (``runs.continuation.STATE``),
float64 (instance, that dimension)."""


def stored_arrays(meta):
    """The names of the (instance, ...) arrays beside the packed ones a store of ``meta``
    (expanded attributes) holds: its per-neuron arrays and, if kept, the state."""
    return [*meta["per_neuron"], *(STATE_ARRAYS if meta.get("state") else ())]


def dtype(quantity):
    """The dtype of a per-instance quantity (a parameter, a summary or ``n_recorded``)."""
    if quantity in INTEGER_PARAMETERS or quantity == "n_recorded":
        return np.int64
    return SUMMARIES.get(quantity, np.float64)


def layout(parameters, record, populations=()):
    """The rows of the packed arrays.

    Parameters
    ----------
    parameters : dict
        The per-instance parameters of the sweep (only their names count).
    record : {"summary", "spikes"}
        The sweep's record; with spikes, ``n_recorded`` is a row.
    populations : sequence of str
        The populations of a network of populations: their summaries are rows too
        (``runs.summaries.population_summary_names``).

    Returns
    -------
    dict
        {packed array: its quantities (rows)}: the parameters first, then the summaries and
        ``n_recorded``, split by dtype.
    """
    names = [*(q for q in PARAMETERS if q in parameters), *SUMMARIES,
             *population_summary_names(populations),
             *(("n_recorded",) if record == "spikes" else ())]
    return {name: [q for q in names if dtype(q) == kind] for name, kind in PACKED.items()}


def row_dim(name):
    """The quantity dimension of packed array ``name`` (one each: their lengths differ)."""
    return "quantity_" + name.rsplit("_", 1)[1]


def is_packed(arr):
    """Whether the Zarr array ``arr`` is a packed (quantity, instance) array."""
    return arr.metadata.dimension_names[0].startswith("quantity_")


def compact():
    """A Zarr configuration writing JSON metadata on one line (it indents by default): one
    line each keeps small stores small."""
    import zarr
    return zarr.config.set({"json_indent": None})
