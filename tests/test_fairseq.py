"""The fairseq plugin end to end on a tiny synthetic corpus, the hybrid layer inside the model,
custom_adagrad's groups, and modify_checkpoint_iwslt.py's refusals."""
import argparse
import json
import random
import re
import subprocess
import sys

import pytest
import torch

pytest.importorskip("fairseq")

import modify_checkpoint_iwslt  # noqa: E402
from conftest import REPO  # noqa: E402
from fairseq_custom_modules.adagrad import group_parameters  # noqa: E402
from fairseq_custom_modules.recurrent import RecurrentLayer  # noqa: E402
from hybrid_lstm import convert_cell, simulate_gates  # noqa: E402
from hybrid_lstm.runs.records import Bleu  # noqa: E402

SMALL_MODEL = ["--encoder-embed-dim", "16", "--encoder-hidden-size", "16", "--decoder-embed-dim", "16",
               "--decoder-hidden-size", "16"]


def synthetic_corpus(directory, seed=0):
    """German-like -> English-like sentences of a tiny grammar (adjective, noun, verb)."""
    words = {"adj": [("rote", "red"), ("grosse", "big"), ("kleine", "small"), ("alte", "old")],
             "noun": [("hund", "dog"), ("katze", "cat"), ("haus", "house"), ("baum", "tree")],
             "verb": [("steht", "stands"), ("schlaeft", "sleeps"), ("laeuft", "runs")]}
    rng = random.Random(seed)
    for split, count in (("train", 256), ("valid", 24), ("test", 24)):
        pairs = [tuple(zip(*(rng.choice(words[k]) for k in ("adj", "noun", "verb")))) for _ in range(count)]
        for index, lang in enumerate(("de", "en")):
            (directory / f"{split}.{lang}").write_text("".join(" ".join(p[index]) + " .\n" for p in pairs))


def fairseq(command, *args, cwd):
    """fairseq-COMMAND, as fairseq_cli.COMMAND of this interpreter (wherever its environment is)."""
    module = "fairseq_cli." + command.removeprefix("fairseq-")
    result = subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, capture_output=True,
                            text=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Preprocessed synthetic data and a briefly trained --cell-type modified model, converted."""
    work = tmp_path_factory.mktemp("nmt")
    synthetic_corpus(work)
    fairseq("fairseq-preprocess", "--source-lang", "de", "--target-lang", "en", "--trainpref", "train",
            "--validpref", "valid", "--testpref", "test", "--destdir", "bin", "--workers", "1", cwd=work)
    log = fairseq("fairseq-train", "bin", "--lr", "0.2,0.02", "--clip-norm", "5", "--criterion", "cross_entropy",
                  "--lr-scheduler", "custom_scheduler", "--optimizer", "custom_adagrad", "--user-dir",
                  REPO / "fairseq_custom_modules", "--max-epoch", "2", "--save-dir", "ck", "--arch",
                  "custom_baseline_iwslt", "--cell-type", "modified", "--init-type", "orthogonal", "--batch-size",
                  "64", "--seed", "1", "--cpu", "--no-progress-bar", *SMALL_MODEL, cwd=work)
    code = modify_checkpoint_iwslt.main(["--src-path", str(work / "ck/checkpoint_best.pt"),
                                         "--des-path", str(work / "ck/converted.pt")])
    assert code == 0
    return work, log


def generate(work, *overrides):
    return fairseq("fairseq-generate", "bin", "--beam", "5", "--remove-bpe", "--user-dir",
                   REPO / "fairseq_custom_modules", "--path", "ck/converted.pt", "--cpu", *overrides, cwd=work)


def hypotheses(output):
    """{sentence id: hypothesis text} from fairseq-generate's H- lines."""
    lines = (line.split("\t") for line in output.splitlines() if line.startswith("H-"))
    return {fields[0]: fields[2] for fields in lines}


def test_train_logs_the_real_learning_rate_groups(trained):
    _, log = trained
    assert "lr 0.2, 0 tensors, 0 values (empty: dropped)" in log
    assert "(all other parameters): lr 0.02, 12 tensors" in log


