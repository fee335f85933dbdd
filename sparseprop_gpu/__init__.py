"""sparseprop-gpu: exact event-based simulation of sparse spiking networks with SparseProp."""
from ._version import __version__
from .runs.ensemble import Ensemble, run_ensemble
from .specification.inputs import PoissonInput, Stimulus
from .specification.models import EIF, LIF, QIF, NeuronModel, TableModel
from .specification.network import Network, heterogeneous
from .specification.populations import (Population, PopulationNetwork, Projection, balanced,
                                        brunel)
from .runs.record import SpikeRecord
from .runs.simulate import simulate
from .specification.sweep import Sweep

__all__ = ["LIF", "QIF", "EIF", "TableModel", "NeuronModel", "Network", "SpikeRecord", "simulate", "load_record",
           "Population", "Projection", "PopulationNetwork", "brunel", "balanced",
           "PoissonInput", "Stimulus",
           "Ensemble", "run_ensemble",
           "Sweep", "run_sweep", "open_results", "heterogeneous", "__version__"]


def load_record(path):
    """Read a SpikeRecord from a .npz or .zarr file written by ``SpikeRecord.save``."""
    return SpikeRecord.load(path)


def __getattr__(name):
    # run_sweep and open_results import Dask, Zarr and xarray only when first used
    if name == "run_sweep":
        from .distributed import run_sweep
        return run_sweep
    if name == "open_results":
        from .storage.reading import open_results
        return open_results
    if name in ("analysis", "plotting"):   # plotting imports matplotlib only when it draws
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
