"""The experiment grid behind RESULTS.md: every run, the folder it logs to, its commands.

A Run is a sequence of Steps in one folder; a Step is one command plus the test that says
it is finished (its output exists, or its training reached the last epoch). Every command
resumes or restarts by itself when rerun, so the grid can be stopped at any moment and
run again: finished steps are skipped, an interrupted training continues from its last
saved update. `after` names a run that must be complete before this one starts.
"""
from dataclasses import dataclass, field
import json
from pathlib import Path
from typing import Callable

from hybrid_lstm.runs import records
from hybrid_lstm.runs.run_folder import RunFolder, bleu_results_path, file_sha256, partial_path
from hybrid_lstm.snn.neurons import DEFAULT_INITIAL_POTENTIAL
from reproduce import paper
from reproduce.memory_horizon import RESULTS_NAME as MEMORY_HORIZON
from reproduce.ship_translation import MODEL as SHIPPED_MODEL

SEQMNIST = Path("runs/seqmnist")
TRANSLATION = Path("runs/translation")
CELLS = ("ModifiedLSTMCell", "BaselineLSTMCell")

# seeds per cell: the hybrid at T=16 varies between seeds far more than the ANN does, so the
# convertible cell gets two more
ROWWISE_SEEDS = {"ModifiedLSTMCell": (0, 1, 2, 3, 4), "BaselineLSTMCell": (0, 1, 2)}
ROWWISE_EPOCHS = 50  # the paper's schedule
ROWWISE_T = tuple(paper.ROWWISE_HYBRID)  # the paper's
# tested: the paper's T and two lower ones, with both initial potentials (beyond the paper)
ROWWISE_LOW_T = (4, 8)
ROWWISE_TEST_T = ROWWISE_LOW_T + ROWWISE_T
INITIAL_POTENTIALS = ("one", "half")

# the paper's schedule; three seeds of each cell (the paper reports means over seeds it does not count)
PIXELWISE_SEEDS = {"ModifiedLSTMCell": (0, 1, 2), "BaselineLSTMCell": (0, 1, 2)}
PIXELWISE_EPOCHS = 50
PIXELWISE_T = tuple(paper.PIXELWISE_HYBRID)  # the paper's
SEEDS = {"rowwise": ROWWISE_SEEDS, "pixelwise": PIXELWISE_SEEDS}  # {task: {cell: seeds}}
EPOCHS = {"rowwise": ROWWISE_EPOCHS, "pixelwise": PIXELWISE_EPOCHS}
# diagnostics of the pixel-wise BaselineLSTMCell's miss, apart from the reproduced rows: which part of the
# recipe the sigmoid cell fails under, each on a reduced schedule, one seed, the ANN tested
RECIPE_DIAGNOSTICS = {"no-clamps": ("--no-clamps",), "lr3e-4": ("--lr", "3e-4")}
RECIPE_DIAGNOSTIC_EPOCHS = 15
RECIPE_DIAGNOSTIC_SEED = 0
# beyond the paper: how low T can go on 784-step sequences, each potential, in results files of their own
# (tested before the paper's T: minutes, against hours at T = 1024)
PIXELWISE_LOW_T = (4, 8, 16)
# beyond the paper, every ModifiedLSTMCell of both tasks: T = 2 with each potential, in results files of
# their own (test_results[_half]_T2.json), after every other test
LOWEST_T = 2
# beyond the paper, pixel-wise: only the encoder and the forget gate start at theta / 2 (a per-population
# initial potential), at these T, every seed, all test images
PER_POPULATION_POTENTIAL = "encoder=half,f=half"
PER_POPULATION_T = (32, 128)

# beyond the paper: conversion-aware fine-tuning (run_seqmnist.py --finetune-from) of every trained
# ModifiedLSTMCell at low T with V0 = theta / 2, at a tenth of the training learning rate, each tested as its
# hybrid at that T on all test images (with its ANN); pixel-wise at T = 16 as well as 8 (on the event kernel an
# epoch at 16 costs about what one at 8 does: docs/speed.md)
FINETUNE = {"rowwise": {"timesteps": (2, 4), "epochs": 5}, "pixelwise": {"timesteps": (8, 16), "epochs": 3}}
# the same from the trained model on a longer schedule (row-wise T = 4 plateaued near its goal after 5 epochs,
# T = 2 was still climbing), in folders of their own (suffix -EPOCHSep)
FINETUNE_LONGER = {"rowwise": {"timesteps": (2, 4), "epochs": 15}}
FINETUNE_POTENTIAL = "half"
FINETUNE_LR = "1e-4"
FINETUNE_CHIP_IMAGES = {"rowwise": 10000, "pixelwise": 500}

