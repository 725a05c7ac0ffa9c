"""loihi_sim: the hybrid LSTM on an emulated Loihi-1, with energy and latency per inference.

hardware.py    the hardware model: fixed-point widths, core limits, energy/time per event
compartment.py bit-accurate CUBA compartments and dense synapses (integer arithmetic)
mapping.py     discretisation of a converted hybrid layer into compartments; core allocation
emulator.py    emulator state and time loop; LoihiSimulation, the chip as a hybrid cell's simulation
               backend; EmulatedHybridCell, a converted cell on that backend
energy.py      events -> energy and latency on Loihi; the CPU baseline
energy_report.py estimate(): the energy report of any converted model, from the fast simulation's spikes
benchmark.py   python -m loihi_sim.benchmark (the paper's models on the emulated chip)
report.py      python -m loihi_sim.report (energy_report for a saved run)
"""
from .compartment import CompartmentParams, DenseSynapses, OverflowMonitor
from .emulator import EmulatedHybridCell, EventCounts, LoihiLayerEmulator, LoihiSimulation
from .energy import DEVICE_PROFILES, ann_cost, loihi_cost
from .energy_report import EnergyReport, estimate
from .hardware import PRESETS, CoreLimits, EventCosts
from .mapping import CHIP_RESETS, HybridLayerNetwork, LayerShape, MappingError, allocate

__all__ = [
    "CompartmentParams", "DenseSynapses", "OverflowMonitor", "EmulatedHybridCell", "EventCounts",
    "LoihiLayerEmulator", "LoihiSimulation", "DEVICE_PROFILES", "ann_cost", "loihi_cost", "PRESETS", "CoreLimits", "EventCosts", "HybridLayerNetwork", "LayerShape",
    "MappingError", "allocate", "CHIP_RESETS", "EnergyReport", "estimate",
]
