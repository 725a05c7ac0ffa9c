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

CPU baseline: batch-1 latency of the same model's ANN measured here; its active energy is
read from RAPL (energy above idle) where the machine exposes it, otherwise modelled as
latency * cpu_active_power_w (default: the i7-6700's 65 W TDP shared by its 4 cores, for a
single-threaded inference); the report says which.
"""
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .emulator import EventCounts
from .hardware import EventCosts

HOST_POWER_W = 0.0232  # x86 dynamic power of Intel's NxSDK sMNIST benchmark (docs/loihi.md)
HOST_OPS_PER_S = 1e8  # assumed: one simple operation per cycle at 100 MHz on an embedded x86 core
CPU_ACTIVE_POWER_W = 65.0 / 4  # i7-6700: 65 W TDP over 4 cores, one busy core (assumption)
RAPL_ENERGY = Path("/sys/class/powercap/intel-rapl:0/energy_uj")
PAPER_ENERGY_RATIO = 55.9


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
class CpuCost:
    latency_s: float
    active_j: float
    energy_source: str  # "RAPL" or "modelled: ..."


def read_rapl_uj():
    try:
        return int(RAPL_ENERGY.read_text())
    except (OSError, ValueError):
        return None


def cpu_cost(model: torch.nn.Module, sequences: torch.Tensor, cpu_active_power_w: float = CPU_ACTIVE_POWER_W,
             repeats: int = 3) -> CpuCost:
    """Median batch-1 latency of model over the given sequences (each run `repeats` times), and
    active energy per inference (RAPL above idle if readable, else modelled)."""
    model.eval()
    times = []
    start_energy, start = read_rapl_uj(), time.perf_counter()
    with torch.no_grad():
        model(sequences[:1])  # warm-up
        for _ in range(repeats):
            for sequence in sequences:
                begin = time.perf_counter()
                model(sequence[None])
                times.append(time.perf_counter() - begin)
    busy_s, end_energy = time.perf_counter() - start, read_rapl_uj()
    latency = statistics.median(times)
    if start_energy is not None and end_energy is not None and end_energy >= start_energy:
        idle_start = read_rapl_uj()
        time.sleep(busy_s)
        idle_uj = read_rapl_uj() - idle_start
        active_uj = (end_energy - start_energy) - idle_uj
        return CpuCost(latency, active_uj * 1e-6 / len(times), "RAPL (package energy above idle)")
    return CpuCost(latency, latency * cpu_active_power_w,
                   f"modelled: measured latency x {cpu_active_power_w:g} W (no RAPL on this machine)")


def as_dict(cost) -> dict:
    values = asdict(cost)
    if isinstance(cost, LoihiCost):
        values.update(latency_s=cost.latency_s, active_j=cost.active_j)
    return values
