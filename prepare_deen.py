"""German -> English data for the translation experiments, tokenised, BPE'd and binarised.

    python prepare_deen.py iwslt14 --out data/iwslt14.tokenized.de-en    # needs internet
    python prepare_deen.py debian  --out data/debian.tokenized.de-en     # apt-get download only

Both follow fairseq's examples/translation/prepare-iwslt14.sh recipe, with PyPI's
sacremoses and subword-nmt in place of the git clones of mosesdecoder and subword-nmt:
Moses tokenisation (de / en, with Moses' escaping of &apos; &quot; &amp; ...), lowercasing, cleaning of the training pairs
(1..175 tokens per side, length ratio <= 1.5), joint BPE with 10,000 merges learnt on the
training text, then fairseq-preprocess into OUT/bin.

iwslt14: fairseq's IWSLT14 de-en archive; valid = every 23rd training pair, test =
dev2010 + tst2010 + tst2011 + tst2012 + TEDX.dev2012 (as prepare-iwslt14.sh).
debian (for machines that reach only package registries; docs/data.md): the paragraphs
of the LibreOffice help in both languages, aligned by (page, element id), and the whole-
sentence examples of the Ding dictionary (trans-de-en). Deterministic: pairs sorted,
de-duplicated, shuffled with a fixed seed, 2,000 valid and 2,000 test pairs; counts written
to OUT/counts.json. NOT comparable with IWSLT14 (other domain, about a third of its size).
"""
import argparse
import html.parser
import json
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from hybrid_lstm.runs.cli import positive_int

IWSLT14_URL = "http://dl.fbaipublicfiles.com/fairseq/data/iwslt14/de-en.tgz"
IWSLT14_TEST_SETS = ["IWSLT14.TED.dev2010", "IWSLT14.TEDX.dev2012", "IWSLT14.TED.tst2010", "IWSLT14.TED.tst2011",
                     "IWSLT14.TED.tst2012"]
DEBIAN_PACKAGES = ["libreoffice-help-en-us", "libreoffice-help-de", "trans-de-en"]
BPE_MERGES = 10000
MAX_TOKENS, MAX_RATIO = 175, 1.5
SPLIT_SEED, HELD_OUT = 1, 2000
ALIGNED_ID = re.compile(r"^(par|hd|bm)_id")


class PreparationError(Exception):
    pass


# ---------------------------------------------------------------- text processing (both sources)

def tokenise(lines, lang: str):
    """Moses tokenisation with escaping (&apos; &quot; &amp; ..., as fairseq's prepare-iwslt14.sh), then lowercasing."""
    from sacremoses import MosesTokenizer

    tokenizer = MosesTokenizer(lang=lang)
    return [tokenizer.tokenize(line, escape=True, return_str=True).lower() for line in lines]


def clean(pairs, max_tokens: int = MAX_TOKENS, max_ratio: float = MAX_RATIO):
    """clean-corpus-n.perl: keep pairs with 1..max_tokens tokens per side and a length ratio <= max_ratio."""
    kept = []
    for de, en in pairs:
        n_de, n_en = len(de.split()), len(en.split())
        if 1 <= n_de <= max_tokens and 1 <= n_en <= max_tokens and max(n_de, n_en) <= max_ratio * min(n_de, n_en):
            kept.append((de, en))
    return kept


def write_splits(out: Path, splits: dict):
    """splits: {name: [(de, en)]} -> OUT/tok/NAME.de, NAME.en."""
    (out / "tok").mkdir(parents=True, exist_ok=True)
    for name, pairs in splits.items():
        for index, lang in enumerate(("de", "en")):
            (out / "tok" / f"{name}.{lang}").write_text("".join(pair[index] + "\n" for pair in pairs))