def test_generate_with_the_ann_and_the_hybrid(trained):
    work, _ = trained
    ann = generate(work)
    assert "BLEU4 = " in ann and len(hypotheses(ann)) == 24
    hybrid = generate(work, "--model-overrides", "{'hybrid_timesteps': 256}")
    assert "BLEU4 = " in hybrid and len(hypotheses(hybrid)) == 24
    # at T = 256 the hybrid's rates track the ANN closely: most translations are unchanged
    ann, hybrid = hypotheses(ann), hypotheses(hybrid)
    same = sum(ann[key] == hybrid[key] for key in ann)
    assert same >= 12, (same, ann, hybrid)


def test_bleu_vs_timesteps_on_the_tiny_model(trained, tmp_path, capsys):
    """The BLEU script's ANN row is fairseq-generate's own BLEU4 for the same model and test set,
    its sacrebleu the score of the hypotheses it parsed; one row per T."""
    import bleu_vs_timesteps
    import sacrebleu

    work, _ = trained
    output = tmp_path / "bleu.json"
    assert bleu_vs_timesteps.main(["--data", str(work / "bin"), "--converted", str(work / "ck/converted.pt"),
                                   "--n-timestep", "64", "256", "--threads", "1", "--output", str(output)]) == 0
    rows = {Bleu.label_of(row["cell_type"], row["n_timestep"]): row for row in json.loads(output.read_text())["results"]}
    assert list(rows) == ["ANN, --cell-type modified", "hybrid T=64", "hybrid T=256"]
    assert all(row["sentences"] == 24 for row in rows.values())
    ann = generate(work, "--gen-subset", "test")
    assert rows["ANN, --cell-type modified"]["fairseq_bleu4"] == float(re.search(r"BLEU4 = ([0-9.]+)", ann).group(1))
    references = {line.split("\t")[0][2:]: line.split("\t")[1] for line in ann.splitlines() if line.startswith("T-")}
    keys = sorted(references, key=int)
    found = hypotheses(ann)
    expected = sacrebleu.corpus_bleu([found[f"H-{k}"] for k in keys], [[references[k] for k in keys]], force=True)
    assert rows["ANN, --cell-type modified"]["sacrebleu"] == round(expected.score, 2)
    # fewer test sentences than bleu_vs_timesteps.SUBSET_SENTENCES: the subset is all of them
    assert all((row["subset_sentences"], row["subset_sacrebleu"]) == (24, row["sacrebleu"]) for row in rows.values())
    assert "hybrid T=256" in capsys.readouterr().out


def test_a_shipped_model_holds_the_converted_weights_exactly_and_the_float_ones_in_float16(trained, tmp_path):
    from reproduce import ship_translation

    work, _ = trained
    data = tmp_path / "corpus"  # prepare_deen.py's layout
    (data / "bpe").mkdir(parents=True)
    (data / "bin").symlink_to(work / "bin")
    (data / "code").write_text("#version: 0.2\n")
    for lang in ("de", "en"):
        (data / "bpe" / f"test.{lang}").write_text((work / f"test.{lang}").read_text())
    folder = tmp_path / "shipped"
    ship_translation.main(["--checkpoint", str(work / "ck/converted.pt"), "--data", str(data), "--output", str(folder)])
    shipped = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    original = torch.load(work / "ck/converted.pt", map_location="cpu", weights_only=False)["model"]
    assert shipped["model"].keys() == original.keys()
    for name, tensor in original.items():
        if tensor.is_floating_point():
            assert shipped["model"][name].dtype == torch.float16
            assert torch.equal(shipped["model"][name], tensor.half()), name
        else:
            assert shipped["model"][name].dtype == torch.int16 and torch.equal(shipped["model"][name].int(), tensor)
    assert (folder / "test-first100.de").read_text() == (work / "test.de").read_text()  # 24 < 100 sentences
    output = fairseq("fairseq-generate", "bin", "--beam", "5", "--remove-bpe", "--user-dir", REPO / "fairseq_custom_modules",
                     "--path", folder / "model.pt", "--cpu", "--model-overrides", "{'hybrid_timesteps': 64}", cwd=work)
    assert "LSTM layers run as hybrid_lstm.HybridLSTMCell: T = 64" in output and len(hypotheses(output)) == 24


