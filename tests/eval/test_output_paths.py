"""`harp evaluate` / scripts/evaluate.py and `harp negatives` / scripts/generate_negatives.py check
where they write before any model loads (issue 23, item 9): `.`, an empty path, a folder where a file
goes (or the reverse) and a path below a file are one line naming the flag, and nothing is written."""

import json
from pathlib import Path

import pytest
from PIL import Image

RECORD = {
    "image": "a_0.png",
    "task": "Put the apple into the basket",
    "plan": ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"],
}
BAD = {
    "dot": ".",
    "empty": "",
    "folder": "results",
    "below-a-file": "afile/evaluation.json",
    "predictions-is-a-file": "results/evaluation.json",
    "details-is-a-folder": "results/evaluation.json",
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (32, 32)).save("a_0.png")
    Path("test.jsonl").write_text(json.dumps(RECORD) + "\n")
    Path("afile").write_text("")
    Path("results").mkdir()
    return tmp_path


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("bad", BAD)
def test_evaluate_refuses_an_output_path_it_cannot_write_before_loading_a_model(workdir, capsys, bad):
    from harp.eval.cli import EVALUATE

    if bad == "predictions-is-a-file":
        Path("results/predictions").write_text("")
    if bad == "details-is-a-folder":
        Path("results/evaluation_details.json").mkdir()
    before = files(workdir)
    code = EVALUATE.main(
        "harp", ["--model_path", "no-such-model", "--test_data", "test.jsonl", "--output_path", BAD[bad]]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("harp: error: --output_path: ")
    assert files(workdir) == before


@pytest.mark.parametrize("bad", ["dot", "empty", "folder", "below-a-file"])
def test_negatives_refuse_an_output_path_they_cannot_write_before_loading_a_model(workdir, capsys, bad):
    from harp.negatives.cli import NEGATIVES

    before = files(workdir)
    code = NEGATIVES.main(
        "harp", ["--model_path", "no-such-model", "--data_path", "test.jsonl", "--output_path", BAD[bad]]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("harp: error: --output_path: ")
    assert files(workdir) == before
