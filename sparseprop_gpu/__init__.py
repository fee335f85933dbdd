"""sparseprop-gpu: exact event-based simulation of sparse spiking networks with SparseProp."""
from .ensemble import Ensemble, EnsembleResult, run_ensemble
from .models import LIF, QIF, NeuronModel
from .network import Network, heterogeneous
from .record import SpikeRecord
from .simulate import simulate

__version__ = "0.1.0"
__all__ = ["LIF", "QIF", "NeuronModel", "Network", "SpikeRecord", "simulate", "load_record",
           "Ensemble", "EnsembleResult", "run_ensemble", "heterogeneous", "__version__"]


def load_record(path):
    """Read a SpikeRecord from a .npz or .zarr file written by ``SpikeRecord.save``."""
    return SpikeRecord.load(path)
