"""The plumbing of runs: data, the training protocol, evaluation, checkpoints and run folders,
sweeps that resume, atomic files, command-line helpers and the hardware line."""
