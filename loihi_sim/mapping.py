"""Discretisation of a converted hybrid LSTM layer into Loihi compartments, and its
allocation onto cores.

Compartments (F = D + H inputs u = [x ; h], H hidden units), in this order:
    encoder+ (F), encoder- (F)      a signed encoder is two compartments: the host writes
                                    bias |q| (q = round(2048 u)) to encoder+ where q > 0 and
                                    to encoder- where q < 0; vth 32 (threshold 2048)
    i, f, o (H each)                IF compartments, bias b^, vth 16 (threshold 1024)
    g+ , g- (H each)                the ternary g neuron is a two-compartment neuron: g+
                                    integrates +I and g- integrates -I (weights and bias
                                    negated), so V- = 2 V0 - V+ as in hybrid_lstm; their reset
                                    is shared (soft: a spike of either moves theta from one
                                    to the other; hard: both to 0), which on Loihi-1 takes its
                                    multi-compartment (dendritic) features; it is counted as
                                    two compartments; vth 8 (threshold 512)
All compartments are non-leaky (du = 4095: u holds one step's input; dv = 0). Synapses:
dense, from the 2F encoder compartments to the 5H gate compartments, weights W^ and -W^
(even, |W^| <= 254, 8-bit) with weight_exp = -6 so that the effective weight
w * 2^(6 + weight_exp) is W^ itself. The analog part (c, h, the classifier) runs on the
host (the chip's embedded x86 cores), which also writes the encoder biases and re-initialises
every compartment (u = 0, v = V0: 1, or theta / 2 for a population whose initial potential is
"half"; hybrid_lstm's SpikingConfig) at the start of each LSTM step.

Reset realisations (CHIP_RESETS; the emulator runs each):
    hard              Loihi's own reset, v = 0. The g pair's shared reset (both to 0 when either
                      fires) needs a multi-compartment neuron (Davies et al. 2018 describe
                      dendritic trees of compartments; the exact join semantics are not public).
    hard-independent  g+ and g- reset alone, each to 0 when it fires: plain compartments only.
    soft              the paper's soft reset as if a compartment could subtract its threshold;
                      Loihi 1 cannot (its compartments reset to 0), so this is the paper's
                      arithmetic at a hard-reset compartment's cost, an idealisation.
    soft-feedback     the soft reset realised: every neuron is an integrator compartment that
                      never fires (its vth above any reachable v; dv = 0, so v integrates
                      exactly) and a spiking compartment that reads the integrator's v through
                      a dendritic join in the same time-step (Davies et al. 2018) and fires when
                      it exceeds theta; a feedback synapse of weight -theta from the spiker to
                      its integrator (for a g neuron: -theta to its own, +theta to its partner's)
                      arrives one step later (the chip's synaptic delay), so
                          v(t + 1) = v(t) + I(t + 1) + b - theta s(t),
                      which is the soft reset exactly. Costs: twice the compartments, one
                      feedback axon and synaptic op per spike (two for a g spike), one
                      core-local spike message per spike.

Allocation: gate compartments are packed onto cores in order (a g+/g- pair never split),
each core within 1,024 compartments, 4,096 input axons (every gate core receives all 2F
encoder axons) and 128 KiB of synaptic memory; dense synapses of one input axon into a core
take ceil(n * 8 / 64) 64-bit words for n target compartments there (8-bit weights, no
per-word header: an assumption). Encoder compartments go on their own cores, each needing
one output axon per gate core. A network that cannot be placed raises MappingError naming
the limit.

Split fan-in (allocate(..., split_fanin=True); the energy estimate only, never emulated): when
the 2F encoder axons exceed a core's input axons, they are cut into K = ceil(2F / 4096) groups
of at most 4,096. Each gate compartment gets one dendrite compartment per group, on dendrite
cores that receive that group's axons and hold its dense synapses; every SNN step each
dendrite relays its partial input to its gate compartment, one message and one synaptic op,
which arrives a step later (one more chip step per LSTM step). The gate cores then receive K
relay axons per gate compartment instead of the encoder axons. The relay carries an integer,
which Loihi 1's binary spikes cannot (Loihi 2's graded spikes can): a layer mapped this way is
a cost estimate of that scheme, not a bit-accurate Loihi 1 network.
"""
from dataclasses import dataclass

import torch

from hybrid_lstm.nn.functional import SIGMOID_GATES, spiking_order
from hybrid_lstm.snn.conversion import ENCODER_THRESHOLD, SIGMOID_THRESHOLD, TANH_THRESHOLD, ConvertedWeights

from .compartment import CompartmentParams, DenseSynapses, OverflowMonitor, split_bias
from .hardware import DECAY_UNITY, SYNAPSE_INPUT_SHIFT, THRESHOLD_SHIFT, WEIGHT_BITS, CoreLimits

# the gate compartments of a layer: the spiking order (i, f, o, g) with the ternary g as a pair
GATE_POPULATIONS = SIGMOID_GATES + ("g+", "g-")
CHIP_RESETS = ("hard", "hard-independent", "soft", "soft-feedback")


