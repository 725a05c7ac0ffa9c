"""Energy and latency per inference on Loihi from event counts, and the CPU baseline.

Loihi, per inference (docs/loihi.md), with E_x the preset's energy per event:
    dynamic chip energy = synaptic ops * E_sop + active updates * E_active
                        + inactive updates * E_inactive + spikes * E_spike_extra
                        + spike messages * E_out + hops_EW * E_EW + hops_NS * E_NS
    chip time           = time-steps * barrier(tiles) + sum over time-steps of the slowest
                          core's (updates * t_update + synaptic ops * t_sop + spikes * t_spike
                          + messages out * t_out)
    host (embedded x86) = (register writes + counter reads + analog flops) / host_ops_per_s,
                          at host_power_w (dynamic): ASSUMED figures, stated in every report
    latency             = chip time + host time
    static energy       = static power per chip * chips * latency      (reported apart)

The ANN baseline: the same model's batch-1 latency measured on a device here (the CPU, or a
CUDA GPU), and its active energy per inference measured with the zeus library (RAPL package
counters on the CPU, NVML on an NVIDIA GPU; energy above idle: the busy window minus an idle
window as long) where the counters are readable, otherwise modelled as latency x the active
power of a named device profile (DEVICE_PROFILES, each with its source); the record says which.
"""
import statistics
import time
from dataclasses import asdict, dataclass

import torch

from .emulator import EventCounts
from .hardware import EventCosts

HOST_POWER_W = 0.0232  # x86 dynamic power of Intel's NxSDK sMNIST benchmark (docs/loihi.md)
HOST_OPS_PER_S = 1e8  # assumed: one simple operation per cycle at 100 MHz on an embedded x86 core
PAPER_ENERGY_RATIO = 55.9


@dataclass(frozen=True)
class DeviceProfile:
    """A conventional device's active power while it runs one batch-1 inference (an assumption, cited)."""

    kind: str  # "cpu" or "cuda"
    active_power_w: float
    source: str


DEVICE_PROFILES = {
    "i7-6700": DeviceProfile("cpu", 65.0 / 4, "Intel Core i7-6700 (the paper's CPU): 65 W TDP (Intel ARK) "
                             "shared by 4 cores, one busy"),
    "jetson-nano": DeviceProfile("cuda", 10.0, "NVIDIA Jetson Nano module in its 10 W power mode (NVIDIA data sheet)"),
    "a100-pcie": DeviceProfile("cuda", 250.0, "NVIDIA A100 PCIe: 250 W TDP (NVIDIA data sheet)"),
}
DEFAULT_PROFILES = {"cpu": "i7-6700", "cuda": "a100-pcie"}
CPU_ACTIVE_POWER_W = DEVICE_PROFILES["i7-6700"].active_power_w


@dataclass
class LoihiCost:
    """Per inference."""

    dynamic_chip_j: float
    host_j: float
    static_j: float
    chip_time_s: float
    host_time_s: float

    @property
    def latency_s(self) -> float:
        return self.chip_time_s + self.host_time_s

    @property
    def active_j(self) -> float:
        """Energy above idle: the chip's dynamic energy plus the host's."""
        return self.dynamic_chip_j + self.host_j


def loihi_cost(events: EventCounts, inferences: int, costs: EventCosts, tiles: int, chips: int,
               host_power_w: float = HOST_POWER_W, host_ops_per_s: float = HOST_OPS_PER_S) -> LoihiCost:
    """Energy and time per inference from events summed over `inferences` inferences (module doc)."""
    pj = (events.synaptic_ops * costs.synaptic_op_pj + events.active_updates * costs.update_active_pj
          + events.inactive_updates * costs.update_inactive_pj + events.spikes * costs.spike_extra_pj
          + events.spike_messages * costs.spike_out_pj + events.hops_east_west * costs.hop_east_west_pj
          + events.hops_north_south * costs.hop_north_south_pj)
    chip_ns = events.time_steps * costs.barrier_ns(tiles) + events.core_time_ns
    host_s = (events.host_writes + events.host_reads + events.host_flops) / host_ops_per_s
    latency_s = (chip_ns * 1e-9 + host_s) / inferences
    return LoihiCost(dynamic_chip_j=pj * 1e-12 / inferences, host_j=host_power_w * host_s / inferences,
                     static_j=costs.static_mw_per_chip * 1e-3 * chips * latency_s,
                     chip_time_s=chip_ns * 1e-9 / inferences, host_time_s=host_s / inferences)


