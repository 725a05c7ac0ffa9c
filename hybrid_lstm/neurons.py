"""Integrate-and-fire neurons of the hybrid LSTM, in exact integer arithmetic (int64 tensors).

All three kinds: no leak; a neuron spikes when its potential V exceeds its threshold
theta (strictly, V > theta); the caller re-initialises the potentials at the start of
every LSTM step, to V0 = start_potential(theta, initial_potential). After a spike the
potential is reset either softly (V <- V - theta, the paper's simulation, the default) or
hard (V <- 0, as Loihi's compartments do; the overshoot above theta is lost).

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
"""
import torch

RESET_MODES = ("soft", "hard")
INITIAL_POTENTIALS = ("one", "half")


def check_reset(reset: str) -> str:
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
    return reset


def check_initial_potential(initial_potential: str) -> str:
    if initial_potential not in INITIAL_POTENTIALS:
        raise ValueError(f"initial_potential must be one of {INITIAL_POTENTIALS}, got {initial_potential!r}")
    return initial_potential


def start_potential(threshold: int, initial_potential: str = "one") -> int:
    """V0 of a neuron with this threshold: 1 ("one", the paper) or threshold // 2 ("half")."""
    return 1 if check_initial_potential(initial_potential) == "one" else threshold // 2


def _after_spike(v: torch.Tensor, fired: torch.Tensor, threshold: int, reset: str) -> torch.Tensor:
    """Soft: V - theta where fired; hard: 0 where fired."""
    if reset == "soft":
        return v - threshold * fired.long()
    return v.masked_fill(fired, 0)


class IFNeuron:
    """Sigmoid-type gate neuron (i, f, o): binary spikes, no lower bound on V.

    Each SNN step: V <- V + I ; s = [V > theta] ; reset where s.
    Under a constant current I its rate is clamp(I / theta, 0, 1) (soft reset).
    """

    def __init__(self, threshold: int, reset: str = "soft", initial_potential: str = "one"):
        self.threshold = int(threshold)
        self.reset = check_reset(reset)
        self.v0 = start_potential(self.threshold, initial_potential)

    def initial_state(self, shape, device=None) -> torch.Tensor:
        """V = V0 everywhere."""
        return torch.full(shape, self.v0, dtype=torch.long, device=device)

    def step(self, v: torch.Tensor, current: torch.Tensor):
        """One SNN step; returns (new V, spikes in {0, 1} as int64)."""
        v = v + current
        fired = v > self.threshold
        return _after_spike(v, fired, self.threshold, self.reset), fired.long()


class TernaryIFNeuron:
    """tanh-type gate neuron (g): output in {-1, 0, +1} from two mirrored potentials.

    Each SNN step, with I the input current:
        V+ <- V+ + I ;  V- <- V- - I ;  p = [V+ > theta] ;  n = [V- > theta]
        soft reset: if p: V+ -= theta, V- += theta ;  if n: V+ += theta, V- -= theta
        hard reset: if p or n: V+ = V- = 0 (the neuron restarts from rest)
        output p - n.
    V+ + V- is constant, so p and n never fire together. Under a constant current its
    rate is clamp(I / theta, -1, 1) (soft reset).
    """

    def __init__(self, threshold: int, reset: str = "soft", initial_potential: str = "one"):
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
        positive = v_pos > self.threshold
        negative = v_neg > self.threshold
        output = positive.long() - negative.long()
        if self.reset == "soft":
            v_pos = v_pos - self.threshold * output
            v_neg = v_neg + self.threshold * output
        else:
            fired = positive | negative
            v_pos = v_pos.masked_fill(fired, 0)
            v_neg = v_neg.masked_fill(fired, 0)
        return (v_pos, v_neg), output


class SignedInputEncoder:
    """Rate-codes an analog value u (|u| <= 1 for rate = u) into signed spikes.

    q = round(theta * u), fixed for the LSTM step (round half to even). Each SNN step:
    V <- V + |q| ; fire when V > theta, emitting sign(q) in {-1, 0, +1} ; reset where fired.
    Its rate is sign(u) * min(|q| / theta, 1) (soft reset).
    """

    def __init__(self, threshold: int, reset: str = "soft", initial_potential: str = "one"):
        self.threshold = int(threshold)
        self.reset = check_reset(reset)
        self.v0 = start_potential(self.threshold, initial_potential)

    def quantize(self, u: torch.Tensor) -> torch.Tensor:
        """q = round(theta * u) as int64 (theta is a power of two, so theta * u is exact)."""
        return torch.round(u * self.threshold).long()

    def initial_state(self, shape, device=None) -> torch.Tensor:
        """V = V0 everywhere."""
        return torch.full(shape, self.v0, dtype=torch.long, device=device)

    def step(self, v: torch.Tensor, q: torch.Tensor):
        """One SNN step; returns (new V, signed spikes sign(q) * [V > theta] as int64)."""
        v = v + q.abs()
        fired = v > self.threshold
        return _after_spike(v, fired, self.threshold, self.reset), q.sign() * fired.long()
