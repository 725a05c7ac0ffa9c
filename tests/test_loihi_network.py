"""loihi_sim's mapped network against hybrid_lstm, core allocation, and energy accounting."""
import dataclasses
import json

import pytest
import torch
from conftest import random_cell

from hybrid_lstm import ConvertedWeights, HybridLSTMCell, SequenceClassifier, convert_cell, simulate_gates
from loihi_sim.compartment import OverflowMonitor
from loihi_sim.emulator import EmulatedHybridCell, EventCounts, LoihiLayerEmulator, LoihiSimulation
from loihi_sim.energy import loihi_cost
from loihi_sim.hardware import PRESETS, CoreLimits
from loihi_sim.mapping import HybridLayerNetwork, MappingError, allocate, synaptic_bytes


def chip_inputs():
    u = torch.rand(7, 28 + 24, generator=torch.Generator().manual_seed(1)) * 2 - 1
    u[0] = 0.0
    u[1, :4] = torch.tensor([1.0, -1.0, 0.5 / 2048, -0.999])
    return u


@pytest.mark.parametrize("initial_potential", ["one", "half"])
@pytest.mark.parametrize("chip_reset, reset", [("soft", "soft"), ("hard", "hard"), ("soft-feedback", "soft")])
@pytest.mark.parametrize("n_timestep", [1, 16, 50])
def test_spike_counts_equal_hybrid_lstm_without_delay(chip_reset, reset, n_timestep, initial_potential):
    """The soft reset realised with feedback synapses gives the soft reset's counts bit for bit."""
    cell, u = random_cell(28, 24), chip_inputs()
    chip = EmulatedHybridCell(cell, n_timestep, reset=chip_reset, delay=0, overflow="strict",
                              initial_potential=initial_potential)
    emulated = chip.emulator.run(u)
    reference = simulate_gates(u, convert_cell(cell), n_timestep, reset, initial_potential)
    for name, expected, actual in zip(reference._fields, reference, emulated):
        assert torch.equal(actual, expected), name


def test_soft_feedback_equals_soft_with_the_chips_delay():
    cell, u = random_cell(28, 24), chip_inputs()
    soft, feedback = (EmulatedHybridCell(cell, 40, reset, 1, "strict").emulator.run(u) for reset in ("soft", "soft-feedback"))
    assert all(torch.equal(a, b) for a, b in zip(soft, feedback))


def test_hard_independent_resets_each_g_compartment_alone():
    """g+ driven above threshold and g- held below: both resets agree while only g+ fires;
    the shared reset also zeroes g-, which then starts again from 0 instead of accumulating."""
    weights = ConvertedWeights(torch.zeros(4, 2, dtype=torch.int32), torch.tensor([0, 0, 300, 0], dtype=torch.int32))
    u = torch.zeros(1, 2)
    counts = {reset: LoihiLayerEmulator(network_from(weights), allocate(network_from(weights)), 6, reset, 0).run(u)
              for reset in ("hard", "hard-independent")}
    # g+ = 1 + 300 t fires at t = 2 (601 > 512) and every second step after a reset: 3 spikes;
    # g- = 1 - 300 t never fires either way: the net g count is the same, the reset rule differs only for g-
    assert counts["hard"].g.tolist() == counts["hard-independent"].g.tolist() == [[3]]
    weights = ConvertedWeights(torch.zeros(4, 2, dtype=torch.int32), torch.tensor([0, 0, -300, 0], dtype=torch.int32))
    shared = LoihiLayerEmulator(network_from(weights), allocate(network_from(weights)), 6, "hard", 0).run(u)
    alone = LoihiLayerEmulator(network_from(weights), allocate(network_from(weights)), 6, "hard-independent", 0).run(u)
    assert shared.g.tolist() == alone.g.tolist() == [[-3]]


def network_from(weights):
    return HybridLayerNetwork.from_converted(weights, 1, OverflowMonitor("strict"))


def test_classifier_on_the_chip_equals_the_hybrid_without_delay():
    torch.manual_seed(2)
    model = SequenceClassifier("ModifiedLSTMCell", 14, 16, num_layers=2).eval()
    x = torch.rand(5, 8, 14)
    chip = SequenceClassifier("ModifiedLSTMCell", 14, 16, num_layers=2).eval()
    chip.load_state_dict(model.state_dict())
    chip.cells = torch.nn.ModuleList(EmulatedHybridCell(cell, 32, "soft", 0, "strict") for cell in model.cells)
    with torch.no_grad():
        assert torch.equal(chip(x), model.to_hybrid(32)(x))


