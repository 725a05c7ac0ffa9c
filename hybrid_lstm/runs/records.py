"""Results records: what every command that measures something writes, as typed dataclasses.

Three kinds, each a JSON object with "kind" and "schema" (SCHEMA_VERSION):
- MnistTest ("mnist-test"): run_seqmnist.py --mode test; the ANN's accuracy and the hybrid's
  at each T, with the spiking settings as fields (HybridAccuracy);
- BleuCurve ("bleu-vs-t"): bleu_vs_timesteps.py; BLEU of each ANN and of the hybrid at each T;
- ChipBenchmark ("chip-benchmark"): python -m loihi_sim.benchmark; chip accuracy, events, energy
  and latency at each T, with the chip settings and the event costs it used.
T, reset, initial potential, delay and image counts are fields (numbers and enumerated strings),
never parts of a name. `write` validates a record and writes it atomically; `read` validates one
and brings a record of an older schema to this one through `migrate`, its one migration.
"""
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..snn.neurons import DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET, check_initial_potential
from .files import write_json_atomic

SCHEMA_VERSION = 2  # 1: the unversioned records written before the kinds had their own fields


class RecordError(ValueError):
    """A results file that is not a valid record: names the field; one line."""


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN != NaN


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _require(ok: bool, where: str, what: str, value):
    if not ok:
        raise RecordError(f"'{where}' must be {what}, got {value!r}")


def _accuracy(where: str, value) -> float:
    _require(_number(value) and 0 <= value <= 100, where, "a percentage in [0, 100]", value)
    return float(value)


def _spiking(where: str, raw: dict) -> dict:
    """n_timestep, reset and canonical initial_potential of a raw entry, validated."""
    _require(_count(raw.get("n_timestep")), f"{where}.n_timestep", "a positive integer", raw.get("n_timestep"))
    _require(isinstance(raw.get("reset"), str), f"{where}.reset", "a reset name", raw.get("reset"))
    try:
        potential = check_initial_potential(raw.get("initial_potential"))
    except ValueError:
        raise RecordError(f"'{where}.initial_potential' must be an initial-potential spec "
                          f"('one', 'half', 'encoder=half,f=half'), got {raw.get('initial_potential')!r}") from None
    return {"n_timestep": raw["n_timestep"], "reset": raw["reset"], "initial_potential": potential}


def _object(where: str, raw) -> dict:
    _require(isinstance(raw, dict), where, "a JSON object", type(raw).__name__)
    return raw


def _list(where: str, raw) -> list:
    _require(isinstance(raw, list), where, "a list", type(raw).__name__)
    return raw


@dataclass(frozen=True)
class HybridAccuracy:
    """The hybrid at T SNN steps per LSTM step, with this reset and initial potential (V0)."""
    n_timestep: int
    reset: str
    initial_potential: str
    simulation: str
    accuracy: float
    spike_rates: dict = field(default_factory=dict)  # population -> spikes per neuron per SNN step
    spike_totals: dict = field(default_factory=dict)  # population -> {"spikes", "updates"}
    wall_time_s: float = 0.0

    @classmethod
    def parse(cls, where: str, raw) -> "HybridAccuracy":
        raw = _object(where, raw)
        return cls(**_spiking(where, raw), simulation=str(raw.get("simulation")),
                   accuracy=_accuracy(f"{where}.accuracy", raw.get("accuracy")),
                   spike_rates=raw.get("spike_rates", {}), spike_totals=raw.get("spike_totals", {}),
                   wall_time_s=float(raw.get("wall_time_s", 0.0)))


