"""The hardware a result was measured on, in one line recorded beside the result."""
import os
import platform

import torch


def host_description(device: torch.device = torch.device("cpu"), threads: int | None = None) -> str:
    """E.g. 'AMD EPYC, 2 logical CPUs, 1 torch thread, torch 2.14.1' (+ the GPU when device is
    CUDA); threads: default this process's."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    threads = threads or torch.get_num_threads()
    text = f"{cpu}, {os.cpu_count()} logical CPUs, {threads} torch thread{'s' if threads > 1 else ''}, torch {torch.__version__}"
    if device.type == "cuda":
        text += f", GPU {torch.cuda.get_device_name(device)}"
    return text
