"""Fast implementations with no new math, each held against a plain one in the tests: exact integer
spike products (exact_product), event-driven currents fused with the gate neurons in C
(event_gates), torch.compile with an eager fallback (compiled), CUDA graph replay (cuda_graphs),
and the fused layer's step loops as Triton kernels (persistent_lstm)."""
