"""scripts/evaluate.py: a bad test file is a one-line error naming the line; model labels."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from harp.eval.evaluate import model_label

ROOT = Path(__file__).resolve().parents[2]
PLAN = ["Navigate(White Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"]


def record(image, **extra):
    return {"image": str(image), "task": "Put the apple into the basket", "plan": PLAN, **extra}


def write_jsonl(path, rows):
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "scene_001_0.png"
    Image.new("RGB", (64, 64), "white").save(path)
    return path


def run_script(tmp_path, test_data):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--model_path", "models/none",
                           "--test_data", str(test_data)], cwd=tmp_path, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("rows, message", [
    (lambda img: [record(img), {"image": str(img), "plan": PLAN}], ":2: missing key 'task'"),
    (lambda img: [record(img), "{not json"], ":2: not valid JSON"),
    (lambda img: [record(img.parent / "broken.png")], ":1: cannot read image"),
    (lambda img: [record(img), record(img.parent / "gone.png")], ":2: image not found"),
])
def test_bad_test_data_is_a_one_line_error_naming_the_line(tmp_path, image, rows, message):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG but not really")
    test_data = write_jsonl(tmp_path / "sft_test.jsonl", rows(image))
    done = run_script(tmp_path, test_data)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evaluate.py: error: ")
    assert f"sft_test.jsonl{message}" in lines[0]


def test_model_labels():
    assert model_label("outputs/sft/final") == "sft/final"
    assert model_label("outputs/grpo/checkpoint-40/") == "grpo/checkpoint-40"
    assert model_label("models/tiny-qwen2.5-vl") == "tiny-qwen2.5-vl"


def test_a_wrong_model_path_fails_before_any_model_runs(tmp_path, image):
    (tmp_path / "outputs" / "sft" / "final").mkdir(parents=True)
    (tmp_path / "outputs" / "sft" / "final" / "config.json").write_text("{}")  # looks like a model, never loaded
    test_data = write_jsonl(tmp_path / "sft_test.jsonl", [record(image)])
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--model_path", "outputs/sft/final",
                           "./outputs/grpo/fnal", "--test_data", str(test_data)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("evaluate.py: error: ./outputs/grpo/fnal: model directory not found")
    assert not (tmp_path / "results").exists()  # nothing evaluated, nothing written
