"""Evaluation on the embedded tiny model: constrained generation, several models side by side."""

import json

import pytest
from PIL import Image

from harp.eval.constrained import PlanGrammar
from harp.eval.evaluate import evaluate, format_table
from harp.eval.metrics import GUIDE_KEYS
from harp.plan import load_domain

pytestmark = pytest.mark.slow

ACTIONS = ["Navigate", "Pick", "Place"]
PLAN = ["Navigate(White Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"]


def record(image, **extra):
    return {"image": str(image), "task": "Put the apple into the basket", "plan": PLAN, **extra}


def test_tiny_model_generates_well_formed_plans_when_constrained(tiny_model_dir):
    """The random tiny model writes garbage on its own; constrained, every plan is well formed."""
    import torch

    from harp.eval.constrained import plan_logits_processor
    from harp.models.generate import generate_plans
    from harp.models.load import load_model_and_processor

    model, processor = load_model_and_processor(tiny_model_dir)
    domain = load_domain("navigate_pick_place")
    images = [Image.new("RGB", (96, 96), colour) for colour in ("red", "green", "blue")]
    tasks = ["Put the apple into the basket"] * 3
    kwargs = dict(max_new_tokens=24, do_sample=True, temperature=1.0, top_p=1.0, num_return_sequences=2, batch_size=3)
    torch.manual_seed(0)
    free = generate_plans(model, processor, images, tasks, domain, **kwargs)
    torch.manual_seed(0)
    constrained = generate_plans(
        model, processor, images, tasks, domain, logits_processor=plan_logits_processor(processor, domain, 24), **kwargs
    )
    grammar = PlanGrammar(ACTIONS)
    assert not all(grammar.accepts(text) for group in free for text in group)  # the check can fail
    assert all(grammar.accepts(text) for group in constrained for text in group), constrained


def test_several_models_side_by_side(tmp_path, tiny_model_dir):
    """Two models (the same one twice), free and constrained: four columns, the last one primary."""
    image = tmp_path / "scene_001_0.png"
    Image.new("RGB", (64, 64), "white").save(image)
    scene = {
        "robot": "start",
        "locations": ["white table", "basket"],
        "objects": {"apple": "white table"},
        "goal": {"apple": "basket"},
    }
    test_data = tmp_path / "sft_test.jsonl"
    test_data.write_text(json.dumps(record(image, scene=scene)) + "\n" + json.dumps(record(image)) + "\n")
    output = tmp_path / "results" / "evaluation.json"
    results = evaluate(
        [str(tiny_model_dir), str(tiny_model_dir)],
        test_data,
        output,
        batch_size=2,
        constrained=True,
        max_new_tokens=12,
        runs=str(tmp_path / "outputs" / "*" / "runs"),
        quiet=True,
    )
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
    rows = [
        json.loads(line)
        for line in (tmp_path / "results" / "predictions" / "tiny-qwen2.5-vl.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 2 and rows[0]["hprm"]["error_type"] == rows[0]["error_type"]
    assert (tmp_path / "results" / "report.md").is_file()
    table = format_table(results)
    assert table.splitlines()[1].startswith("format_accuracy") and len(table.splitlines()) == 7
