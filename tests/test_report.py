"""The report (reproduce/report/): records -> tables -> Markdown, on synthetic trees of records, and
the committed RESULTS.md against the committed records, recomputed here independently."""
import json
import re
import shutil
import statistics
import sys
from pathlib import Path

import pytest

from conftest import REPO
from hybrid_lstm.runs.run_folder import RunFolder
from reproduce import collect, grid, make_report
from reproduce.report import beyond, pixelwise
from reproduce.report.beyond import finetune_section, mean_curve, potential_summary
from reproduce.report.markdown import NOT_RECORDED, epoch_hosts
from reproduce.report.translation import translation_section

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_json(path: Path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def mnist_record(command: str, ann: float, values: dict, reset="soft", potential="one", samples=10000) -> dict:
    return {"command": command, "test_samples": samples, "host": "test CPU", "ann": {"accuracy": ann, "wall_time_s": 1.0},
            "hybrid": [{"n_timestep": t, "accuracy": a, "wall_time_s": 2.0, "reset": reset,
                        "initial_potential": potential} for t, a in values.items()]}


def fake_seq_run(root: Path, task: str, cell: str, seed: int, epochs: int, ann: float, hybrid: dict | None,
                 hard: dict | None = None, half: dict | None = None):
    folder = root / grid.seqmnist_folder(task, cell, seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.log").write_text(f"# run_seqmnist.py --checkpoint-dir {folder.name} --seed {seed}\n")
    history = [{"epoch": e + 1, "train_loss": 0.5, "test_accuracy": ann - 1 if e + 1 < epochs else ann, "seconds": 10.0}
               for e in range(epochs)]
    write_json(folder / "history.json", {"history": history, "best": {"accuracy": ann, "epoch": epochs},
                                         "host": "test CPU"})
    for values, reset, potential in ((hybrid, "soft", "one"), (hard, "hard", "one"), (half, "soft", "half")):
        if values is not None:
            write_json(RunFolder(folder).results(reset, potential),
                       mnist_record(f"run_seqmnist.py --mode test --seed {seed} --reset {reset}", ann, values, reset,
                                    potential))


def chip_record(reset: str, samples: int, accuracies: dict, initial_potential: str = "one",
                compensate: bool = False) -> dict:
    return {
        "command": "python -m loihi_sim.benchmark --reset " + reset, "test_samples": samples,
        "chip": {"reset": reset, "delay": 1, "preset": "davies2018", "overflow": "count",
                 "initial_potential": initial_potential, "compensate_delay": compensate},
        "assumptions": {"host_power_w": 0.0232, "host_ops_per_second": 1e8, "cpu_active_power_w": 16.25,
                        "synaptic_memory": "dense"}, "ann_accuracy": 98.0,
        "cpu": {"latency_s": 0.001, "active_j": 0.02, "energy_source": "modelled"}, "torch_threads": 1,
        "host": "test CPU",
        "results": [{"n_timestep": t, "hybrid_accuracy": 98.0, "chip_accuracy": a, "cores": 3, "chips": 1,
                     "loihi": {"latency_s": 0.01 * t, "active_j": 1e-5 * t}, "energy_ratio_cpu_over_loihi": 2000 / t,
                     "events_per_inference": {}, "wall_time_s": {"hybrid": 1.0, "chip": 10.0}}
                    for t, a in accuracies.items()],
    }


@pytest.fixture
def records(tmp_path):
    for seed, hybrid in enumerate([{16: 90.0, 32: 98.0, 64: 98.7, 128: 98.8}, {16: 92.0, 32: 98.4, 64: 98.8, 128: 98.9},
                                   {16: 94.0, 32: 98.6, 64: 98.9, 128: 99.0}]):
        fake_seq_run(tmp_path, "rowwise", "ModifiedLSTMCell", seed, 50, 98.9 + 0.05 * seed, hybrid,
                     hard={t: 12.0 + seed for t in hybrid})
        fake_seq_run(tmp_path, "rowwise", "BaselineLSTMCell", seed, 50, 99.5, None)
    fake_seq_run(tmp_path, "pixelwise", "ModifiedLSTMCell", 0, 50, 90.0, {t: 50.0 for t in grid.PIXELWISE_T},
                 half={32: 60.0, 1024: 89.5})
    low = RunFolder(tmp_path / grid.seqmnist_folder("pixelwise", "ModifiedLSTMCell", 0)).results(
        initial_potential="half", label="low-T")
    write_json(low, mnist_record("run_seqmnist.py --mode test --n-timestep 4 8 --output low.json", 90.0,
                                 {4: 70.0, 8: 80.0}, potential="half"))
    fake_seq_run(tmp_path, "pixelwise", "ModifiedLSTMCell", 1, 3, 11.0, None)  # still training
    fake_seq_run(tmp_path, "pixelwise", "BaselineLSTMCell", 0, 50, 11.35, None)
    chip = RunFolder(tmp_path / grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", grid.CHIP_SEED))
    write_json(chip.chip_results("hard", 1), chip_record("hard", 10000, {16: 11.0, 128: 13.0}))
    write_json(chip.chip_results("soft-feedback", 1, initial_potential="half"),
               chip_record("soft-feedback", 1000, {4: 90.0, 8: 98.5, 16: 98.8}, "half"))
    for seed, accuracies in enumerate([{8: 98.4, 16: 98.9}, {8: 98.0, 16: 98.5}, {8: 97.0, 16: 98.0}]):
        folder = tmp_path / grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", seed)
        write_json(grid.headline_output(folder), chip_record("soft-feedback", 10000, accuracies, "half", True))
    return tmp_path


def test_report_compares_with_the_paper_from_the_records_alone(records):
    text = make_report.build_report(records, Path("figures"))
    # row-wise hybrid T=16: mean of 90, 92, 94 = 92.00 +- 2.00, paper 92.89 -> delta -0.89, bar 2: met
    assert "| hybrid T=16 | 92.89 | 92.00 ± 2.00 | 90.00 / 92.00 / 94.00 | -0.89 | ±2.0 | yes |" in text
    assert "| hybrid T=32 | 98.37 | 98.33 ± 0.31 |" in text
    # Baseline ANN 99.50 vs 98.97: +0.53, bar 0.3: missed
    assert "| row-wise ANN BaselineLSTMCell | 98.97 | 99.50 ± 0.00 | +0.53 | ±0.3 | **no** |" in text
    assert "| 16 | 92.00 ± 2.00 | 13.00 ± 1.00 |" in text  # soft beside hard reset, delay 0
    # pixel-wise: every run's progress, finished runs against the paper
    assert "| ModifiedLSTMCell seed 1 | 3 of 50 | 11.00 (epoch 3) | 11.00 | none | test CPU (3 epochs, 0.2 min each) |" in text
    assert "| ANN BaselineLSTMCell | 97.71 | 11.35 | 11.35 | -86.36 | ±1.0 | **no** |" in text
    # V0 = theta / 2 beside V0 = 1, below the paper's T from a file of its own
    assert "| 32 | 11.89 | 50.00 | 60.00 |" in text and "| 128 | 33.28 | 50.00 | missing |" in text
    assert "| 4 |  | missing | 70.00 |" in text
    assert "| pixel-wise MNIST (1 seed) | 50.00 at T = 1024 | 70.00 at T = 4 | 256x |" in text
    # the chip: every configuration's rows, the smallest T at the paper's accuracy, every seed's headline
    assert "| hard | 16 | 10000 | 11.00 | 98.00 | 3 | 160.00 | 1.00 | 160.0 | 20000 | 125.0x |" in text
    assert "| seed 0 | hard | none |  |  |  |" in text
    assert "| seed 0 | soft-feedback, V0 = theta/2 | 8 | 98.50 | 80.0 | 250.0x |" in text
    headline = "soft-feedback, delay compensated, V0 = theta/2"
    assert f"| seed 0 | {headline} | 8 | 98.40 | 80.0 | 250.0x |" in text
    assert f"| seed 1 | {headline} | 16 | 98.50 | 160.0 | 125.0x |" in text
    assert f"| seed 2 | {headline} | none |  |  |  |" in text
    assert f"| mean of the 2 seeds reaching it | {headline} |  | 98.45 ± 0.07 |  | 187.50 ± 88.39x |" in text
    assert "`name` davies2018; `synaptic_op_pj` 23.6;" in text  # from the record (its preset, migrated)
    assert "Missing: run `python -m reproduce.run_grid --only translation`." in text
    for name in ("rowwise_accuracy_vs_T", "initial_potential_accuracy_vs_T", "pixelwise_accuracy_vs_T",
                 "pixelwise_initial_potential_accuracy_vs_T", "pixelwise_learning_curves", "chip_accuracy_vs_energy"):
        assert (records / "figures" / f"{name}.png").read_bytes()[:8] == PNG_MAGIC


def prose(text: str) -> list:
    """The report's sentences: every line outside tables, code blocks and figures, numbers masked."""
    lines, in_code = [], False
    for line in text.splitlines():
        in_code = in_code != line.startswith("```")
        if line and not in_code and not line.startswith(("|", "![", "```", "python ", "`python")):
            lines.append(re.sub(r"\d+(\.\d+)?", "#", line))
    return lines


def test_the_reports_prose_does_not_change_with_the_measurements(records, tmp_path_factory):
    """The prose is fixed description: the same tree with other accuracies gives the same sentences,
    so no sentence draws a conclusion from a number."""
    other = tmp_path_factory.mktemp("other")
    shutil.copytree(records, other, dirs_exist_ok=True)
    for path in other.rglob("*.json"):
        raw = path.read_text()
        path.write_text(re.sub(r'"(accuracy|chip_accuracy)": (\d+\.\d+)',
                               lambda m: f'"{m.group(1)}": {100 - float(m.group(2)) / 2:.2f}', raw))
    first, second = make_report.build_report(records, Path("f")), make_report.build_report(other, Path("f"))
    assert first != second and prose(first) == prose(second)


def test_step_wall_time_and_hosts_sum_every_attempt(tmp_path):
    run = grid.translation_run()
    (tmp_path / run.folder).mkdir(parents=True)
    (tmp_path / run.folder / "runner.log").write_text(
        "2026-01-01 10:00:00 [translation-debian] train-default: start: python x on host A\n"
        "2026-01-01 10:05:40 [translation-debian] train-default: stopped after 340 s; run the grid again to resume\n"
        "2026-01-01 10:06:00 [translation-debian] train-modified: start: python x on host B\n"
        "2026-01-01 11:00:00 [translation-debian] train-default: start: python x on host B\n"
        "2026-01-01 11:30:00 [translation-debian] train-default: done in 1800 s\n")
    assert collect.step_log(tmp_path, run, "train-default") == (2140.0, ["host A", "host B"])
    assert collect.step_log(tmp_path, run, "bleu") == (0, [])


def bleu_record(potential: str, rows: list, host: str = "host B") -> dict:
    return {"kind": "bleu-vs-t", "schema": 2, "command": f"bleu_vs_timesteps.py --initial-potential {potential}",
            "note": "", "host": host, "results": [
                {"cell_type": cell, "n_timestep": t, "initial_potential": "one" if t is None else potential,
                 "fairseq_bleu4": bleu, "sacrebleu": bleu + 1, "sentences": 2000, "seconds": 60.0, "command": ""}
                for cell, t, bleu in rows]}


def test_translation_section_from_its_records(tmp_path):
    """BLEU rows with each hybrid as a share of its own ANN, beside the paper's; both potentials over
    their main and complement files; epochs, wall time and hosts from the logs."""
    folder = tmp_path / grid.TRANSLATION
    for cell in ("modified", "default"):
        (folder / f"debian-{cell}-seed1").mkdir(parents=True)
        (folder / f"debian-{cell}-seed1" / "train.log").write_text(
            "x | num. shared model params: 6,500,008 (num. trained: 6,500,008)\n"
            + "".join(f"x | end of epoch {e} (average epoch stats below)\n" for e in range(1, 16)))
    (folder / "runner.log").write_text(
        "2026-01-01 10:00:00 [translation-debian] train-modified: start: python x on host A\n"
        "2026-01-01 11:00:00 [translation-debian] train-modified: done in 3500 s\n")
    write_json(tmp_path / grid.translation_bleu_results("debian", "one"),
               bleu_record("one", [("default", None, 20.0), ("modified", None, 16.0), ("modified", 32, 4.0),
                                   ("modified", 256, 15.2)]))
    write_json(tmp_path / grid.translation_bleu_results("debian", "half"),
               bleu_record("half", [("modified", None, 16.0), ("modified", 8, 12.0)], "host C"))
    write_json(tmp_path / grid.translation_bleu_results("debian", "half", complement=True),
               bleu_record("half", [("modified", None, 16.0), ("modified", 256, 15.8)], "host C"))
    text = "\n".join(translation_section(tmp_path, Path("figures")))
    assert "fine-tuned at T = 16" not in text
    write_json(tmp_path / grid.translation_finetune_bleu("debian"),
               bleu_record("half", [("modified", None, 15.0), ("modified", 2, 14.0), ("modified", 8, 15.6)]))
    text = "\n".join(translation_section(tmp_path, Path("figures")))
    assert "| ours V0 = 1 | ours V0 = theta/2 | fine-tuned at T = 16, V0 = theta/2 (its ANN 15.00) |" in text
    assert "| 2 |  | not run | not run | 14.00 (87.5%) |" in text and "| 8 |  | not run | 12.00 (75.0%) | 15.60 (97.5%) |" in text
    assert "--finetune-timesteps 16" in text
    assert "15 epochs (paper: IWSLT14, 15 epochs)" in text
    assert "| hybrid T=32 | 6.72 | 4.00 | 5.00 | 25.0 | 27.8 | 2000 | 60 |" in text  # 4 / 16; 6.72 / 24.15
    assert "| ANN, --cell-type default | 25.00 | 20.00 | 21.00 |  |  | 2000 | 60 |" in text
    assert "| 256 | 97.3 | 15.20 (95.0%) | 15.80 (98.8%) | not run |" in text
    assert "Hardware: training host A; BLEU host B; host C." in text
    assert "training --cell-type modified 58.3 min, --cell-type default 0.0 min" in text
    assert "`runs/translation/debian-modified-seed1/model.pt` (6,500,008 parameters)" in text
    assert "Goal at T <= 16: within 0.5 of its ANN, 15.50 or more." in text
    assert (tmp_path / "figures" / "translation_bleu_vs_T.png").read_bytes()[:8] == PNG_MAGIC


def test_report_of_an_empty_tree_says_what_is_missing(tmp_path):
    text = make_report.build_report(tmp_path, Path("figures"))
    assert "| hybrid T=128 | 98.81 | missing |" in text
    assert "Missing: run `python -m reproduce.run_grid --only chip`." in text


def test_report_refuses_a_root_without_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        make_report.main(["--root", str(tmp_path)])
    assert exit_.value.code == 2 and "no runs/ folder" in capsys.readouterr().err
    assert not (tmp_path / "RESULTS.md").exists()


def test_epoch_hosts_count_each_machines_epochs():
    """A run may move between machines; an epoch without a host takes the run's only where no epoch has one."""
    moved = {"host": "GPU box", "history": [{"seconds": 600}, {"seconds": 540, "host": "CPU box"},
                                            {"seconds": 12, "host": "GPU box"}]}
    assert epoch_hosts([moved]) == ("CPU box (1 epochs, 9.0 min each); GPU box (1 epochs, 0.2 min each); "
                                    f"{NOT_RECORDED} (1 epochs, 10.0 min each)")
    assert epoch_hosts([{"host": "CPU box", "history": [{"seconds": 600}, {"seconds": 540}]}]) == \
        "CPU box (2 epochs, 9.5 min each)"


def test_mean_curve_averages_the_same_seeds_at_every_t():
    def run(seed, accuracies):
        record = mnist_record("", 99.0, accuracies, potential="half")
        return collect.SeqRun(seed, Path("."), {}, (collect.records.parse(record, "mnist-test"),))

    runs = [run(0, {16: 96.0, 32: 98.0, 1024: 98.5}), run(1, {16: 94.0, 32: 97.0})]
    assert mean_curve(runs, "half") == {16: 95.0, 32: 97.5}  # T = 1024: seed 0 only, left out


def test_potential_summary_takes_translation_at_the_papers_largest_t(tmp_path):
    write_json(tmp_path / grid.translation_bleu_results("debian", "one"),
               bleu_record("one", [("modified", None, 27.0), ("modified", 32, 10.0), ("modified", 256, 26.0)]))
    write_json(tmp_path / grid.translation_bleu_results("debian", "half"),
               bleu_record("half", [("modified", None, 27.0), ("modified", 8, 18.0), ("modified", 32, 26.4)]))
    assert "| translation, BLEU4 (1 model) | 26.00 at T = 256 | 26.40 at T = 32 | 8x |" in "\n".join(
        potential_summary(tmp_path))


def test_finetune_section_puts_each_tuned_seed_beside_the_converted_models(tmp_path):
    """The committed row-wise seed 0 and a fine-tuned record of it at T = 4; a record of fewer images is
    left out; fine-tuned models on the chip averaged over the seeds with all images."""
    parent = grid.seqmnist_folder("rowwise", "ModifiedLSTMCell", 0)
    (tmp_path / parent).mkdir(parents=True)
    for name in ("history.json", "test_results.json", "test_results_half.json"):
        shutil.copy(REPO / parent / name, tmp_path / parent / name)
    tuned = RunFolder(tmp_path / grid.finetune_run("rowwise", 0, 4).folder)
    tuned.path.mkdir(parents=True)
    write_json(tuned.results(initial_potential="half"), mnist_record("", 98.95, {4: 98.9}, potential="half"))
    write_json(tuned.results(initial_potential="half", label="quick"),
               mnist_record("", 98.95, {4: 50.0}, potential="half", samples=50))
    for seed, accuracy in ((0, 98.7), (1, 98.9)):
        folder = RunFolder(tmp_path / grid.finetune_run("rowwise", seed, 4).folder)
        write_json(folder.chip_results("soft-feedback", 1, True, "half"),
                   chip_record("soft-feedback", 10000, {4: accuracy}, "half", True))
    text = "\n".join(finetune_section(tmp_path))
    one = json.loads((tmp_path / parent / "test_results.json").read_text())
    one_at_4 = next(e["accuracy"] for e in one["hybrid"] if e["n_timestep"] == 4)
    assert f"| 4 | {one_at_4:.2f} (1 of 5 seeds) |" in text and "| 98.90 (1 of 5 seeds) | 98.95 |" in text
    assert "| 2 | missing | missing | missing |  |" in text and "not in the grid" in text
    assert "| 4 | 5 | 2 | 98.80 ± 0.14 | 40.00 ± 0.00 | 1.00 ± 0.00 | 500.00 ± 0.00 |" in text


def test_pixelwise_goal_table_gives_each_chip_models_smallest_t_reaching_98(tmp_path):
    """The converted seed 0 and each fine-tuned model with a chip benchmark: the smallest T at or above
    98.0% (or none), with its Loihi energy and ratio."""
    converted = RunFolder(tmp_path / grid.seqmnist_folder("pixelwise", "ModifiedLSTMCell", 0))
    write_json(converted.chip_results("soft-feedback", 1, True, "half"),
               chip_record("soft-feedback", 500, {16: 96.4, 32: 98.4}, "half", True))
    for seed, t, accuracies in ((0, 8, {8: 96.0}), (1, 16, {16: 98.2})):
        tuned = RunFolder(tmp_path / grid.finetune_run("pixelwise", seed, t).folder)
        write_json(tuned.chip_results("soft-feedback", 1, True, "half"),
                   chip_record("soft-feedback", 500, accuracies, "half", True))
    text = "\n".join(beyond.smallest_t_on_chip(tmp_path, "pixelwise"))
    assert "| converted, seed 0 | 32 | 98.40 | 320.0 | 62.5x |" in text
    assert "| fine-tuned at T = 8 (3 epochs), seed 0 | none |  |  |  |" in text
    assert "| fine-tuned at T = 16 (3 epochs), seed 1 | 16 | 98.20 | 160.0 | 125.0x |" in text
    assert text.count("| fine-tuned") == 2  # models without a benchmark are left out


def test_recipe_diagnostics_are_a_table_and_a_figure(tmp_path):
    folder = tmp_path / grid.recipe_diagnostic_run("no-clamps").folder
    history = [{"epoch": e + 1, "test_accuracy": accuracy, "seconds": 60.0, "host": "test CPU"}
               for e, accuracy in enumerate([11.35, 25.0, 60.5])]
    write_json(folder / "history.json", {"config": {}, "history": history, "best": {"accuracy": 60.5, "epoch": 3}})
    text = "\n".join(pixelwise.diagnostics(tmp_path, Path("figures")))
    assert "| no-clamps (--no-clamps), seed 0 | 3 of 15 | 60.50 (epoch 3) | 60.50 | 2 | test CPU (3 epochs, 1.0 min each) |" in text
    assert "| lr3e-4 (--lr 3e-4), seed 0 | 0 of 15 | missing |" in text
    assert (tmp_path / "figures" / "pixelwise_recipe_diagnostics.png").read_bytes().startswith(PNG_MAGIC)


# ---------------------------------------------------------------------------------------------
# the committed RESULTS.md, against the committed records read here with json and statistics alone

def committed_row(task: str, cell: str, key) -> tuple:
    """(per-seed values, mean, sample std) of the committed records: the best ANN accuracy from
    history.json (key None) or the paper's neurons' hybrid accuracy at T = key."""
    seeds = (grid.ROWWISE_SEEDS if task == "rowwise" else grid.PIXELWISE_SEEDS)[cell]
    values = []
    for seed in seeds:
        folder = REPO / grid.seqmnist_folder(task, cell, seed)
        history = json.loads((folder / "history.json").read_text())
        if len(history["history"]) < 50:
            continue
        if key is None:
            values.append(history["best"]["accuracy"])
            continue
        for path in sorted(folder.glob("test_results*.json")):
            record = json.loads(path.read_text())
            values += [e["accuracy"] for e in record.get("hybrid", []) if record["test_samples"] == 10000
                       and e["n_timestep"] == key and e.get("reset", "soft") == "soft"
                       and e.get("initial_potential", "one") == "one"]
    return values, statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@pytest.mark.parametrize("task, model, key", [("rowwise", "ModifiedLSTMCell", None), ("rowwise", "BaselineLSTMCell", None),
                                              ("rowwise", "ModifiedLSTMCell", 16), ("rowwise", "ModifiedLSTMCell", 128),
                                              ("pixelwise", "ModifiedLSTMCell", None), ("pixelwise", "ModifiedLSTMCell", 1024)])
def test_results_md_rows_are_the_committed_records_statistics(task, model, key):
    values, mean, std = committed_row(task, model, key)
    name = f"ANN {model}" if key is None else f"hybrid T={key}"
    spread = f"{values[0]:.2f}" if len(values) == 1 else f"{mean:.2f} ± {std:.2f}"
    row = f"| {name} | " + r"\d+\.\d\d" + re.escape(f" | {spread} | {' / '.join(f'{v:.2f}' for v in values)} |")
    assert re.search(row, (REPO / "RESULTS.md").read_text()), row


def test_results_md_translation_shares_are_the_committed_bleu_over_its_own_ann():
    raw = json.loads((REPO / grid.translation_bleu_results("debian", "one")).read_text())["results"]
    bleu = {(entry["cell_type"], entry["n_timestep"]): entry["fairseq_bleu4"] for entry in raw}
    share = 100 * bleu["modified", 128] / bleu["modified", None]
    assert f"| hybrid T=128 | 22.16 | {bleu['modified', 128]:.2f} |" in (REPO / "RESULTS.md").read_text()
    assert f" | {share:.1f} | {100 * 22.16 / 24.15:.1f} | " in (REPO / "RESULTS.md").read_text()


def test_report_uses_the_agg_backend():
    make_report.build_report(Path("/nonexistent"), Path("f"))
    assert sys.modules["matplotlib"].get_backend().lower() == "agg"


def test_the_examples_run_is_shown_beside_the_published_figures(tmp_path):
    from reproduce.report.beyond import example_section

    assert "Missing: run `python -m reproduce.run_grid --runs example-psmnist-seed0`." in example_section(tmp_path)
    write_json(tmp_path / grid.example_run().folder / "results.json", {
        "command": "python examples/permuted_mnist.py --output x", "test_images": 10000, "best_epoch": 40,
        "ann_accuracy": 92.5, "history": [{}] * 50, "host": "test CPU",
        "hybrid": [{"n_timestep": 8, "initial_potential": "half", "accuracy": 91.75, "seconds": 1.0}],
        "energy": {"at": {"n_timestep": 8, "initial_potential": "half"}, "cores": 3,
                   "loihi": {"active_j": 2e-4, "latency_s": 0.5}, "cpu": {"active_j": 0.7, "energy_source": "modelled"},
                   "energy_ratio_cpu_over_loihi": 3500.0}})
    text = "\n".join(example_section(tmp_path))
    assert "| TC-LIF (Zhang et al., AAAI 2024) | 1 step per pixel | 95.36 |" in text
    assert "| ours, ANN (best of 50 epochs: 40) |  | 92.50 |" in text and "| ours, hybrid, V0 = theta/2 | T = 8 | 91.75 |" in text
    assert "Loihi 200.0 uJ active on 3 cores, 500.00 ms" in text and "ratio 3500.0x" in text
