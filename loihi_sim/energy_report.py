"""Energy and latency per inference of any converted model, from the fast simulation's spike counts.

    report = loihi_sim.estimate(hybrid_lstm.convert(model, 32), example_inputs)
    print(report.table())                  # python -m loihi_sim.report: the same for a saved run

The model runs once on example_inputs with its hybrid layers' fast simulation; every hybrid
layer (HybridLSTM layer or HybridLSTMCell) is mapped onto Loihi cores as loihi_sim.mapping
does, and its events follow from the exact spike totals (S sample-steps of T SNN steps, F = D + H
encoders, H units, with the chip reproducing the simulation's spike counts: reset "soft" with
no delay, or "soft-feedback" with the delay compensated, T + 1 chip steps):
    synaptic ops  = encoder spikes * 5H  (+ feedback: one per spike, two per g spike)
    spikes        = encoder spikes + gate spikes
    messages      = encoder spikes * gate cores  (+ feedback: one per spike)
    tile hops     = encoder spikes * mean hops from an encoder compartment to the gate cores
    updates       = compartments * chip steps * S, all counted active (an upper bound: the emulator
                    counts a compartment inactive when u = v = 0, which V0 >= 1 makes rare)
    core time     = chip steps * S * the slowest core's time at the mean activity per step
    host          = the emulator's writes, reads and analog flops per LSTM step, plus the model's
                    other operations (counted by torch.utils.flop_counter)
A layer whose 2F encoder axons exceed a core's input axons is mapped with its fan-in split into K
groups (mapping.py, split fan-in: a cost estimate, not a Loihi 1 network), which adds per chip step
K * 5H relay messages and synaptic ops and K * 5H dendrite updates, and one chip step per LSTM step.
energy.loihi_cost turns the events into energy and latency. The ANN it came from (the same shapes,
dequantised weights) is timed at batch 1 on a device here, the CPU or a CUDA GPU, for the ANN's
figure (energy.ann_cost: measured with zeus where the counters are readable, else latency x the
active power of a named device profile; the report says which). The break-even spike rate is the
mean rate at which the chip's active energy would equal the ANN's, with everything that does not
scale with spikes held fixed.
"""
import copy
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hybrid_lstm.nn.cells import ModifiedLSTMCell
from hybrid_lstm.nn.functional import GATES
from hybrid_lstm.snn.conversion import dequantize
from hybrid_lstm.runs.files import format_table
from hybrid_lstm.snn.hybrid import HybridLSTMCell
from hybrid_lstm.nn import HybridLSTM, LSTM
from hybrid_lstm.nn.model_conversion import hybrid_layers, reset_spike_record
from hybrid_lstm.snn.spikes import SpikeRecord

from .emulator import EventCounts
from .energy import DEFAULT_PROFILES, DEVICE_PROFILES, HOST_OPS_PER_S, HOST_POWER_W, ann_cost, as_dict, loihi_cost
from .hardware import PRESETS, CoreLimits
from .mapping import LayerShape, allocate

ESTIMATE_RESETS = ("soft", "soft-feedback")  # the chip realisations whose spike counts are the simulation's


@dataclass
class LayerEstimate:
    """One hybrid LSTM layer, per inference."""
    input_size: int
    hidden_size: int
    n_timestep: int
    cores: int
    spikes: dict  # population -> spikes per inference
    rates: dict  # population -> spikes per neuron per SNN step


