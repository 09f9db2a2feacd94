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
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "evaluate.py"),
            "--model_path",
            "models/none",
            "--test_data",
            str(test_data),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "rows, message",
    [
        (lambda img: [record(img), {"image": str(img), "plan": PLAN}], ":2: missing key 'task'"),
        (lambda img: [record(img), "{not json"], ":2: not valid JSON"),
        (lambda img: [record(img.parent / "broken.png")], ":1: cannot read image"),
        (lambda img: [record(img), record(img.parent / "gone.png")], ":2: image not found"),
    ],
)
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
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "evaluate.py"),
            "--model_path",
            "outputs/sft/final",
            "./outputs/grpo/fnal",
            "--test_data",
            str(test_data),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("evaluate.py: error: ./outputs/grpo/fnal: model directory not found")
    assert not (tmp_path / "results").exists()  # nothing evaluated, nothing written


def test_blank_images_hand_the_model_a_uniform_picture_of_the_same_size(tmp_path, monkeypatch):
    import harp.models.generate as generate
    from harp.eval.evaluate import generate_for_records

    picture = tmp_path / "scene.png"
    image = Image.new("RGB", (48, 32), "white")
    image.paste((200, 20, 20), (0, 0, 24, 32))
    image.save(picture)
    seen = []

    def fake_generate_plans(model, processor, images, tasks, domain, **kwargs):
        seen.extend(images)
        return [["Pick(Apple)"] for _ in images]

    monkeypatch.setattr(generate, "generate_plans", fake_generate_plans)
    for blank in (False, True):
        generate_for_records(None, None, [record(picture)], None, batch_size=1, max_new_tokens=8, blank_images=blank)
    as_is, blank = seen
    assert len(as_is.getcolors()) == 2 and blank.size == as_is.size
    assert len(blank.getcolors()) == 1  # one colour: nothing of the scene is left


def test_blank_images_flag_is_accepted_by_the_guide_script():
    import argparse

    from harp.eval.cli import add_evaluate_arguments

    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    args = parser.parse_args(["--model_path", "m", "--test_data", "t.jsonl", "--blank_images"])
    assert args.blank_images and not parser.parse_args(["--model_path", "m", "--test_data", "t"]).blank_images


def test_a_model_trained_through_the_grammar_is_said_to_need_it_when_decoded_freely(tmp_path, capsys):
    from harp.eval.cli import note_grammar_training

    for name, flag in (("grammar", "true"), ("free", "false")):
        (tmp_path / name / "final").mkdir(parents=True)
        (tmp_path / name / "harp_config.yaml").write_text(f"training:\n  constrained_sampling: {flag}\n")
    paths = [str(tmp_path / "grammar" / "final"), str(tmp_path / "free" / "final"), "Qwen/Qwen2.5-VL-7B-Instruct"]
    note_grammar_training(paths, constrained=False)
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "grammar/final was trained sampling through the plan grammar" in err
    note_grammar_training(paths, constrained=True)
    assert capsys.readouterr().err == ""
