"""The persistent Triton kernels of the fused layer against its step loops (sequence.py), run in
Triton's interpreter on the CPU (and compiled on a GPU, where there is one)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton")

COMPARE = """
import sys, torch
from hybrid_lstm.kernels import persistent_lstm
from hybrid_lstm.nn import sequence
device = sys.argv[1]
for modified in (True, False):
    for limit in (1.0, float("inf")):
        torch.manual_seed(0)
        steps, batch, hidden = 7, 20, 16  # 20 rows: two programs, the second one masked
        z = (torch.randn(steps, batch, 4 * hidden) * 2).to(device)
        h0, c0 = (torch.rand(batch, hidden) - 0.5).to(device), (torch.rand(batch, hidden) * 3 - 1.5).to(device)
        weight_hh = (torch.randn(4 * hidden, hidden) * 0.5).to(device)
        expected = sequence._forward_steps(z.clone(), h0, c0, weight_hh, limit, modified)
        got = persistent_lstm.forward_steps(z.clone(), h0, c0, weight_hh, limit, modified)
        for name, a, b in zip(("records", "h", "c"), expected, got):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), (modified, limit, name, (a - b).abs().max())
        records, c = expected[0], expected[2]
        grad_outputs = torch.randn(steps, batch, hidden).to(device)
        dh, dc = torch.randn(batch, hidden).to(device), torch.randn(batch, hidden).to(device)
        expected = sequence._backward_steps(grad_outputs, dh, dc, records.clone(), c, weight_hh, limit, modified)
        got = persistent_lstm.backward_steps(grad_outputs, dh, dc, records.clone(), c, weight_hh, limit, modified)
        for name, a, b in zip(("dz", "dh", "dc"), expected, got):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-5), (modified, limit, name, (a - b).abs().max())
print("equal")
"""


@pytest.mark.parametrize("device", ["interpreter"] + (["cuda"] if torch.cuda.is_available() else []))
def test_persistent_kernels_equal_the_step_loops(device):
    environment = dict(os.environ, **({"TRITON_INTERPRET": "1"} if device == "interpreter" else {}))
    result = subprocess.run([sys.executable, "-c", COMPARE, "cpu" if device == "interpreter" else "cuda"],
                            capture_output=True, text=True, env=environment, cwd=Path(__file__).resolve().parents[1],
                            timeout=600)
    assert result.returncode == 0 and result.stdout.strip() == "equal", result.stderr[-3000:]


def test_a_kernel_triton_cannot_build_falls_back_to_the_step_loops(monkeypatch):
    from hybrid_lstm import ModifiedLSTMCell
    from hybrid_lstm.kernels import persistent_lstm
    from hybrid_lstm.nn import sequence

    def unbuildable(*args):
        raise persistent_lstm.KERNEL_ERRORS[0]("out of shared memory")

    monkeypatch.setattr(sequence, "PERSISTENT_KERNELS", True)
    monkeypatch.setattr(persistent_lstm, "supported", lambda z, hidden: True)
    monkeypatch.setattr(persistent_lstm, "forward_steps", unbuildable)
    torch.manual_seed(0)
    cell, x = ModifiedLSTMCell(3, 16), torch.rand(4, 6, 3)
    expected, _ = sequence.stepped_layer(cell, x, cell.init_state(4))
    with pytest.warns(UserWarning, match="persistent LSTM kernels unavailable.*out of shared memory"):
        outputs, _ = sequence.lstm_layer(cell, x, cell.init_state(4))
    torch.testing.assert_close(outputs, expected, rtol=1e-5, atol=1e-5)
    assert sequence.PERSISTENT_KERNELS is False