def test_one_step_delay_loses_the_last_step_of_encoder_spikes():
    """u = 1 everywhere: q = 2048 and V starting at 1, so each input's encoder+ fires at every
    step (1 + 2048 tau > 2048 (tau - 1) + 2048). Without delay the gates receive all 10 steps
    of spikes, with a one-step delay 9: synaptic ops 10 x 7 x 15 vs 9 x 7 x 15 (fan-out 5H = 15)."""
    cell = random_cell(4, 3)
    u = torch.ones(1, 7)
    no_delay = EmulatedHybridCell(cell, 10, "soft", 0)
    delayed = EmulatedHybridCell(cell, 10, "soft", 1)
    no_delay.emulator.run(u), delayed.emulator.run(u)
    assert no_delay.emulator.events.synaptic_ops == 10 * 7 * 15
    assert delayed.emulator.events.synaptic_ops == 9 * 7 * 15


def network(input_size, hidden_size):
    weights = ConvertedWeights(torch.zeros(4 * hidden_size, input_size + hidden_size, dtype=torch.int32),
                               torch.zeros(4 * hidden_size, dtype=torch.int32))
    return HybridLayerNetwork.from_converted(weights, input_size, OverflowMonitor("strict"))


def test_allocation_of_the_row_wise_network():
    allocation = allocate(network(28, 128))
    assert [core.role for core in allocation.cores] == ["gates", "gates", "encoder"]
    assert [core.compartments for core in allocation.cores] == [416, 224, 312]
    assert allocation.cores[0].synaptic_bytes == 312 * 52 * 8 <= 128 * 1024
    assert allocation.cores[2].output_axons == 312 * 2 and allocation.chips == 1 and allocation.tiles == 1


def test_compartment_limit_exactly_fits_then_overflows():
    net = network(2, 4)  # 20 gate compartments, 12 encoder compartments
    exact = allocate(net, CoreLimits(compartments=20))
    assert [core.compartments for core in exact.cores] == [20, 12]
    over = allocate(net, CoreLimits(compartments=19))  # g pairs stay whole: 18 + 2
    assert [core.compartments for core in over.cores] == [18, 2, 12]
    assert torch.equal(over.gate_core[12:16], over.gate_core[16:20])  # g+ and g- of a unit share a core
    with pytest.raises(MappingError, match="a g neuron needs 2 compartments; a core has 1"):
        allocate(net, CoreLimits(compartments=1))


def test_synaptic_memory_limit_exactly_fits_then_overflows():
    net = network(2, 4)
    need = synaptic_bytes(12, 20, CoreLimits())
    assert need == 12 * 3 * 8
    assert len(allocate(net, CoreLimits(synaptic_memory_bytes=need)).cores) == 2
    assert len(allocate(net, CoreLimits(synaptic_memory_bytes=need - 1)).cores) == 3
    with pytest.raises(MappingError, match="synaptic memory"):
        allocate(net, CoreLimits(synaptic_memory_bytes=12 * 8 - 1))


def test_axon_limits_exactly_fit_then_overflow():
    net = network(2, 4)
    assert len(allocate(net, CoreLimits(input_axons=12)).cores) == 2
    with pytest.raises(MappingError, match="input axons"):
        allocate(net, CoreLimits(input_axons=11))
    two_gate_cores = CoreLimits(compartments=12)
    assert [c.output_axons for c in allocate(net, dataclasses.replace(two_gate_cores, output_axons=24)).cores[2:]] \
        == [24]
    assert [c.compartments for c in allocate(net, dataclasses.replace(two_gate_cores, output_axons=23)).cores[2:]] \
        == [11, 1]
    with pytest.raises(MappingError, match="output axon"):
        allocate(net, dataclasses.replace(two_gate_cores, output_axons=1))