def bpe_and_binarise(out: Path, merges: int = BPE_MERGES, workers: int = 1):
    """Joint BPE learnt on tok/train.{de,en}, applied to every split, then fairseq-preprocess."""
    from subword_nmt.apply_bpe import BPE
    from subword_nmt.learn_bpe import learn_bpe

    tok, bpe_dir = out / "tok", out / "bpe"
    bpe_dir.mkdir(exist_ok=True)
    codes = out / "code"
    with open(codes, "w") as handle:
        joint = (tok / "train.de").read_text() + (tok / "train.en").read_text()
        learn_bpe(joint.splitlines(keepends=True), handle, merges)
    with open(codes) as handle:
        bpe = BPE(handle)
    for path in sorted(tok.glob("*.*")):
        lines = path.read_text().splitlines()
        (bpe_dir / path.name).write_text("".join(bpe.process_line(line) + "\n" for line in lines))
    command = [sys.executable, "-m", "fairseq_cli.preprocess", "--source-lang", "de", "--target-lang", "en",
               "--trainpref", str(bpe_dir / "train"), "--validpref", str(bpe_dir / "valid"),
               "--testpref", str(bpe_dir / "test"), "--destdir", str(out / "bin"), "--workers", str(workers)]
    subprocess.run(command, check=True)


# ---------------------------------------------------------------- IWSLT14 (online)

def iwslt_train_lines(text: str):
    """Training text of the archive without its XML metadata lines (prepare-iwslt14.sh)."""
    skip = ("<url", "<talkid", "<keywords", "<speaker", "<reviewer", "<translator", "<doc", "</doc")
    lines = []
    for line in text.splitlines():
        if line.lstrip().startswith(skip):
            continue
        line = re.sub(r"</?(title|description)>", "", line).strip()
        lines.append(line)
    return lines


def iwslt_segments(xml: str):
    """The <seg id=...> texts of an IWSLT evaluation file."""
    return [match.strip() for match in re.findall(r"<seg id=\"?\d+\"?>(.*?)</seg>", xml)]


def prepare_iwslt14(out: Path, workers: int):
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "de-en.tgz"
        try:
            urllib.request.urlretrieve(IWSLT14_URL, archive)
        except OSError as error:
            raise PreparationError(f"cannot download {IWSLT14_URL} ({error}); offline, use: prepare_deen.py debian")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        root = Path(tmp) / "de-en"
        train = list(zip(*(tokenise(iwslt_train_lines((root / f"train.tags.de-en.{lang}").read_text()), lang)
                           for lang in ("de", "en"))))
        train = clean(train)
        valid = train[::23]
        train = [pair for index, pair in enumerate(train) if index % 23]
        test = []
        for name in IWSLT14_TEST_SETS:
            sides = [tokenise(iwslt_segments((root / f"{name}.de-en.{lang}.xml").read_text()), lang)
                     for lang in ("de", "en")]
            test += list(zip(*sides))
    write_splits(out, {"train": train, "valid": valid, "test": test})
    return {"train": len(train), "valid": len(valid), "test": len(test)}


# ---------------------------------------------------------------- Debian packages (offline)

