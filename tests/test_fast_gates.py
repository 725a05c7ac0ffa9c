"""The fast hybrid simulation against the reference loop: bit-identical spike counts."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch._dynamo.exc import BackendCompilerFailed

from hybrid_lstm import ConvertedWeights, HybridLSTMCell, SequenceClassifier, SignedInputEncoder, simulate_gates
from hybrid_lstm.kernels import compiled, event_gates, exact_product
from hybrid_lstm.snn import fast_gates
from hybrid_lstm.snn.fast_gates import PRODUCT_KERNELS, SIMULATION_KERNELS, FastGateSimulator, encoder_counts
from hybrid_lstm.snn.neurons import INITIAL_POTENTIALS, SpikingConfig, start_potential

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def fast_counts(u, weights, n_timestep, reset="soft", initial_potential="one", kernel="auto"):
    return FastGateSimulator(SpikingConfig(n_timestep, reset, initial_potential), kernel)(u, weights)


def random_weights(input_size, hidden_size, seed, bias_scale=300):
    generator = torch.Generator().manual_seed(seed)
    weight = 2 * torch.randint(-127, 128, (4 * hidden_size, input_size + hidden_size), generator=generator)
    bias = (torch.randn(4 * hidden_size, generator=generator) * bias_scale).round()
    return ConvertedWeights(weight.int(), bias.int())


def extreme_inputs(batch, fanin, seed):
    """Uniform u in [-1, 1] with columns of zeros, +-1, saturated and huge values."""
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(batch, fanin, generator=generator) * 2 - 1
    specials = torch.tensor([0.0, 1.0, -1.0, 1.5, -3.0, 1e6, -1e9, 0.5 / 2048, 1 - 0.5 / 2048, 1 / 2048])
    u[:, : len(specials)] = specials
    u[0] = 0.0
    if batch > 1:
        u[1] = 1.0
    return u


def assert_same_counts(reference, fast):
    for name, expected, actual in zip(reference._fields, reference, fast):
        assert actual.dtype == expected.dtype and torch.equal(actual, expected), name


@pytest.mark.parametrize("initial_potential", INITIAL_POTENTIALS)
@pytest.mark.parametrize("q_max", [2048, 2049, 5000])
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_encoder_closed_form_equals_stepping_every_q(reset, q_max, initial_potential):
    """Every q from -q_max to q_max, at every tau up to 300, against the stepped neuron:
    the counts N(tau) and the spike expression of the fast path."""
    q = torch.arange(-q_max, q_max + 1)
    encoder = SignedInputEncoder(2048, reset, initial_potential)
    v, count = encoder.initial_state(q.shape), torch.zeros_like(q)
    expected_counts, expected_spikes = [], []
    for _ in range(300):
        v, spikes = encoder.step(v, q)
        count += spikes.abs()
        expected_counts.append(count.clone())
        expected_spikes.append(spikes)
    taus = torch.arange(1, 301, dtype=torch.int32)
    counts = encoder_counts(q.abs().int(), taus, reset, start_potential(2048, initial_potential))
    assert torch.equal(counts.long(), torch.stack(expected_counts))

    v0 = start_potential(2048, initial_potential)
    q_abs, first, period = fast_gates._encoder_magnitudes(q.abs().int().view(1, -1), reset, 2048, v0)
    spikes = torch.empty(300, 1, len(q), dtype=torch.int8)
    fast_gates._encoder_spikes(q_abs, q.sign().int().view(1, -1), first, period, taus, v0 - 1, 2048, reset == "hard",
                               spikes)
    assert torch.equal(spikes[:, 0].long(), torch.stack(expected_spikes))


def runnable(kernel: str, device) -> bool:
    usable = exact_product.usable_kernels(device) + (("event",) if event_gates.available(device) else ())
    return kernel in usable


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kernel", SIMULATION_KERNELS)
@pytest.mark.parametrize("initial_potential", INITIAL_POTENTIALS)
@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("n_timestep", [1, 16, 45, 128])
@pytest.mark.parametrize("batch", [1, 5])
def test_fast_equals_reference(batch, n_timestep, reset, initial_potential, kernel, device):
    """Every kernel (not only the one this machine would choose), both initial potentials."""
    for seed, (input_size, hidden_size) in enumerate([(28, 16), (1, 9), (13, 6)]):
        weights = random_weights(input_size, hidden_size, seed)
        weights = ConvertedWeights(weights.weight.to(device), weights.bias.to(device))
        u = extreme_inputs(batch, input_size + hidden_size, seed).to(device)
        reference = simulate_gates(u, weights, n_timestep, reset, initial_potential)
        simulator = FastGateSimulator(SpikingConfig(n_timestep, reset, initial_potential), kernel)
        assert_same_counts(reference, simulator(u, weights))
        assert simulator.kernel == (kernel if runnable(kernel, torch.device(device)) else "float32")


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_inputs_beyond_int64_give_the_same_counts_in_both_simulations(reset):
    """u of 1e16 and more (round(2048 u) would overflow int64): the encoder's one rule,
    q = round(2048 clamp(u, -2, 2)), makes every |u| >= 2 fire at every step in both simulations."""
    weights = random_weights(4, 5, 7)
    u = torch.tensor([[1e16, -3e18, 2.0, -1e30, 0.5, 0.0, 1e300, -2.0, 0.25]], dtype=torch.float64)
    reference = simulate_gates(u, weights, 16, reset)
    assert_same_counts(reference, FastGateSimulator(SpikingConfig(16, reset))(u, weights))
    # u = 0.5: |q| = 1024 against theta = 2048 from V0 = 1: every 2nd step (soft), steps 2, 5, 8, 11, 14 (hard)
    assert reference.encoder[0, :5].tolist() == [16, 16, 16, 16, 8 if reset == "soft" else 5]


PER_POPULATION = ("encoder=half,f=half", "g=half", "encoder=half,i=half,o=half")


@pytest.mark.parametrize("initial_potential", PER_POPULATION)
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_per_population_initial_potential_fast_equals_reference(reset, initial_potential):
    for seed, n_timestep in enumerate((1, 16, 45)):
        weights, u = random_weights(13, 6, seed), extreme_inputs(5, 19, seed)
        reference = simulate_gates(u, weights, n_timestep, reset, initial_potential)
        assert_same_counts(reference, FastGateSimulator(SpikingConfig(n_timestep, reset, initial_potential))(u, weights))


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_per_population_initial_potential_changes_only_the_named_populations(reset):
    """Gate populations are independent given the encoder's spikes: "f=half" gives f the counts of
    every gate at theta / 2 (encoder at 1) and i, g, o those of V0 = 1; "encoder=half" gives the
    encoder the counts of V0 = theta / 2 everywhere."""
    weights, u = random_weights(13, 6, 5), extreme_inputs(5, 19, 5)
    one, half = (simulate_gates(u, weights, 16, reset, potential) for potential in ("one", "half"))
    gates_half = simulate_gates(u, weights, 16, reset, "i=half,f=half,g=half,o=half")
    mixed = FastGateSimulator(SpikingConfig(16, reset, "f=half"))(u, weights)
    for name in ("encoder", "i", "g", "o", "g_spikes"):
        assert torch.equal(getattr(mixed, name), getattr(one, name)), name
    assert torch.equal(mixed.f, gates_half.f) and not torch.equal(mixed.f, one.f)
    assert torch.equal(simulate_gates(u, weights, 16, reset, "encoder=half").encoder, half.encoder)


@pytest.mark.parametrize("kernel", PRODUCT_KERNELS)
def test_float32_kernel_exact_under_reduced_precision_matmul_modes(kernel):
    """TF32 / bf16 matmul modes cannot change the product: its inputs have <= 7 significant bits."""
    weights, u = random_weights(28, 32, 11, bias_scale=50), extreme_inputs(64, 60, 11)
    reference = simulate_gates(u, weights, 64)
    previous = torch.get_float32_matmul_precision()
    try:
        for precision in ("medium", "high"):
            torch.set_float32_matmul_precision(precision)
            assert_same_counts(reference, fast_counts(u, weights, 64, kernel=kernel))
    finally:
        torch.set_float32_matmul_precision(previous)


def test_kernel_choice_measured_once_and_forced_by_environment(monkeypatch):
    device = torch.device("cpu")
    monkeypatch.setattr(exact_product, "_chosen_kernels", {})
    chosen = exact_product.choose_product_kernel(device, 40, 24)
    assert chosen in exact_product.usable_kernels(device) and list(exact_product._chosen_kernels.values()) == [chosen]
    monkeypatch.setattr(exact_product, "_time_product", lambda *args: pytest.fail("timed twice"))
    assert exact_product.choose_product_kernel(device, 40, 24) == chosen
    for forced in PRODUCT_KERNELS:
        monkeypatch.setenv(exact_product.KERNEL_ENVIRONMENT, forced)
        assert exact_product.choose_product_kernel(device, 40, 24) == forced
        assert exact_product.choose_product_kernel(device, 40, 24, requested="float32") == "float32"
    # FBGEMM is a CPU library: asked for on a GPU, the product runs in float32
    assert exact_product.choose_product_kernel(torch.device("cuda"), 40, 24, requested="fbgemm") == "float32"
    monkeypatch.setenv(exact_product.KERNEL_ENVIRONMENT, "int4")
    with pytest.raises(ValueError, match="int4"):
        exact_product.choose_product_kernel(device, 40, 24)


needs_event_kernel = pytest.mark.skipif(not event_gates.available(torch.device("cpu")),
                                        reason="the event kernel did not compile here (no C compiler)")


@needs_event_kernel
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_event_kernel_sums_in_int16_and_int32_over_blocks_and_a_tail(reset, threads):
    """Steps with up to 255 events sum in int16, busier ones in int32: 300 saturated encoders
    against weights of +-254 reach |sum| = 38,100 > 2^15. 80 gate columns are one block of 64
    and a tail; the samples are split among threads."""
    hidden, fanin = 20, 300
    generator = torch.Generator().manual_seed(12)
    weight = torch.where(torch.rand(4 * hidden, fanin, generator=generator) < 0.5, 254, -254)
    weight[: hidden] = 254
    weights = ConvertedWeights(weight.int(), torch.randint(-3000, 3000, (4 * hidden,), generator=generator).int())
    u = torch.cat([torch.ones(2, fanin), -torch.ones(1, fanin), extreme_inputs(4, fanin, 12),
                   torch.rand(3, fanin, generator=generator) * 0.2])
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        for n_timestep in (1, 33):
            simulator = FastGateSimulator(SpikingConfig(n_timestep, reset), "event")
            assert_same_counts(simulate_gates(u, weights, n_timestep, reset), simulator(u, weights))
            assert simulator.kernel == "event"
    finally:
        torch.set_num_threads(previous)


@needs_event_kernel
def test_auto_runs_the_event_kernel_where_its_timed_cost_at_the_density_is_lower(monkeypatch):
    """Costs timed once per shape and configuration; then each call compares the event kernel's
    cost at its density bound with the dense path's. $HYBRID_LSTM_PRODUCT_KERNEL=event forces it."""
    monkeypatch.setattr(fast_gates, "_event_costs", {})
    weights, config = random_weights(13, 6, 2), SpikingConfig(16)
    silent, busy = torch.zeros(4, 19), torch.full((4, 19), 0.9)
    assert fast_gates.encoder_density_bound(silent) == 0 and fast_gates.encoder_density_bound(busy) == pytest.approx(0.9, abs=1e-3)
    simulator = FastGateSimulator(config)
    simulator(silent, weights)
    (key, costs), = fast_gates._event_costs.items()
    assert all(cost > 0 for cost in (costs[0], costs[2]))
    fast_gates._event_costs[key] = (1.0, 2.0, 2.0)  # the event kernel wins below d = 1/2
    for u, kernel in ((silent, "event"), (busy, simulator.prepare(weights)["product"].kernel)):
        assert_same_counts(simulate_gates(u, weights, 16), simulator(u, weights))
        assert simulator.kernel == kernel
    monkeypatch.setenv(exact_product.KERNEL_ENVIRONMENT, "event")
    simulator = FastGateSimulator(config)
    simulator(busy, weights)
    assert simulator.kernel == "event" and len(fast_gates._event_costs) == 1