def test_energy_of_a_hand_counted_network():
    """One input (x = 1), one hidden unit, all weights 0, T = 2, soft reset, no delay.

    Compartments: encoder+ x2 (x and h), encoder- x2, gates i, f, o, g+, g- (1 each): 9.
    x = 1 -> q = 2048 on encoder+ of x: V = 1 + 2048 > 2048 spikes at steps 1 and 2; h = 0
    stays silent. Gates: i, f, o get bias 500, V = 1 + 500 + 500 <= 1024 after 2 steps: no
    spike; g+/g-: bias 0, V = 1 (active: nonzero v). Per step: 1 encoder spike,
    fan-out 5 synapses -> 5 synaptic ops; active compartments: encoder+ of x (u = 0, v
    nonzero) and the 5 gates: 6, plus encoder+/- of h and encoder- of x hold v = 1: active
    too -> 9 active, 0 inactive. One spike message per step to the single gate core.
    """
    weights = ConvertedWeights(torch.zeros(4, 2, dtype=torch.int32), torch.tensor([500, 500, 0, 500], dtype=torch.int32))
    net = HybridLayerNetwork.from_converted(weights, 1, OverflowMonitor("strict"))
    allocation = allocate(net)
    costs = PRESETS["davies2018"]
    emulator = LoihiLayerEmulator(net, allocation, 2, reset="soft", delay=0, costs=costs)
    counts = emulator.run(torch.tensor([[1.0, 0.0]]))
    assert counts.encoder.tolist() == [[2, 0]] and counts.i.tolist() == [[0]]
    events = emulator.events
    assert (events.synaptic_ops, events.active_updates, events.inactive_updates, events.spikes,
            events.spike_messages, events.hops_east_west, events.time_steps) == (10, 18, 0, 2, 2, 0, 2)
    # slowest core per step: the gate core (5 active updates) or the encoder core (4 updates + 1 spike out)
    gate_ns = 5 * costs.update_active_ns + 5 * costs.synaptic_op_ns
    encoder_ns = 4 * costs.update_active_ns + costs.spike_out_ns
    assert events.core_time_ns == pytest.approx(2 * max(gate_ns, encoder_ns))
    cost = loihi_cost(events, 1, costs, tiles=1, chips=1, host_power_w=1.0, host_ops_per_s=1e6)
    assert cost.dynamic_chip_j == pytest.approx((10 * 23.6 + 18 * 81.0 + 2 * 1.7) * 1e-12)
    host_ops = 2 + 2 * 9 + 5 + 6  # bias writes (D + H), u and v writes, counter reads, analog flops
    assert cost.host_time_s == pytest.approx(host_ops / 1e6) and cost.host_j == pytest.approx(host_ops / 1e6)
    assert cost.chip_time_s == pytest.approx((2 * 113 + 2 * max(gate_ns, encoder_ns)) * 1e-9)
    assert cost.static_j == pytest.approx(0.104 * cost.latency_s)


def test_soft_feedback_events_of_a_hand_counted_network():
    """The network of test_energy_of_a_hand_counted_network with the soft reset realised by
    feedback synapses: every one of the 9 neurons is an integrator and a spiker (18
    compartments: the gate core holds 10, the encoder core 8). Per step: the encoder+ of x
    spikes (as with the soft reset: V = 2049, 2049 after the -2048 feedback arrives); 5
    synaptic ops into the gates plus 1 feedback op; 9 active integrators and their 9
    spikers; 1 message to the gate core plus 1 core-local feedback message."""
    weights = ConvertedWeights(torch.zeros(4, 2, dtype=torch.int32), torch.tensor([500, 500, 0, 500], dtype=torch.int32))
    net = network_from(weights)
    allocation = allocate(net, reset="soft-feedback")
    assert [(core.role, core.compartments) for core in allocation.cores] == [("gates", 10), ("encoder", 8)]
    costs = PRESETS["davies2018"]
    emulator = LoihiLayerEmulator(net, allocation, 2, reset="soft-feedback", delay=0, costs=costs)
    counts = emulator.run(torch.tensor([[1.0, 0.0]]))
    assert counts.encoder.tolist() == [[2, 0]] and counts.i.tolist() == [[0]]
    events = emulator.events
    assert (events.synaptic_ops, events.active_updates, events.inactive_updates, events.spikes,
            events.spike_messages, events.hops_east_west) == (12, 36, 0, 2, 4, 0)
    gate_ns = 10 * costs.update_active_ns + 5 * costs.synaptic_op_ns
    encoder_ns = 8 * costs.update_active_ns + costs.synaptic_op_ns + costs.spike_out_ns
    assert events.core_time_ns == pytest.approx(2 * max(gate_ns, encoder_ns))


