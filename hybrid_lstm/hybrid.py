"""The hybrid analog-spiking LSTM cell: spiking gates, analog cell state.

One LSTM step runs T SNN steps. The signed input encoder rate-codes u = [x_t ; h_{t-1}];
its spikes at SNN step tau drive the gate neurons at the same step tau through the
integer weights of conversion.py: I = W^ . s + b^. After the T steps the gates' average
rates feed the analog (non-spiking) element-wise part:
    i_bar, f_bar, o_bar = spike counts / T ;  g_bar = (positive - negative spikes) / T
    c_t = f_bar * c_{t-1} + i_bar * g_bar ;  h_t = o_bar * clamp(c_t / 2, -1, 1)
"""
import torch
from torch import nn

from .cells import zero_state
from .conversion import (
    ENCODER_THRESHOLD,
    SIGMOID_THRESHOLD,
    TANH_THRESHOLD,
    ConvertedWeights,
    convert_cell,
    spiking_order,
)
from .fast_gates import FastGateSimulator, check_fast_weights
from .neurons import IFNeuron, SignedInputEncoder, TernaryIFNeuron, check_initial_potential, check_reset
from .spikes import GateSpikeCounts, SpikeRecord

SIMULATIONS = ("fast", "reference")

def simulate_gates(u: torch.Tensor, weights: ConvertedWeights, n_timestep: int, reset: str = "soft",
                   initial_potential: str = "one") -> GateSpikeCounts:
    """Reference simulation of the encoder and the four gate populations for one LSTM step.

    u: (B, D + H) analog input [x_t ; h_{t-1}]; every potential starts at
    neurons.start_potential(theta, initial_potential). Plain loop over the T SNN steps. The
    synaptic sums W^ . s are products of integers computed in float64, exact below 2^53
    whatever reduced-precision matmul mode (TF32, bf16) is set.
    """
    if not torch.isfinite(u).all():
        raise ValueError("simulate_gates: u holds non-finite values (NaN or inf)")
    encoder = SignedInputEncoder(ENCODER_THRESHOLD, reset, initial_potential)
    sigmoid_neurons = IFNeuron(SIGMOID_THRESHOLD, reset, initial_potential)
    tanh_neurons = TernaryIFNeuron(TANH_THRESHOLD, reset, initial_potential)
    hidden = weights.bias.shape[0] // 4
    # rows in SPIKING_ORDER (i, f, o, g), so that the sigmoid-type currents are one slice
    weight_t = spiking_order(weights.weight).double().t()
    bias = spiking_order(weights.bias).long()

    q = encoder.quantize(u)
    v_encoder = encoder.initial_state(q.shape, u.device)
    encoder_count = torch.zeros_like(q)
    v_sigmoid = sigmoid_neurons.initial_state((u.shape[0], 3 * hidden), u.device)
    v_tanh = tanh_neurons.initial_state((u.shape[0], hidden), u.device)
    sigmoid_count = torch.zeros_like(v_sigmoid)
    tanh_net = torch.zeros_like(v_tanh[0])
    tanh_spikes = torch.zeros_like(v_tanh[0])
    for _ in range(n_timestep):
        v_encoder, spikes = encoder.step(v_encoder, q)
        encoder_count += spikes.abs()
        current = (spikes.double() @ weight_t).long() + bias
        v_sigmoid, fired = sigmoid_neurons.step(v_sigmoid, current[:, : 3 * hidden])
        sigmoid_count += fired
        v_tanh, output = tanh_neurons.step(v_tanh, current[:, 3 * hidden :])
        tanh_net += output
        tanh_spikes += output.abs()
    i, f, o = sigmoid_count.chunk(3, dim=1)
    return GateSpikeCounts(encoder_count, i, f, tanh_net, o, tanh_spikes)


def analog_step(counts: GateSpikeCounts, c: torch.Tensor, n_timestep: int):
    """The analog part from the gates' spike counts: rates = counts / T, then
    c = f_bar c + i_bar g_bar and h = o_bar clamp(c / 2, -1, 1); returns (h, c)."""
    i, f, g, o = (count.to(c.dtype) / n_timestep for count in (counts.i, counts.f, counts.g, counts.o))
    c = f * c + i * g
    return o * torch.clamp(c / 2, -1, 1), c


