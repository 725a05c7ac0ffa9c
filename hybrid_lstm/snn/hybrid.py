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

from ..nn.cells import zero_state
from ..nn.functional import SIGMOID_GATES, spiking_order
from .conversion import (
    ENCODER_THRESHOLD,
    SIGMOID_THRESHOLD,
    TANH_THRESHOLD,
    ConvertedWeights,
    convert_cell,
)
from .fast_gates import FastGateSimulator
from .neurons import (DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET, IFNeuron, SignedInputEncoder, SpikingConfig,
                      TernaryIFNeuron)
from .spikes import GateSpikeCounts, SpikeRecord


def simulate_gates(u: torch.Tensor, weights: ConvertedWeights, n_timestep: int, reset: str = DEFAULT_RESET,
                   initial_potential: str = DEFAULT_INITIAL_POTENTIAL) -> GateSpikeCounts:
    """Reference simulation of the encoder and the four gate populations for one LSTM step.

    u: (B, D + H) analog input [x_t ; h_{t-1}]; each population's potentials start at its V0
    (neurons.SpikingConfig). Plain loop over the T SNN steps.
    The synaptic sums W^ . s are products of integers computed in float64, exact below 2^53
    whatever reduced-precision matmul mode (TF32, bf16) is set.
    """
    config = SpikingConfig(n_timestep, reset, initial_potential)
    if not torch.isfinite(u).all():
        raise ValueError("simulate_gates: u holds non-finite values (NaN or inf)")
    encoder = SignedInputEncoder(ENCODER_THRESHOLD, reset, config.choice("encoder"))
    sigmoid_neurons = {gate: IFNeuron(SIGMOID_THRESHOLD, reset, config.choice(gate)) for gate in SIGMOID_GATES}
    tanh_neurons = TernaryIFNeuron(TANH_THRESHOLD, reset, config.choice("g"))
    batch, hidden = u.shape[0], weights.bias.shape[0] // 4
    # rows in SPIKING_ORDER (i, f, o, g), so that the sigmoid-type currents are one slice, stepped by
    # one neuron object (the rule does not depend on V0)
    weight_t = spiking_order(weights.weight).double().t()
    bias = spiking_order(weights.bias).long()

    q = encoder.quantize(u)
    v_encoder = encoder.initial_state(q.shape, u.device)
    encoder_count = torch.zeros_like(q)
    v_sigmoid = torch.cat([neuron.initial_state((batch, hidden), u.device) for neuron in sigmoid_neurons.values()], 1)
    v_tanh = tanh_neurons.initial_state((batch, hidden), u.device)
    sigmoid_count = torch.zeros_like(v_sigmoid)
    tanh_net = torch.zeros_like(v_tanh[0])
    tanh_spikes = torch.zeros_like(v_tanh[0])
    sigmoid_step = sigmoid_neurons["i"].step
    for _ in range(config.n_timestep):
        v_encoder, spikes = encoder.step(v_encoder, q)
        encoder_count += spikes.abs()
        current = (spikes.double() @ weight_t).long() + bias
        v_sigmoid, fired = sigmoid_step(v_sigmoid, current[:, : 3 * hidden])
        sigmoid_count += fired
        v_tanh, output = tanh_neurons.step(v_tanh, current[:, 3 * hidden:])
        tanh_net += output
        tanh_spikes += output.abs()
    sigmoid = dict(zip(SIGMOID_GATES, sigmoid_count.chunk(len(SIGMOID_GATES), dim=1)))
    return GateSpikeCounts(encoder_count, sigmoid["i"], sigmoid["f"], tanh_net, sigmoid["o"], tanh_spikes)


class ReferenceSimulation:
    """simulate_gates as a simulation backend: call it with (u, weights)."""

    def __init__(self, config: SpikingConfig):
        self.config = config

    def __call__(self, u: torch.Tensor, weights: ConvertedWeights) -> GateSpikeCounts:
        return simulate_gates(u, weights, self.config.n_timestep, self.config.reset, self.config.initial_potential)


# simulation backends by name: each is built from a SpikingConfig, called with (u, weights) and returns
# the spike counts of one LSTM step; every backend's counts equal the reference's (tests)
SIMULATIONS = {"fast": FastGateSimulator, "reference": ReferenceSimulation}


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
    self.spike_record (reset it with reset_spike_record()). The spikes come from a simulation
    backend: simulation names one of SIMULATIONS ("fast", the default, or "reference", which
    give bit-identical spike counts) or is a backend factory, called with the cell's
    neurons.SpikingConfig (loihi_sim.LoihiSimulation, for one). Every backend simulates the
    weights the buffers hold now (after load_state_dict or an in-place change too).
    initial_potential: "one" (the paper), "half" or per population (neurons.py).
    """

    def __init__(self, weights: ConvertedWeights, input_size: int, n_timestep: int, reset: str = DEFAULT_RESET,
                 simulation="fast", initial_potential: str = DEFAULT_INITIAL_POTENTIAL):
        super().__init__()
        self.config = SpikingConfig(n_timestep, reset, initial_potential)
        if isinstance(simulation, str) and simulation not in SIMULATIONS:
            raise ValueError(f"simulation must be one of {tuple(SIMULATIONS)} or a backend factory, got {simulation!r}")
        hidden4, fanin = weights.weight.shape
        if hidden4 % 4 or fanin - input_size != hidden4 // 4 or weights.bias.shape != (hidden4,):
            raise ValueError(
                f"converted weights {tuple(weights.weight.shape)} / bias {tuple(weights.bias.shape)} "
                f"do not fit input_size {input_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden4 // 4
        self.register_buffer("weight", weights.weight.int())
        self.register_buffer("bias", weights.bias.int())
        self.backend = (SIMULATIONS[simulation] if isinstance(simulation, str) else simulation)(self.config)
        self.simulation = simulation if isinstance(simulation, str) else type(self.backend).__name__
        check = getattr(self.backend, "check_weights", None)
        if check is not None:
            check(self.weights())  # now, not at the first step
        self.spike_record = SpikeRecord()

    n_timestep = property(lambda self: self.config.n_timestep)
    reset = property(lambda self: self.config.reset)
    initial_potential = property(lambda self: self.config.initial_potential)

    @classmethod
    def from_cell(cls, cell: nn.Module, n_timestep: int, reset: str = DEFAULT_RESET, simulation="fast",
                  initial_potential: str = DEFAULT_INITIAL_POTENTIAL):
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
        counts = self.backend(torch.cat([x, h], dim=1), self.weights())
        self.spike_record.add(counts, self.n_timestep)
        return analog_step(counts, c, self.n_timestep)

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, n_timestep={self.n_timestep}, reset={self.reset!r}, "
                f"simulation={self.simulation!r}, initial_potential={self.initial_potential!r}")