def test_soft_feedback_allocation_of_the_rowwise_network():
    """Twice the compartments and one feedback axon and word per neuron: 640 gate neurons
    (1,280 compartments) on 2 cores, 312 encoder neurons (624 compartments) on a third."""
    allocation = allocate(network(28, 128), reset="soft-feedback")
    gates = [core for core in allocation.cores if core.role == "gates"]
    encoders = [core for core in allocation.cores if core.role == "encoder"]
    assert sum(core.compartments for core in gates) == 2 * 640 and len(gates) == 2
    assert [core.compartments for core in encoders] == [624]
    limits = CoreLimits()
    for core in gates:
        neurons = core.compartments // 2
        assert core.input_axons == 312 + neurons <= limits.input_axons
        assert core.synaptic_bytes == synaptic_bytes(312, neurons, limits) + 8 * neurons <= limits.synaptic_memory_bytes


def test_benchmark_command_end_to_end(tmp_path, mnist_root):
    """A tiny trained checkpoint through python -m loihi_sim.benchmark, JSON written."""
    import run_seqmnist
    from loihi_sim import benchmark

    mnist_root = str(mnist_root)
    run = tmp_path / "run"
    assert run_seqmnist.main(["--checkpoint-dir", str(run), "--data-dir", mnist_root, "--end-epoch", "1",
                              "--train-subset", "256", "--test-subset", "64", "--hidden-size", "16",
                              "--threads", "1"]) == 0
    assert benchmark.main(["--checkpoint-dir", str(run), "--data-dir", mnist_root, "--n-timestep", "8",
                           "--test-subset", "16", "--cpu-sequences", "2", "--threads", "1"]) == 0
    report = json.loads((run / "loihi_benchmark_hard_delay1.json").read_text())
    (row,) = report["results"]
    assert row["n_timestep"] == 8 and row["cores"] == 2 and row["loihi"]["active_j"] > 0
    assert report["chip"] == {"reset": "hard", "delay": 1, "preset": "davies2018", "overflow": "count",
                              "initial_potential": "one", "compensate_delay": False}
    assert benchmark.main(["--checkpoint-dir", str(run), "--input-size", "1", "--data-dir", mnist_root]) == 2

    # interrupted during T = 16, the rerun emulates T = 16 only and equals an uninterrupted run
    command = ["--checkpoint-dir", str(run), "--data-dir", mnist_root, "--n-timestep", "8", "16", "--test-subset", "16",
               "--cpu-sequences", "2", "--threads", "1", "--output", str(tmp_path / "chip.json")]
    emulated, original = [], benchmark.emulated_model

    def interrupted_at_16(model, n_timestep, args):
        emulated.append(n_timestep)
        if emulated == [8, 16]:
            raise KeyboardInterrupt
        return original(model, n_timestep, args)

    benchmark.emulated_model = interrupted_at_16
    try:
        assert benchmark.main(command) == 130 and not (tmp_path / "chip.json").exists()
        assert benchmark.main(command) == 0 and emulated == [8, 16, 16]
    finally:
        benchmark.emulated_model = original
    resumed = json.loads((tmp_path / "chip.json").read_text())
    assert not (tmp_path / "chip.partial.json").exists()
    deterministic = ("chip_accuracy", "hybrid_accuracy", "events_per_inference", "loihi", "cores")
    assert all(resumed["results"][0][key] == report["results"][0][key] for key in deterministic)
    assert resumed["results"][1]["n_timestep"] == 16
    # one CPU baseline for all T: the ratios of both T share it
    assert all(r["energy_ratio_cpu_over_loihi"] == resumed["cpu"]["active_j"] / r["loihi"]["active_j"]
               for r in resumed["results"])


def test_event_counts_merge():
    a, b = EventCounts(synaptic_ops=3, overflows={"x": 1}), EventCounts(synaptic_ops=4, overflows={"x": 2, "y": 1})
    a.merge(b)
    assert a.synaptic_ops == 7 and a.overflows == {"x": 3, "y": 1}


@pytest.mark.parametrize("initial_potential", ["one", "half", "encoder=half,f=half"])
@pytest.mark.parametrize("chip_reset, reset", [("soft-feedback", "soft"), ("hard", "hard")])
def test_compensated_delay_gives_the_papers_counts(chip_reset, reset, initial_potential):
    """With the chip's one-step delay, T + 1 steps and gates starting at V0 - bias reproduce the
    no-delay simulation bit for bit, at the cost of one more time-step."""
    cell, u = random_cell(28, 24), chip_inputs()
    chip = EmulatedHybridCell(cell, 20, chip_reset, 1, "strict", initial_potential=initial_potential,
                              compensate_delay=True)
    emulated = chip.emulator.run(u)
    reference = simulate_gates(u, convert_cell(cell), 20, reset, initial_potential)
    for name, expected, actual in zip(reference._fields, reference, emulated):
        assert torch.equal(actual, expected), name
    assert chip.emulator.events.time_steps == 7 * 21
    with pytest.raises(ValueError, match="needs delay 1"):
        EmulatedHybridCell(cell, 20, chip_reset, 0, compensate_delay=True)


