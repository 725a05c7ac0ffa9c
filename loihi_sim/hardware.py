"""The Loihi-1 hardware model: state widths, per-core resources, energy and time per event.

Sources (docs/loihi.md): Davies et al., IEEE Micro 38(1) 2018 (resources, Table 2
energies); SANA-FE's recalibrated arch/loihi.yaml; Lava's bit-accurate LIF/Dense models
for the fixed-point widths; Frady et al. 2020 for static power.
"""
from dataclasses import dataclass

# Fixed-point widths of one CUBA compartment (Lava PyLifModelBitAcc).
DECAY_BITS = 12  # du, dv: unsigned 12-bit, decays are x * (4096 - d) >> 12
DECAY_UNITY = 1 << DECAY_BITS  # 4096
CURRENT_BITS = 24  # u: signed 24-bit, wraps around
VOLTAGE_LIMIT = (1 << 23) - 1  # v: clipped to [-(2^23 - 1), 2^23 - 1]
VTH_BITS = 17  # vth mantissa: unsigned 17-bit, threshold = vth << 6
THRESHOLD_SHIFT = 6
BIAS_MANT_BITS = 13  # bias mantissa: signed 13-bit
BIAS_EXP_MAX = 7  # bias = bias_mant << bias_exp, bias_exp in 0..7
WEIGHT_BITS = 8  # weights: 8-bit; with mixed signs even integers in [-256, 254]
WEIGHT_MIN, WEIGHT_MAX = -256, 254
WEIGHT_EXP_MIN, WEIGHT_EXP_MAX = -8, 7  # effective weight w * 2^(6 + weight_exp)
SYNAPSE_INPUT_SHIFT = 6


@dataclass(frozen=True)
class CoreLimits:
    """Resources of one neuromorphic core and of one chip (Davies 2018)."""

    compartments: int = 1024
    input_axons: int = 4096
    output_axons: int = 4096
    synaptic_memory_bytes: int = 128 * 1024
    synaptic_word_bits: int = 64
    cores_per_chip: int = 128
    cores_per_tile: int = 4
    tiles_per_row: int = 4  # tiles laid out as a 4 x 8 mesh (inferred: 32 tiles per chip)


@dataclass(frozen=True)
class EventCosts:
    """Energy (pJ) and time (ns) per event. Hops cost energy only: the latency model is the
    barrier plus the slowest core's work per time-step (docs/loihi.md)."""

    name: str
    synaptic_op_pj: float
    synaptic_op_ns: float
    update_active_pj: float
    update_active_ns: float
    update_inactive_pj: float
    update_inactive_ns: float
    spike_extra_pj: float  # extra energy of a compartment that spikes (SANA-FE "spiking" minus "active")
    spike_extra_ns: float
    spike_out_pj: float  # one spike message leaving a core (Davies: within a tile; SANA-FE: axon out)
    spike_out_ns: float
    hop_east_west_pj: float
    hop_north_south_pj: float
    barrier_ns_one_tile: float
    barrier_ns_32_tiles: float
    static_mw_per_chip: float = 104.0  # Frady et al. 2020: 3.34 W over 32 chips

    def barrier_ns(self, tiles: int) -> float:
        """Barrier synchronisation time, linear between the 1-tile and 32-tile figures."""
        tiles = min(max(tiles, 1), 32)
        return self.barrier_ns_one_tile + (self.barrier_ns_32_tiles - self.barrier_ns_one_tile) * (tiles - 1) / 31


PRESETS = {
    # Davies 2018 Table 2 (0.75 V, pre-silicon minima): no separate cost for a spiking compartment.
    "davies2018": EventCosts(
        name="davies2018", synaptic_op_pj=23.6, synaptic_op_ns=3.5, update_active_pj=81.0, update_active_ns=8.4,
        update_inactive_pj=52.0, update_inactive_ns=5.3, spike_extra_pj=0.0, spike_extra_ns=0.0,
        spike_out_pj=1.7, spike_out_ns=2.1, hop_east_west_pj=3.0, hop_north_south_pj=4.0,
        barrier_ns_one_tile=113.0, barrier_ns_32_tiles=465.0),
    # SANA-FE recalibrated Loihi preset: spiking update 69.3 pJ / 30 ns is counted as the active
    # update plus its extra over it (a spiking update costs 69.3 pJ in total).
    "sanafe": EventCosts(
        name="sanafe", synaptic_op_pj=35.5, synaptic_op_ns=4.0, update_active_pj=72.8, update_active_ns=9.7,
        update_inactive_pj=51.2, update_inactive_ns=6.0, spike_extra_pj=69.3 - 72.8, spike_extra_ns=30.0 - 9.7,
        spike_out_pj=76.8, spike_out_ns=7.6, hop_east_west_pj=3.0, hop_north_south_pj=4.2,
        barrier_ns_one_tile=299.0, barrier_ns_32_tiles=299.0),
}
