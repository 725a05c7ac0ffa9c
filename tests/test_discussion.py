"""The claims of docs/discussion.md, each held against the committed records under runs/."""
import json
import re

import pytest
import torch

from conftest import REPO
from hybrid_lstm.runs.run_folder import file_sha256
from hybrid_lstm.snn.conversion import ENCODER_THRESHOLD
from hybrid_lstm.snn.neurons import SignedInputEncoder
from reproduce import collect, forget_resolution, grid, paper
from reproduce.report.beyond import GOALS

ROOT = REPO


def spread(values: list) -> float:
    return max(values) - min(values)


def mean(values: list) -> float:
    return sum(values) / len(values)


def test_every_claim_of_the_discussion_names_a_test_here():
    text = (REPO / "docs" / "discussion.md").read_text()
    named = set(re.findall(r"`(test_\w+)`", text))
    defined = set(re.findall(r"^def (test_\w+)", (REPO / "tests" / "test_discussion.py").read_text(), re.MULTILINE))
    assert named and named <= defined
    for cited in re.findall(r"`(tests/\w+\.py)::(test_\w+)`", text):
        assert f"def {cited[1]}(" in (REPO / cited[0]).read_text()


def test_rowwise_hybrid_at_t16_varies_over_seeds_far_more_than_the_ann():
    runs = collect.seq_runs(ROOT, "rowwise", "ModifiedLSTMCell")
    assert len(runs) >= 3
    assert spread([run.hybrid()[16] for run in runs]) > 10 * spread([run.ann for run in runs])


def test_an_encoder_input_below_one_sixteenth_never_fires_at_t16():
    encoder = SignedInputEncoder(ENCODER_THRESHOLD)  # the paper's V0 = 1
    q = torch.tensor([127, 128, -127, -128])
    v, total = encoder.initial_state(q.shape), torch.zeros_like(q)
    for _ in range(16):
        v, spikes = encoder.step(v, q)
        total += spikes
    assert total.tolist() == [0, 1, 0, -1] and ENCODER_THRESHOLD // 16 == 128


def test_rowwise_theta_half_at_t32_matches_the_papers_neurons_at_t128():
    runs = [run for run in collect.seq_runs(ROOT, "rowwise", "ModifiedLSTMCell") if 32 in run.hybrid(initial_potential="half")]
    assert len(runs) >= 3
    assert mean([run.hybrid(initial_potential="half")[32] for run in runs]) >= mean([run.hybrid()[128] for run in runs])


def test_pixelwise_theta_half_reaches_each_seeds_ann_by_t512():
    runs = [run for run in collect.seq_runs(ROOT, "pixelwise", "ModifiedLSTMCell") if 512 in run.hybrid()]
    assert spread([run.hybrid()[512] for run in runs]) > 2
    tested = [run for run in runs if 512 in run.hybrid(initial_potential="half")]  # its theta / 2 test reached T = 512
    assert tested
    for run in tested:
        half = run.hybrid(initial_potential="half")
        assert max(half[t] for t in half if t <= 512) >= run.ann - 1.0, run.seed


def test_no_pixelwise_baseline_seed_reaches_the_papers_accuracy():
    runs = collect.seq_runs(ROOT, "pixelwise", "BaselineLSTMCell")
    assert len(runs) >= 2
    assert all(run.ann < paper.PIXELWISE_ANN["BaselineLSTMCell"] - paper.ANN_BAR["pixelwise"] for run in runs)


def measured(cell: str, seed: int):
    return collect.memory(ROOT, "pixelwise", cell, seed)


def test_the_sigmoid_cell_keeps_less_of_its_cell_state_than_the_modified_cell():
    pairs = [(measured("BaselineLSTMCell", seed), measured("ModifiedLSTMCell", seed))
             for seed in grid.PIXELWISE_SEEDS["BaselineLSTMCell"]]
    pairs = [pair for pair in pairs if all(pair)]
    assert len(pairs) >= 2
    for baseline, modified in pairs:
        assert baseline["forget_gate"]["retention"] < modified["forget_gate"]["retention"]


def test_the_sigmoid_cell_of_seed0_reads_only_the_lower_half():
    def loss_without_the_first_half(record):
        whole, half = (entry["accuracy"] for entry in record["visible_last"][:2])
        return whole - half

    assert loss_without_the_first_half(measured("BaselineLSTMCell", 0)) < 5
    assert loss_without_the_first_half(measured("ModifiedLSTMCell", 0)) > 50