def test_without_a_c_compiler_the_dense_kernels_run_after_one_warning(monkeypatch):
    weights, u = random_weights(13, 6, 3), extreme_inputs(5, 19, 3)
    monkeypatch.setenv("CC", "/nonexistent/cc")
    event_gates.library.cache_clear()
    try:
        with pytest.warns(UserWarning, match="event-driven CPU kernel is unavailable"):
            assert not event_gates.available(torch.device("cpu"))
        for kernel in ("auto", "event"):
            simulator = FastGateSimulator(SpikingConfig(16), kernel)
            assert_same_counts(simulate_gates(u, weights, 16), simulator(u, weights))
            assert simulator.kernel in PRODUCT_KERNELS
    finally:
        event_gates.library.cache_clear()


AVX2_PRODUCT_CHECK = """
import torch
from hybrid_lstm.kernels.exact_product import fbgemm_product, product_operand
# the largest pair sums FBGEMM's saturating int16 step can meet: all spikes of one sign
# (uint8 operand 0 or 2) against weights of +-127, and alternating signs and weights
torch.manual_seed(0)
fanin, columns = 160, 64
signs = torch.where(torch.rand(columns, fanin) < 0.5, 127, -127)
weights = torch.cat([torch.full((columns, fanin), 127), torch.full((columns, fanin), -127), signs,
                     torch.randint(-127, 128, (columns, fanin))])
spikes = torch.cat([torch.ones(8, fanin), -torch.ones(8, fanin), torch.randint(-1, 2, (48, fanin)).float(),
                    torch.tensor([1.0, -1.0]).repeat(8, fanin // 2)])
got = fbgemm_product(spikes, product_operand("fbgemm", weights.float().t()), None)
assert torch.equal(got.long(), spikes.long() @ weights.t()), "fbgemm differs from the exact product"
print("exact")
"""


