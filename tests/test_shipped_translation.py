"""The shipped translation models (runs/translation/<run>/model.pt, reproduce.ship_translation) on a
fresh clone: each loads weights-only, and translates the first test sentences shipped beside it
with the BLEU that the committed BLEU-vs-T records report for them."""
import pytest
import torch

pytest.importorskip("fairseq")

import bleu_vs_timesteps  # noqa: E402
from conftest import REPO  # noqa: E402
from hybrid_lstm.runs import records  # noqa: E402
from reproduce import grid  # noqa: E402
from reproduce.ship_translation import LANGUAGES, subset_prefix  # noqa: E402
from test_fairseq import fairseq  # noqa: E402

CORPUS = "debian"
# (cell, T, V0): both ANNs, the hybrid at the paper's smallest T, and with V0 = theta / 2 at a small T
CHECKED = (("default", None, "one"), ("modified", None, "one"), ("modified", 16, "half"))  # both ANNs, one hybrid


def logged(cell: str, n_timestep, potential: str) -> records.Bleu:
    """The committed BLEU record of one translation of the shipped model."""
    for complement in (False, True):
        path = REPO / grid.translation_bleu_results(CORPUS, potential, complement)
        if path.is_file():
            curve = records.read(path, records.BleuCurve.kind)
            found = curve.ann(cell) if n_timestep is None else curve.hybrid().get(n_timestep)
            if found is not None and found.cell_type == cell:
                assert found.subset_sacrebleu is None or str(grid.shipped_model(CORPUS, cell)) in found.command
                return found
    pytest.fail(f"no committed BLEU of {cell} T={n_timestep} V0={potential}")


@pytest.mark.parametrize("cell", ["default", "modified"])
def test_a_shipped_model_loads_weights_only_in_its_compact_widths(cell):
    state = torch.load(REPO / grid.shipped_model(CORPUS, cell), map_location="cpu", weights_only=True)
    dtypes = {tensor.dtype for tensor in state["model"].values()}
    assert dtypes == ({torch.float16, torch.int16} if cell == "modified" else {torch.float16})
    assert state["cfg"]["model"]["cell_type"] == cell
    assert state["cfg"]["model"]["converted"] == (cell == "modified")
    assert "last_optimizer_state" not in state


@pytest.fixture(scope="module")
def subset_data(tmp_path_factory):
    """The shipped first test sentences, binarised with the shipped dictionaries."""
    folder = REPO / grid.translation_folder(CORPUS, "modified")
    destination = tmp_path_factory.mktemp("subset")
    fairseq("fairseq-preprocess", "--source-lang", LANGUAGES[0], "--target-lang", LANGUAGES[1], "--testpref",
            subset_prefix(folder), "--srcdict", folder / "dict.de.txt", "--tgtdict", folder / "dict.en.txt",
            "--destdir", destination, "--workers", "1", cwd=destination)
    return destination


@pytest.mark.parametrize("cell, n_timestep, potential", CHECKED)
def test_a_shipped_model_translates_the_first_test_sentences_with_its_logged_bleu(subset_data, cell, n_timestep,
                                                                                   potential):
    expected = logged(cell, n_timestep, potential)
    if expected.subset_sacrebleu is None:
        pytest.skip("the committed BLEU record has no first-100 BLEU of this model: run the BLEU sweeps "
                    "(python -m reproduce.run_grid --only translation) to record their first-100 BLEU")
    overrides = "" if n_timestep is None else \
        repr({"hybrid_timesteps": n_timestep, "hybrid_initial_potential": potential})
    result = bleu_vs_timesteps.generate(str(subset_data), str(REPO / grid.shipped_model(CORPUS, cell)), overrides, 1)
    assert result["sentences"] == expected.subset_sentences == bleu_vs_timesteps.SUBSET_SENTENCES
    assert result["sacrebleu"] == expected.subset_sacrebleu


def test_the_shipped_test_sentences_are_the_first_of_each_models_corpus():
    texts = {cell: [subset_prefix(REPO / grid.translation_folder(CORPUS, cell)).with_suffix(f".{lang}").read_text()
                    for lang in LANGUAGES] for cell in ("default", "modified")}
    assert texts["default"] == texts["modified"]
    assert all(text.count("\n") == bleu_vs_timesteps.SUBSET_SENTENCES for text in texts["default"])