@dataclass(frozen=True)
class MnistTest:
    """run_seqmnist.py --mode test: the ANN and the hybrid at each T on test_samples images."""
    command: str
    checkpoint: str
    epochs_done: int
    selected_on: str
    config: dict
    test_samples: int
    device: str
    host: str
    ann_accuracy: float
    ann_wall_time_s: float
    hybrid: tuple = ()  # HybridAccuracy, in the order tested
    kind = "mnist-test"

    @classmethod
    def parse(cls, raw: dict) -> "MnistTest":
        _require(_count(raw.get("test_samples")), "test_samples", "a positive integer", raw.get("test_samples"))
        ann = _object("ann", raw.get("ann"))
        hybrid = _list("hybrid", raw.get("hybrid", []))
        return cls(command=str(raw.get("command", "")), checkpoint=str(raw.get("checkpoint", "")),
                   epochs_done=raw.get("epochs_done", 0), selected_on=str(raw.get("selected_on", "")),
                   config=_object("config", raw.get("config", {})), test_samples=raw["test_samples"],
                   device=str(raw.get("device", "")), host=str(raw.get("host", "")),
                   ann_accuracy=_accuracy("ann.accuracy", ann.get("accuracy")),
                   ann_wall_time_s=float(ann.get("wall_time_s", 0.0)),
                   hybrid=tuple(HybridAccuracy.parse(f"hybrid[{i}]", entry) for i, entry in enumerate(hybrid)))

    def to_json(self) -> dict:
        raw = asdict(self)
        raw["ann"] = {"accuracy": raw.pop("ann_accuracy"), "wall_time_s": raw.pop("ann_wall_time_s")}
        return raw


@dataclass(frozen=True)
class Bleu:
    """One translation of the test set: an ANN (n_timestep None) or the hybrid at T."""
    cell_type: str  # "default" | "modified"
    n_timestep: int | None
    initial_potential: str
    fairseq_bleu4: float
    sacrebleu: float
    sentences: int
    seconds: float
    command: str
    # sacrebleu of the first subset_sentences test sentences alone (None where not recorded): what a
    # shipped model is checked against quickly (tests/test_shipped_translation.py)
    subset_sentences: int = 0
    subset_sacrebleu: float | None = None

    @staticmethod
    def label_of(cell_type: str, n_timestep: int | None) -> str:
        """How a table names it: "ANN, --cell-type default" or "hybrid T=32"."""
        return f"ANN, --cell-type {cell_type}" if n_timestep is None else f"hybrid T={n_timestep}"

    @property
    def label(self) -> str:
        return self.label_of(self.cell_type, self.n_timestep)

    @classmethod
    def parse(cls, where: str, raw) -> "Bleu":
        raw = _object(where, raw)
        _require(raw.get("cell_type") in ("default", "modified"), f"{where}.cell_type", "'default' or 'modified'",
                 raw.get("cell_type"))
        timestep = raw.get("n_timestep")
        _require(timestep is None or _count(timestep), f"{where}.n_timestep", "null or a positive integer", timestep)
        for name in ("fairseq_bleu4", "sacrebleu"):
            _require(_number(raw.get(name)) and 0 <= raw[name] <= 100, f"{where}.{name}", "a BLEU in [0, 100]",
                     raw.get(name))
        subset = raw.get("subset_sacrebleu")
        _require(subset is None or (_number(subset) and 0 <= subset <= 100), f"{where}.subset_sacrebleu",
                 "null or a BLEU in [0, 100]", subset)
        return cls(raw["cell_type"], timestep, check_initial_potential(raw.get("initial_potential")),
                   float(raw["fairseq_bleu4"]), float(raw["sacrebleu"]), raw.get("sentences", 0),
                   float(raw.get("seconds", 0.0)), str(raw.get("command", "")), raw.get("subset_sentences", 0),
                   None if subset is None else float(subset))


