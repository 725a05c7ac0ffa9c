"""Results records (hybrid_lstm/runs/records.py): typed fields, one migration, one-line refusals."""
import json
from pathlib import Path

import pytest

from hybrid_lstm.runs import records
from hybrid_lstm.runs.records import RecordError

SCHEMA1_MNIST = {  # an unversioned run_seqmnist.py record: the hybrid's settings are implied
    "command": "run_seqmnist.py --mode test ...", "checkpoint": "RUN/checkpoint_best.pt", "epochs_done": 28,
    "selected_on": "test", "config": {"lstm_cell_class": "ModifiedLSTMCell"}, "test_samples": 10000,
    "device": "cpu", "host": "a CPU", "ann": {"accuracy": 98.97, "wall_time_s": 6.0},
    "hybrid": [{"n_timestep": 16, "accuracy": 81.53, "spike_rates": {}, "spike_totals": {}, "wall_time_s": 9.0},
               {"n_timestep": 2, "accuracy": 61.28, "reset": "soft", "initial_potential": "half",
                "simulation": "fast", "wall_time_s": 1.0}],
}
SCHEMA1_BLEU = {
    "command": "bleu_vs_timesteps.py ...", "note": "BLEU on the corpus in --data", "initial_potential": "half",
    "host": "a CPU", "results": [
        {"model": "ANN, --cell-type modified", "fairseq_bleu4": 26.87, "sacrebleu": 27.34, "sentences": 2000,
         "seconds": 38.4, "command": "fairseq_cli.generate ..."},
        {"model": "hybrid T=32", "fairseq_bleu4": 26.39, "sacrebleu": 26.84, "sentences": 2000, "seconds": 60.6,
         "command": "fairseq_cli.generate ... --model-overrides ..."}],
}
SCHEMA1_CHIP = {
    "command": "python -m loihi_sim.benchmark ...", "checkpoint": "RUN/checkpoint_best.pt", "config": {},
    "test_samples": 10000, "chip": {"reset": "hard", "delay": 1, "preset": "davies2018", "overflow": "count"},
    "assumptions": {}, "ann_accuracy": 98.97, "cpu": {"latency_s": 8e-4, "active_j": 0.0134},
    "paper_energy_ratio": 55.9, "torch_threads": 1, "host": "a CPU",
    "results": [{"n_timestep": 16, "hybrid_accuracy": 81.53, "chip_accuracy": 11.49, "cores": 3, "chips": 1,
                 "loihi": {"active_j": 1e-4, "latency_s": 0.01}, "energy_ratio_cpu_over_loihi": 134.0,
                 "events_per_inference": {}, "wall_time_s": {}}],
}


def test_a_schema1_mnist_record_reads_with_the_papers_neurons_where_it_names_none():
    record = records.parse(SCHEMA1_MNIST, "mnist-test")
    first, second = record.hybrid
    assert (first.n_timestep, first.reset, first.initial_potential, first.simulation) == (16, "soft", "one", "fast")
    assert (second.n_timestep, second.initial_potential, second.accuracy) == (2, "half", 61.28)
    assert record.ann_accuracy == 98.97 and record.test_samples == 10000


def test_a_schema1_bleu_record_gets_t_and_cell_type_as_fields():
    curve = records.parse(SCHEMA1_BLEU, "bleu-vs-t")
    assert curve.ann("modified").fairseq_bleu4 == 26.87 and curve.ann("default") is None
    hybrid = curve.hybrid()
    assert list(hybrid) == [32]
    assert (hybrid[32].cell_type, hybrid[32].initial_potential, hybrid[32].fairseq_bleu4) == ("modified", "half", 26.39)
    assert curve.ann("modified").initial_potential == "one"  # the ANN has no neurons; V0 is the hybrid's


def test_a_schema1_chip_record_gets_the_papers_potential_and_its_presets_event_costs():
    from loihi_sim.hardware import PRESETS

    benchmark = records.parse(SCHEMA1_CHIP, "chip-benchmark")
    assert (benchmark.chip.initial_potential, benchmark.chip.compensate_delay) == ("one", False)
    assert benchmark.event_costs["synaptic_op_pj"] == PRESETS["davies2018"].synaptic_op_pj == 23.6


@pytest.mark.parametrize("kind, raw", [("mnist-test", SCHEMA1_MNIST), ("bleu-vs-t", SCHEMA1_BLEU),
                                       ("chip-benchmark", SCHEMA1_CHIP)])
def test_a_written_record_reads_back_equal_with_kind_and_schema(tmp_path, kind, raw):
    record = records.parse(raw, kind)
    path = tmp_path / "record.json"
    records.write(path, record)
    written = json.loads(path.read_text())
    assert (written["kind"], written["schema"]) == (kind, records.SCHEMA_VERSION)
    assert records.read(path, kind) == record


@pytest.mark.parametrize("change, field", [
    ({"test_samples": 0}, "'test_samples' must be a positive integer"),
    ({"ann": {"accuracy": 150}}, "'ann.accuracy' must be a percentage"),
    ({"ann": {"accuracy": float("nan")}}, "'ann.accuracy' must be a percentage"),
    ({"hybrid": [{"n_timestep": 0, "accuracy": 50}]}, "'hybrid[0].n_timestep' must be a positive integer"),
    ({"hybrid": [{"n_timestep": 4, "accuracy": "high"}]}, "'hybrid[0].accuracy' must be a percentage"),
    ({"hybrid": [{"n_timestep": 4, "accuracy": 50, "initial_potential": "quarter"}]},
     "'hybrid[0].initial_potential' must be an initial-potential spec"),
    ({"hybrid": "x"}, "'hybrid' must be a list"),
    ({"schema": 99}, "'schema' must be an integer from 1 to"),
    ({"kind": "bleu-vs-t"}, "'kind' must be 'mnist-test'"),
])
def test_a_malformed_record_is_refused_naming_the_file_and_the_field(tmp_path, change, field):
    path = tmp_path / "test_results.json"
    path.write_text(json.dumps({**SCHEMA1_MNIST, **change}))
    with pytest.raises(RecordError) as error:
        records.read(path, "mnist-test")
    assert str(error.value).startswith(f"{path}: {field}") and "\n" not in str(error.value)


def test_a_record_that_is_not_an_object_or_not_json_is_one_line(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("[1, 2]")
    with pytest.raises(RecordError, match="a record must be a JSON object, got list"):
        records.read(path, "mnist-test")
    path.write_text("{not json")
    with pytest.raises(RecordError, match="is not a readable JSON file"):
        records.read(path, "mnist-test")


def test_write_refuses_an_invalid_record_and_leaves_no_file(tmp_path):
    record = records.parse(SCHEMA1_MNIST, "mnist-test")
    bad = records.MnistTest(**{**record.__dict__, "ann_accuracy": 101.0})
    with pytest.raises(RecordError, match="'ann.accuracy'"):
        records.write(tmp_path / "r.json", bad)
    assert list(tmp_path.iterdir()) == []


def test_every_committed_record_reads():
    """The committed runs/ stay readable through the migration."""
    kinds = {"test_results*.json": "mnist-test", "loihi_benchmark*.json": "chip-benchmark",
             "*bleu_vs_t*.json": "bleu-vs-t"}
    found, repo_root = 0, Path(__file__).resolve().parents[1]
    for pattern, kind in kinds.items():
        for path in (repo_root / "runs").rglob(pattern):
            if not path.name.endswith(".partial.json"):
                records.read(path, kind)
                found += 1
    assert found >= 50