@dataclass
class EnergyReport:
    """Per inference: Loihi's energy and latency, its resources and events, and the ANN's figures on a
    conventional device (field cpu: its energy.DeviceCost, whose device may be a GPU)."""
    samples: int
    reset: str
    preset: str
    layers: list
    cores: int
    chips: int
    events: dict  # EventCounts fields per inference
    loihi: dict  # energy.LoihiCost fields (joules, seconds)
    ann_flops: float
    cpu: dict  # energy.DeviceCost fields of the ANN on the chosen device
    energy_ratio_cpu_over_loihi: float
    break_even_rate: float  # mean spikes per neuron per SNN step at which Loihi's active energy = the CPU's
    mean_rate: float
    assumptions: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def device_label(self) -> str:
        return "GPU" if self.cpu.get("device", "cpu").startswith("cuda") else "CPU"

    def table(self) -> str:
        rows = [[f"layer {index}", f"{layer.input_size} -> {layer.hidden_size}", layer.n_timestep, layer.cores,
                 " ".join(f"{p} {layer.rates[p]:.3f}" for p in layer.rates)] for index, layer in enumerate(self.layers)]
        text = format_table(["", "size", "T", "cores", "spike rates (per neuron per SNN step)"], rows)
        loihi, cpu = self.loihi, self.cpu
        return text + "\n" + "\n".join([
            f"Loihi ({self.reset}, preset {self.preset}): {self.cores} cores on {self.chips} chip(s); per inference "
            f"{loihi['active_j'] * 1e6:.2f} uJ active ({loihi['static_j'] * 1e6:.2f} uJ static), "
            f"{loihi['latency_s'] * 1e3:.3f} ms; {self.events['synaptic_ops']:.3g} synaptic ops, "
            f"{self.events['spikes']:.3g} spikes",
            f"{self.device_label} (the ANN, batch 1): {cpu['active_j'] * 1e6:.2f} uJ active, "
            f"{cpu['latency_s'] * 1e3:.3f} ms, {self.ann_flops:.3g} flops ({cpu['energy_source']})",
            f"{self.device_label} / Loihi active energy {self.energy_ratio_cpu_over_loihi:.1f}x; "
            + (f"the chip wins below a mean rate of {self.break_even_rate:.3f} spikes per neuron per SNN step"
               if self.break_even_rate < 1 else "the chip wins at every rate (up to 1 spike per neuron per SNN step)")
            + f" (this run: {self.mean_rate:.3f})"])


def ann_twin(model: nn.Module) -> nn.Module:
    """The model with every hybrid layer back as its ANN (weights W^ / 256, biases of b^ undone): the
    same shapes and operations, for timing."""
    twin = copy.deepcopy(model)
    for parent in list(twin.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (HybridLSTM, HybridLSTMCell)):
                setattr(parent, name, _ann_of(child))
    return _ann_of(twin) if isinstance(twin, (HybridLSTM, HybridLSTMCell)) else twin


def _dequantised(cell: HybridLSTMCell):
    return dequantize(cell.weights(), cell.input_size)


def _ann_of(module):
    if isinstance(module, HybridLSTMCell):
        cell = ModifiedLSTMCell(module.input_size, module.hidden_size)
        with torch.no_grad():
            for parameter, value in zip((cell.weight_ih, cell.weight_hh, cell.bias), _dequantised(module)):
                parameter.copy_(value)
        return cell.to(module.weight.device)
    lstm = LSTM(module.input_size, module.hidden_size, module.num_layers, batch_first=module.batch_first,
                cell_state_limit=module.cell_state_limit)
    with torch.no_grad():
        for layer, cell in enumerate(module.cells):
            weight_ih, weight_hh, bias = _dequantised(cell)
            w_ih, w_hh, b_ih, b_hh = lstm.layer_weights(layer)
            w_ih.copy_(weight_ih), w_hh.copy_(weight_hh), b_ih.copy_(bias), b_hh.zero_()
    return lstm.to(module.cells[0].weight.device)


def _cells(layer):
    return list(layer.cells) if isinstance(layer, HybridLSTM) else [layer]