def chip_configurations() -> dict:
    return {(b.chip.reset, b.chip.initial_potential, b.chip.compensate_delay): b for b in collect.rowwise_chip(ROOT)}


def test_the_hard_reset_stays_below_twenty_percent_at_every_t():
    runs = collect.seq_runs(ROOT, "rowwise", "ModifiedLSTMCell")
    assert all(accuracy < 20 for run in runs for accuracy in run.hybrid("hard").values())  # delay 0
    chip = [b for (reset, _, _), b in chip_configurations().items() if reset.startswith("hard")]
    assert chip and all(r.chip_accuracy < 20 for b in chip for r in b.results)  # delay 1, on the chip


def test_soft_feedback_scores_exactly_what_the_soft_reset_scores():
    chip = chip_configurations()
    soft, feedback = chip[("soft", "one", False)], chip[("soft-feedback", "one", False)]
    assert [(r.n_timestep, r.chip_accuracy) for r in soft.results] == \
           [(r.n_timestep, r.chip_accuracy) for r in feedback.results]


def test_a_compensated_delay_gives_the_simulations_accuracy():
    compensated = [b for (reset, _, compensated), b in chip_configurations().items() if compensated]
    assert compensated
    assert all(r.chip_accuracy == r.hybrid_accuracy for b in compensated for r in b.results)


def test_the_energy_ratio_falls_as_t_grows_in_every_configuration():
    for benchmark in collect.rowwise_chip(ROOT):
        ratios = [r.energy_ratio_cpu_over_loihi for r in sorted(benchmark.results, key=lambda r: r.n_timestep)]
        assert ratios == sorted(ratios, reverse=True) and len(set(ratios)) == len(ratios), benchmark.chip


def test_from_t64_the_translation_hybrid_keeps_the_papers_share_of_its_ann():
    curve = collect.bleu_records(ROOT)[("one", False)]
    ann = curve.ann("modified").fairseq_bleu4
    paper_ann = paper.IWSLT14_ANN_BLEU["modified"]
    shares = {t: (100 * r.fairseq_bleu4 / ann, 100 * paper.IWSLT14_HYBRID_BLEU[t] / paper_ann)
              for t, r in curve.hybrid().items() if t >= 64}
    assert len(shares) >= 4 and all(abs(ours - theirs) <= 5 for ours, theirs in shares.values())


def tuned(seed: int, t: int):
    """(the fine-tuned hybrid's accuracy at T, its ANN's) of a row-wise seed, or None before its test."""
    for record in collect.mnist_tests(ROOT / grid.finetune_run("rowwise", seed, t).folder):
        for result in record.hybrid:
            if result.n_timestep == t:
                return result.accuracy, record.ann_accuracy
    return None


@pytest.fixture
def parents() -> dict:
    return {run.seed: run for run in collect.seq_runs(ROOT, "rowwise", "ModifiedLSTMCell")}


def test_finetuning_at_t4_beats_conversion_on_every_seed(parents):
    found = {seed: result for seed in parents if (result := tuned(seed, 4))}
    assert len(found) >= 3
    for seed, (accuracy, _) in found.items():
        assert accuracy > parents[seed].hybrid(initial_potential="half")[4], seed


def test_finetuned_anns_lie_below_their_parents(parents):
    found = {seed: result for seed in parents if (result := tuned(seed, 4))}
    assert len(found) >= 3
    assert all(ann < parents[seed].ann for seed, (_, ann) in found.items())


def finetuned_pixelwise(n_timestep: int):
    return ROOT / grid.finetune_run("pixelwise", 0, n_timestep).folder


def test_pixelwise_finetuning_at_t8_underfits_the_training_set_and_at_t16_fits_it():
    final = {t: json.loads((finetuned_pixelwise(t) / "history.json").read_text())["history"][-1] for t in (8, 16)}
    assert final[8]["epoch"] == final[16]["epoch"] == 3
    goal, _ = GOALS["pixelwise"]
    assert final[8]["train_accuracy"] < goal < final[16]["train_accuracy"]


def test_the_pixelwise_t8_hybrid_holds_its_cell_state_as_its_ann_does():
    for t in (8, 16):
        folder = finetuned_pixelwise(t)
        measured = json.loads((folder / forget_resolution.results_name(t, "half")).read_text())
        assert measured["checkpoint_sha256"] == file_sha256(folder / "checkpoint_best.pt")  # of the reported model
        assert measured["test_samples"] >= 500 and measured["n_timestep"] == t
        assert abs(measured["hybrid"]["retention"] - measured["ann"]["retention"]) < 0.02
