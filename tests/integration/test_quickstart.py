"""The guide's 快速开始 block, run as written at tiny scale, in a fresh project folder.

Two swaps, both documented in the README: step 2 renders synthetic scenes instead of calling the
teacher (`python data_build.py --source synthetic ...` replaces the API-key line), and the guide's
two YAML files point at the embedded tiny model with a few steps (same keys, smaller values).
Step 1 (conda/pip) is the environment this test already runs in.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harp.eval.metrics import GUIDE_KEYS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# Steps 2-7 of the guide's 快速开始, verbatim except step 2's data source.
QUICKSTART = [
    "python data_build.py --source synthetic --num-scenes 10 --seed 0",
    '''python -c "
import json, random
from pathlib import Path
with open('actions.jsonl', 'r') as f:
    data = [json.loads(line) for line in f]
random.seed(42)
random.shuffle(data)
n = len(data)
train_end, val_end = int(0.8*n), int(0.9*n)
Path('data').mkdir(exist_ok=True)
for name, d in [('train', data[:train_end]), ('val', data[train_end:val_end]), ('test', data[val_end:])]:
    with open(f'data/sft_{name}.jsonl', 'w') as f:
        for item in d: f.write(json.dumps(item) + '\\n')
"''',
    "python scripts/train_sft.py --config configs/sft_config.yaml",
    """python scripts/generate_negatives.py \\
    --model_path outputs/sft/final \\
    --data_path data/sft_train.jsonl \\
    --output_path data/negative_samples.jsonl""",
    "python scripts/train_grpo.py --config configs/grpo_config.yaml",
    """python scripts/evaluate.py \\
    --model_path outputs/grpo/final \\
    --test_data data/sft_test.jsonl""",
]

# The guide's configs at tiny scale: same files and keys, the embedded model, a few steps.
SFT_TINY = {
    "model": {"name": "models/tiny-qwen2.5-vl"},
    "lora": {"rank": 8, "alpha": 16},
    "training": {
        "num_epochs": 1,
        "max_steps": 4,
        "per_device_train_batch_size": 2,
        "per_device_eval_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-3,
        "warmup_steps": 0,
        "logging_steps": 1,
        "save_steps": 1000,
        "eval_steps": 1000,
        "bf16": False,
        "report_to": ["tensorboard"],
    },
}
GRPO_TINY = {
    "model": {"base_model_name": "models/tiny-qwen2.5-vl"},
    "training": {
        "num_epochs": 1,
        "max_steps": 2,
        "num_candidates": 2,
        "max_new_tokens": 24,
        "warmup_steps": 0,
        "logging_steps": 1,
        "save_steps": 1000,
        "bf16": False,
        "report_to": ["tensorboard"],
    },
}


def merged(base: dict, overrides: dict) -> dict:
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(base.get(key, {}), value) if isinstance(value, dict) else value
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model_dir):
    """A fresh project folder: the guide's entry points, tiny configs, the embedded model."""
    folder = tmp_path_factory.mktemp("quickstart")
    (folder / "data_build.py").symlink_to(ROOT / "data_build.py")
    (folder / "scripts").symlink_to(ROOT / "scripts")
    (folder / "configs").mkdir()
    for name, tiny in [("sft_config.yaml", SFT_TINY), ("grpo_config.yaml", GRPO_TINY)]:
        guide = yaml.safe_load((ROOT / "configs" / name).read_text())
        (folder / "configs" / name).write_text(yaml.safe_dump(merged(guide, tiny), allow_unicode=True))
    (folder / "models").mkdir()
    (folder / "models" / "tiny-qwen2.5-vl").symlink_to(tiny_model_dir)
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        HF_HUB_OFFLINE="1",
        WANDB_MODE="disabled",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
    )
    logs = []
    for step, command in enumerate(QUICKSTART, start=2):
        done = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        logs.append(done)
        assert done.returncode == 0, f"step {step} failed: {command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return folder, logs


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_data_steps_write_the_guides_files(project):
    folder, logs = project
    assert len(lines(folder / "actions.jsonl")) == 10
    assert (folder / "tasks.jsonl").is_file() and (folder / "processed" / "processed_images.txt").is_file()
    sizes = [len(lines(folder / "data" / f"sft_{name}.jsonl")) for name in ("train", "val", "test")]
    assert sizes == [8, 1, 1]


def test_training_steps_write_the_guides_folders(project):
    folder, _ = project
    assert (folder / "outputs" / "sft" / "final" / "config.json").is_file()
    assert any((folder / "outputs" / "sft" / "runs").rglob("events.out.tfevents.*"))
    negatives = lines(folder / "data" / "negative_samples.jsonl")
    assert negatives and all(
        n["error_type"] in ("format", "action", "state_transition", "inefficient", "task") for n in negatives
    )
    assert (folder / "outputs" / "grpo" / "final" / "config.json").is_file()


def test_evaluation_writes_exactly_the_guides_keys(project):
    folder, logs = project
    from harp.eval.metrics import summarize

    metrics = json.loads((folder / "results" / "evaluation.json").read_text())
    assert list(metrics) == list(GUIDE_KEYS)
    rows = lines(folder / "results" / "predictions" / "grpo-final.jsonl")
    assert len(rows) == 1 and {"task", "reference", "prediction", "hprm", "failure"} <= set(rows[0])
    # The figures are the one test sample's, as its predictions row records them.
    assert metrics == summarize(rows)
    assert metrics["avg_reward"] == pytest.approx(rows[0]["hprm"]["total"], abs=1e-4)
    assert metrics["avg_steps"] == rows[0]["plan_length"]
    assert metrics["task_completion"] == float(rows[0]["completed"])
    assert (folder / "results" / "report.md").is_file()
    assert "format_accuracy" in logs[-1].stdout  # the table is printed
