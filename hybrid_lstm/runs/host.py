"""The hardware a result was measured on, in one line recorded beside the result."""
import os
import platform

import torch


VECTOR_EXTENSIONS = {"AVX2": "_is_avx2_supported", "AVX-512": "_is_avx512_supported",
                     "AVX-512 VNNI": "_is_vnni_supported", "AMX": "_is_amx_tile_supported"}


def vector_extensions() -> list:
    """The CPU's vector extensions that torch detects, of VECTOR_EXTENSIONS (the CPU's own, whatever
    ATEN_CPU_CAPABILITY limits torch's kernels to)."""
    return [name for name, check in VECTOR_EXTENSIONS.items() if getattr(torch.cpu, check, lambda: False)()]


def host_description(device: torch.device = torch.device("cpu"), threads: int | None = None) -> str:
    """E.g. 'AMD EPYC (AVX2), 2 logical CPUs, 1 torch thread, torch 2.14.1' (+ the GPU when device
    is CUDA); threads: default this process's. CPUs of one name differ in their vector extensions,
    and the speed of every CPU figure with them."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    threads = threads or torch.get_num_threads()
    extensions = vector_extensions()
    cpu += f" ({', '.join(extensions)})" if extensions else ""
    text = f"{cpu}, {os.cpu_count()} logical CPUs, {threads} torch thread{'s' if threads > 1 else ''}, torch {torch.__version__}"
    if device.type == "cuda":
        text += f", GPU {torch.cuda.get_device_name(device)}"
    return text
