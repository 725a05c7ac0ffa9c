"""convert(model, n_timestep): any model's modified-cell LSTMs replaced by their hybrids.

A copy of the model is returned in which every hybrid_lstm.nn.LSTM(cell="modified") becomes
a HybridLSTM and every ModifiedLSTMCell a HybridLSTMCell; every other module, parameter and
buffer is copied unchanged. An LSTM whose gates are sigmoid/tanh (torch.nn.LSTM,
torch.nn.LSTMCell, a baseline cell) has no integrate-and-fire equivalent and is refused.
"""
import copy

from torch import nn

from .cells import BaselineLSTMCell, ModifiedLSTMCell
from ..snn.hybrid import HybridLSTMCell
from ..snn.neurons import DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET
from ..snn.spikes import SpikeRecord
from .hybrid import HybridLSTM
from .lstm import LSTM

NOT_CONVERTIBLE = (nn.LSTM, nn.LSTMCell, BaselineLSTMCell)
FINE_TUNE_HINT = ("fine-tune it into a modified cell first: hybrid_lstm.nn.LSTM.from_torch(lstm, cell='modified') "
                  "(or hybrid_lstm.nn.LSTM(..., cell='modified') with its state_dict), then train")


def _hybrid_of(module: nn.Module, n_timestep, reset, initial_potential, simulation):
    if isinstance(module, LSTM) and module.cell == "modified":
        return HybridLSTM(module, n_timestep, reset, initial_potential, simulation)
    if isinstance(module, ModifiedLSTMCell):
        return HybridLSTMCell.from_cell(module, n_timestep, reset, simulation, initial_potential)
    return None


def _refuse_unconvertible(model: nn.Module):
    for name, module in model.named_modules():
        if isinstance(module, NOT_CONVERTIBLE) or (isinstance(module, LSTM) and module.cell != "modified"):
            where = f" at {name!r}" if name else ""
            raise TypeError(f"cannot convert the {type(module).__name__}{where}: its sigmoid/tanh gates have no "
                            f"integrate-and-fire equivalent; {FINE_TUNE_HINT}")


def convert(model: nn.Module, n_timestep: int, reset: str = DEFAULT_RESET,
            initial_potential: str = DEFAULT_INITIAL_POTENTIAL,
            simulation: str = "fast") -> nn.Module:
    """A copy of model whose modified-cell LSTM layers and cells run as hybrids at T = n_timestep
    (module doc). reset "soft" (the paper) or "hard"; initial_potential "one" (V0 = 1, the paper)
    or "half" (V0 = theta / 2). TypeError for a sigmoid/tanh LSTM, ValueError for a model without
    a convertible LSTM."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert takes a torch.nn.Module, got {type(model).__name__}")
    _refuse_unconvertible(model)
    converted = copy.deepcopy(model)
    whole = _hybrid_of(converted, n_timestep, reset, initial_potential, simulation)
    if whole is not None:
        return whole
    replaced = 0
    for parent in list(converted.modules()):
        for name, child in list(parent.named_children()):
            hybrid = _hybrid_of(child, n_timestep, reset, initial_potential, simulation)
            if hybrid is not None:
                setattr(parent, name, hybrid)
                replaced += 1
    if not replaced:
        raise ValueError(f"{type(model).__name__} holds no hybrid_lstm.nn.LSTM(cell='modified') or "
                         "ModifiedLSTMCell: nothing to convert")
    return converted


def hybrid_layers(model: nn.Module) -> list:
    """The HybridLSTM layers and the HybridLSTMCells outside them, in module order."""
    inside = {id(cell) for module in model.modules() if isinstance(module, HybridLSTM) for cell in module.cells}
    return [module for module in model.modules()
            if isinstance(module, HybridLSTM) or (isinstance(module, HybridLSTMCell) and id(module) not in inside)]


def spike_record(model: nn.Module) -> SpikeRecord:
    """Spikes and neuron updates per population of every hybrid layer of model since reset_spike_record."""
    return SpikeRecord.merged(layer.spike_record for layer in hybrid_layers(model))


def reset_spike_record(model: nn.Module):
    """Empty the spike record of every hybrid layer of model (spike_record then counts from here)."""
    for layer in hybrid_layers(model):
        layer.reset_spike_record()