CHIP_SEED = 0  # the row-wise model that loihi_sim emulates
MNIST_TEST_IMAGES = 10000

DEEN_CHECKPOINTS = Path("checkpoints/translation")
DEEN_EPOCHS = 15  # the paper's schedule
IWSLT14_EPOCHS = 15
DEEN_SEED = 1
DEEN_T = tuple(paper.IWSLT14_HYBRID_BLEU)  # the paper's
# beyond the paper: the converted model with every potential starting at theta / 2, down to T = 2
DEEN_HALF_T = (2, 4, 8, 16, 32, 64, 128)
# beyond the paper: each potential also at the other's T (V0 = 1 below the paper's T, V0 = theta / 2 above
# DEEN_HALF_T), in results files of their own, so that both curves span T = 2 ... 256
DEEN_COMPLEMENT_T = {"one": (2, 4, 8, 16), "half": (96, 192, 256)}
# beyond the paper: the modified model fine-tuned through its hybrid at T with V0 = theta / 2 (learning rate a
# tenth of training's, as FINETUNE_LR is for MNIST), then BLEU at T <= 16
DEEN_FINETUNE = {"timesteps": 16, "epochs": 2, "lr": "0.02,0.002", "test_t": (2, 4, 8, 16)}


@dataclass(frozen=True)
class Step:
    name: str
    argv: tuple  # after the Python interpreter; "{threads}" is replaced by the runner
    done: Callable[[], bool]
    log: Path | None = None  # where the command's console output goes (default: the run's runner.log)
    progress: Callable[[], str] = lambda: ""  # how far an unfinished step got, in words ('' for nothing yet)


@dataclass(frozen=True)
class Run:
    name: str
    group: str
    folder: Path
    steps: tuple = field(default_factory=tuple)
    after: str | None = None

    def pending_steps(self) -> list:
        """The steps still to run; none once the last step's output exists (its inputs, such as
        a prepared corpus or a converted checkpoint, may live outside git and be absent)."""
        if self.steps and self.steps[-1].done():
            return []
        return [step for step in self.steps if not step.done()]


def exists(path: Path) -> Callable[[], bool]:
    return lambda: Path(path).exists()


