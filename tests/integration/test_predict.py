"""`harp predict` and the Planner API on the embedded tiny model (random weights: we test the plumbing
and the verdicts, not the plan's quality)."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from harp.eval.predict import Planner, format_result

pytestmark = pytest.mark.slow

TASK = "Put the apple into the basket"
REFERENCE = "Navigate(White Table), Pick(Apple), Navigate(Basket), Place(Basket)"


@pytest.fixture(scope="module")
def planner(tiny_model_dir):
    return Planner.from_pretrained(tiny_model_dir, constrained=True, max_new_tokens=20)


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "scene_001_0.png"
    Image.new("RGB", (120, 90), "beige").save(path)
    return path


def test_planner_plans_an_image_path_with_the_grammar_enforced(planner, image_path):
    result = planner.plan(image_path, TASK)
    assert result.text and result.breakdown.format == 1.0  # constrained: always well formed
    assert result.steps and all("(" in step for step in result.steps)
    assert result.scene_source == "plan itself"
    assert set(result.to_dict()) >= {"plan", "steps", "valid", "completed", "failure", "hprm"}


def test_planner_check_judges_plans_against_a_reference(planner):
    good = planner.check(REFERENCE, TASK, reference=REFERENCE.split(", "))
    assert good.valid and good.completed and good.failure is None and good.breakdown.total == 1.0
    bad = planner.check("Navigate(Basket), Place(Basket)", TASK, reference=REFERENCE.split(", "))
    assert not bad.valid and not bad.completed and "the hand is empty" in bad.failure
    short = planner.check("Navigate(White Table), Pick(Apple)", TASK, reference=REFERENCE.split(", "))
    assert short.valid and not short.completed  # legal steps, goal not reached
    # without a scene, only self-consistency: valid, and completion is not claimed
    alone = planner.check("Navigate(White Table), Pick(Apple)", TASK)
    assert alone.valid and alone.completed is None
    printed = format_result(alone).splitlines()[2]
    assert printed.startswith("completed:  not checked") and "--scene" in printed and "yes" not in printed


def test_predict_with_a_scene_judges_invented_objects_and_refusals(planner):
    # The scene: no apple, no basket. A confident plan invents both; the refusal is right.
    scene = {
        "robot": "start",
        "locations": ["yellow table", "red table", "box"],
        "objects": {"book": "yellow table", "cup": "red table", "banana": "red table"},
        "goal": {"apple": "basket"},
        "missing": ["apple", "basket"],
    }
    invented = planner.check("Navigate(Yellow Table), Pick(Apple), Navigate(Basket), Place(Basket)", TASK, scene=scene)
    assert not invented.valid and not invented.completed and invented.breakdown.error_type == "hallucination"
    assert invented.failure.startswith("hallucination: step 2 Pick(Apple)")
    refusal = planner.check("Infeasible(Apple)", TASK, scene=scene)
    assert refusal.completed and refusal.breakdown.total == 1.0
    assert "completed:  yes" in format_result(refusal)
    feasible = {**scene, "objects": {"apple": "yellow table"}, "locations": ["yellow table", "basket"], "missing": []}
    wrong = planner.check("Infeasible(Apple)", TASK, scene=feasible)
    assert not wrong.completed and wrong.failure.startswith("refusal: the task can be done")
    assert "not checked" in format_result(planner.check("Infeasible(Apple)", TASK)).splitlines()[2]


def test_planner_check_uses_a_scene_when_given(planner):
    scene = {
        "robot": "start",
        "locations": ["white table", "basket"],
        "objects": {"apple": "white table"},
        "goal": {"apple": "basket"},
    }
    assert planner.check(REFERENCE, TASK, scene=scene).completed
    result = planner.check("Navigate(Basket), Pick(Apple)", TASK, scene=scene)
    assert not result.valid and result.scene_source == "scene"


def harp(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")  # the tiny model runs fastest on one thread
    return subprocess.run(
        [sys.executable, "-m", "harp.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_harp_predict_prints_plan_validity_and_breakdown(tiny_model_dir, image_path, tmp_path):
    done = harp(
        "predict",
        "--model_path",
        str(tiny_model_dir),
        "--image",
        str(image_path),
        "--task",
        TASK,
        "--reference",
        REFERENCE,
        "--constrained",
        "--max_new_tokens",
        "16",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("plan:") and lines[1].startswith("valid:") and lines[2].startswith("completed:")
    assert "goal from the reference" in lines[2]
    assert lines[3].startswith("H-PRM:") and "total=" in lines[3] and "efficiency=" in lines[3]
    assert any(line.strip().startswith("step 1:") for line in lines)

    done = harp(
        "predict",
        "--model_path",
        str(tiny_model_dir),
        "--image",
        str(image_path),
        "--task",
        TASK,
        "--constrained",
        "--max_new_tokens",
        "16",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["hprm"]["format"] == 1.0 and isinstance(result["valid"], bool)


def test_harp_predict_bad_image_is_one_line_error(tiny_model_dir, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    for name, message in [
        ("broken.png", "broken.png: cannot read image"),
        ("missing.png", "missing.png: image not found"),
    ]:
        done = harp("predict", "--model_path", str(tiny_model_dir), "--image", name, "--task", TASK, cwd=tmp_path)
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("harp predict: error: ") and message in lines[0]
