"""Emulator state and time loop: one hybrid LSTM layer on emulated Loihi cores.

Per LSTM step (u = [x_t ; h_{t-1}], a batch of independent samples):
  host: q = round(2048 u); bias |q| to encoder+ (q > 0) or encoder- (q < 0); every
        compartment to u = 0, v = V0 (hybrid_lstm's initial potential: 1, or theta / 2 with
        initial_potential "half"; the host writes v at every LSTM step either way); no spike
        in flight.
  T chip time-steps: the encoder compartments integrate their bias and spike; their spikes
        reach the gate compartments `delay` steps later (1 on the chip, 0 in the paper's
        simulation: spikes of the last `delay` steps are lost at the LSTM step's end);
        gate compartments integrate and spike (compensate_delay, with delay 1: the chip runs
        T + 1 steps and each gate compartment starts at V0 - b instead of V0, so that the
        first step, which no spike can reach yet, brings it to V0 without spiking: steps
        2 ... T + 1 are then exactly the paper's steps 1 ... T, at the cost of one more step;
        the encoders' spikes of step T + 1 arrive too late and are not counted);
        reset as one of mapping.CHIP_RESETS (the
        chip's hard reset, the paper's soft reset, or the soft reset realised with feedback
        synapses, whose spike counts equal the soft reset's: proof in mapping.py).
  host: reads the gate spike counters; the analog part runs in float as in hybrid_lstm.
With reset="soft" and delay=0 the spike counts equal hybrid_lstm.simulate_gates bit for bit.

Events are counted per sample for the energy model (energy.py): synaptic operations (each
delivered spike times its dense fan-out), compartment updates (active when u or v is
nonzero after integration, inactive otherwise), spikes, spike messages leaving a core and
their tile hops, barrier synchronisations (one per time-step), and the per-step latency of
the slowest core.
"""
from dataclasses import dataclass, field
import functools

import torch
from torch import nn

from hybrid_lstm.snn.conversion import (ENCODER_THRESHOLD, SIGMOID_THRESHOLD, TANH_THRESHOLD, ConvertedWeights,
                                        convert_cell, version_key)
from hybrid_lstm.snn.hybrid import HybridLSTMCell
from hybrid_lstm.snn.neurons import DEFAULT_INITIAL_POTENTIAL, SignedInputEncoder, SpikingConfig, after_spike, fire
from hybrid_lstm.snn.spikes import GateSpikeCounts

from .compartment import DenseSynapses, OverflowMonitor, integrate, split_bias
from .hardware import SYNAPSE_INPUT_SHIFT
from .hardware import CoreLimits, EventCosts, PRESETS
from .mapping import GATE_POPULATIONS, Allocation, HybridLayerNetwork, allocate, check_chip_reset, neuron_reset

DELAYS = (0, 1)
FEEDBACK_WEIGHT = 128  # |w| of a soft-feedback synapse; its weight_exp makes it theta exactly


