"""The pixel-wise BaselineLSTMCell training step, held in float64 against a hand-written loop.

Our training of the sigmoid cell reaches far less than the paper's pixel-wise accuracy. This
test rules out the implementation: the fused layer and the protocol (cross-entropy, clipping,
RMSprop, the clamps of c and of the parameters) against a plain autograd loop written with
torch.sigmoid / torch.tanh / torch.clamp, on real 784-step sequences, in float64 where float
noise cannot hide a difference.
"""
import pytest
import torch
from torch import nn

from hybrid_lstm import SequenceClassifier
from hybrid_lstm.runs import training
from hybrid_lstm.runs.data import load_mnist, to_sequences

BATCH, STEPS = 16, 3
TOLERANCE = 1e-10


def hand_written_logits(parameters: dict, x: torch.Tensor) -> torch.Tensor:
    """z = x W_ih^T + h W_hh^T + b; i, f, o = sigmoid; g = tanh; c' = f c + i g; h = o tanh(c');
    c = clamp(c', -1, 1); logits = Linear(h_L)."""
    w_ih, w_hh, b = parameters["cells.0.weight_ih"], parameters["cells.0.weight_hh"], parameters["cells.0.bias"]
    h = c = x.new_zeros(x.shape[0], w_hh.shape[1])
    for t in range(x.shape[1]):
        z_i, z_f, z_g, z_o = (x[:, t] @ w_ih.t() + h @ w_hh.t() + b).chunk(4, dim=1)
        c_raw = torch.sigmoid(z_f) * c + torch.sigmoid(z_i) * torch.tanh(z_g)
        h = torch.sigmoid(z_o) * torch.tanh(c_raw)
        c = torch.clamp(c_raw, -1, 1)
    return h @ parameters["classifier.weight"].t() + parameters["classifier.bias"]


@pytest.fixture(scope="module")
def pixelwise_batch(mnist_root):
    images, labels = load_mnist(mnist_root, train=True)
    return to_sequences(images[:BATCH], input_size=1).double(), labels[:BATCH]


def test_pixelwise_baseline_training_equals_a_hand_written_loop_in_float64(pixelwise_batch):
    x, y = pixelwise_batch
    torch.manual_seed(0)
    model = SequenceClassifier("BaselineLSTMCell", 1, 128).double()
    reference = {name: parameter.detach().clone().requires_grad_() for name, parameter in model.named_parameters()}
    initial = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}

    # gradients of one batch
    nn.functional.cross_entropy(model(x), y).backward()
    nn.functional.cross_entropy(hand_written_logits(reference, x), y).backward()
    for name, parameter in model.named_parameters():
        assert (parameter.grad - reference[name].grad).abs().max() < TOLERANCE, name
        reference[name].grad = None

    # STEPS protocol steps: training.train_epoch on the whole batch, against torch's clip, RMSprop and a clamp
    settings = dict(lr=1e-3, alpha=0.99, eps=1e-8, momentum=0.0)
    optimizer = torch.optim.RMSprop(model.parameters(), **settings)
    reference_optimizer = torch.optim.RMSprop(reference.values(), **settings)
    for step in range(STEPS):
        training.train_epoch(model, optimizer, x, y, BATCH, grad_clip=1.0, seed=step)
        reference_optimizer.zero_grad()
        nn.functional.cross_entropy(hand_written_logits(reference, x), y).backward()
        nn.utils.clip_grad_norm_(reference.values(), 1.0)
        reference_optimizer.step()
        with torch.no_grad():
            for parameter in reference.values():
                parameter.clamp_(-1, 1)
    for name, parameter in model.named_parameters():
        assert (parameter.detach() - reference[name].detach()).abs().max() < TOLERANCE, name
        assert (parameter.detach() - initial[name]).abs().max() > 1e-4, name  # the steps moved every parameter