def check_chip_reset(reset: str) -> str:
    if reset not in CHIP_RESETS:
        raise ValueError(f"reset must be one of {CHIP_RESETS}, got {reset!r}")
    return reset


def neuron_reset(chip_reset: str) -> str:
    """The neuron rule (neurons.RESET_MODES) a chip reset realises: soft and soft-feedback the
    soft reset, hard and hard-independent the hard reset."""
    return "soft" if check_chip_reset(chip_reset).startswith("soft") else "hard"


def compartments_per_neuron(reset: str) -> int:
    """2 where a neuron is an integrator and a spiker (soft-feedback), else 1."""
    return 2 if check_chip_reset(reset) == "soft-feedback" else 1
WEIGHT_EXP = -SYNAPSE_INPUT_SHIFT  # effective weight = w


class MappingError(ValueError):
    """The network does not fit the hardware; the message names the limit."""


@dataclass
class LayerShape:
    """The sizes of one hybrid LSTM layer, which are all that allocate() needs."""

    input_size: int
    hidden_size: int

    @property
    def fanin(self) -> int:
        return self.input_size + self.hidden_size

    @property
    def encoder_compartments(self) -> int:
        return 2 * self.fanin

    @property
    def gate_compartments(self) -> int:
        return 5 * self.hidden_size