def read_json_object(path: Path) -> dict:
    """The JSON object at path; {} when the file is missing, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(path: Path, kind: str):
    """The valid record of this kind at path, or None."""
    try:
        return records.read(path, kind)
    except records.RecordError:
        return None


def benchmarked(path: Path, timesteps=(), images: int = MNIST_TEST_IMAGES) -> Callable[[], bool]:
    """A loihi_sim benchmark record at path that covers these T on `images` test images (default:
    the whole MNIST test set)."""
    def check():
        record = _record(path, "chip-benchmark")
        return (record is not None and record.test_samples == images
                and set(timesteps) <= {result.n_timestep for result in record.results})
    return check


def hybrid_tested(path: Path, timesteps) -> Callable[[], bool]:
    """A run_seqmnist.py results record at path with the hybrid tested at every T of timesteps."""
    def check():
        record = _record(path, "mnist-test")
        tested = {result.n_timestep for result in record.hybrid} if record else set()
        return bool(tested) and set(timesteps) <= tested
    return check


def partial_progress(output: Path) -> Callable[[], str]:
    """What the partial record of an interrupted test or benchmark holds: 'T = 32, 128 done', or the
    models a BLEU run has translated."""
    def describe():
        finished = read_json_object(partial_path(output)).get("results", [])
        timesteps = [str(entry["n_timestep"]) for entry in finished if "n_timestep" in entry]
        if timesteps:
            return f"T = {', '.join(timesteps)} done"
        return f"{len(finished)} model{'s' if len(finished) != 1 else ''} done" if finished else ""
    return describe


def epochs_progress(folder: Path, epochs: int) -> Callable[[], str]:
    """'N of EPOCHS epochs' of a run_seqmnist.py training."""
    return lambda: f"{RunFolder(folder).epochs_done()} of {epochs} epochs"


def trained(folder: Path, epochs: int) -> Callable[[], bool]:
    """run_seqmnist.py training has `epochs` epochs in its history.json."""
    return lambda: RunFolder(folder).epochs_done() >= epochs


def either(*checks) -> Callable[[], bool]:
    return lambda: any(check() for check in checks)


def log_contains(path: Path, text: str) -> Callable[[], bool]:
    def check():
        try:
            return text in Path(path).read_text(errors="replace")
        except OSError:
            return False
    return check


def memory_measured(folder: Path, epochs: int) -> Callable[[], bool]:
    """The run is trained and its memory_horizon.json measured its current checkpoint_best.pt (and its
    last checkpoint: older files lack that)."""
    def check():
        measured = read_json_object(Path(folder) / MEMORY_HORIZON)
        try:
            best = file_sha256(Path(folder) / RunFolder.BEST)
        except OSError:
            return False
        return (RunFolder(folder).epochs_done() >= epochs and measured.get("checkpoint_sha256") == best
                and "last_checkpoint" in measured)
    return check


def seqmnist_folder(task: str, cell: str, seed: int) -> Path:
    return SEQMNIST / f"{task}-{cell}-seed{seed}"


def seqmnist_run(task: str, cell: str, seed: int, epochs: int, timesteps, potentials=("one",), low_timesteps=()) -> Run:
    """Train, then test the ANN and (ModifiedLSTMCell) its hybrid at each T, once per initial potential
    (and at low_timesteps, into a file of their own)."""
    folder = seqmnist_folder(task, cell, seed)
    input_size = {"rowwise": 28, "pixelwise": 1}[task]
    common = ("--checkpoint-dir", str(folder), "--threads", "{threads}")
    steps = [Step("train", ("run_seqmnist.py", *common, "--input-size", str(input_size), "--lstm-cell-class", cell,
                            "--seed", str(seed), "--end-epoch", str(epochs)), trained(folder, epochs),
                  progress=epochs_progress(folder, epochs))]
    if task == "pixelwise":  # the evidence for RESULTS.md's account of a pixel-wise miss
        steps.append(Step("memory", ("-m", "reproduce.memory_horizon", str(folder), "--threads", "{threads}"),
                          memory_measured(folder, epochs)))
    if cell != "ModifiedLSTMCell":
        test = ("run_seqmnist.py", "--mode", "test", *common)
        return Run(f"{task}-{cell}-seed{seed}", task, folder,
                   (*steps, Step("test", test, exists(RunFolder(folder).results()),
                                 progress=partial_progress(RunFolder(folder).results()))))
    tests = [(potential, low_timesteps, RunFolder(folder).results(initial_potential=potential, label="low-T"), "-low-T")
             for potential in potentials if low_timesteps]
    tests += [(potential, timesteps, RunFolder(folder).results(initial_potential=potential), "")
              for potential in potentials]
    for potential, tested_t, output, suffix in tests:
        test = ("run_seqmnist.py", "--mode", "test", *common, "--n-timestep", *map(str, tested_t))
        if potential != "one":
            test += ("--initial-potential", potential)
        if suffix:
            test += ("--output", str(output))
        steps.append(Step("test" + ("" if potential == "one" else f"-{potential}") + suffix, test, exists(output),
                          progress=partial_progress(output)))
    if task == "rowwise":  # seeds tested with V0 = 1 before ROWWISE_LOW_T joined the grid: those T in a file of their own
        output = RunFolder(folder).results(label="low-T")
        steps.append(Step("test-low-T", ("run_seqmnist.py", "--mode", "test", *common, "--n-timestep",
                                         *map(str, ROWWISE_LOW_T), "--output", str(output)),
                          either(exists(output), hybrid_tested(RunFolder(folder).results(), ROWWISE_LOW_T)),
                          progress=partial_progress(output)))
    return Run(f"{task}-{cell}-seed{seed}", task, folder, tuple(steps))


def per_population_run(seed: int) -> Run:
    """The pixel-wise ModifiedLSTMCell of this seed tested with PER_POPULATION_POTENTIAL at PER_POPULATION_T."""
    folder = seqmnist_folder("pixelwise", "ModifiedLSTMCell", seed)
    output = RunFolder(folder).results(initial_potential=PER_POPULATION_POTENTIAL)
    test = ("run_seqmnist.py", "--mode", "test", "--checkpoint-dir", str(folder), "--threads", "{threads}",
            "--n-timestep", *map(str, PER_POPULATION_T), "--initial-potential", PER_POPULATION_POTENTIAL)
    parent = f"pixelwise-ModifiedLSTMCell-seed{seed}"
    return Run(f"{parent}-encoder-f-half", "finetune", folder,
               (Step("test-encoder-f-half", test, exists(output), progress=partial_progress(output)),), after=parent)


def lowest_t_run(task: str, seed: int) -> Run:
    """The trained ModifiedLSTMCell of TASK and seed tested at LOWEST_T with each initial potential."""
    folder = seqmnist_folder(task, "ModifiedLSTMCell", seed)
    steps = []
    for potential in INITIAL_POTENTIALS:
        output = RunFolder(folder).results(initial_potential=potential, label=f"T{LOWEST_T}")
        test = ("run_seqmnist.py", "--mode", "test", "--checkpoint-dir", str(folder), "--threads", "{threads}",
                "--n-timestep", str(LOWEST_T), "--initial-potential", potential, "--output", str(output))
        steps.append(Step(f"test-{potential}-T{LOWEST_T}", test, exists(output), progress=partial_progress(output)))
    parent = f"{task}-ModifiedLSTMCell-seed{seed}"
    return Run(f"{parent}-T{LOWEST_T}", "finetune", folder, tuple(steps), after=parent)


# loihi_sim on seed 0, delay 1, all test images: (reset realisation, initial potential, delay
# compensated), cheapest first (the hard reset took 26 min on one shared core; a rerun resumes after
# the last finished T)
CHIP_CONFIGS = (("hard", "one", False), ("hard-independent", "one", False), ("soft-feedback", "one", True),
                ("soft", "one", False), ("soft-feedback", "one", False), ("soft-feedback", "half", False),
                ("soft-feedback", "half", True))
# the headline configuration on all 10,000 images, every seed, at every T where its accuracy can first
# reach the paper's (98.31%): T = 4 does not (95.0% on 1,000 images of seed 0), T = 8 does on every seed
CHIP_HEADLINE_T = (5, 6, 7, 8)


def headline_output(folder: Path) -> Path:
    """The headline chip benchmark's JSON in a row-wise run folder."""
    return RunFolder(folder).chip_results("soft-feedback", 1, True, "half", label="all-images")