@dataclass
class DeviceCost:
    """The ANN's batch-1 inference on a conventional device."""

    latency_s: float
    active_j: float
    energy_source: str  # "zeus: ..." (measured) or "modelled: ..."
    device: str = "cpu"


def energy_monitor(device: torch.device):
    """A zeus ZeusMonitor over the device's energy counters (RAPL for the CPU, NVML for a GPU), or
    None where zeus or the counters are missing."""
    try:
        from zeus.exception import ZeusBaseError
        from zeus.monitor import ZeusMonitor
    except ImportError:
        return None
    try:
        if device.type == "cuda":
            return ZeusMonitor(gpu_indices=[device.index or 0], cpu_indices=[])
        monitor = ZeusMonitor(gpu_indices=[], cpu_indices=None)
    except ZeusBaseError:
        return None
    return monitor if monitor.cpu_indices else None


def window_energy_j(measurement, device: torch.device):
    """The joules of a zeus Measurement on this device, or None where it holds none."""
    energies = measurement.gpu_energy if device.type == "cuda" else measurement.cpu_energy
    return sum(energies.values()) if energies else None


def ann_cost(model: torch.nn.Module, sequences: torch.Tensor, device="cpu", profile: str = None,
             active_power_w: float = None, repeats: int = 3) -> DeviceCost:
    """Median batch-1 latency of model on device over the given sequences (each run `repeats` times),
    and the active energy per inference: measured (zeus, above idle) where readable, else latency x
    active_power_w, or x the power of DEVICE_PROFILES[profile] (default: the device kind's
    DEFAULT_PROFILES entry)."""
    device = torch.device(device)
    if device.type not in DEFAULT_PROFILES:
        raise ValueError(f"device must be a CPU or a CUDA GPU, got {device}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda: no CUDA GPU on this machine")
    profile = profile or DEFAULT_PROFILES[device.type]
    if active_power_w is None:
        power_w, assumed = DEVICE_PROFILES[profile].active_power_w, f"profile {profile}"
    else:
        power_w, assumed = active_power_w, "assumed"
    model = model.to(device).eval()
    sequences = sequences.to(device)

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    monitor = energy_monitor(device)
    times = []
    with torch.no_grad():
        model(sequences[:1])  # warm-up
        synchronize()
        if monitor is not None:
            monitor.begin_window("ann")
        start = time.perf_counter()
        for _ in range(repeats):
            for sequence in sequences:
                begin = time.perf_counter()
                model(sequence[None])
                synchronize()
                times.append(time.perf_counter() - begin)
        busy_s = time.perf_counter() - start
    latency = statistics.median(times)
    busy_j = window_energy_j(monitor.end_window("ann"), device) if monitor is not None else None
    if busy_j is not None:
        monitor.begin_window("idle")
        time.sleep(busy_s)
        idle_j = window_energy_j(monitor.end_window("idle"), device)
        counters = "NVML" if device.type == "cuda" else "RAPL"
        return DeviceCost(latency, (busy_j - idle_j) / len(times), f"zeus: {counters} energy above idle", str(device))
    return DeviceCost(latency, latency * power_w, f"modelled: measured latency x {power_w:g} W ({assumed}; "
                      "no readable energy counters)", str(device))


def as_dict(cost) -> dict:
    values = asdict(cost)
    if isinstance(cost, LoihiCost):
        values.update(latency_s=cost.latency_s, active_j=cost.active_j)
    return values