@dataclass
class HybridLayerNetwork(LayerShape):
    """The compartments and synapses of one converted hybrid LSTM layer."""

    synapses: DenseSynapses  # (5H, 2F): encoder+ / encoder- -> i, f, o, g+, g-
    gate_params: CompartmentParams  # (5H,) per compartment
    encoder_params: CompartmentParams  # (2F,); bias written per LSTM step by the host

    @classmethod
    def from_converted(cls, weights: ConvertedWeights, input_size: int, monitor: OverflowMonitor):
        """Build from hybrid_lstm's integer weights (gate blocks i, f, g, o)."""
        weight, bias = spiking_order(weights.weight.long()), spiking_order(weights.bias.long())
        hidden = bias.shape[0] // 4
        g = slice(3 * hidden, 4 * hidden)
        signed = torch.cat([weight, -weight[g]])  # rows i, f, o, g+, g- (SPIKING_ORDER, then g negated)
        synapses = DenseSynapses(torch.cat([signed, -signed], dim=1), WEIGHT_EXP)
        bias_mant, bias_exp = split_bias(torch.cat([bias, -bias[g]]), monitor)
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
    dendrite_core: torch.Tensor | None = None  # split fan-in: (K, 5H) core of each gate compartment's dendrites

    @property
    def groups(self) -> int:
        """K: the groups the encoder axons are split into (1: every gate core receives them all)."""
        return 1 if self.dendrite_core is None else self.dendrite_core.shape[0]

    def encoder_destinations(self) -> list:
        """For each encoder compartment, the cores its spikes go to (gate or dendrite cores)."""
        if self.dendrite_core is None:
            return [sorted(set(self.gate_core.tolist()))] * len(self.encoder_core)
        size = -(-len(self.encoder_core) // self.groups)
        per_group = [sorted(set(row.tolist())) for row in self.dendrite_core]
        return [per_group[index // size] for index in range(len(self.encoder_core))]

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


def feedback_bytes(spikers: int, limits: CoreLimits) -> int:
    """soft-feedback: one axon per spiker into its core, one 64-bit word of synapses each."""
    return spikers * limits.synaptic_word_bits // 8


def allocate(network: LayerShape, limits: CoreLimits = CoreLimits(), reset: str = "hard",
             split_fanin: bool = False) -> Allocation:
    """Pack the gate compartments, then the encoder compartments, onto cores (module doc).
    With soft-feedback every neuron takes two compartments and feeds one axon back into its core.
    split_fanin: a layer whose encoder axons exceed a core's input axons is mapped with its fan-in
    split over dendrite cores (module doc: an estimate, not a Loihi 1 network)."""
    per_neuron = compartments_per_neuron(reset)
    inputs = network.encoder_compartments
    if inputs + (1 if per_neuron == 2 else 0) > limits.input_axons:
        if split_fanin:
            return _allocate_split(network, limits, per_neuron)
        raise MappingError(f"every gate core needs {inputs} input axons (2 x (D + H)); a core has "
                           f"{limits.input_axons} input axons (loihi_sim.estimate maps such a layer by splitting "
                           "its fan-in, as a cost estimate)")
    hidden = network.hidden_size
    atoms = [1] * 3 * hidden + [2] * hidden  # i, f, o units; g+/g- pairs

    def memory(neurons: int) -> int:
        return synaptic_bytes(inputs, neurons, limits) + (feedback_bytes(neurons, limits) if per_neuron == 2 else 0)

    def axons(neurons: int) -> int:
        return inputs + (neurons if per_neuron == 2 else 0)

    cores, gate_core, load = [], [], 0
    for size in atoms:
        fits = (load + size) * per_neuron <= limits.compartments and \
            memory(load + size) <= limits.synaptic_memory_bytes and axons(load + size) <= limits.input_axons
        if load == 0 or not fits:
            if size * per_neuron > limits.compartments:
                raise MappingError(f"a g neuron needs {size * per_neuron} compartments; a core has {limits.compartments}")
            if memory(size) > limits.synaptic_memory_bytes:
                raise MappingError(f"{size} gate neuron(s) with {inputs} dense input axons need "
                                   f"{memory(size)} bytes of synaptic memory; a core has "
                                   f"{limits.synaptic_memory_bytes}")
            if axons(size) > limits.input_axons:
                raise MappingError(f"a gate core needs {axons(size)} input axons; a core has {limits.input_axons}")
            if load:
                cores.append(load)
            load = 0
        gate_core += [len(cores)] * size
        load += size
    cores.append(load)
    gate_cores = [Core("gates", n * per_neuron, axons(n), n if per_neuron == 2 else 0, memory(n)) for n in cores]
    # gate_core lists i, f, o then (g+, g-) pairs; the network orders g+ block then g- block
    order = gate_core[: 3 * hidden] + gate_core[3 * hidden:][0::2] + gate_core[3 * hidden:][1::2]

    destinations = len(gate_cores) + (1 if per_neuron == 2 else 0)  # + its own feedback axon
    if destinations > limits.output_axons:
        raise MappingError(f"an encoder compartment needs one output axon per gate core ({destinations}); "
                           f"a core has {limits.output_axons} output axons")
    per_core = min(limits.compartments // per_neuron, limits.output_axons // destinations)
    if per_neuron == 2:
        per_core = min(per_core, limits.input_axons, limits.synaptic_memory_bytes // feedback_bytes(1, limits))
    encoder_cores, encoder_core = [], []
    for start in range(0, inputs, per_core):
        n = min(per_core, inputs - start)
        encoder_core += [len(gate_cores) + len(encoder_cores)] * n
        feedback = per_neuron == 2
        encoder_cores.append(Core("encoder", n * per_neuron, n if feedback else 0, n * destinations,
                                  feedback_bytes(n, limits) if feedback else 0))
    return Allocation(gate_cores + encoder_cores, torch.tensor(encoder_core), torch.tensor(order), limits)


def _pack(atoms: list, fits) -> list:
    """Cores of consecutive atoms (sizes in neurons), each core as full as fits(neurons) allows."""
    cores, load = [], 0
    for size in atoms:
        if load and not fits(load + size):
            cores.append(load)
            load = 0
        if not fits(load + size):
            raise MappingError(f"{size} neuron(s) do not fit one core")
        load += size
    return cores + [load]


def _allocate_split(network: LayerShape, limits: CoreLimits, per_neuron: int) -> Allocation:
    """The split fan-in mapping of the module doc: gate cores on relay axons, dendrite cores per group,
    then encoder cores."""
    inputs, gates, hidden = network.encoder_compartments, network.gate_compartments, network.hidden_size
    groups = -(-inputs // limits.input_axons)
    size = -(-inputs // groups)
    feedback = per_neuron == 2

    def gate_fits(neurons: int) -> bool:  # K relay axons and one word of synapses per relay, + feedback
        axons = neurons * groups + (neurons if feedback else 0)
        return (neurons * per_neuron <= limits.compartments and axons <= limits.input_axons
                and axons * limits.synaptic_word_bits // 8 <= limits.synaptic_memory_bytes)

    gate_loads = _pack([1] * 3 * hidden + [2] * hidden, gate_fits)
    gate_core = [core for core, load in enumerate(gate_loads) for _ in range(load)]
    order = gate_core[: 3 * hidden] + gate_core[3 * hidden:][0::2] + gate_core[3 * hidden:][1::2]
    cores = [Core("gates", n * per_neuron, n * groups + (n if feedback else 0), n if feedback else 0,
                  (n * groups + (n if feedback else 0)) * limits.synaptic_word_bits // 8) for n in gate_loads]

    def dendrite_fits(neurons: int) -> bool:
        return (neurons <= min(limits.compartments, limits.output_axons)
                and synaptic_bytes(size, neurons, limits) <= limits.synaptic_memory_bytes)

    dendrite_core = []
    for group in range(groups):
        axons = min(size, inputs - group * size)
        loads = _pack([1] * gates, dendrite_fits)
        dendrite_core.append([len(cores) + core for core, load in enumerate(loads) for _ in range(load)])
        cores += [Core("dendrites", n, axons, n, synaptic_bytes(axons, n, limits)) for n in loads]
    destinations = max(len(set(row)) for row in dendrite_core) + (1 if feedback else 0)
    if destinations > limits.output_axons:
        raise MappingError(f"an encoder compartment needs one output axon per dendrite core of its group "
                           f"({destinations}); a core has {limits.output_axons} output axons")
    per_core = min(limits.compartments // per_neuron, limits.output_axons // destinations)
    encoder_core = []
    for start in range(0, inputs, per_core):
        n = min(per_core, inputs - start)
        encoder_core += [len(cores)] * n
        cores.append(Core("encoder", n * per_neuron, n if feedback else 0, n * destinations,
                          feedback_bytes(n, limits) if feedback else 0))
    return Allocation(cores, torch.tensor(encoder_core), torch.tensor(order), limits, torch.tensor(dendrite_core))