def recipe_diagnostic_run(variant: str) -> Run:
    """Pixel-wise BaselineLSTMCell under one RECIPE_DIAGNOSTICS change: train, test the ANN."""
    cell, seed = "BaselineLSTMCell", RECIPE_DIAGNOSTIC_SEED
    folder = SEQMNIST / f"pixelwise-{cell}-seed{seed}-{variant}"
    common = ("--checkpoint-dir", str(folder), "--threads", "{threads}")
    train = Step("train", ("run_seqmnist.py", *common, "--input-size", "1", "--lstm-cell-class", cell, "--seed",
                           str(seed), "--end-epoch", str(RECIPE_DIAGNOSTIC_EPOCHS), *RECIPE_DIAGNOSTICS[variant]),
                 trained(folder, RECIPE_DIAGNOSTIC_EPOCHS), progress=epochs_progress(folder, RECIPE_DIAGNOSTIC_EPOCHS))
    test = Step("test", ("run_seqmnist.py", "--mode", "test", *common), exists(RunFolder(folder).results()),
                progress=partial_progress(RunFolder(folder).results()))
    return Run(f"pixelwise-{cell}-seed{seed}-{variant}", "pixelwise", folder, (train, test))


def finetune_run(task: str, seed: int, n_timestep: int, epochs: int | None = None) -> Run:
    """Fine-tune TASK's ModifiedLSTMCell of this seed through its hybrid at T for `epochs` (default: FINETUNE's),
    then test it there and run it on the chip."""
    parent = seqmnist_folder(task, "ModifiedLSTMCell", seed)
    suffix = f"-{epochs}ep" if epochs not in (None, FINETUNE[task]["epochs"]) else ""
    folder = SEQMNIST / f"finetune-{task}-seed{seed}-T{n_timestep}-{FINETUNE_POTENTIAL}{suffix}"
    epochs = epochs or FINETUNE[task]["epochs"]
    common = ("--checkpoint-dir", str(folder), "--threads", "{threads}", "--initial-potential", FINETUNE_POTENTIAL)
    train = Step("train", ("run_seqmnist.py", *common, "--finetune-from", str(parent), "--finetune-timestep",
                           str(n_timestep), "--lr", FINETUNE_LR, "--end-epoch", str(epochs)),
                 trained(folder, epochs), progress=epochs_progress(folder, epochs))
    results = RunFolder(folder).results(initial_potential=FINETUNE_POTENTIAL)
    test = Step("test", ("run_seqmnist.py", "--mode", "test", *common, "--n-timestep", str(n_timestep)),
                exists(results), progress=partial_progress(results))
    # on the chip as the headline configuration (soft-feedback, delay compensated): all test images row-wise,
    # the first FINETUNE_CHIP_IMAGES pixel-wise (784-step emulations are slow)
    chip = RunFolder(folder).chip_results("soft-feedback", 1, True, FINETUNE_POTENTIAL)
    images = FINETUNE_CHIP_IMAGES[task]
    subset = ("--test-subset", str(images)) if images != MNIST_TEST_IMAGES else ()
    loihi = Step("loihi", ("-m", "loihi_sim.benchmark", "--checkpoint-dir", str(folder), "--threads", "{threads}",
                           "--reset", "soft-feedback", "--delay", "1", "--compensate-delay", "--initial-potential",
                           FINETUNE_POTENTIAL, "--n-timestep", str(n_timestep), *subset),
                 benchmarked(chip, (n_timestep,), images), progress=partial_progress(chip))
    steps = (train, test, loihi)
    return Run(folder.name, "finetune", folder, steps, after=f"{task}-ModifiedLSTMCell-seed{seed}")