def _layer_events(cell: HybridLSTMCell, record: SpikeRecord, reset: str, limits: CoreLimits, costs) -> tuple:
    """(EventCounts summed over the run, cores, LayerEstimate spikes) of one hybrid cell."""
    network = LayerShape(cell.input_size, cell.hidden_size)
    allocation = allocate(network, limits, reset, split_fanin=True)
    hidden, fanin, t, groups = cell.hidden_size, network.fanin, cell.n_timestep, allocation.groups
    gates = network.gate_compartments
    totals = record.totals()
    sample_steps = totals["i"]["updates"] // (hidden * t)
    feedback = reset == "soft-feedback"
    chip_steps = t + (1 if feedback else 0) + (1 if groups > 1 else 0)  # + the relay's delay
    encoder = totals["encoder"]["spikes"]
    sent = encoder * (chip_steps / t if feedback else 1)  # compensated: the encoders keep firing at their mean rate
    gate = {p: totals[p]["spikes"] for p in GATES}
    gate_total = sum(gate.values())
    destinations = allocation.encoder_destinations()
    encoder_cores = allocation.encoder_core.tolist()
    hops = [[allocation.hops(source, target) for target in row] for source, row in zip(encoder_cores, destinations)]
    mean_hops_ew = sum(sum(h[0] for h in row) for row in hops) / len(hops)
    mean_hops_ns = sum(sum(h[1] for h in row) for row in hops) / len(hops)
    mean_destinations = sum(map(len, destinations)) / len(destinations)
    relays = groups * gates * chip_steps * sample_steps if groups > 1 else 0  # one message and op each
    relay_hops = (0.0, 0.0)
    if relays:
        pairs = [allocation.hops(int(d), int(g)) for row in allocation.dendrite_core for d, g in zip(row, allocation.gate_core)]
        relay_hops = tuple(sum(h[axis] for h in pairs) / len(pairs) for axis in (0, 1))
    copies = 2 if feedback else 1
    compartments = network.encoder_compartments + gates
    feedback_ops = sent + gate_total + gate["g"] if feedback else 0
    events = EventCounts(
        lstm_steps=sample_steps, time_steps=sample_steps * chip_steps,
        synaptic_ops=encoder * gates + feedback_ops + relays,
        active_updates=(copies * compartments + (groups * gates if relays else 0)) * chip_steps * sample_steps,
        inactive_updates=0, spikes=sent + gate_total,
        spike_messages=sent * mean_destinations + (sent + gate_total if feedback else 0) + relays,
        hops_east_west=sent * mean_hops_ew + relays * relay_hops[0],
        hops_north_south=sent * mean_hops_ns + relays * relay_hops[1],
        host_writes=sample_steps * (fanin + 2 * compartments), host_reads=sample_steps * gates,
        host_flops=sample_steps * 6 * hidden)
    # the slowest core at the mean activity of one chip step
    steps = max(1, sample_steps * chip_steps)
    encoder_per_step, gate_per_step, sent_per_step = encoder / steps, gate_total / steps, sent / steps
    relays_per_step = relays / steps
    core_ns = []
    for index, core in enumerate(allocation.cores):
        gate_share = int((allocation.gate_core == index).sum()) / gates
        encoder_share = int((allocation.encoder_core == index).sum()) / network.encoder_compartments
        dendrites = int((allocation.dendrite_core == index).sum()) if relays else 0
        delivered = (encoder_per_step / groups * dendrites + relays_per_step * gate_share if relays
                     else encoder_per_step * int((allocation.gate_core == index).sum()))
        spikes_here = gate_per_step * gate_share + sent_per_step * encoder_share
        core_ns.append(core.compartments * costs.update_active_ns
                       + (delivered + (spikes_here if feedback else 0)) * costs.synaptic_op_ns
                       + spikes_here * costs.spike_extra_ns
                       + (sent_per_step * encoder_share * mean_destinations
                          + relays_per_step * dendrites / (groups * gates)) * costs.spike_out_ns)
    events.core_time_ns = max(core_ns) * sample_steps * chip_steps
    spikes = {"encoder": encoder, **gate}
    return events, len(allocation.cores), spikes