@pytest.mark.skipif(not exact_product.fbgemm_available(), reason="torch has no FBGEMM here")
def test_fbgemm_kernel_exact_with_its_avx2_instructions():
    """FBGEMM without VNNI adds uint8 x int8 products in pairs in a saturating int16; the
    spikes' operand (0, 1, 2) keeps every pair within 2 * 2 * 127. Run with FBGEMM held to
    AVX2 (its own FBGEMM_ENABLE_INSTRUCTIONS), whatever this CPU has."""
    environment = dict(os.environ, FBGEMM_ENABLE_INSTRUCTIONS="AVX2")
    result = subprocess.run([sys.executable, "-c", AVX2_PRODUCT_CHECK], env=environment, capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0 and result.stdout.strip() == "exact", result.stderr


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_fast_equals_reference_with_extreme_weights_and_biases(reset):
    """All-maximal weights (largest currents), huge biases of both signs, all-zero weights."""
    hidden = 8
    u = extreme_inputs(6, 10 + hidden, 3)
    bias = torch.tensor([30000, -30000, 1023, 1024, 1025, -511, -512, -513] * 4, dtype=torch.int32)
    for weight in (torch.full((4 * hidden, 10 + hidden), 254), torch.full((4 * hidden, 10 + hidden), -254),
                   torch.zeros(4 * hidden, 10 + hidden)):
        weights = ConvertedWeights(weight.int(), bias)
        for kernel in SIMULATION_KERNELS:
            assert_same_counts(simulate_gates(u, weights, 64, reset), fast_counts(u, weights, 64, reset, kernel=kernel))


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_fast_equals_reference_across_several_matrix_product_chunks(reset, monkeypatch):
    """A chunk budget small enough that T = 100 takes several chunks of the dense path, each with a tail."""
    monkeypatch.setattr(fast_gates, "CHUNK_ELEMENTS", 1)
    weights, u = random_weights(7, 5, 4), extreme_inputs(3, 12, 4)
    simulator = FastGateSimulator(SpikingConfig(100, reset), "float32")
    assert simulator.chunk_steps(3, 24) == fast_gates.STEPS_PER_KERNEL < 100
    assert_same_counts(simulate_gates(u, weights, 100, reset), simulator(u, weights))


def test_gate_kernels_cover_the_steps_largest_first_then_an_eager_tail():
    assert fast_gates.kernel_segments(45) == [(0, 32), (32, 8), (40, 4), (44, 1)]
    assert fast_gates.kernel_segments(64) == [(0, 32), (32, 32)]
    assert fast_gates.kernel_segments(3) == [(0, 3)] and fast_gates.kernel_segments(0) == []


@pytest.mark.parametrize("n_timestep", [8, 45])
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_an_empty_batch_gives_empty_counts_of_the_right_shapes(reset, n_timestep):
    """No SNN step runs for a batch of 0; the counts are the reference's empty tensors."""
    weights, u = random_weights(7, 5, 6), torch.rand(0, 12)
    expected = simulate_gates(u, weights, n_timestep, reset)
    got = FastGateSimulator(SpikingConfig(n_timestep, reset))(u, weights)
    assert [t.shape for t in got] == [t.shape for t in expected] == [(0, 12)] + [(0, 5)] * 5
    assert_same_counts(expected, got)


def test_eager_fallback_when_compilation_fails(monkeypatch):
    """A failing torch.compile warns once and runs the same function eagerly, same result (dense path)."""
    weights, u = random_weights(7, 5, 5), extreme_inputs(4, 12, 5)
    expected = fast_counts(u, weights, 64, kernel="float32")
    kernel = compiled.CompiledOrEager(fast_gates._gate_steps)

    def broken(*args):
        raise BackendCompilerFailed("inductor", RuntimeError("no C++ compiler"), None)

    kernel.compiled = broken
    monkeypatch.setattr(fast_gates, "_compiled_gate_steps", kernel)
    with pytest.warns(UserWarning, match="running it eagerly"):
        assert_same_counts(expected, fast_counts(u, weights, 64, kernel="float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_counts(expected, fast_counts(u, weights, 64, kernel="float32"))


def test_fast_simulation_refuses_weights_it_cannot_represent():
    weights = random_weights(4, 3, 6)
    u = torch.rand(2, 7)
    with pytest.raises(ValueError, match="even weights"):
        fast_counts(u, ConvertedWeights(weights.weight + 1, weights.bias), 16)
    with pytest.raises(ValueError, match="even weights"):
        fast_counts(u, ConvertedWeights(weights.weight * 2, weights.bias), 16)
    with pytest.raises(ValueError, match="overflow"):
        fast_counts(u, weights, 10**7)
    with pytest.raises(ValueError, match="even weights"):  # refused when the cell is built, not at its first step
        HybridLSTMCell(ConvertedWeights(weights.weight + 1, weights.bias), 4, 16)


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_classifier_outputs_and_spike_records_identical_in_both_simulations(reset):
    torch.manual_seed(7)
    model = SequenceClassifier("ModifiedLSTMCell", 28, 32, num_layers=2).eval()
    x = torch.rand(6, 28, 28)
    with torch.no_grad():
        fast, reference = model.to_hybrid(32, reset), model.to_hybrid(32, reset, simulation="reference")
        assert torch.equal(fast(x), reference(x))
    assert fast.spike_record().totals() == reference.spike_record().totals()
    assert len(fast.cells) == 2 and all(isinstance(cell, HybridLSTMCell) and cell.simulation == "fast"
                                        for cell in fast.cells)
    with pytest.raises(ValueError, match="simulation"):
        model.to_hybrid(32, reset, simulation="approximate")


def test_each_cpu_capability_compiles_into_its_own_cache():
    environment = {"ATEN_CPU_CAPABILITY": "AVX2"}
    compiled.separate_cache_per_cpu_capability(environment)
    assert environment["TORCHINDUCTOR_CACHE_DIR"].endswith("_avx2")
    chosen = {"ATEN_CPU_CAPABILITY": "avx2", "TORCHINDUCTOR_CACHE_DIR": "/mine"}
    compiled.separate_cache_per_cpu_capability(chosen)
    assert chosen["TORCHINDUCTOR_CACHE_DIR"] == "/mine"
    torch_default = {"ATEN_CPU_CAPABILITY": "avx2"}
    compiled.separate_cache_per_cpu_capability(torch_default)
    set_by_torch = {"ATEN_CPU_CAPABILITY": "avx2",
                    "TORCHINDUCTOR_CACHE_DIR": torch_default["TORCHINDUCTOR_CACHE_DIR"][: -len("_avx2")]}
    compiled.separate_cache_per_cpu_capability(set_by_torch)
    assert set_by_torch == torch_default
    unset = {}
    compiled.separate_cache_per_cpu_capability(unset)
    assert unset == {}


def test_compiled_survives_torch_moving_its_private_error_module(monkeypatch):
    """Without torch._dynamo.exc, compilation failures are caught as RuntimeError, their base."""
    import importlib

    real_import = importlib.import_module

    def moved(name, *args, **kwargs):
        if name == "torch._dynamo.exc":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", moved)
    try:
        assert importlib.reload(compiled).COMPILATION_ERRORS == (RuntimeError,)
    finally:
        monkeypatch.undo()
        importlib.reload(compiled)
    assert RuntimeError not in compiled.COMPILATION_ERRORS


def test_one_simulator_shared_by_threads_gives_each_its_own_result():
    """A served model: one hybrid, several request threads (the scratch buffers are per thread)."""
    import threading

    from hybrid_lstm.nn import LSTM, convert

    torch.manual_seed(0)
    model = convert(LSTM(28, 128), 64).eval()
    inputs = [torch.randn(3, 64, 28) for _ in range(2)]
    with torch.no_grad():
        expected = [model(x)[0] for x in inputs]
    wrong = []

    def serve(index):
        for _ in range(10):
            with torch.no_grad():
                wrong.append(not torch.equal(model(inputs[index])[0], expected[index]))

    threads = [threading.Thread(target=serve, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wrong) == 20 and not any(wrong)


def test_inference_mode_weights_are_simulated_and_their_changes_seen():
    from hybrid_lstm.nn import LSTM, convert

    torch.manual_seed(1)
    x = torch.randn(4, 2, 6)
    with torch.inference_mode():
        model = convert(LSTM(6, 16), 8)  # its integer buffers are inference tensors
        first = model(x)[0]
        assert torch.equal(model(x)[0], first)
        model.cells[0].bias.add_(300)  # in place, without a version counter
        changed = model(x)[0]
    reference = convert(LSTM(6, 16), 8, simulation="reference")
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(reference(x)[0], changed) and not torch.equal(changed, first)