def finetune_runs(task: str, schedule: dict = FINETUNE) -> list:
    return [finetune_run(task, seed, n_timestep, schedule[task]["epochs"]) for n_timestep in schedule[task]["timesteps"]
            for seed in SEEDS[task]["ModifiedLSTMCell"]]


EXAMPLE_FOLDER = Path("runs/examples/psmnist-seed0")


def example_run() -> Run:
    """examples/permuted_mnist.py's full run (50 epochs, all test images): beyond the paper, public API only."""
    results = EXAMPLE_FOLDER / "results.json"

    def finished() -> bool:
        return read_json_object(results).get("test_images") == MNIST_TEST_IMAGES

    step = Step("example", ("examples/permuted_mnist.py", "--output", str(EXAMPLE_FOLDER), "--threads", "{threads}"),
                finished, EXAMPLE_FOLDER / "example.log")
    return Run("example-psmnist-seed0", "examples", EXAMPLE_FOLDER, (step,))


def chip_runs() -> list:
    """Beyond the paper, row-wise: Loihi's hard reset (hybrid_lstm, every seed, full test set),
    the emulated chip (loihi_sim, one seed, one-step delay) for each reset realisation, and the
    headline configuration on the chip for every seed (all images, T = CHIP_HEADLINE_T)."""
    runs = []
    for seed in ROWWISE_SEEDS["ModifiedLSTMCell"]:
        folder = seqmnist_folder("rowwise", "ModifiedLSTMCell", seed)
        steps = [Step("test-hard-reset", ("run_seqmnist.py", "--mode", "test", "--checkpoint-dir", str(folder),
                                          "--threads", "{threads}", "--reset", "hard",
                                          "--n-timestep", *map(str, ROWWISE_T)),
                      exists(RunFolder(folder).results(reset="hard")),
                      progress=partial_progress(RunFolder(folder).results(reset="hard")))]
        if seed == CHIP_SEED:
            for reset, potential, compensated in CHIP_CONFIGS:
                argv = ("-m", "loihi_sim.benchmark", "--checkpoint-dir", str(folder), "--threads", "{threads}",
                        "--reset", reset, "--delay", "1", "--n-timestep", *map(str, ROWWISE_TEST_T))
                if compensated:
                    argv += ("--compensate-delay",)
                if potential != "one":
                    argv += ("--initial-potential", potential)
                suffix = ("_compensated" if compensated else "") + ("_half" if potential == "half" else "")
                output = RunFolder(folder).chip_results(reset, 1, compensated, potential)
                steps.append(Step(f"loihi-{reset}-delay1{suffix}", argv, benchmarked(output),
                                  progress=partial_progress(output)))
        output = headline_output(folder)
        headline = Step("loihi-headline-all-images", (
            "-m", "loihi_sim.benchmark", "--checkpoint-dir", str(folder), "--threads", "{threads}",
            "--reset", "soft-feedback", "--delay", "1", "--compensate-delay", "--initial-potential", "half",
            "--n-timestep", *map(str, CHIP_HEADLINE_T), "--output", str(output)),
            benchmarked(output, CHIP_HEADLINE_T), progress=partial_progress(output))
        steps.insert(1, headline)  # before seed 0's long emulations
        runs.append(Run(f"chip-rowwise-seed{seed}", "chip", folder, tuple(steps),
                        after=f"rowwise-ModifiedLSTMCell-seed{seed}"))
    return runs