def test_shipping_refuses_a_value_its_width_cannot_hold():
    from hybrid_lstm.runs.files import RunError
    from reproduce.ship_translation import compact_tensor

    with pytest.raises(RunError, match="int16"):
        compact_tensor("w", torch.tensor([40000], dtype=torch.int32))
    with pytest.raises(RunError, match="float16"):
        compact_tensor("w", torch.tensor([1e6]))


def test_bleu_vs_timesteps_runs_the_hybrid_with_the_initial_potential_asked_for(trained, tmp_path):
    import bleu_vs_timesteps

    work, _ = trained
    output = tmp_path / "bleu_half.json"
    assert bleu_vs_timesteps.main(["--data", str(work / "bin"), "--converted", str(work / "ck/converted.pt"),
                                   "--n-timestep", "8", "--initial-potential", "half", "--threads", "1",
                                   "--output", str(output)]) == 0
    results = json.loads(output.read_text())
    hybrid = results["results"][-1]
    assert hybrid["initial_potential"] == "half" and "'hybrid_initial_potential': 'half'" in hybrid["command"]
    direct = generate(work, "--gen-subset", "test", "--model-overrides",
                      "{'hybrid_timesteps': 8, 'hybrid_initial_potential': 'half'}")
    assert hybrid["fairseq_bleu4"] == float(re.search(r"BLEU4 = ([0-9.]+)", direct).group(1))


def test_hybrid_layer_equals_hybrid_lstm_cell():
    torch.manual_seed(0)
    layer = RecurrentLayer("modified", 6, 5, "orthogonal", converted=True, hybrid_timesteps=32)
    weights = convert_cell(layer.cell)
    layer.converted_weight.copy_(weights.weight)
    layer.converted_bias.copy_(weights.bias)
    x, lengths = torch.rand(3, 7, 6) * 2 - 1, torch.tensor([7, 4, 1])
    outputs, (h, c) = layer.run(x, lengths)
    state = (torch.zeros(3, 5), torch.zeros(3, 5))
    for t in range(7):  # the reference: the plain spike loop and the paper's analog step, written out
        counts = simulate_gates(torch.cat([x[:, t], state[0]], dim=1), weights, 32)
        i, f, g, o = (count.float() / 32 for count in (counts.i, counts.f, counts.g, counts.o))
        c_ref = f * state[1] + i * g
        h_ref = o * torch.clamp(c_ref / 2, -1, 1)
        assert torch.equal(outputs[:, t], h_ref)
        valid = (t < lengths).unsqueeze(1)
        state = (torch.where(valid, h_ref, state[0]), torch.where(valid, c_ref, state[1]))
    assert torch.equal(h, state[0]) and torch.equal(c, state[1])
    with pytest.raises(ValueError, match="converted"):
        RecurrentLayer("modified", 6, 5, "orthogonal", converted=False, hybrid_timesteps=32)