def test_ann_energy_measured_by_zeus_when_readable(monkeypatch):
    """zeus windows on the CPU's RAPL counters: 0.6 J over the timed runs, then 0.1 J over an idle
    stretch as long: 0.5 J above idle over the 10 inferences."""
    from zeus.monitor.energy import Measurement

    from loihi_sim import energy

    class FakeMonitor:
        readings = iter([0.6, 0.1])

        def begin_window(self, name):
            pass

        def end_window(self, name):
            return Measurement(time=1.0, gpu_energy={}, cpu_energy={0: next(self.readings)})

    monkeypatch.setattr(energy, "energy_monitor", lambda device: FakeMonitor())
    monkeypatch.setattr(energy.time, "sleep", lambda seconds: None)
    model = SequenceClassifier("ModifiedLSTMCell", 4, 3)
    cost = energy.ann_cost(model, torch.rand(5, 6, 4), repeats=2)
    assert cost.energy_source == "zeus: RAPL energy above idle" and cost.device == "cpu"
    assert cost.active_j == pytest.approx(0.5 / 10)


def test_ann_energy_modelled_from_the_named_profile_without_counters(monkeypatch):
    from loihi_sim import energy

    monkeypatch.setattr(energy, "energy_monitor", lambda device: None)
    model = SequenceClassifier("ModifiedLSTMCell", 4, 3)
    cost = energy.ann_cost(model, torch.rand(5, 6, 4), repeats=1)
    assert cost.active_j == pytest.approx(cost.latency_s * 65.0 / 4)  # the i7-6700's TDP over its 4 cores
    assert "profile i7-6700" in cost.energy_source and "no readable energy counters" in cost.energy_source
    with pytest.raises(ValueError, match="CPU or a CUDA GPU"):
        energy.ann_cost(model, torch.rand(5, 6, 4), device="meta")


@pytest.mark.parametrize("initial_potential", ["one", "encoder=half,f=half"])
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_the_three_backends_of_one_hybrid_cell_agree(reset, initial_potential):
    """One HybridLSTMCell, three simulation backends (the reference loop, the fast simulation, the
    emulated chip without its delay): the same outputs and spike records, bit for bit."""
    cell, x = random_cell(28, 24), chip_inputs()[:, :28]
    chip = LoihiSimulation.factory(chip_reset=reset, delay=0, overflow="strict")
    weights = convert_cell(cell)
    results = []
    for simulation in ("reference", "fast", chip):
        hybrid = HybridLSTMCell(weights, 28, 12, reset, simulation, initial_potential)
        state = hybrid.init_state(x.shape[0])
        for _ in range(3):
            state = hybrid(x, state)
        results.append((state, hybrid.spike_record.totals()))
    assert type(hybrid.backend).__name__ == "LoihiSimulation" and hybrid.simulation == "LoihiSimulation"
    for state, totals in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(state, results[0][0])) and totals == results[0][1]


def test_a_fanin_beyond_a_cores_axons_is_split_over_dendrite_cores():
    """F = 6 encoders (12 axons) into cores of 8 input axons: 2 groups of 6 axons; gate cores on 2 relay axons per
    compartment (4 compartments each, g pairs whole), one dendrite core per group, one encoder core."""
    net, limits = network(2, 4), CoreLimits(input_axons=8)
    with pytest.raises(MappingError, match="by splitting its fan-in"):
        allocate(net, limits)
    allocation = allocate(net, limits, split_fanin=True)
    assert allocation.groups == 2
    assert [core.role for core in allocation.cores] == ["gates"] * 5 + ["dendrites"] * 2 + ["encoder"]
    assert [core.input_axons for core in allocation.cores] == [8] * 5 + [6, 6, 0]
    assert [core.compartments for core in allocation.cores] == [4] * 5 + [20, 20, 12]
    assert allocation.dendrite_core.tolist() == [[5] * 20, [6] * 20]
    assert allocation.encoder_destinations() == [[5]] * 6 + [[6]] * 6
    assert allocation.gate_core.tolist()[12:] == [3, 3, 4, 4, 3, 3, 4, 4]  # g+ block then g- block, pairs on one core
    assert allocate(net, CoreLimits(input_axons=12), split_fanin=True).groups == 1  # fits: not split