# beyond the paper, pixel-wise seed 0 on the chip (soft-feedback, delay compensated, so that its spike counts
# are the simulation's, whose accuracy RESULTS.md has on all images): the energy per inference with
# V0 = theta / 2 at the T where it first matches the paper's accuracy, and with the paper's V0 = 1 at the
# paper's T = 1024; 784-step emulations are slow (about 25 s per image at T = 1024 on one core), so on
# the first images only
PIXELWISE_CHIP = (("half", (16, 32), 500), ("one", (1024,), 20))  # (initial potential, T, images)


def pixelwise_chip_run(seed: int = 0) -> Run:
    """The chip benchmarks of PIXELWISE_CHIP on one pixel-wise ModifiedLSTMCell (the grid's: seed 0)."""
    folder = seqmnist_folder("pixelwise", "ModifiedLSTMCell", seed)
    steps = []
    for potential, timesteps, images in PIXELWISE_CHIP:
        output = RunFolder(folder).chip_results("soft-feedback", 1, True, potential)
        steps.append(Step(f"loihi-soft-feedback-delay1_compensated{'_half' if potential == 'half' else ''}", (
            "-m", "loihi_sim.benchmark", "--checkpoint-dir", str(folder), "--threads", "{threads}",
            "--reset", "soft-feedback", "--delay", "1", "--compensate-delay", "--initial-potential", potential,
            "--n-timestep", *map(str, timesteps), "--test-subset", str(images)),
            benchmarked(output, timesteps, images), progress=partial_progress(output)))
    return Run(f"chip-pixelwise-seed{seed}", "chip", folder, tuple(steps), after=f"pixelwise-ModifiedLSTMCell-seed{seed}")


def translation_save_dir(corpus: str, cell: str) -> Path:
    """fairseq's checkpoints of one cell type (scratch, out of git)."""
    return DEEN_CHECKPOINTS / f"{corpus}-{cell}-seed{DEEN_SEED}"


def translation_folder(corpus: str, cell: str) -> Path:
    """The run folder of one cell type: its logs, and the model as shipped (reproduce.ship_translation)."""
    return TRANSLATION / f"{corpus}-{cell}-seed{DEEN_SEED}"


def shipped_model(corpus: str, cell: str) -> Path:
    """The shipped model (the converted one for the modified cell), on which every BLEU is measured."""
    return translation_folder(corpus, cell) / SHIPPED_MODEL


def translation_bleu_results(corpus: str, initial_potential: str = DEFAULT_INITIAL_POTENTIAL,
                             complement: bool = False) -> Path:
    return bleu_results_path(TRANSLATION, corpus, initial_potential, complement)


def fairseq_train(binary: Path, lr: str, epochs: int, save_dir: Path, cell: str, cell_options: tuple = (),
                  save_options: tuple = ()) -> tuple:
    """The paper's fairseq-train recipe (adagrad at the rates lr, clip 5, batch 64, seed DEEN_SEED, CPU) for cell."""
    return ("-m", "fairseq_cli.train", str(binary), "--lr", lr, "--clip-norm", "5",
            "--criterion", "cross_entropy", "--lr-scheduler", "custom_scheduler", "--optimizer", "custom_adagrad",
            "--user-dir", "fairseq_custom_modules", "--max-epoch", str(epochs), "--save-dir", str(save_dir),
            "--arch", "custom_baseline_iwslt", "--cell-type", cell, *cell_options, "--batch-size", "64",
            "--seed", str(DEEN_SEED), "--cpu", "--no-progress-bar", "--log-interval", "50", "--no-epoch-checkpoints",
            *save_options)