class AlignedParagraphs(html.parser.HTMLParser):
    """Text of every element whose id starts with par_id / hd_id / bm_id (outermost only)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts, self._id, self._depth, self._parts = {}, None, 0, []

    def handle_starttag(self, tag, attrs):
        if self._id is not None:
            self._depth += 1
            return
        element_id = dict(attrs).get("id") or ""
        if ALIGNED_ID.match(element_id):
            self._id, self._depth, self._parts = element_id, 1, []

    def handle_endtag(self, tag):
        if self._id is None:
            return
        self._depth -= 1
        if self._depth == 0:
            text = " ".join("".join(self._parts).split())
            if text:
                self.texts.setdefault(self._id, text)
            self._id = None

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_data(self, data):
        if self._id is not None:
            self._parts.append(data)


def help_pairs(help_root: Path):
    """(de, en) paragraph pairs of the LibreOffice help, aligned by (page, element id)."""
    pairs = []
    english, german = help_root / "en-US", help_root / "de"
    for page in sorted(english.rglob("*.html")):
        other = german / page.relative_to(english)
        if not other.is_file():
            continue
        texts = []
        for path in (other, page):
            parser = AlignedParagraphs()
            parser.feed(path.read_text(errors="replace"))
            texts.append(parser.texts)
        pairs += [(texts[0][key], texts[1][key]) for key in sorted(texts[0].keys() & texts[1].keys())]
    return pairs


def _sentence(text: str) -> str:
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text.split(";")[0])
    return " ".join(text.split())


def dictionary_pairs(dictionary: Path):
    """Whole-sentence (de, en) examples of the Ding dictionary: aligned sub-entries, capitalised,
    ending in . ? or !, at least 4 English words, annotations removed, first alternative."""
    pairs = []
    for line in dictionary.read_text(errors="replace").splitlines():
        if line.startswith("#") or " :: " not in line:
            continue
        german, english = line.split(" :: ", 1)
        for de, en in zip(german.split(" | "), english.split(" | ")):
            de, en = _sentence(de), _sentence(en)
            if all(s[:1].isupper() and s[-1:] in ".?!" for s in (de, en)) and len(en.split()) >= 4:
                pairs.append((de, en))
    return pairs


def download(package: str, directory: Path) -> Path:
    try:
        subprocess.run(["apt-get", "download", package], cwd=directory, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise PreparationError(f"apt-get download {package} failed ({error}); run apt-get update first")
    return next(directory.glob(f"{package}_*.deb"))


def fetch_debian(directory: Path) -> Path:
    """apt-get download the packages into directory (once: a cached .deb that does not unpack
    is fetched again) and unpack them; returns the unpacked root."""
    root = directory / "root"
    for package in DEBIAN_PACKAGES:
        cached = sorted(directory.glob(f"{package}_*.deb"))
        deb = cached[-1] if cached else download(package, directory)
        for attempt in ("cached", "fresh"):
            unpacked = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True)
            if unpacked.returncode == 0:
                break
            deb.unlink()
            if attempt == "fresh" or not cached:
                raise PreparationError(f"{deb.name} does not unpack: {unpacked.stderr.strip().splitlines()[-1:]}")
            deb = download(package, directory)
    return root


def prepare_debian(out: Path, workers: int, package_dir: Path):
    if package_dir.exists() and not package_dir.is_dir():
        raise PreparationError(f"--package-dir {package_dir} is a file, not a folder")
    package_dir.mkdir(parents=True, exist_ok=True)
    root = fetch_debian(package_dir)
    raw = {"libreoffice_help": help_pairs(root / "usr/share/libreoffice/help"),
           "ding_dictionary": dictionary_pairs(root / "usr/share/trans/de-en")}
    pairs = sorted({(de, en) for source in raw.values() for de, en in source if de != en})
    random.Random(SPLIT_SEED).shuffle(pairs)
    tokenised = list(zip(tokenise([p[0] for p in pairs], "de"), tokenise([p[1] for p in pairs], "en")))
    test, valid, train = tokenised[:HELD_OUT], tokenised[HELD_OUT: 2 * HELD_OUT], clean(tokenised[2 * HELD_OUT:])
    write_splits(out, {"train": train, "valid": valid, "test": test})
    return {"raw_pairs": {name: len(source) for name, source in raw.items()}, "distinct_pairs": len(pairs),
            "train": len(train), "valid": len(valid), "test": len(test)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", choices=("iwslt14", "debian"))
    parser.add_argument("--out", required=True, help="output folder (tok/, bpe/, code, bin/, counts.json)")
    parser.add_argument("--package-dir", default="data/debian-packages", help="debian: where the .deb files go")
    parser.add_argument("--workers", type=positive_int, default=1, help="fairseq-preprocess workers")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if (out / "bin").exists():
        print(f"prepare_deen.py: error: {out / 'bin'} exists; remove it to rebuild", file=sys.stderr)
        return 2
    try:
        if args.source == "iwslt14":
            counts = prepare_iwslt14(out, args.workers)
        else:
            counts = prepare_debian(out, args.workers, Path(args.package_dir))
        bpe_and_binarise(out, workers=args.workers)
    except PreparationError as error:
        shutil.rmtree(out / "bin", ignore_errors=True)
        print(f"prepare_deen.py: error: {error}", file=sys.stderr)
        return 2
    counts["command"] = " ".join(["prepare_deen.py", *(sys.argv[1:] if argv is None else argv)])
    (out / "counts.json").write_text(json.dumps(counts, indent=2) + "\n")
    print(json.dumps(counts, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
