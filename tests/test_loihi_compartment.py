"""Golden vectors of docs/loihi.md (Lava's TestLIFProcessModelsFixed), one test
each, and the fixed-point edges of the compartment and synapse model."""
import pytest
import torch

from hybrid_lstm.kernels import exact_product
from hybrid_lstm.kernels.exact_product import PRODUCT_KERNELS
from loihi_sim.compartment import (
    CompartmentParams, DenseSynapses, OverflowMonitor, decayed, integrate, split_bias, step, trunc12, wrap24,
)
from loihi_sim.emulator import FeedbackSynapses


def params(du=0, dv=0, vth=8, bias_mant=0, bias_exp=0):
    return CompartmentParams(*(torch.tensor([value]) for value in (du, dv, vth, bias_mant, bias_exp))).check()


def run(p, inputs, steps):
    """u, v and spike traces of one compartment; inputs[t] is the synaptic input to u (a_in << 6)."""
    u, v, monitor = torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long), OverflowMonitor("strict")
    us, vs, spikes = [], [], []
    for t in range(steps):
        u, v, s = step(u, v, torch.tensor([[inputs(t)]]), p, monitor)
        us.append(int(u)), vs.append(int(v)), spikes.append(bool(s))
    return us, vs, spikes


def test_golden_bias_only_spikes_at_steps_4_and_9():
    _, _, spikes = run(params(bias_mant=2, bias_exp=6, vth=8), lambda t: 0, 10)
    assert [t for t, s in enumerate(spikes) if s] == [4, 9]


def test_golden_current_decay_du_2047():
    us, _, _ = run(params(du=2047, vth=256), lambda t: 128 << 6 if t == 0 else 0, 8)
    assert us == [8192, 4096, 2048, 1024, 512, 256, 128, 64]


def test_golden_voltage_decay_dv_2048():
    _, vs, _ = run(params(du=0, dv=2048, vth=256), lambda t: 128 << 6 if t == 0 else 0, 8)
    assert vs == [8192, 12286, 14331, 15351, 15859, 16111, 16235, 16295]


def test_golden_largest_bias_after_one_step():
    _, vs, _ = run(params(bias_mant=4095, bias_exp=5, vth=2**17 - 1), lambda t: 0, 1)
    assert vs == [131040]


def test_golden_if_mode_constant_input():
    _, vs, spikes = run(params(du=4095, dv=0, vth=8), lambda t: 3 << 6, 6)
    assert vs == [192, 384, 0, 192, 384, 0] and spikes == [False, False, True, False, False, True]


def test_trunc12_rounds_toward_zero():
    assert trunc12(torch.tensor([4095, 4096, -4095, -4096, -8191])).tolist() == [0, 1, 0, -1, -1]


def test_decay_shortcuts_equal_the_arithmetic():
    x = torch.tensor([[0, 1, -1, 4097, -(2**23 - 1), 2**23 - 1, 12345]])
    for keep in (torch.zeros(7, dtype=torch.long), torch.full((7,), 4096), torch.tensor([0, 4096, 1, 2048, 4095, 3, 0])):
        assert torch.equal(decayed(x, keep), trunc12(x * keep))


def test_u_wraps_at_24_bits_and_v_clips_counted_or_strict():
    monitor = OverflowMonitor()
    assert wrap24(torch.tensor([2**23 - 1, 2**23, -(2**23), -(2**23) - 1]), monitor).tolist() == \
        [2**23 - 1, -(2**23), -(2**23), 2**23 - 1]
    assert monitor.counts == {"u wrapped (24-bit)": 2}
    p = params(vth=2**17 - 1, bias_mant=4095, bias_exp=7)
    u, v = torch.zeros(1, 1, dtype=torch.long), torch.full((1, 1), 2**23 - 100)
    _, v = integrate(u, v, torch.zeros(1, 1, dtype=torch.long), p, monitor)
    assert int(v) == 2**23 - 1 and monitor.counts["v clipped (24-bit)"] == 1
    with pytest.raises(OverflowError, match="u wrapped"):
        wrap24(torch.tensor([2**23]), OverflowMonitor("strict"))


def test_soft_reset_subtracts_threshold():
    u, v = torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long)
    _, v, s = step(u, v, torch.tensor([[700]]), params(du=4095, vth=8), OverflowMonitor(), reset="soft")
    assert bool(s) and int(v) == 700 - 512


def test_parameter_widths_are_checked():
    for name, value in (("du", 4096), ("dv", -1), ("vth", 2**17), ("bias_mant", 4096), ("bias_exp", 8)):
        with pytest.raises(ValueError, match=name):
            params(**{name: value})


def test_bias_split_is_exact_or_counted():
    monitor = OverflowMonitor()
    mantissa, exponent = split_bias(torch.tensor([0, 768, -4095, 4096, 8190, 8191, 4095 << 7]), monitor)
    assert (mantissa << exponent).tolist() == [0, 768, -4095, 4096, 8190, 8190, 4095 << 7]
    assert monitor.counts == {"bias not representable (13-bit mantissa, exponent <= 7)": 1}


def test_dense_synapses_weight_exponent_and_range():
    synapses = DenseSynapses(torch.tensor([[2, -4], [254, -256]]), weight_exp=-6)
    assert synapses.input(torch.tensor([[1, 1], [1, 0]])).tolist() == [[-2, -2], [2, 254]]
    assert DenseSynapses(torch.tensor([[2]]), weight_exp=0).input(torch.tensor([[1]])).tolist() == [[128]]
    with pytest.raises(ValueError, match="8-bit"):
        DenseSynapses(torch.tensor([[255]]))
    with pytest.raises(ValueError, match="even"):
        DenseSynapses(torch.tensor([[3]]))
    with pytest.raises(ValueError, match="weight_exp"):
        DenseSynapses(torch.tensor([[2]]), weight_exp=-7)


@pytest.mark.parametrize("kernel", PRODUCT_KERNELS)
def test_dense_synapses_equal_the_integer_product_in_every_kernel(kernel, monkeypatch):
    """Extreme weights (-256, 254) and all-spiking rows, against the int64 product."""
    monkeypatch.setenv(exact_product.KERNEL_ENVIRONMENT, kernel)
    generator = torch.Generator().manual_seed(0)
    weight = 2 * torch.randint(-128, 128, (37, 45), generator=generator)
    weight[0], weight[1] = -256, 254
    spikes = torch.randint(0, 2, (70, 45), generator=generator).bool()
    spikes[0] = True
    for weight_exp in (-6, 0, 3):
        expected = (spikes.long() @ weight.t()) << (6 + weight_exp)
        assert torch.equal(DenseSynapses(weight, weight_exp).input(spikes), expected)


@pytest.mark.parametrize("size, theta, pairs", [(312, 2048, False), (384, 1024, False), (256, 512, True)])
def test_feedback_synapses_equal_their_dense_matrix(size, theta, pairs):
    synapses = FeedbackSynapses(size, theta, pairs)
    spikes = torch.randint(0, 2, (9, size), generator=torch.Generator().manual_seed(size)).bool()
    assert torch.equal(synapses.input(spikes), synapses.dense().input(spikes))
    single_spikes = synapses.dense().input(torch.eye(size, dtype=torch.bool))
    assert set(single_spikes.unique().tolist()) == ({-theta, 0, theta} if pairs else {-theta, 0})