def test_a_layer_fine_tuned_through_its_hybrid_runs_the_hybrid_forward_and_keeps_the_cells_names():
    torch.manual_seed(0)
    tuned = RecurrentLayer("modified", 6, 5, "orthogonal", hybrid_initial_potential="half", finetune_timesteps=8)
    hybrid = RecurrentLayer("modified", 6, 5, "orthogonal", converted=True, hybrid_timesteps=8,
                            hybrid_initial_potential="half")
    hybrid.load_state_dict(tuned.state_dict(), strict=False)  # the cell's parameters, under the same names
    assert tuned.state_dict().keys() == {"cell.weight_ih", "cell.weight_hh", "cell.bias"}
    weights = convert_cell(hybrid.cell)
    hybrid.converted_weight.copy_(weights.weight)
    hybrid.converted_bias.copy_(weights.bias)
    x, lengths = torch.rand(3, 7, 6) * 2 - 1, torch.tensor([7, 4, 1])
    (outputs, (h, c)), (reference, (h_ref, c_ref)) = tuned.run(x, lengths), hybrid.run(x, lengths)
    assert torch.equal(outputs, reference) and torch.equal(h, h_ref) and torch.equal(c, c_ref)
    outputs.sum().backward()  # straight-through: the ANN's gradient reaches every parameter
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in tuned.parameters())
    with pytest.raises(ValueError, match="--cell-type modified"):
        RecurrentLayer("default", 6, 5, "orthogonal", finetune_timesteps=8)


def test_fine_tuning_through_the_hybrid_from_a_converted_model_then_converting(trained):
    """From a converted checkpoint (as the repository ships its models): its integer weights are dropped on
    loading, the cell's trained through the hybrid, and the result converts and generates again."""
    work, _ = trained
    log = fairseq("fairseq-train", "bin", "--lr", "0.2,0.02", "--clip-norm", "5", "--criterion", "cross_entropy",
                  "--lr-scheduler", "custom_scheduler", "--optimizer", "custom_adagrad", "--user-dir",
                  REPO / "fairseq_custom_modules", "--max-epoch", "1", "--save-dir", "tuned", "--arch",
                  "custom_baseline_iwslt", "--cell-type", "modified", "--finetune-from-model", "ck/converted.pt",
                  "--finetune-timesteps", "8", "--hybrid-initial-potential", "half", "--batch-size", "64", "--seed", "1",
                  "--cpu", "--no-progress-bar", *SMALL_MODEL, cwd=work)
    assert "LSTM layers train through their hybrid" in log and "T = 8, soft reset, initial potential half" in log
    assert modify_checkpoint_iwslt.main(["--src-path", str(work / "tuned/checkpoint_best.pt"),
                                         "--des-path", str(work / "tuned/converted.pt")]) == 0
    converted = torch.load(work / "tuned/converted.pt", map_location="cpu", weights_only=False)
    assert converted["cfg"]["model"]["finetune_timesteps"] == 0 and converted["cfg"]["model"]["converted"]
    output = fairseq("fairseq-generate", "bin", "--beam", "5", "--remove-bpe", "--user-dir", REPO / "fairseq_custom_modules",
                     "--path", "tuned/converted.pt", "--cpu", "--model-overrides",
                     "{'hybrid_timesteps': 8, 'hybrid_initial_potential': 'half'}", cwd=work)
    assert "LSTM layers run as hybrid_lstm.HybridLSTMCell: T = 8" in output and len(hypotheses(output)) == 24


def named(*names):
    params = []
    for name in names:
        param = torch.nn.Parameter(torch.zeros(2))
        param.param_name = name
        params.append(param)
    return params


def test_parameter_group_rule():
    params = named("encoder.rnn.cell.weight_ih", "decoder.fc_out.weight", "decoder.fc_out.bias")
    groups = group_parameters(params, "encoder&fc_out", [0.2, 0.02])  # the authors' rule: nothing matches
    assert [(rate, len(members)) for rate, members, _ in groups] == [(0.02, 3)]
    groups = group_parameters(params, "fc_out", [0.2, 0.02])
    assert [(rate, [p.param_name for p in members]) for rate, members, _ in groups] == \
        [(0.2, ["decoder.fc_out.weight", "decoder.fc_out.bias"]), (0.02, ["encoder.rnn.cell.weight_ih"])]
    assert [(r, len(m)) for r, m, _ in group_parameters(params, "fc_out", [0.1])] == [(0.1, 2), (0.1, 1)]
    with pytest.raises(ValueError, match="one or two learning rates"):
        group_parameters(params, "fc_out", [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="named by the model"):
        group_parameters([torch.nn.Parameter(torch.zeros(1))], "fc_out", [0.1])


def saved(path) -> dict:
    """A checkpoint as fairseq saved it: plain containers, the argparse.Namespace fairseq keeps allowed."""
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, map_location="cpu", weights_only=True)


