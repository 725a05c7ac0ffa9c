"""prepare_deen.py on tiny fixtures: the IWSLT14 recipe from a fake archive (the download
replaced by a local file), and the Debian sources' aligners on hand-written pages."""
import io
import shutil
import tarfile

import pytest

pytest.importorskip("fairseq")
pytest.importorskip("sacremoses")
pytest.importorskip("subword_nmt")

import prepare_deen  # noqa: E402

GERMAN = ["Das ist ein Haus .", "Es ist nicht gross .", "Wir gehen nach Hause .", "Der Hund schlaeft ."]
ENGLISH = ["That's a house .", "It is \"not\" big .", "We go home .", "The dog sleeps ."]


def fake_iwslt_archive(path, pairs: int = 50):
    """de-en.tgz with the layout of fairseq's IWSLT14 archive: tagged training text and the
    five evaluation sets as XML (two segments each)."""
    members = {}
    for lang, sentences in (("de", GERMAN), ("en", ENGLISH)):
        lines = ["<url>http://www.ted.com/talks/x</url>", "<talkid>1</talkid>", "<title>Ein Titel</title>"
                 if lang == "de" else "<title>A title</title>"]
        lines += [sentences[index % 4] for index in range(pairs)]
        lines += ["eins zwei drei vier" if lang == "de" else "one"]  # length ratio 4: cleaned away
        members[f"de-en/train.tags.de-en.{lang}"] = "\n".join(lines) + "\n"
        for name in prepare_deen.IWSLT14_TEST_SETS:
            segments = "".join(f'<seg id="{i + 1}"> {sentences[i]} </seg>\n' for i in range(2))
            members[f"de-en/{name}.de-en.{lang}.xml"] = f"<refset><doc docid=\"1\">\n{segments}</doc></refset>\n"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_iwslt14_recipe_on_a_fake_archive(tmp_path, monkeypatch, capsys):
    archive = tmp_path / "fixture.tgz"
    fake_iwslt_archive(archive)
    monkeypatch.setattr(prepare_deen.urllib.request, "urlretrieve",
                        lambda url, destination: shutil.copy(archive, destination))
    out = tmp_path / "iwslt"
    assert prepare_deen.main(["iwslt14", "--out", str(out)]) == 0
    # 51 training lines + 1 title, one pair cleaned away (ratio 4 > 1.5): 51 pairs; every 23rd is valid
    train_en = (out / "tok/train.en").read_text().splitlines()
    valid_en = (out / "tok/valid.en").read_text().splitlines()
    assert (len(train_en), len(valid_en)) == (48, 3)
    assert valid_en == ["a title", "we go home .", "it is &quot; not &quot; big ."]  # pairs 0, 23, 46
    assert "that &apos;s a house ." in train_en and not any("<" in line for line in train_en)
    test_de = (out / "tok/test.de").read_text().splitlines()
    assert test_de == ["das ist ein haus .", "es ist nicht gross ."] * 5
    for name in ("dict.de.txt", "dict.en.txt", "train.de-en.de.bin", "test.de-en.en.idx"):
        assert (out / "bin" / name).is_file()
    assert '"train": 48' in capsys.readouterr().out
    assert prepare_deen.main(["iwslt14", "--out", str(out)]) == 2  # never overwrites a prepared corpus


def test_iwslt14_offline_fails_in_one_line(tmp_path, monkeypatch, capsys):
    def refuse(url, destination):
        raise OSError("no network")

    monkeypatch.setattr(prepare_deen.urllib.request, "urlretrieve", refuse)
    assert prepare_deen.main(["iwslt14", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "cannot download" in err and "prepare_deen.py debian" in err and err.count("\n") == 1
    assert not (tmp_path / "x" / "bin").exists()


def test_help_pages_are_aligned_by_page_and_element_id(tmp_path):
    for lang, first, second in (("en-US", "Open a file.", "Save it <b>now</b>."),
                                ("de", "Eine Datei öffnen.", "Jetzt <b>speichern</b>.")):
        page = tmp_path / lang / "text/page.html"
        page.parent.mkdir(parents=True)
        page.write_text(f'<html><p id="par_id1">{first}</p><div id="other">x</div>'
                        f'<h1 id="hd_id2">{second}</h1><p id="par_id3">{"only here" if lang == "de" else ""}</p>')
    (tmp_path / "en-US/text/alone.html").write_text('<p id="par_id1">No German page.</p>')
    assert prepare_deen.help_pairs(tmp_path) == [("Jetzt speichern.", "Save it now."),
                                                 ("Eine Datei öffnen.", "Open a file.")]


def test_dictionary_examples_are_whole_sentences(tmp_path):
    path = tmp_path / "de-en"
    path.write_text("# comment\n"
                    "Haus {n} | Das Haus ist alt. :: house | The house is very old.\n"
                    "Wir gehen [ugs.]. :: We are going home {v}.; We go home.\n"
                    "Ja. :: Yes, it is.\n"
                    "kurz :: short\n")
    assert prepare_deen.dictionary_pairs(path) == [("Das Haus ist alt.", "The house is very old."),
                                                   ("Wir gehen .", "We are going home .")]
