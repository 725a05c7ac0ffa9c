"""Statistics over seeds, and the bars a reproduced number is judged against."""
import math
from dataclasses import dataclass

# the bars a reproduced accuracy is held to, in accuracy points: every ANN, and the hybrid at the T
# that have one (pixel-wise, the low T are compared in kind: the shape of the curve, not its values)
ANN_BAR = {"row-wise": 0.3, "pixel-wise": 1.0}
HYBRID_BAR = {"row-wise": {16: 2.0, 32: 0.5, 64: 0.5, 128: 0.5}, "pixel-wise": {512: 1.5, 1024: 1.0}}
CHANCE_PLATEAU = 20.0  # % test accuracy below which a 10-class model has not started to learn
CHANCE_LOSS = math.log(10) - 0.01  # a training epoch's mean cross-entropy at or above this is at chance
EQUAL_ACCURACY_POINTS = 0.5  # "the paper's accuracy": within this of its simulation at T = 128


@dataclass
class Stats:
    values: list

    @property
    def mean(self):
        return sum(self.values) / len(self.values)

    @property
    def std(self):
        n = len(self.values)
        return math.sqrt(sum((v - self.mean) ** 2 for v in self.values) / (n - 1)) if n > 1 else 0.0

    def text(self):
        if len(self.values) == 1:
            return f"{self.values[0]:.2f}"
        return f"{self.mean:.2f} ± {self.std:.2f}"


@dataclass
class Verdict:
    """One published number against ours: met when |mean - published| <= bar."""
    claim: str
    published: float
    ours: Stats
    bar: float

    @property
    def delta(self) -> float:
        return self.ours.mean - self.published

    @property
    def met(self) -> bool:
        return abs(self.delta) <= self.bar
