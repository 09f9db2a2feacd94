"""scripts/evaluate.py: one-line errors naming the line; side-by-side files for several models."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from harp.eval.evaluate import evaluate, format_table, model_label
from harp.eval.metrics import GUIDE_KEYS

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


@pytest.mark.slow
def test_several_models_side_by_side(tmp_path, image, tiny_model_dir):
    scene = {"robot": "start", "locations": ["white table", "basket"], "objects": {"apple": "white table"},
             "goal": {"apple": "basket"}}
    test_data = write_jsonl(tmp_path / "sft_test.jsonl", [record(image, scene=scene), record(image)])
    output = tmp_path / "results" / "evaluation.json"
    results = evaluate([str(tiny_model_dir), str(tiny_model_dir)], test_data, output, batch_size=2,
                       constrained=True, max_new_tokens=12, runs=str(tmp_path / "outputs" / "*" / "runs"), quiet=True)
    labels = ["tiny-qwen2.5-vl", "tiny-qwen2.5-vl+constrained", "tiny-qwen2.5-vl#2", "tiny-qwen2.5-vl+constrained#2"]
    assert list(results) == labels
    assert list(json.loads(output.read_text())) == list(GUIDE_KEYS)
    assert json.loads(output.read_text()) == results[labels[-1]]  # the primary: the last model's last run
    assert json.loads((tmp_path / "results" / "evaluation_side_by_side.json").read_text()) == results
    assert results[labels[1]]["format_accuracy"] == 1.0  # enforced
    assert results[labels[0]] == results[labels[2]]  # same model, greedy: same figures
    details = json.loads((tmp_path / "results" / "evaluation_details.json").read_text())
    assert [m["label"] for m in details["models"]] == labels
    assert {"exact_match", "step_f1", "by_error_type", "by_task_kind"} <= set(details["models"][0])
    rows = [json.loads(line) for line in (tmp_path / "results" / "predictions" / "tiny-qwen2.5-vl.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["hprm"]["error_type"] == rows[0]["error_type"]
    assert (tmp_path / "results" / "report.md").is_file()
    table = format_table(results)
    assert table.splitlines()[1].startswith("format_accuracy") and len(table.splitlines()) == 7