def estimate(model: nn.Module, example_inputs, samples: int = None, reset: str = "soft-feedback",
             preset: str = "davies2018", limits: CoreLimits = CoreLimits(), host_power_w: float = HOST_POWER_W,
             host_ops_per_s: float = HOST_OPS_PER_S, cpu_repeats: int = 3, device="cpu",
             profile: str = None) -> EnergyReport:
    """The report of the module doc for a converted model on example_inputs (a tensor, or a tuple of
    the model's positional arguments); samples: the inferences they hold (default: the first
    tensor's first dimension). device: where the ANN is timed ("cpu" or "cuda"); profile: the
    energy.DEVICE_PROFILES entry whose power models its energy where no counter is readable
    (default: the device kind's DEFAULT_PROFILES entry)."""
    device = torch.device(device)
    profile = profile or DEFAULT_PROFILES.get(device.type)
    if profile not in DEVICE_PROFILES or DEVICE_PROFILES[profile].kind != device.type:
        raise ValueError(f"profile must be one of {sorted(n for n, p in DEVICE_PROFILES.items() if p.kind == device.type)} "
                         f"for device {device}, got {profile!r}")
    if reset not in ESTIMATE_RESETS:
        raise ValueError(f"reset must be one of {ESTIMATE_RESETS} (the chip realisations that reproduce the "
                         f"simulation's spike counts), got {reset!r}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    layers = hybrid_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no hybrid layer: convert it first (hybrid_lstm.convert)")
    arguments = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    samples = int(samples if samples is not None else arguments[0].shape[0])
    model.eval()
    reset_spike_record(model)
    with torch.no_grad(), FlopCounterMode(display=False) as flops:
        model(*arguments)
    counts = {name: sum(ops.values()) for name, ops in flops.get_flop_counts().items()}
    root = type(model).__name__
    hybrid_names = {id(module): root + (f".{name}" if name else "") for name, module in model.named_modules()}
    other_flops = counts.get("Global", 0) - sum(counts.get(hybrid_names[id(layer)], 0) for layer in layers)

    costs = PRESETS[preset]
    events, layer_reports, cores, ann_flops = EventCounts(), [], 0, other_flops
    for layer in layers:
        for cell in _cells(layer):
            cell_events, cell_cores, spikes = _layer_events(cell, cell.spike_record, reset, limits, costs)
            events.merge(cell_events)
            cores += cell_cores
            rates = cell.spike_record.rates()
            layer_reports.append(LayerEstimate(cell.input_size, cell.hidden_size, cell.n_timestep, cell_cores,
                                               {p: n / samples for p, n in spikes.items()}, rates))
            fanin, hidden = cell.input_size + cell.hidden_size, cell.hidden_size
            ann_flops += cell_events.lstm_steps * (2 * 4 * hidden * fanin + 10 * hidden)
    events.host_flops += other_flops
    chips, tiles = -(-cores // limits.cores_per_chip), -(-cores // limits.cores_per_tile)
    loihi = loihi_cost(events, samples, costs, tiles, chips, host_power_w, host_ops_per_s)

    first = arguments[0]
    cpu_inputs = first[: min(samples, 20)].cpu() if len(arguments) == 1 else None
    twin = ann_twin(model).eval()
    cpu = ann_cost(twin, cpu_inputs, device, profile, repeats=cpu_repeats) if cpu_inputs is not None else None

    silent = copy.copy(events)  # the same run without a spike: what does not scale with the rate
    silent.synaptic_ops = silent.spikes = silent.spike_messages = silent.hops_east_west = silent.hops_north_south = 0
    fixed_j = loihi_cost(silent, samples, costs, tiles, chips, host_power_w, host_ops_per_s).active_j
    spike_j = loihi.active_j - fixed_j
    neuron_steps = sum(rec["updates"] for layer in layers for cell in _cells(layer)
                       for rec in cell.spike_record.totals().values())
    mean_rate = sum(rec["spikes"] for layer in layers for cell in _cells(layer)
                    for rec in cell.spike_record.totals().values()) / max(1, neuron_steps)
    cpu_j = cpu.active_j if cpu else float("nan")
    break_even = mean_rate * (cpu_j - fixed_j) / spike_j if spike_j > 0 else float("inf")
    return EnergyReport(samples, reset, preset, layer_reports, cores, chips,
                        {k: (v / samples if not isinstance(v, dict) else v) for k, v in vars(events).items()},
                        as_dict(loihi), ann_flops / samples, as_dict(cpu) if cpu else {},
                        cpu_j / loihi.active_j, max(0.0, break_even), mean_rate,
                        {"host_power_w": host_power_w, "host_ops_per_second": host_ops_per_s,
                         "device_profile": {"name": profile, **asdict(DEVICE_PROFILES[profile])},
                         "updates": "every compartment update counted active (an upper bound)"})

