"""One recurrent layer of the translation model: an LSTM cell stepped over padded batches,
optionally run as hybrid_lstm's HybridLSTMCell from integer weights (a converted checkpoint).

Cells (--cell-type): default = torch.nn.LSTMCell (two bias vectors); modified =
hybrid_lstm.ModifiedLSTMCell. Initialisation (--init-type): orthogonal = each gate block of
both weight matrices orthogonal; uniform = every weight U(-0.1, 0.1) (fairseq's LSTM default).
Both keep the biases of hybrid_lstm's rule: forget-gate bias 1, the others 0.

With finetune_timesteps = T > 0 (--cell-type modified) the cell trains through its hybrid:
hybrid_lstm.snn.finetune.ConversionAwareCell, whose forward is the hybrid's at T and whose
backward is the ANN's gradient at the same point; its parameters keep the cell's names.
"""
import torch
from torch import nn

from hybrid_lstm import ConvertedWeights, HybridLSTMCell, ModifiedLSTMCell
from hybrid_lstm.nn.functional import gate_blocks
from hybrid_lstm.snn.finetune import ConversionAwareCell
from hybrid_lstm.snn.neurons import DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET, SpikingConfig

CELL_TYPES = ("default", "modified")
INIT_TYPES = ("orthogonal", "uniform")


def build_cell(cell_type: str, input_size: int, hidden_size: int, init_type: str) -> nn.Module:
    if cell_type == "modified":
        cell = ModifiedLSTMCell(input_size, hidden_size)  # orthogonal blocks, b_f = 1
    else:
        cell = nn.LSTMCell(input_size, hidden_size)
        with torch.no_grad():
            for weight in (cell.weight_ih, cell.weight_hh):
                for block in gate_blocks(weight).values():
                    nn.init.orthogonal_(block)
            cell.bias_ih.zero_()
            cell.bias_hh.zero_()
            gate_blocks(cell.bias_ih)["f"].fill_(1.0)
    if init_type == "uniform":
        with torch.no_grad():
            for name, parameter in cell.named_parameters():
                if name.startswith("weight"):
                    parameter.uniform_(-0.1, 0.1)
    return cell


class RecurrentLayer(nn.Module):
    """Holds `cell` (or, with finetune_timesteps, the cell trained through its hybrid); after
    modify_checkpoint_iwslt.py also the buffers converted_weight
    (4H, D + H) and converted_bias (4H,) int32. With hybrid_timesteps > 0 the converted
    weights run as a HybridLSTMCell at T = hybrid_timesteps SNN steps per LSTM step."""

    def __init__(self, cell_type: str, input_size: int, hidden_size: int, init_type: str, converted: bool = False,
                 hybrid_timesteps: int = 0, hybrid_reset: str = DEFAULT_RESET,
                 hybrid_initial_potential: str = DEFAULT_INITIAL_POTENTIAL, finetune_timesteps: int = 0):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.cell = build_cell(cell_type, input_size, hidden_size, init_type)
        if finetune_timesteps:
            if cell_type != "modified" or converted:
                raise ValueError("fine-tuning through the hybrid needs --cell-type modified, not converted")
            self.cell = ConversionAwareCell(self.cell, SpikingConfig(finetune_timesteps, hybrid_reset,
                                                                     hybrid_initial_potential))
        if converted:
            self.register_buffer("converted_weight", torch.zeros(4 * hidden_size, input_size + hidden_size,
                                                                 dtype=torch.int32))
            self.register_buffer("converted_bias", torch.zeros(4 * hidden_size, dtype=torch.int32))
        if hybrid_timesteps and not converted:
            raise ValueError("hybrid inference needs a checkpoint converted by modify_checkpoint_iwslt.py")
        self.hybrid_timesteps, self.hybrid_reset = hybrid_timesteps, hybrid_reset
        self.hybrid_initial_potential = hybrid_initial_potential
        self._hybrid = self._hybrid_key = None  # built from the loaded weights, never saved

    def upgrade_state_dict_named(self, state_dict: dict, name: str):
        """Called by fairseq before loading: an unconverted layer that loads a converted checkpoint (to
        fine-tune from it) drops the integer weights, which derive from the cell's own."""
        if not hasattr(self, "converted_weight"):
            for key in ("converted_weight", "converted_bias"):
                state_dict.pop(f"{name}.{key}", None)

    def step_cell(self) -> nn.Module:
        """The module that advances one LSTM step: the cell, or its hybrid, built from the
        converted buffers as they are now (rebuilt whenever they are replaced, moved to
        another device or changed in place, as load_state_dict does)."""
        if not self.hybrid_timesteps:
            return self.cell
        buffers = (self.converted_weight, self.converted_bias)
        key = tuple((t.data_ptr(), t._version, t.device) for t in buffers)
        if key != self._hybrid_key:
            self._hybrid = HybridLSTMCell(ConvertedWeights(*buffers), self.input_size, self.hybrid_timesteps,
                                          self.hybrid_reset, initial_potential=self.hybrid_initial_potential)
            self._hybrid_key = key
        return self._hybrid

    def forward(self, x: torch.Tensor, state):
        """One step: x (B, D), state (h, c) -> (h, c)."""
        return self.step_cell()(x, state)

    def run(self, x: torch.Tensor, lengths: torch.Tensor):
        """Right-padded x (B, L, D) with true lengths (B,) -> outputs (B, L, H) and (h, c) taken
        at each sequence's last true step (state frozen on padding)."""
        batch, steps, _ = x.shape
        h = x.new_zeros(batch, self.hidden_size)
        c = x.new_zeros(batch, self.hidden_size)
        cell = self.step_cell()
        outputs = []
        for t in range(steps):
            h_new, c_new = cell(x[:, t], (h, c))
            valid = (t < lengths).unsqueeze(1)
            h, c = torch.where(valid, h_new, h), torch.where(valid, c_new, c)
            outputs.append(h_new)
        return torch.stack(outputs, dim=1), (h, c)