def run_conversion(capsys, source, destination):
    code = modify_checkpoint_iwslt.main(["--src-path", str(source), "--des-path", str(destination)])
    return code, capsys.readouterr().err


def test_conversion_refusals(trained, tmp_path, capsys):
    work, _ = trained
    best, converted = work / "ck/checkpoint_best.pt", work / "ck/converted.pt"
    destination = tmp_path / "out.pt"
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    checkpoint = saved(best)
    torch.save(dict(checkpoint, cfg=dict(checkpoint["cfg"], model=dict(checkpoint["cfg"]["model"], cell_type="default"))),
               tmp_path / "default.pt")
    del checkpoint["model"]["decoder.rnn.cell.bias"]
    torch.save(checkpoint, tmp_path / "missing.pt")
    cases = [(tmp_path / "absent.pt", "no checkpoint at"), (tmp_path / "corrupt.pt", "corrupt or not a fairseq checkpoint"),
             (tmp_path / "default.pt", "only --cell-type modified converts"),
             (converted, "already converted"), (tmp_path / "missing.pt", "missing layer weights decoder.rnn.cell.bias")]
    for source, message in cases:
        code, err = run_conversion(capsys, source, destination)
        assert code == 2 and message in err and err.count("\n") == 1, (source, err)
        assert not destination.exists()
    code, err = run_conversion(capsys, best, best)
    assert code == 2 and "must differ" in err


