"""Discretisation of a converted hybrid LSTM layer into Loihi compartments, and its
allocation onto cores.

Compartments (F = D + H inputs u = [x ; h], H hidden units), in this order:
    encoder+ (F), encoder- (F)      a signed encoder is two compartments: the host writes
                                    bias |q| (q = round(2048 u)) to encoder+ where q > 0 and
                                    to encoder- where q < 0; vth 32 (threshold 2048)
    i, f, o (H each)                IF compartments, bias b^, vth 16 (threshold 1024)
    g+ , g- (H each)                the ternary g neuron is a two-compartment neuron: g+
                                    integrates +I and g- integrates -I (weights and bias
                                    negated), so V- = 2 - V+ as in hybrid_lstm; their reset
                                    is shared (soft: a spike of either moves theta from one
                                    to the other; hard: both to 0), which on Loihi-1 takes its
                                    multi-compartment (dendritic) features; it is counted as
                                    two compartments; vth 8 (threshold 512)
All compartments are non-leaky (du = 4095: u holds one step's input; dv = 0). Synapses:
dense, from the 2F encoder compartments to the 5H gate compartments, weights W^ and -W^
(even, |W^| <= 254, 8-bit) with weight_exp = -6 so that the effective weight
w * 2^(6 + weight_exp) is W^ itself. The analog part (c, h, the classifier) runs on the
host (the chip's embedded x86 cores), which also writes the encoder biases and re-initialises
every compartment (u = 0, v = 1) at the start of each LSTM step.

Allocation: gate compartments are packed onto cores in order (a g+/g- pair never split),
each core within 1,024 compartments, 4,096 input axons (every gate core receives all 2F
encoder axons) and 128 KiB of synaptic memory; dense synapses of one input axon into a core
take ceil(n * 8 / 64) 64-bit words for n target compartments there (8-bit weights, no
per-word header: an assumption). Encoder compartments go on their own cores, each needing
one output axon per gate core. A network that cannot be placed raises MappingError naming
the limit.
"""
from dataclasses import dataclass

import torch

from hybrid_lstm.conversion import ENCODER_THRESHOLD, SIGMOID_THRESHOLD, TANH_THRESHOLD, ConvertedWeights

from .compartment import CompartmentParams, DenseSynapses, OverflowMonitor, split_bias
from .hardware import DECAY_UNITY, SYNAPSE_INPUT_SHIFT, THRESHOLD_SHIFT, WEIGHT_BITS, CoreLimits

GATE_POPULATIONS = ("i", "f", "o", "g+", "g-")
WEIGHT_EXP = -SYNAPSE_INPUT_SHIFT  # effective weight = w


class MappingError(ValueError):
    """The network does not fit the hardware; the message names the limit."""


@dataclass
class HybridLayerNetwork:
    """The compartments and synapses of one converted hybrid LSTM layer."""

    input_size: int
    hidden_size: int
    synapses: DenseSynapses  # (5H, 2F): encoder+ / encoder- -> i, f, o, g+, g-
    gate_params: CompartmentParams  # (5H,) per compartment
    encoder_params: CompartmentParams  # (2F,); bias written per LSTM step by the host

    @property
    def fanin(self) -> int:
        return self.input_size + self.hidden_size

    @property
    def encoder_compartments(self) -> int:
        return 2 * self.fanin

    @property
    def gate_compartments(self) -> int:
        return 5 * self.hidden_size

    @classmethod
    def from_converted(cls, weights: ConvertedWeights, input_size: int, monitor: OverflowMonitor):
        """Build from hybrid_lstm's integer weights (gate blocks i, f, g, o)."""
        weight, bias = weights.weight.long(), weights.bias.long()
        hidden = bias.shape[0] // 4
        w_i, w_f, w_g, w_o = weight.chunk(4)
        b_i, b_f, b_g, b_o = bias.chunk(4)
        signed = torch.cat([w_i, w_f, w_o, w_g, -w_g])  # rows i, f, o, g+, g-
        synapses = DenseSynapses(torch.cat([signed, -signed], dim=1), WEIGHT_EXP)
        bias_mant, bias_exp = split_bias(torch.cat([b_i, b_f, b_o, b_g, -b_g]), monitor)
        vth = torch.tensor([SIGMOID_THRESHOLD] * 3 * hidden + [TANH_THRESHOLD] * 2 * hidden) >> THRESHOLD_SHIFT
        non_leaky = torch.full_like(vth, DECAY_UNITY - 1), torch.zeros_like(vth)
        gate_params = CompartmentParams(*non_leaky, vth, bias_mant, bias_exp).check()
        fanin = weight.shape[1]
        encoder_vth = torch.full((2 * fanin,), ENCODER_THRESHOLD >> THRESHOLD_SHIFT)
        encoder_params = CompartmentParams(torch.full_like(encoder_vth, DECAY_UNITY - 1), torch.zeros_like(encoder_vth),
                                           encoder_vth, torch.zeros_like(encoder_vth),
                                           torch.zeros_like(encoder_vth)).check()
        if fanin - input_size != hidden:
            raise ValueError(f"weights {tuple(weight.shape)} do not fit input_size {input_size}")
        return cls(input_size, hidden, synapses, gate_params, encoder_params)


