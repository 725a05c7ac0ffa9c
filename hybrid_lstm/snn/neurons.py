"""The one integrate-and-fire neuron model of the hybrid LSTM, in exact integer arithmetic.

Every simulation (the reference loop of hybrid.py, the fast simulation, the Loihi emulator)
fires and resets with the two functions of this module, fire and after_spike:

    charge:  V <- V + I                         (no leak)
    fire:    s = [V > theta]                    (strictly greater)
    reset:   soft  V <- V - theta * s           (the paper's simulation, the default)
             hard  V <- 0 where s != 0          (Loihi's compartments; the overshoot is lost)

s may be signed: a ternary neuron's two potentials V+ and V- reset with s = p - n and n - p.
The potentials are re-initialised to V0 at the start of every LSTM step.
One exception, by necessity: the event-driven CPU kernel (kernels/event_gates.c) is C, so it
restates these two lines there; tests/test_fast_gates.py holds its spike counts to the
reference loop's bit for bit, for both resets and every initial potential.

SpikingConfig holds what a hybrid simulation needs beyond the weights, resolved and validated
once: T SNN steps per LSTM step, the reset rule, and each population's initial potential.

Initial potential. With a soft reset and at most one spike per step, a neuron that has
integrated a total input S over T steps has fired N = floor((V0 - 1 + S) / theta) times
(integers: V > theta n <=> V - 1 >= theta n). The rate N / T estimates S / (theta T), the
analog activation:
  "one"  (V0 = 1, the paper):     N = floor(S / theta): always rounds down, a bias of
         -1/(2T) on average, which dominates at small T;
  "half" (V0 = theta / 2):        N = floor(S / theta + 1/2 - 1/theta), i.e. S / theta
         rounded to nearest (ties down): zero bias on average; the initial potential
         that Bu et al. (AAAI 2022, "Optimized potential initialization for low-latency
         spiking neural networks") show minimises the expected conversion error.
A configuration gives every population the same choice ("one", "half") or its own, written
"encoder=half,f=half" (populations not named start at "one").
"""
from dataclasses import dataclass

import torch

from .conversion import ENCODER_THRESHOLD, SIGMOID_THRESHOLD, TANH_THRESHOLD
from .spikes import POPULATIONS

RESET_MODES = ("soft", "hard")
INITIAL_POTENTIALS = ("one", "half")
DEFAULT_RESET, DEFAULT_INITIAL_POTENTIAL = "soft", "one"  # the paper's neurons
THRESHOLDS = {"encoder": ENCODER_THRESHOLD, "i": SIGMOID_THRESHOLD, "f": SIGMOID_THRESHOLD, "g": TANH_THRESHOLD,
              "o": SIGMOID_THRESHOLD}


def check_reset(reset: str) -> str:
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
    return reset


def parse_initial_potential(spec: str) -> dict:
    """{population: "one" | "half"} from "one", "half" or "encoder=half,f=half" (unnamed: "one")."""
    if not isinstance(spec, str):
        raise ValueError(f"initial_potential must be a string, got {spec!r}")
    if spec in INITIAL_POTENTIALS:
        return dict.fromkeys(POPULATIONS, spec)
    choices = dict.fromkeys(POPULATIONS, "one")
    for item in spec.split(","):
        population, _, choice = item.strip().partition("=")
        if population not in POPULATIONS or choice not in INITIAL_POTENTIALS:
            raise ValueError(f"initial_potential must be one of {INITIAL_POTENTIALS} or POPULATION=CHOICE,... with "
                             f"POPULATION in {POPULATIONS} and CHOICE in {INITIAL_POTENTIALS}, got {spec!r}")
        choices[population] = choice
    return choices


def check_initial_potential(spec: str) -> str:
    """The canonical spelling of an initial-potential spec: "one" or "half" when every population
    has that choice, else the populations with "half", in POPULATIONS order ("encoder=half,f=half")."""
    choices = parse_initial_potential(spec)
    if len(set(choices.values())) == 1:
        return next(iter(choices.values()))
    return ",".join(f"{population}=half" for population, choice in choices.items() if choice == "half")


def start_potential(threshold: int, initial_potential: str = DEFAULT_INITIAL_POTENTIAL) -> int:
    """V0 of a neuron with this threshold: 1 ("one", the paper) or threshold // 2 ("half")."""
    if initial_potential not in INITIAL_POTENTIALS:
        raise ValueError(f"a population's initial potential is one of {INITIAL_POTENTIALS}, got {initial_potential!r}")
    return 1 if initial_potential == "one" else threshold // 2


def fire(v: torch.Tensor, threshold) -> torch.Tensor:
    """s = [V > theta] (bool)."""
    return v > threshold


def after_spike(v: torch.Tensor, spikes: torch.Tensor, threshold, reset: str) -> torch.Tensor:
    """Soft: V - theta * s; hard: 0 where s != 0. s: bool, or signed integers (a ternary pair)."""
    if reset == "soft":
        return v - threshold * spikes
    return torch.where(spikes if spikes.dtype == torch.bool else spikes != 0, 0, v)