class FeedbackSynapses:
    """soft-feedback synapses of one population of `size` compartments with threshold theta (a
    power of two, at least 128): weight -128 from each spiker to its own integrator and, for g
    pairs (the g+ block, then the g- block), +128 to its partner's; weight_exp =
    log2(theta / 128) - 6, so the effective weights are -theta and +theta exactly.

    input() computes the one-to-one connections element-wise: -theta s to each own integrator
    and, for pairs, theta (s- - s+) to g+ and theta (s+ - s-) to g-; dense() is the same
    synapses as a DenseSynapses matrix (equal inputs: tested)."""

    def __init__(self, size: int, theta: int, pairs: bool):
        exponent = (theta // FEEDBACK_WEIGHT).bit_length() - 1 - SYNAPSE_INPUT_SHIFT
        if FEEDBACK_WEIGHT << (exponent + SYNAPSE_INPUT_SHIFT) != theta:
            raise ValueError(f"a threshold of {theta} is not 128 times a power of two")
        if pairs and size % 2:
            raise ValueError(f"g pairs need an even population, got {size}")
        self.size, self.theta, self.pairs, self.weight_exp = size, theta, pairs, exponent

    def dense(self) -> DenseSynapses:
        eye = torch.eye(self.size // 2 if self.pairs else self.size, dtype=torch.long)
        weight = -eye if not self.pairs else torch.cat([torch.cat([-eye, eye], 1), torch.cat([eye, -eye], 1)])
        return DenseSynapses(FEEDBACK_WEIGHT * weight, self.weight_exp)

    def input(self, spikes: torch.Tensor) -> torch.Tensor:
        """(B, size) spikes in {0, 1} -> (B, size) int64 synaptic input."""
        spikes = spikes.long()
        if not self.pairs:
            return -self.theta * spikes
        positive, negative = spikes.chunk(2, dim=1)
        to_positive = self.theta * (negative - positive)
        return torch.cat([to_positive, -to_positive], dim=1)


@dataclass
class EventCounts:
    """Events summed over all samples (divide by the number of inferences for per inference)."""

    lstm_steps: int = 0
    time_steps: int = 0  # one barrier synchronisation each
    synaptic_ops: int = 0
    active_updates: int = 0
    inactive_updates: int = 0
    spikes: int = 0
    spike_messages: int = 0
    hops_east_west: int = 0
    hops_north_south: int = 0
    core_time_ns: float = 0.0  # sum over samples and steps of the slowest core's time
    host_writes: int = 0
    host_reads: int = 0
    host_flops: int = 0
    overflows: dict = field(default_factory=dict)

    def merge(self, other: "EventCounts"):
        for name, value in vars(other).items():
            if name == "overflows":
                for kind, count in value.items():
                    self.overflows[kind] = self.overflows.get(kind, 0) + count
            else:
                setattr(self, name, getattr(self, name) + value)


class LoihiLayerEmulator:
    """Runs one mapped layer: call run(u) once per LSTM step."""

    def __init__(self, network: HybridLayerNetwork, allocation: Allocation, n_timestep: int, reset: str = "hard",
                 delay: int = 1, monitor: OverflowMonitor = None, costs: EventCosts = PRESETS["davies2018"],
                 initial_potential: str = DEFAULT_INITIAL_POTENTIAL, compensate_delay: bool = False):
        if delay not in DELAYS:
            raise ValueError(f"delay must be one of {DELAYS}, got {delay!r}")
        if compensate_delay and delay != 1:
            raise ValueError("compensate_delay needs delay 1 (there is nothing to compensate without a delay)")
        self.compensate_delay = compensate_delay
        self.network, self.allocation = network, allocation
        self.n_timestep, self.reset, self.delay = int(n_timestep), check_chip_reset(reset), delay
        self.feedback = self.reset == "soft-feedback"
        config = SpikingConfig(n_timestep, neuron_reset(self.reset), initial_potential)
        hidden = network.hidden_size
        self.encoder_v0 = config.v0("encoder")
        self.gate_v0 = torch.tensor([config.v0(population[0]) for population in GATE_POPULATIONS
                                     for _ in range(hidden)])  # g+ and g- start as g
        if self.feedback:
            self.encoder_feedback = FeedbackSynapses(network.encoder_compartments, ENCODER_THRESHOLD, False)
            self.sigmoid_feedback = FeedbackSynapses(3 * hidden, SIGMOID_THRESHOLD, False)
            self.tanh_feedback = FeedbackSynapses(2 * hidden, TANH_THRESHOLD, True)
        self.monitor = monitor or OverflowMonitor()
        self.costs = costs
        self.events = EventCounts()
        cores = len(allocation.cores)
        # one-hot (compartment, core) matrices for per-core sums
        self.gate_onehot = nn.functional.one_hot(allocation.gate_core, cores).float()
        self.encoder_onehot = nn.functional.one_hot(allocation.encoder_core, cores).float()
        self.compartments_per_core = (self.gate_onehot.sum(0) + self.encoder_onehot.sum(0)).double()
        gate_cores = sorted(set(allocation.gate_core.tolist()))
        # dense fan-out of one encoder spike into each core, and its messages' hops
        fanout = torch.zeros(cores, dtype=torch.float64)
        for core in gate_cores:
            fanout[core] = int((allocation.gate_core == core).sum())
        self.fanout_per_core = fanout  # synaptic ops per encoder spike, by target core
        self.fanout = int(fanout.sum())
        hops = [[allocation.hops(int(src), dst) for dst in gate_cores] for src in allocation.encoder_core.unique()]
        by_source = {int(src): (sum(h[0] for h in row), sum(h[1] for h in row))
                     for src, row in zip(allocation.encoder_core.unique(), hops)}
        self.hops_ew = torch.tensor([by_source[int(c)][0] for c in allocation.encoder_core], dtype=torch.float64)
        self.hops_ns = torch.tensor([by_source[int(c)][1] for c in allocation.encoder_core], dtype=torch.float64)
        self.messages_per_spike = len(gate_cores)

    def _reset(self, v, spikes, threshold, pair: bool):
        """Soft: v -= theta (a g pair moves theta across); hard: v = 0 (both of a pair, or
        hard-independent: each compartment alone); soft-feedback: none (the feedback synapses
        act at the next step)."""
        if self.feedback:
            return v
        rule = neuron_reset(self.reset)
        if not pair or self.reset == "hard-independent":
            return after_spike(v, spikes, threshold, rule)
        v_pos, v_neg = v.chunk(2, dim=1)
        p, n = spikes.chunk(2, dim=1)
        theta = threshold[: v_pos.shape[1]]
        output = p.long() - n.long()  # the ternary neuron's pair (neurons.TernaryIFNeuron)
        return torch.cat([after_spike(v_pos, output, theta, rule), after_spike(v_neg, -output, theta, rule)], dim=1)

    def run(self, u: torch.Tensor) -> GateSpikeCounts:
        """One LSTM step for u (B, F); returns hybrid_lstm's GateSpikeCounts and counts events."""
        net, hidden = self.network, self.network.hidden_size
        batch, device = u.shape[0], u.device
        q = SignedInputEncoder(ENCODER_THRESHOLD).quantize(u)
        encoder_bias_value = torch.cat([q.clamp(min=0), (-q).clamp(min=0)], dim=1)
        mantissa, exponent = split_bias(encoder_bias_value, self.monitor)
        encoder_bias = mantissa << exponent
        gate_threshold = net.gate_params.threshold.to(device)
        encoder_threshold = net.encoder_params.threshold.to(device)
        gate_bias = net.gate_params.bias.to(device)

        u_enc = torch.zeros(batch, net.encoder_compartments, dtype=torch.long, device=device)
        v_enc = torch.full_like(u_enc, self.encoder_v0)
        u_gate = torch.zeros(batch, net.gate_compartments, dtype=torch.long, device=device)
        v_gate = self.gate_v0.to(device).expand(batch, -1).clone()
        if self.compensate_delay:
            v_gate -= gate_bias
        chip_steps = self.n_timestep + (1 if self.compensate_delay else 0)
        in_flight = torch.zeros_like(u_enc, dtype=torch.bool)
        last_encoder_spikes = torch.zeros_like(in_flight)
        last_gate_spikes = torch.zeros_like(u_gate, dtype=torch.bool)
        encoder_count = torch.zeros_like(u_enc)
        gate_count = torch.zeros_like(u_gate)
        split = 3 * hidden
        events = EventCounts(lstm_steps=batch, time_steps=batch * chip_steps)
        zero_input = torch.zeros_like(u_enc)
        for step in range(chip_steps):
            encoder_input = self.encoder_feedback.input(last_encoder_spikes) if self.feedback else zero_input
            u_enc, v_enc = integrate(u_enc, v_enc, encoder_input, net.encoder_params, self.monitor, bias=encoder_bias)
            encoder_spikes = fire(v_enc, encoder_threshold)
            v_enc = self._reset(v_enc, encoder_spikes, encoder_threshold, pair=False)
            delivered = encoder_spikes if self.delay == 0 else in_flight
            in_flight = encoder_spikes
            synaptic_input = net.synapses.input(delivered)
            if self.feedback:
                synaptic_input += torch.cat([self.sigmoid_feedback.input(last_gate_spikes[:, :split]),
                                             self.tanh_feedback.input(last_gate_spikes[:, split:])], dim=1)
            u_gate, v_gate = integrate(u_gate, v_gate, synaptic_input, net.gate_params, self.monitor, bias=gate_bias)
            gate_spikes = fire(v_gate, gate_threshold)
            v_gate = torch.cat([self._reset(v_gate[:, :split], gate_spikes[:, :split], gate_threshold[:split], False),
                                self._reset(v_gate[:, split:], gate_spikes[:, split:], gate_threshold[split:], True)],
                               dim=1)
            if step < self.n_timestep:  # compensated: the last step's encoder spikes arrive too late
                encoder_count += encoder_spikes
            gate_count += gate_spikes
            last_encoder_spikes, last_gate_spikes = encoder_spikes, gate_spikes
            self._count(events, delivered, encoder_spikes, gate_spikes, u_enc, v_enc, u_gate, v_gate)

        events.host_writes = batch * (net.fanin + 2 * (net.encoder_compartments + net.gate_compartments))
        events.host_reads = batch * net.gate_compartments
        events.host_flops = batch * 6 * hidden  # c = f c + i g, h = o clamp(c / 2): about 6 operations per unit
        self.events.merge(events)
        self.events.overflows = dict(self.monitor.counts)
        fanin = net.fanin
        counts = dict(zip(GATE_POPULATIONS, gate_count.chunk(len(GATE_POPULATIONS), dim=1)))
        g_pos, g_neg = counts["g+"], counts["g-"]
        return GateSpikeCounts(encoder_count[:, :fanin] + encoder_count[:, fanin:], counts["i"], counts["f"],
                               g_pos - g_neg, counts["o"], g_pos + g_neg)

    def _count(self, events, delivered, encoder_spikes, gate_spikes, u_enc, v_enc, u_gate, v_gate):
        """This step's events. soft-feedback doubles every compartment (a spiker beside each
        integrator, active when its integrator is) and adds, per spike, one feedback synaptic
        op (two for a g spike: its own integrator and its partner's) and one core-local message.
        (Per-sample, per-core sums of 0/1 values run in float32, exact below 2^24; totals and
        times in float64.)"""
        costs = self.costs
        copies = 2 if self.feedback else 1
        split = 3 * self.network.hidden_size
        sent, gate_sent = encoder_spikes.float(), gate_spikes.float()
        active_enc = ((u_enc != 0) | (v_enc != 0)).float()
        active_gate = ((u_gate != 0) | (v_gate != 0)).float()
        delivered_count = delivered.sum(1, dtype=torch.float64)
        active_per_core = (active_gate @ self.gate_onehot + active_enc @ self.encoder_onehot).double()
        sent_per_core = (sent @ self.encoder_onehot).double()
        spikes_per_core = (gate_sent @ self.gate_onehot).double() + sent_per_core
        sent_by_source = sent.sum(0, dtype=torch.float64)
        sent_total, gate_total = int(sent_by_source.sum()), int(gate_sent.sum(dtype=torch.float64))
        active = int(active_per_core.sum())
        events.synaptic_ops += int(delivered_count.sum()) * self.fanout
        events.active_updates += copies * active
        events.inactive_updates += copies * (active_enc.numel() + active_gate.numel() - active)
        events.spikes += sent_total + gate_total
        events.spike_messages += sent_total * self.messages_per_spike
        events.hops_east_west += int(sent_by_source @ self.hops_ew)
        events.hops_north_south += int(sent_by_source @ self.hops_ns)
        feedback_ops_per_core = 0.0
        if self.feedback:
            gate_feedback = gate_sent.clone()
            gate_feedback[:, split:] *= 2  # a g spike reaches both integrators of its pair
            events.synaptic_ops += sent_total + int(gate_feedback.sum(dtype=torch.float64))
            events.spike_messages += sent_total + gate_total
            feedback_ops_per_core = (gate_feedback @ self.gate_onehot).double() + sent_per_core
        # per-core time of this step, per sample: updates, synaptic ops, spikes and messages out
        time_ns = (copies * active_per_core * costs.update_active_ns
                   + copies * (self.compartments_per_core - active_per_core) * costs.update_inactive_ns
                   + (delivered_count[:, None] * self.fanout_per_core + feedback_ops_per_core) * costs.synaptic_op_ns
                   + spikes_per_core * costs.spike_extra_ns
                   + sent_per_core * self.messages_per_spike * costs.spike_out_ns)
        events.core_time_ns += float(time_ns.max(dim=1).values.sum())


class LoihiSimulation:
    """The emulated chip as a simulation backend of hybrid_lstm.HybridLSTMCell: built from the
    cell's SpikingConfig, called with (u, weights), returning the spike counts of one LSTM step
    and counting the chip's events (self.emulator.events).

    chip_reset: how the chip realises config.reset (mapping.CHIP_RESETS; default config.reset).
    The layer is mapped onto cores when the weights are first checked or seen, and again when
    they change: a layer that does not fit the chip is refused (MappingError) before any step.
    """

    def __init__(self, config: SpikingConfig, chip_reset: str = None, delay: int = 1, overflow: str = "count",
                 limits: CoreLimits = CoreLimits(), costs: EventCosts = PRESETS["davies2018"],
                 compensate_delay: bool = False):
        self.config = config
        self.chip_reset = check_chip_reset(chip_reset or config.reset)
        if neuron_reset(self.chip_reset) != config.reset:
            raise ValueError(f"chip reset {self.chip_reset!r} does not realise the {config.reset} reset")
        self.delay, self.overflow, self.limits, self.costs = delay, overflow, limits, costs
        self.compensate_delay = compensate_delay
        self.emulator = None
        self._key = None

    @classmethod
    def factory(cls, **options):
        """A backend factory for HybridLSTMCell(simulation=...): the options above, less config."""
        return functools.partial(cls, **options)

    def check_weights(self, weights: ConvertedWeights):
        """Map these weights onto cores unless they are the ones mapped already."""
        key = version_key(weights)
        if key == self._key:
            return
        monitor = OverflowMonitor(self.overflow)
        input_size = weights.weight.shape[1] - weights.bias.shape[0] // 4
        network = HybridLayerNetwork.from_converted(ConvertedWeights(*(t.cpu() for t in weights)), input_size, monitor)
        allocation = allocate(network, self.limits, self.chip_reset)
        self.emulator = LoihiLayerEmulator(network, allocation, self.config.n_timestep, self.chip_reset, self.delay,
                                           monitor, self.costs, self.config.initial_potential, self.compensate_delay)
        self._key = key

    def __call__(self, u: torch.Tensor, weights: ConvertedWeights) -> GateSpikeCounts:
        self.check_weights(weights)
        return self.emulator.run(u)


class EmulatedHybridCell(HybridLSTMCell):
    """A trained ModifiedLSTMCell converted to a HybridLSTMCell whose gates run on the emulated
    chip (LoihiSimulation); emulator, network and allocation are the backend's."""

    def __init__(self, cell: nn.Module, n_timestep: int, reset: str = "hard", delay: int = 1,
                 overflow: str = "count", limits: CoreLimits = CoreLimits(), costs: EventCosts = PRESETS["davies2018"],
                 initial_potential: str = DEFAULT_INITIAL_POTENTIAL, compensate_delay: bool = False):
        backend = LoihiSimulation.factory(chip_reset=reset, delay=delay, overflow=overflow, limits=limits, costs=costs,
                                          compensate_delay=compensate_delay)
        super().__init__(convert_cell(cell), cell.input_size, n_timestep, neuron_reset(reset), backend,
                         initial_potential)
        self.to(cell.weight_ih.device)

    emulator = property(lambda self: self.backend.emulator)
    network = property(lambda self: self.backend.emulator.network)
    allocation = property(lambda self: self.backend.emulator.allocation)
