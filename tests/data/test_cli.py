"""`harp data build|split|contact-sheet` and the guide's `python data_build.py --source synthetic`."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harp.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_harp_data_build_then_split(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["data", "build", "--source", "synthetic", "--num-scenes", "12", "--seed", "5", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "scenes: 12" in out and "source not named" in out
    assert len(list((tmp_path / "bdv2" / "synthetic").glob("*_0.png"))) == 12
    first = json.loads((tmp_path / "actions.jsonl").read_text().splitlines()[0])
    assert first["image"] == "./bdv2/synthetic/scene_00000_0.png" and Path(first["image"]).is_file()

    assert main(["data", "split"]) == 0
    assert capsys.readouterr().out.strip() == "Train: 9, Val: 1, Test: 2"
    assert (
        sum(len((tmp_path / "data" / f"sft_{n}.jsonl").read_text().splitlines()) for n in ("train", "val", "test"))
        == 12
    )


def test_split_without_actions_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["data", "split"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "actions.jsonl: file not found" in err[0]


def test_contact_sheet(tmp_path, capsys):
    from PIL import Image

    assert main(["data", "contact-sheet", "--out", str(tmp_path / "sheet.png"), "--count", "4"]) == 0
    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.width > 4 * 224 and sheet.height > 224


def test_data_build_script_synthetic(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "data_build.py"), "--source", "synthetic", "--num-scenes", "3", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "actions.jsonl").read_text().splitlines()) == 3
    assert (tmp_path / "processed" / "processed_images.txt").read_text().count("_0.png") == 3


def test_label_noise_kinds_from_the_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [
        "data",
        "build",
        "--source",
        "synthetic",
        "--num-scenes",
        "40",
        "--quiet",
        "--label-noise",
        "1",
        "--label-noise-kinds",
        "wrong_table",
    ]
    assert main(argv) == 0
    assert re.search(r"label noise: \d+ plans \(wrong_table \d+\)", capsys.readouterr().out)
    with pytest.raises(SystemExit):
        main(argv[:-1] + ["wrong_tabel"])
    assert "invalid choice: 'wrong_tabel'" in capsys.readouterr().err


def test_a_synthetic_flag_with_the_teacher_source_is_refused_naming_it(tmp_path, capsys):
    """Given to the teacher source, --language or --seed would do nothing, silently."""
    code = main(["data", "build", "--language", "varied", "--seed", "3", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0 and "--seed, --language: only with --source synthetic" in err
    assert not (tmp_path / "actions.jsonl").exists()