@dataclass
class Core:
    """One core's load."""

    role: str  # "encoder" or "gates"
    compartments: int
    input_axons: int
    output_axons: int
    synaptic_bytes: int


@dataclass
class Allocation:
    cores: list
    encoder_core: torch.Tensor  # (2F,) core index of each encoder compartment
    gate_core: torch.Tensor  # (5H,) core index of each gate compartment
    limits: CoreLimits

    @property
    def chips(self) -> int:
        return -(-len(self.cores) // self.limits.cores_per_chip)

    @property
    def tiles(self) -> int:
        return -(-len(self.cores) // self.limits.cores_per_tile)

    def tile_position(self, core: int):
        """(column, row) of a core's tile on the chip mesh (chips side by side east-west)."""
        chip, within = divmod(core, self.limits.cores_per_chip)
        tile = within // self.limits.cores_per_tile
        rows = self.limits.cores_per_chip // self.limits.cores_per_tile // self.limits.tiles_per_row
        column, row = tile % self.limits.tiles_per_row, tile // self.limits.tiles_per_row
        return chip * self.limits.tiles_per_row + column, row % rows

    def hops(self, source: int, target: int):
        """(east-west, north-south) tile hops of a spike message between two cores."""
        (x0, y0), (x1, y1) = self.tile_position(source), self.tile_position(target)
        return abs(x1 - x0), abs(y1 - y0)


def synaptic_bytes(input_axons: int, targets: int, limits: CoreLimits) -> int:
    """Dense synapses of input_axons axons onto targets compartments of one core."""
    words_per_axon = -(-targets * WEIGHT_BITS // limits.synaptic_word_bits)
    return input_axons * words_per_axon * limits.synaptic_word_bits // 8


def allocate(network: HybridLayerNetwork, limits: CoreLimits = CoreLimits()) -> Allocation:
    """Pack the gate compartments, then the encoder compartments, onto cores (module doc)."""
    inputs = network.encoder_compartments
    if inputs > limits.input_axons:
        raise MappingError(f"every gate core needs {inputs} input axons (2 x (D + H)); a core has "
                           f"{limits.input_axons} input axons")
    hidden = network.hidden_size
    atoms = [1] * 3 * hidden + [2] * hidden  # i, f, o units; g+/g- pairs
    cores, gate_core, load = [], [], 0
    for size in atoms:
        fits = load + size <= limits.compartments and \
            synaptic_bytes(inputs, load + size, limits) <= limits.synaptic_memory_bytes
        if load == 0 or not fits:
            if size > limits.compartments:
                raise MappingError(f"a g neuron needs {size} compartments; a core has {limits.compartments}")
            if synaptic_bytes(inputs, size, limits) > limits.synaptic_memory_bytes:
                raise MappingError(f"{size} gate compartment(s) with {inputs} dense input axons need "
                                   f"{synaptic_bytes(inputs, size, limits)} bytes of synaptic memory; a core has "
                                   f"{limits.synaptic_memory_bytes}")
            if load:
                cores.append(load)
            load = 0
        gate_core += [len(cores)] * size
        load += size
    cores.append(load)
    gate_cores = [Core("gates", n, inputs, 0, synaptic_bytes(inputs, n, limits)) for n in cores]
    # gate_core lists i, f, o then (g+, g-) pairs; the network orders g+ block then g- block
    order = gate_core[: 3 * hidden] + gate_core[3 * hidden:][0::2] + gate_core[3 * hidden:][1::2]

    destinations = len(gate_cores)
    if destinations > limits.output_axons:
        raise MappingError(f"an encoder compartment needs one output axon per gate core ({destinations}); "
                           f"a core has {limits.output_axons} output axons")
    per_core = min(limits.compartments, limits.output_axons // destinations)
    encoder_cores, encoder_core = [], []
    for start in range(0, inputs, per_core):
        n = min(per_core, inputs - start)
        encoder_core += [len(gate_cores) + len(encoder_cores)] * n
        encoder_cores.append(Core("encoder", n, 0, n * destinations, 0))
    return Allocation(gate_cores + encoder_cores, torch.tensor(encoder_core), torch.tensor(order), limits)