def test_patch_tool_is_idempotent(tmp_path, capsys):
    """On an unpatched copy of the three files (the installed ones with every edit undone):
    the first run makes every edit and gives the installed files, the second changes nothing."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("patch_fairseq", REPO / "fairseq_modified_files/patch_fairseq.py")
    patch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(patch)
    installed = patch.fairseq_root()
    files = sorted({relative for relative, _, _ in patch.EDITS})
    for relative in files:
        text = (installed / relative).read_text()
        for edited, old, new in reversed(patch.EDITS):
            if edited == relative:
                text = text.replace(new, old, 1)
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    assert patch.apply(tmp_path, check_only=True) == len(patch.EDITS)
    assert patch.apply(tmp_path, check_only=False) == len(patch.EDITS)
    assert all((tmp_path / r).read_text() == (installed / r).read_text() for r in files)
    assert patch.apply(tmp_path, check_only=False) == 0
    assert all((tmp_path / r).read_text() == (installed / r).read_text() for r in files)
    result = subprocess.run([sys.executable, str(REPO / "fairseq_modified_files/patch_fairseq.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "0 patch(es) missing" in result.stdout


def test_two_groups_keep_their_rates_across_a_resume(tmp_path):
    """--lr-group-rule fc_out: two groups at 0.2 and 0.02; resuming keeps both (custom_scheduler
    never calls set_lr), in the log and in the saved optimizer state."""
    synthetic_corpus(tmp_path, seed=1)
    fairseq("fairseq-preprocess", "--source-lang", "de", "--target-lang", "en", "--trainpref", "train",
            "--validpref", "valid", "--testpref", "test", "--destdir", "bin", "--workers", "1", cwd=tmp_path)
    common = ["bin", "--lr", "0.2,0.02", "--lr-group-rule", "fc_out", "--criterion", "cross_entropy",
              "--lr-scheduler", "custom_scheduler", "--optimizer", "custom_adagrad", "--user-dir",
              REPO / "fairseq_custom_modules", "--save-dir", "ck", "--arch", "custom_baseline_iwslt",
              "--cell-type", "modified", "--batch-size", "64", "--cpu", "--no-progress-bar", *SMALL_MODEL]
    fairseq("fairseq-train", *common, "--max-epoch", "1", cwd=tmp_path)
    log = fairseq("fairseq-train", *common, "--max-epoch", "2", cwd=tmp_path)
    assert "Loaded checkpoint ck/checkpoint_last.pt (epoch 2 @" in log
    assert "names containing 'fc_out'): lr 0.2, 2 tensors" in log
    state = saved(tmp_path / "ck/checkpoint_last.pt")
    rates = [group["lr"] for group in state["last_optimizer_state"]["param_groups"]]
    assert rates == [0.2, 0.02] and state["extra_state"]["train_iterator"]["epoch"] == 3  # next epoch to run


@pytest.mark.parametrize("cell_type", ["default", "modified"])
def test_uniform_init_keeps_the_forget_bias(cell_type):
    from fairseq_custom_modules.recurrent import build_cell
    from hybrid_lstm.nn.functional import gate_blocks

    torch.manual_seed(0)
    cell = build_cell(cell_type, 6, 5, "uniform")
    weights = [p for name, p in cell.named_parameters() if name.startswith("weight")]
    biases = [p for name, p in cell.named_parameters() if name.startswith("bias")]
    assert all(w.abs().max() <= 0.1 and w.std() > 0.03 for w in weights)
    total = sum(biases)
    blocks = gate_blocks(total)
    assert torch.equal(blocks["f"], torch.ones(5))
    assert all(torch.equal(blocks[g], torch.zeros(5)) for g in ("i", "g", "o"))


def train_losses(log: str) -> list:
    """(per-update losses, per-epoch losses) of a fairseq-train log with --log-interval 1."""
    updates = [float(value) for value in re.findall(r"train_inner \| .*? loss=([\d.]+)", log)]
    epochs = [float(value) for value in re.findall(r"\| train \| epoch \d+ \| loss ([\d.]+)", log)]
    return updates, epochs


def test_translation_trains_across_two_cpu_processes_as_in_one(tmp_path):
    """fairseq's distributed training with our plugin's optimizer, scheduler and per-module learning
    rates, 2 processes on the CPU (torchrun, gloo, fairseq's legacy_ddp: its own spawn and its c10d
    wrapper need a GPU per process), against 1 process with the same total batch: the first update's
    loss equal to fairseq's 3 decimals, the epoch losses within 0.05 (the batches of the second epoch
    hold other sentences)."""
    synthetic_corpus(tmp_path)
    fairseq("fairseq-preprocess", "--source-lang", "de", "--target-lang", "en", "--trainpref", "train",
            "--validpref", "valid", "--testpref", "test", "--destdir", "bin", "--workers", "1", cwd=tmp_path)
    common = ["bin", "--lr", "0.2,0.02", "--clip-norm", "5", "--criterion", "cross_entropy", "--lr-scheduler",
              "custom_scheduler", "--optimizer", "custom_adagrad", "--user-dir", str(REPO / "fairseq_custom_modules"),
              "--max-epoch", "2", "--arch", "custom_baseline_iwslt", "--cell-type", "modified", "--init-type",
              "orthogonal", "--seed", "1", "--cpu", "--no-progress-bar", "--log-interval", "1", "--no-save",
              *SMALL_MODEL]
    one = fairseq("fairseq-train", *common, "--batch-size", "64", cwd=tmp_path)
    environment = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                          "29531", "-m", "fairseq_cli.train", *common, "--batch-size", "32", "--distributed-backend",
                          "gloo", "--ddp-backend", "legacy_ddp"], cwd=tmp_path, capture_output=True, text=True,
                         env=environment)
    assert two.returncode == 0, two.stderr[-3000:]
    (one_updates, one_epochs), (two_updates, two_epochs) = train_losses(one), train_losses(two.stdout + two.stderr)
    assert len(one_updates) == len(two_updates) == 8 and len(one_epochs) == len(two_epochs) == 2
    assert two_updates[0] == one_updates[0]
    assert all(abs(a - b) <= 0.05 for a, b in zip(one_epochs, two_epochs)), (one_epochs, two_epochs)
    assert "bsz=64" in two.stdout + two.stderr  # 2 x 32 sentences per update