@dataclass(frozen=True)
class BleuCurve:
    """bleu_vs_timesteps.py: BLEU of the ANNs and of the hybrid at each T, on one corpus."""
    command: str
    note: str
    host: str
    results: tuple = ()  # Bleu
    kind = "bleu-vs-t"

    @classmethod
    def parse(cls, raw: dict) -> "BleuCurve":
        results = _list("results", raw.get("results"))
        return cls(str(raw.get("command", "")), str(raw.get("note", "")), str(raw.get("host", "")),
                   tuple(Bleu.parse(f"results[{i}]", entry) for i, entry in enumerate(results)))

    def ann(self, cell_type: str) -> Bleu | None:
        return next((r for r in self.results if r.n_timestep is None and r.cell_type == cell_type), None)

    def hybrid(self) -> dict:
        """{T: Bleu} of the hybrid."""
        return {r.n_timestep: r for r in self.results if r.n_timestep is not None}

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ChipSettings:
    """How loihi_sim ran the hybrid: reset realisation, synaptic delay (and its compensation), V0."""
    reset: str
    delay: int
    compensate_delay: bool
    initial_potential: str
    preset: str
    overflow: str


@dataclass(frozen=True)
class ChipResult:
    """The chip at T: accuracy of the simulation and of the emulated chip, cores, cost per inference."""
    n_timestep: int
    hybrid_accuracy: float
    chip_accuracy: float
    cores: int
    chips: int
    loihi: dict  # loihi_sim.energy.LoihiCost fields
    energy_ratio_cpu_over_loihi: float
    events_per_inference: dict
    wall_time_s: dict

    @classmethod
    def parse(cls, where: str, raw) -> "ChipResult":
        raw = _object(where, raw)
        _require(_count(raw.get("n_timestep")), f"{where}.n_timestep", "a positive integer", raw.get("n_timestep"))
        loihi = _object(f"{where}.loihi", raw.get("loihi"))
        for name in ("active_j", "latency_s"):
            _require(_number(loihi.get(name)) and loihi[name] > 0, f"{where}.loihi.{name}", "a positive number",
                     loihi.get(name))
        return cls(raw["n_timestep"], _accuracy(f"{where}.hybrid_accuracy", raw.get("hybrid_accuracy")),
                   _accuracy(f"{where}.chip_accuracy", raw.get("chip_accuracy")), raw.get("cores", 0),
                   raw.get("chips", 0), loihi, float(raw.get("energy_ratio_cpu_over_loihi", 0.0)),
                   raw.get("events_per_inference", {}), raw.get("wall_time_s", {}))


@dataclass(frozen=True)
class ChipBenchmark:
    """python -m loihi_sim.benchmark: one chip configuration of one model at each T."""
    command: str
    checkpoint: str
    config: dict
    test_samples: int
    chip: ChipSettings
    event_costs: dict  # the preset's values as used: loihi_sim.hardware.EventCosts fields
    assumptions: dict
    ann_accuracy: float
    cpu: dict  # loihi_sim.energy.DeviceCost fields
    paper_energy_ratio: float
    torch_threads: int
    host: str
    results: tuple = ()  # ChipResult
    kind = "chip-benchmark"

    @classmethod
    def parse(cls, raw: dict) -> "ChipBenchmark":
        _require(_count(raw.get("test_samples")), "test_samples", "a positive integer", raw.get("test_samples"))
        chip = _object("chip", raw.get("chip"))
        try:
            values = {f.name: chip[f.name] for f in fields(ChipSettings)}
        except KeyError as missing:
            raise RecordError(f"'chip.{missing.args[0]}' is missing") from None
        values["initial_potential"] = _spiking("chip", {**chip, "n_timestep": 1})["initial_potential"]
        settings = ChipSettings(**values)
        cpu = _object("cpu", raw.get("cpu"))
        _require(_number(cpu.get("active_j")) and cpu["active_j"] > 0, "cpu.active_j", "a positive number",
                 cpu.get("active_j"))
        results = _list("results", raw.get("results"))
        return cls(str(raw.get("command", "")), str(raw.get("checkpoint", "")), _object("config", raw.get("config", {})),
                   raw["test_samples"], settings, _object("event_costs", raw.get("event_costs")),
                   _object("assumptions", raw.get("assumptions", {})),
                   _accuracy("ann_accuracy", raw.get("ann_accuracy")), cpu, float(raw.get("paper_energy_ratio", 0.0)),
                   raw.get("torch_threads", 0), str(raw.get("host", "")),
                   tuple(ChipResult.parse(f"results[{i}]", entry) for i, entry in enumerate(results)))

    def to_json(self) -> dict:
        return asdict(self)