class HybridLSTMCell(nn.Module):
    """Drop-in replacement of a ModifiedLSTMCell: forward(x, (h, c)) -> (h, c).

    Holds the integer weights (buffers weight (4H, D + H) and bias (4H,), int32), runs
    T = n_timestep SNN steps per LSTM step and adds every step's spikes to
    self.spike_record (reset it with reset_spike_record()). simulation "fast"
    (fast_gates.FastGateSimulator, the default) and "reference" (simulate_gates) give
    bit-identical spike counts; both always simulate the weights the buffers hold now
    (after load_state_dict or an in-place change too). initial_potential: "one" (the
    paper) or "half" (neurons.py).
    """

    def __init__(self, weights: ConvertedWeights, input_size: int, n_timestep: int, reset: str = "soft",
                 simulation: str = "fast", initial_potential: str = "one"):
        super().__init__()
        if isinstance(n_timestep, bool) or int(n_timestep) != n_timestep or n_timestep < 1:
            raise ValueError(f"n_timestep must be a positive integer, got {n_timestep!r}")
        if simulation not in SIMULATIONS:
            raise ValueError(f"simulation must be one of {SIMULATIONS}, got {simulation!r}")
        hidden4, fanin = weights.weight.shape
        if hidden4 % 4 or fanin - input_size != hidden4 // 4 or weights.bias.shape != (hidden4,):
            raise ValueError(
                f"converted weights {tuple(weights.weight.shape)} / bias {tuple(weights.bias.shape)} "
                f"do not fit input_size {input_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden4 // 4
        self.n_timestep = int(n_timestep)
        self.reset = check_reset(reset)
        self.initial_potential = check_initial_potential(initial_potential)
        self.register_buffer("weight", weights.weight.int())
        self.register_buffer("bias", weights.bias.int())
        self.simulation = simulation
        self.fast = FastGateSimulator(self.n_timestep, self.reset, self.initial_potential) if simulation == "fast" else None
        if self.fast is not None:
            check_fast_weights(self.weights(), self.n_timestep, self.initial_potential)  # now, not at the first step
        self.spike_record = SpikeRecord()

    @classmethod
    def from_cell(cls, cell: nn.Module, n_timestep: int, reset: str = "soft", simulation: str = "fast",
                  initial_potential: str = "one"):
        """Convert a trained ModifiedLSTMCell (conversion.convert_cell) into a hybrid cell."""
        hybrid = cls(convert_cell(cell), cell.input_size, n_timestep, reset, simulation, initial_potential)
        return hybrid.to(cell.weight_ih.device)

    def weights(self) -> ConvertedWeights:
        return ConvertedWeights(self.weight, self.bias)

    def reset_spike_record(self):
        self.spike_record = SpikeRecord()

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        return zero_state(batch_size, self.hidden_size, device, dtype)

    def check_inputs(self, x, h, c):
        """x (B, D), h and c (B, H), finite: ValueError naming the tensor otherwise."""
        batch = x.shape[0] if x.dim() == 2 else None
        named = (("x", x, self.input_size), ("h", h, self.hidden_size), ("c", c, self.hidden_size))
        for name, tensor, size in named:
            if tensor.dim() != 2 or tensor.shape != (batch, size):
                raise ValueError(f"HybridLSTMCell({self.input_size}, {self.hidden_size}): {name} must have shape "
                                 f"({batch if batch is not None else 'B'}, {size}), got {tuple(tensor.shape)}")
        finite = [torch.isfinite(tensor).all() for _, tensor, _ in named]
        if not torch.stack(finite).all():  # one host-device synchronisation per step, not three
            name = next(name for (name, _, _), ok in zip(named, finite) if not ok)
            raise ValueError(f"HybridLSTMCell: {name} holds non-finite values (NaN or inf)")

    def forward(self, x, state):
        h, c = state
        self.check_inputs(x, h, c)
        u = torch.cat([x, h], dim=1)
        if self.fast is not None:
            counts = self.fast(u, self.weights())
        else:
            counts = simulate_gates(u, self.weights(), self.n_timestep, self.reset, self.initial_potential)
        self.spike_record.add(counts, self.n_timestep)
        return analog_step(counts, c, self.n_timestep)

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, n_timestep={self.n_timestep}, reset={self.reset!r}, "
                f"simulation={self.simulation!r}, initial_potential={self.initial_potential!r}")