def translation_run(corpus: str = "debian", epochs: int = DEEN_EPOCHS) -> Run:
    """Prepare the corpus, train both cell types, convert the modified one, write both as shipped,
    BLEU vs T. The grid runs corpus "debian" (offline, not IWSLT14); "iwslt14" with the paper's
    15 epochs is the same run for users with internet."""
    data = Path(f"data/{corpus}.tokenized.de-en")
    binary = data / "bin"
    steps = [Step("prepare", ("prepare_deen.py", corpus, "--out", str(data)), exists(binary / "dict.de.txt"))]
    saves = {cell: translation_save_dir(corpus, cell) for cell in ("modified", "default")}
    for cell, save_dir in saves.items():
        log = translation_folder(corpus, cell) / "train.log"
        steps.append(Step(f"train-{cell}", fairseq_train(binary, "0.2,0.02", epochs, save_dir, cell,
                                                         ("--init-type", "orthogonal")),
                          log_contains(log, f"end of epoch {epochs} "), log))
    converted = saves["modified"] / "checkpoint_best_modified.pt"
    shipped = {cell: shipped_model(corpus, cell) for cell in saves}
    steps.append(Step("convert", ("modify_checkpoint_iwslt.py", "--src-path", str(saves["modified"] / "checkpoint_best.pt"),
                                  "--des-path", str(converted)),
                      either(exists(converted), exists(shipped["modified"])),  # the scratch checkpoint stays out of git
                      translation_folder(corpus, "modified") / "convert.log"))
    for cell, source in (("default", saves["default"] / "checkpoint_best.pt"), ("modified", converted)):
        steps.append(Step(f"ship-{cell}", ("-m", "reproduce.ship_translation", "--checkpoint", str(source),
                                           "--data", str(data), "--output", str(shipped[cell].parent)),
                          exists(shipped[cell]), translation_folder(corpus, cell) / "ship.log"))
    bleu = translation_bleu_results(corpus)
    steps.append(Step("bleu", ("bleu_vs_timesteps.py", "--data", str(binary), "--converted", str(shipped["modified"]),
                               "--default-checkpoint", str(shipped["default"]),
                               "--n-timestep", *map(str, DEEN_T), "--threads", "{threads}", "--output", str(bleu)),
                      exists(bleu), bleu.with_suffix(".log"), partial_progress(bleu)))
    return Run(f"translation-{corpus}", "translation", TRANSLATION, tuple(steps))


def translation_half_run(corpus: str = "debian") -> Run:
    """BLEU vs T of the shipped converted model of translation_run with V0 = theta / 2."""
    binary = Path(f"data/{corpus}.tokenized.de-en") / "bin"
    bleu = translation_bleu_results(corpus, "half")
    step = Step("bleu-half", ("bleu_vs_timesteps.py", "--data", str(binary), "--converted", str(shipped_model(corpus, "modified")),
                              "--n-timestep", *map(str, DEEN_HALF_T), "--initial-potential", "half",
                              "--threads", "{threads}", "--output", str(bleu)),
                exists(bleu), bleu.with_suffix(".log"), partial_progress(bleu))
    return Run(f"translation-{corpus}-half", "translation", TRANSLATION, (step,), after=f"translation-{corpus}")


def translation_complement_run(corpus: str = "debian") -> Run:
    """The shipped converted model of translation_run at DEEN_COMPLEMENT_T, once per initial potential."""
    binary = Path(f"data/{corpus}.tokenized.de-en") / "bin"
    steps = []
    for potential, timesteps in DEEN_COMPLEMENT_T.items():
        bleu = translation_bleu_results(corpus, potential, complement=True)
        argv = ("bleu_vs_timesteps.py", "--data", str(binary), "--converted", str(shipped_model(corpus, "modified")),
                "--n-timestep", *map(str, timesteps))
        if potential != "one":
            argv += ("--initial-potential", potential)
        steps.append(Step("bleu" + ("" if potential == "one" else f"-{potential}") + "-complement",
                          argv + ("--threads", "{threads}", "--output", str(bleu)), exists(bleu), bleu.with_suffix(".log"),
                          partial_progress(bleu)))
    return Run(f"translation-{corpus}-complement", "translation", TRANSLATION, tuple(steps),
               after=f"translation-{corpus}")


