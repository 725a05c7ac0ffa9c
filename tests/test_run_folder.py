"""The run folder and checkpoint types that every command shares."""
from pathlib import Path

import pytest
import torch

from hybrid_lstm.runs import host
from hybrid_lstm.runs.checkpoint import Checkpoint, build_model
from hybrid_lstm.runs.files import RunError
from hybrid_lstm.runs.run_folder import RunFolder

REPO = Path(__file__).resolve().parent.parent
CONFIG = {"lstm_cell_class": "ModifiedLSTMCell", "input_size": 28, "hidden_size": 8, "num_layer": 1,
          "dropout": 0.5, "permute": None}


def test_each_checkpoint_kind_writes_exactly_its_schema(tmp_path):
    model = build_model(CONFIG)
    optimizer = torch.optim.RMSprop(model.parameters())
    Checkpoint(CONFIG, 3, model.state_dict(), selected_on="test", accuracy=97.5).save(tmp_path / "best.pt")
    Checkpoint(CONFIG, 3, model.state_dict(), optimizer=optimizer.state_dict(), history=[{"epoch": 1}],
               best={"accuracy": 97.5, "epoch": 1}).save(tmp_path / "last.pt")
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert set(best) == {"format", "config", "epochs_done", "model", "selected_on", "accuracy"}
    assert set(last) == {"format", "config", "epochs_done", "model", "optimizer", "history", "best", "partial_epoch"}
    assert last["partial_epoch"] is None
    loaded = Checkpoint.load(tmp_path / "best.pt")
    assert (loaded.epochs_done, loaded.selected_on, loaded.accuracy, loaded.optimizer) == (3, "test", 97.5, None)
    restored = loaded.classifier()
    assert all(torch.equal(a, b) for a, b in zip(restored.state_dict().values(), model.state_dict().values()))


def test_weights_that_do_not_fit_the_config_are_refused_at_load(tmp_path):
    state = build_model(CONFIG).state_dict()
    Checkpoint({**CONFIG, "hidden_size": 9}, 1, state, selected_on="test", accuracy=1.0).save(tmp_path / "c.pt")
    with pytest.raises(RunError, match="weights do not match its recorded configuration"):
        Checkpoint.load(tmp_path / "c.pt")


def test_every_committed_checkpoint_loads_with_the_current_schema():
    paths = sorted((REPO / "runs").glob("seqmnist/*/checkpoint_*.pt"))
    assert paths, "the repository ships trained checkpoints under runs/seqmnist"
    for path in paths:
        checkpoint = Checkpoint.load(path)
        assert (checkpoint.optimizer is not None) == (path.name == RunFolder.LAST)
        assert (checkpoint.selected_on is not None) == (path.name == RunFolder.BEST)


@pytest.mark.parametrize("content", ["", "[1, 2]", '{"history": 3}', '{"history": [{}, {}]}'])
def test_epochs_done_reads_any_history_file(tmp_path, content):
    (tmp_path / RunFolder.HISTORY).write_text(content)
    assert RunFolder(tmp_path).epochs_done() == (2 if content.startswith('{"history": [') else 0)


def test_result_file_names_keep_every_setting_apart():
    folder = RunFolder("run")
    names = {folder.results(reset, potential) for reset in ("soft", "hard") for potential in ("one", "half")}
    assert len(names) == 4 and folder.results() == Path("run/test_results.json")
    chips = {folder.chip_results(reset, 1, compensated, potential) for reset in ("hard", "soft-feedback")
             for compensated in (False, True) for potential in ("one", "half")}
    assert len(chips) == 8 and folder.chip_results("hard", 1) == Path("run/loihi_benchmark_hard_delay1.json")
    assert not names & chips


def test_any_folder_or_a_new_path_is_a_run_folder_but_a_file_is_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    RunFolder(".").check()
    RunFolder("new/run").check()
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="is a file, not a folder"):
        RunFolder("file").check()


def test_the_host_line_names_the_cpus_vector_extensions(monkeypatch):
    """Two CPUs of one model name but other vector extensions give other host lines."""
    monkeypatch.setattr(host.torch.cpu, "_is_avx2_supported", lambda: True)
    monkeypatch.setattr(host.torch.cpu, "_is_avx512_supported", lambda: False)
    monkeypatch.setattr(host.torch.cpu, "_is_vnni_supported", lambda: False)
    monkeypatch.setattr(host.torch.cpu, "_is_amx_tile_supported", lambda: False)
    avx2 = host.host_description(threads=1)
    monkeypatch.setattr(host.torch.cpu, "_is_avx512_supported", lambda: True)
    assert "(AVX2), " in avx2 and "(AVX2, AVX-512), " in host.host_description(threads=1)
    assert avx2.endswith(f"1 torch thread, torch {host.torch.__version__}")
