import torch

from hybrid_lstm import pl1, pl2


def values_and_grads(function, points):
    z = torch.tensor(points, dtype=torch.float32, requires_grad=True)
    y = function(z)
    y.sum().backward()
    return y.detach().tolist(), z.grad.tolist()


def test_pl1_values_and_gradient_with_endpoints():
    above_two = torch.nextafter(torch.tensor(2.0), torch.tensor(3.0)).item()
    values, grads = values_and_grads(pl1, [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, above_two, 5.0])
    assert values == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert grads == [0.0, 0.25, 0.25, 0.25, 0.25, 0.25, 0.0, 0.0]


def test_pl2_values_and_gradient_with_endpoints():
    below_minus_two = torch.nextafter(torch.tensor(-2.0), torch.tensor(-3.0)).item()
    values, grads = values_and_grads(pl2, [-5.0, below_minus_two, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    assert values == [-1.0, -1.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.0]
    assert grads == [0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0]


def test_gradient_scales_upstream_gradient():
    z = torch.tensor([0.3, -0.7], requires_grad=True)
    (pl1(z) * torch.tensor([2.0, -4.0])).sum().backward()
    assert z.grad.tolist() == [0.5, -1.0]
