"""IF neuron sequences worked out by hand (initial potential 1, strict '>')."""
import torch

from hybrid_lstm import IFNeuron, SignedInputEncoder, TernaryIFNeuron


def run(neuron, currents):
    state = neuron.initial_state((1,))
    outputs, potentials = [], []
    for value in currents:
        state, out = neuron.step(state, torch.tensor([value]))
        outputs.append(out.item())
        potentials.append(tuple(v.item() for v in state) if isinstance(state, tuple) else state.item())
    return outputs, potentials


def test_if_neuron_soft_reset():
    # V: 1+1023 = 1024 is not > 1024; 2047 fires -> 1023; 2046 fires -> 1022; 2045 fires -> 1021
    assert run(IFNeuron(1024), [1023] * 4) == ([0, 1, 1, 1], [1024, 1023, 1022, 1021])


def test_if_neuron_hard_reset():
    # 1024 no spike; 2047 fires -> 0; 1023 no spike; 2046 fires -> 0
    assert run(IFNeuron(1024, reset="hard"), [1023] * 4) == ([0, 1, 0, 1], [1024, 0, 1023, 0])


def test_if_neuron_has_no_lower_bound():
    assert run(IFNeuron(1024), [-5000, 3000, 3000, 1000]) == ([0, 0, 0, 1], [-4999, -1999, 1001, 977])


def test_ternary_neuron_soft_reset():
    # (V+, V-) from (1, 1): +511 -> (512, -510) no spike; +1 -> (513, -511) p -> (1, 1);
    # +600 -> (601, -599) p -> (89, -87); -2000 -> (-1911, 1913) n -> (-1399, 1401); 0 -> n -> (-887, 889)
    outputs, potentials = run(TernaryIFNeuron(512), [511, 1, 600, -2000, 0])
    assert outputs == [0, 1, 1, -1, -1]
    assert potentials == [(512, -510), (1, 1), (89, -87), (-1399, 1401), (-887, 889)]


def test_ternary_neuron_hard_reset():
    outputs, potentials = run(TernaryIFNeuron(512, reset="hard"), [511, 1, 600, -2000, 0])
    assert outputs == [0, 1, 1, -1, 0]
    assert potentials == [(512, -510), (0, 0), (0, 0), (0, 0), (0, 0)]


def encode(u, steps, reset="soft"):
    encoder = SignedInputEncoder(2048, reset)
    q = encoder.quantize(torch.tensor([u]))
    v = encoder.initial_state(q.shape)
    spikes = []
    for _ in range(steps):
        v, s = encoder.step(v, q)
        spikes.append(s.item())
    return q.item(), spikes


def test_encoder_positive_input():
    # q = round(614.4) = 614; V = 615, 1229, 1843, 2457 -> spike -> 409 (soft) or 0 (hard)
    assert encode(0.3, 5) == (614, [0, 0, 0, 1, 0])
    assert encode(0.3, 8) == (614, [0, 0, 0, 1, 0, 0, 1, 0])  # 409 + 3 * 614 = 2251 fires at step 7
    assert encode(0.3, 8, "hard") == (614, [0, 0, 0, 1, 0, 0, 0, 1])  # 0 + 4 * 614 = 2456 fires at step 8


def test_encoder_saturated_negative_input():
    # q = -2048: V = 2049 > 2048 fires every step with soft reset; with hard reset 2048 does not fire
    assert encode(-1.0, 4) == (-2048, [-1, -1, -1, -1])
    assert encode(-1.0, 4, "hard") == (-2048, [-1, 0, -1, 0])


def test_encoder_zero_and_rounding():
    assert encode(0.0, 3) == (0, [0, 0, 0])
    assert encode(0.5 / 2048, 1)[0] == 0  # round half to even
    assert encode(1.5 / 2048, 1)[0] == 2
    assert encode(-2.5 / 2048, 1)[0] == -2
