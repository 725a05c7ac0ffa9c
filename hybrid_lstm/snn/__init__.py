"""The spiking side: the one IF neuron model (neurons), conversion to integer weights (conversion),
the hybrid cell with its simulation backends (hybrid, fast_gates), spike records (spikes), and
conversion-aware fine-tuning (finetune)."""