def translation_finetune_name(corpus: str) -> str:
    return f"{corpus}-finetune-T{DEEN_FINETUNE['timesteps']}"


def translation_finetune_bleu(corpus: str) -> Path:
    """The BLEU results of the fine-tuned model's hybrid (V0 = theta / 2)."""
    return translation_bleu_results(translation_finetune_name(corpus), FINETUNE_POTENTIAL)


def translation_finetune_run(corpus: str = "debian") -> Run:
    """Fine-tune the shipped modified model through its hybrid (DEEN_FINETUNE; resumable every 100 updates),
    convert and ship it, BLEU at T <= 16 with V0 = theta / 2."""
    data, t = Path(f"data/{corpus}.tokenized.de-en"), DEEN_FINETUNE["timesteps"]
    name, potential = translation_finetune_name(corpus), FINETUNE_POTENTIAL
    save_dir, folder = DEEN_CHECKPOINTS / f"{name}-seed{DEEN_SEED}", TRANSLATION / f"{name}-seed{DEEN_SEED}"
    converted, shipped, bleu = save_dir / "checkpoint_best_modified.pt", folder / SHIPPED_MODEL, \
        translation_finetune_bleu(corpus)
    steps = (Step("finetune", fairseq_train(
        data / "bin", DEEN_FINETUNE["lr"], DEEN_FINETUNE["epochs"], save_dir, "modified",
        ("--finetune-from-model", str(shipped_model(corpus, "modified")), "--finetune-timesteps", str(t),
         "--hybrid-initial-potential", potential), ("--save-interval-updates", "100", "--keep-interval-updates", "1")),
        log_contains(folder / "train.log", f"end of epoch {DEEN_FINETUNE['epochs']} "), folder / "train.log"),
        Step("convert", ("modify_checkpoint_iwslt.py", "--src-path", str(save_dir / "checkpoint_best.pt"),
                         "--des-path", str(converted)), either(exists(converted), exists(shipped)), folder / "convert.log"),
        Step("ship", ("-m", "reproduce.ship_translation", "--checkpoint", str(converted), "--data", str(data),
                      "--output", str(folder)), exists(shipped), folder / "ship.log"),
        Step("bleu", ("bleu_vs_timesteps.py", "--data", str(data / "bin"), "--converted", str(shipped), "--n-timestep",
                      *map(str, DEEN_FINETUNE["test_t"]), "--initial-potential", potential, "--threads", "{threads}",
                      "--output", str(bleu)), exists(bleu), bleu.with_suffix(".log"), partial_progress(bleu)))
    return Run(f"translation-{name}", "translation", TRANSLATION, steps, after=f"translation-{corpus}")


def experiment_grid() -> list:
    """All runs, longest first (so that --jobs 2 keeps both workers busy to the end)."""
    pixelwise = [seqmnist_run("pixelwise", cell, seed, PIXELWISE_EPOCHS, PIXELWISE_T, INITIAL_POTENTIALS, PIXELWISE_LOW_T)
                 for cell in CELLS for seed in PIXELWISE_SEEDS[cell]]
    runs = sorted(pixelwise, key=lambda run: run.steps[0].done())  # untrained first: training is the longest step
    runs += [lowest_t_run("rowwise", seed) for seed in ROWWISE_SEEDS["ModifiedLSTMCell"]]
    runs += finetune_runs("rowwise") + finetune_runs("rowwise", FINETUNE_LONGER)  # minutes each
    runs += [recipe_diagnostic_run(variant) for variant in RECIPE_DIAGNOSTICS] + [example_run()]
    runs += [lowest_t_run("pixelwise", seed) for seed in PIXELWISE_SEEDS["ModifiedLSTMCell"]]
    runs += [per_population_run(seed) for seed in PIXELWISE_SEEDS["ModifiedLSTMCell"]]
    runs += finetune_runs("pixelwise")
    runs += [seqmnist_run("rowwise", cell, seed, ROWWISE_EPOCHS, ROWWISE_TEST_T, INITIAL_POTENTIALS)
             for cell in CELLS for seed in ROWWISE_SEEDS[cell]]
    runs += chip_runs() + [pixelwise_chip_run()]
    runs += [translation_run(), translation_half_run(), translation_complement_run(), translation_finetune_run()]
    return runs


GROUPS = ("rowwise", "pixelwise", "finetune", "chip", "translation", "examples")