KINDS = {cls.kind: cls for cls in (MnistTest, BleuCurve, ChipBenchmark)}


def migrate(raw: dict, kind: str) -> dict:
    """A raw record of any schema, as this schema has it. Schema 1 (no "schema" field): a hybrid
    entry without settings ran the paper's neurons (soft reset, V0 = 1); a BLEU entry's T and cell
    type were in its model name ("hybrid T=32", "ANN, --cell-type default") and its V0 at the top;
    a chip benchmark without initial_potential or compensate_delay ran V0 = 1 uncompensated, and
    named its event-cost preset without its values (these are taken from loihi_sim's preset)."""
    version = raw.get("schema", 1)
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise RecordError(f"'schema' must be an integer from 1 to {SCHEMA_VERSION}, got {version!r}")
    if version == SCHEMA_VERSION:
        return raw
    raw = dict(raw)
    if kind == "mnist-test" and isinstance(raw.get("hybrid"), list):
        defaults = {"reset": DEFAULT_RESET, "initial_potential": DEFAULT_INITIAL_POTENTIAL, "simulation": "fast"}
        raw["hybrid"] = [{**defaults, **entry} if isinstance(entry, dict) else entry for entry in raw["hybrid"]]
    elif kind == "bleu-vs-t" and isinstance(raw.get("results"), list):
        potential = raw.get("initial_potential", DEFAULT_INITIAL_POTENTIAL)
        raw["results"] = [_schema1_bleu(entry, potential) for entry in raw["results"]]
    elif kind == "chip-benchmark" and isinstance(raw.get("chip"), dict):
        from loihi_sim.hardware import PRESETS  # only the migration of old chip records needs loihi_sim

        raw["chip"] = {"initial_potential": DEFAULT_INITIAL_POTENTIAL, "compensate_delay": False, **raw["chip"]}
        preset = PRESETS.get(raw["chip"].get("preset"))
        raw.setdefault("event_costs", asdict(preset) if preset is not None else None)
    raw["schema"] = SCHEMA_VERSION
    return raw


def _schema1_bleu(entry, potential: str):
    """A schema-1 BLEU entry, named "hybrid T=N" or "ANN, --cell-type C", with its fields."""
    if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
        return entry
    name = entry["model"]
    if name.startswith("hybrid T=") and name[len("hybrid T="):].isdigit():
        return {**entry, "cell_type": "modified", "n_timestep": int(name[len("hybrid T="):]),
                "initial_potential": potential}
    if name.startswith("ANN, --cell-type "):
        return {**entry, "cell_type": name[len("ANN, --cell-type "):], "n_timestep": None,
                "initial_potential": DEFAULT_INITIAL_POTENTIAL}
    return entry


def parse(raw, kind: str):
    """The record of this kind in a raw JSON value (any schema); RecordError naming the field."""
    if not isinstance(raw, dict):
        raise RecordError(f"a record must be a JSON object, got {type(raw).__name__}")
    if raw.get("kind", kind) != kind:
        raise RecordError(f"'kind' must be {kind!r}, got {raw.get('kind')!r}")
    try:
        return KINDS[kind].parse(migrate(raw, kind))
    except (TypeError, AttributeError) as error:  # a field of the wrong JSON type deep inside
        raise RecordError(f"malformed {kind} record: {error}") from None


def read(path, kind: str):
    """The record of this kind in the file at path; RecordError naming the file and the field."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RecordError(f"{path} is not a readable JSON file ({error.__class__.__name__})") from None
    try:
        return parse(raw, kind)
    except RecordError as error:
        raise RecordError(f"{path}: {error}") from None


def write(path, record) -> None:
    """Validate the record (as `read` would) and write it to path atomically, with kind and schema."""
    raw = {"kind": record.kind, "schema": SCHEMA_VERSION, **record.to_json()}
    parse(json.loads(json.dumps(raw)), record.kind)
    write_json_atomic(path, raw)