@dataclass(frozen=True)
class SpikingConfig:
    """T SNN steps per LSTM step, the reset rule and the initial potentials (a canonical spec)."""

    n_timestep: int
    reset: str = DEFAULT_RESET
    initial_potential: str = DEFAULT_INITIAL_POTENTIAL

    def __post_init__(self):
        if isinstance(self.n_timestep, bool) or int(self.n_timestep) != self.n_timestep or self.n_timestep < 1:
            raise ValueError(f"n_timestep must be a positive integer, got {self.n_timestep!r}")
        object.__setattr__(self, "n_timestep", int(self.n_timestep))
        check_reset(self.reset)
        object.__setattr__(self, "initial_potential", check_initial_potential(self.initial_potential))

    def choice(self, population: str) -> str:
        """"one" or "half" for this population."""
        return parse_initial_potential(self.initial_potential)[population]

    def v0(self, population: str) -> int:
        """V0 of the population's neurons."""
        return start_potential(THRESHOLDS[population], self.choice(population))


class IFNeuron:
    """Sigmoid-type gate neuron (i, f, o): binary spikes, no lower bound on V.

    Each SNN step: V <- V + I ; s = [V > theta] ; reset where s.
    Under a constant current I its rate is clamp(I / theta, 0, 1) (soft reset).
    """

    def __init__(self, threshold: int, reset: str = DEFAULT_RESET, initial_potential: str = DEFAULT_INITIAL_POTENTIAL):
        self.threshold = int(threshold)
        self.reset = check_reset(reset)
        self.v0 = start_potential(self.threshold, initial_potential)

    def initial_state(self, shape, device=None) -> torch.Tensor:
        """V = V0 everywhere."""
        return torch.full(shape, self.v0, dtype=torch.long, device=device)

    def step(self, v: torch.Tensor, current: torch.Tensor):
        """One SNN step; returns (new V, spikes in {0, 1} as int64)."""
        v = v + current
        fired = fire(v, self.threshold)
        return after_spike(v, fired, self.threshold, self.reset), fired.long()


class TernaryIFNeuron:
    """tanh-type gate neuron (g): output in {-1, 0, +1} from two mirrored potentials.

    Each SNN step, with I the input current:
        V+ <- V+ + I ;  V- <- V- - I ;  p = [V+ > theta] ;  n = [V- > theta]
        reset V+ with s = p - n and V- with s = n - p (soft: theta moves from one to the other;
        hard: both to 0, the neuron restarts from rest) ; output p - n.
    V+ + V- is constant, so p and n never fire together. Under a constant current its
    rate is clamp(I / theta, -1, 1) (soft reset).
    """

    def __init__(self, threshold: int, reset: str = DEFAULT_RESET, initial_potential: str = DEFAULT_INITIAL_POTENTIAL):
        self.threshold = int(threshold)
        self.reset = check_reset(reset)
        self.v0 = start_potential(self.threshold, initial_potential)

    def initial_state(self, shape, device=None):
        """(V+, V-) = (V0, V0) everywhere."""
        v = torch.full(shape, self.v0, dtype=torch.long, device=device)
        return v, v.clone()

    def step(self, state, current: torch.Tensor):
        """One SNN step; returns ((V+, V-), output p - n in {-1, 0, 1} as int64)."""
        v_pos, v_neg = state
        v_pos = v_pos + current
        v_neg = v_neg - current
        output = fire(v_pos, self.threshold).long() - fire(v_neg, self.threshold).long()
        return (after_spike(v_pos, output, self.threshold, self.reset),
                after_spike(v_neg, -output, self.threshold, self.reset)), output


class SignedInputEncoder:
    """Rate-codes an analog value u (|u| <= 1 for rate = u) into signed spikes.

    q = round(theta * clamp(u, -2, 2)), fixed for the LSTM step (round half to even; any
    |u| >= 2 gives |q| > theta, which fires at every step as every larger |q| would). Each SNN
    step: V <- V + |q| ; fire when V > theta, emitting sign(q) in {-1, 0, +1} ; reset where
    fired. Its rate is sign(u) * min(|q| / theta, 1) (soft reset).
    """

    INPUT_LIMIT = 2.0

    def __init__(self, threshold: int, reset: str = DEFAULT_RESET, initial_potential: str = DEFAULT_INITIAL_POTENTIAL):
        self.threshold = int(threshold)
        self.reset = check_reset(reset)
        self.v0 = start_potential(self.threshold, initial_potential)

    def quantize(self, u: torch.Tensor, dtype=torch.long) -> torch.Tensor:
        """q = round(theta * clamp(u, -2, 2)) (theta is a power of two, so theta * u is exact)."""
        return torch.round(u.clamp(-self.INPUT_LIMIT, self.INPUT_LIMIT) * self.threshold).to(dtype)

    def initial_state(self, shape, device=None) -> torch.Tensor:
        """V = V0 everywhere."""
        return torch.full(shape, self.v0, dtype=torch.long, device=device)

    def step(self, v: torch.Tensor, q: torch.Tensor):
        """One SNN step; returns (new V, signed spikes sign(q) * [V > theta] as int64)."""
        v = v + q.abs()
        fired = fire(v, self.threshold)
        return after_spike(v, fired, self.threshold, self.reset), q.sign() * fired.long()
