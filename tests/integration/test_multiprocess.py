"""Two processes on the CPU, for real: `accelerate launch --multi_gpu --num_processes 2` (no GPU here, so
HARP trains over gloo) runs SFT, GRPO (FTCA and negatives on), evaluation and negatives on the tiny
model, and the results are checked against one process: optimizer steps at the same global batch,
rewards gathered from both ranks, each negative in its own prompt's group, outputs and warnings
written once, and a run killed mid-way resuming to the same weights.

`accelerate launch --cpu --num_processes 2` is not used: accelerate starts ONE process for it
(several CPU processes need its mpirun launcher); HARP says so in a warning (harp.train.run_setup).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("multiprocess_probe.py")


def launch(cwd: Path, script: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`accelerate launch` with two processes (a free port: other runs may hold accelerate's default)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(port), str(script), *args]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
                   **(env or {})}
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def state(folder: Path) -> dict:
    return json.loads((folder / "trainer_state.json").read_text())


def event_writers(run_dir: Path) -> set[str]:
    """The processes that wrote TensorBoard events (file names end in .<pid>.<n>; one process may
    write two files: the Trainer reopens its writer for the evaluation after training)."""
    return {path.name.rsplit(".", 2)[1] for path in run_dir.rglob("events.out.tfevents.*")}


def warnings_once(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.startswith("harp: warning:")]
    assert lines and len(lines) == len(set(lines)), lines
    return lines


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """12 synthetic scenes (8 train, 4 val), the tiny model, and a briefly fine-tuned one (it writes plans)."""
    from harp.config import load_sft_config
    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic
    from harp.models.tiny import build_tiny_model
    from harp.train.sft import train_sft

    root = tmp_path_factory.mktemp("multiprocess")
    build_synthetic(num_scenes=12, seed=5, images_dir=root / "img", output_dir=root, progress=False)
    rows = read_records(root / "actions.jsonl")
    write_records(root / "train.jsonl", rows[:8])
    write_records(root / "val.jsonl", rows[8:])
    build_tiny_model(root / "tiny")
    train_sft(load_sft_config(ROOT / "configs" / "demo" / "sft.yaml", sft_overrides(root, "sft_ref") + [
        "training.max_steps=40", "training.per_device_train_batch_size=4", "training.learning_rate=3e-3",
        "training.warmup_steps=2", "training.bf16=false", "data.val_path=null"]))
    return root


def sft_overrides(root: Path, out: str) -> list[str]:
    return [f"model.name={root / 'tiny'}", f"data.train_path={root / 'train.jsonl'}",
            f"data.val_path={root / 'val.jsonl'}", f"training.output_dir={root / out}", "training.report_to=tensorboard",
            "training.num_epochs=2", "training.save_steps=2", "training.eval_steps=2", "training.logging_steps=1"]


def grpo_overrides(root: Path, out: str, prompts_per_device: int) -> list[str]:
    return [f"model.sft_model_path={root / 'sft_ref' / 'final'}", f"data.train_path={root / 'train.jsonl'}",
            f"data.val_path={root / 'val.jsonl'}", "data.negative_path=null", f"training.output_dir={root / out}",
            "training.max_steps=-1", "training.num_epochs=1", f"training.per_device_train_batch_size={prompts_per_device}",
            "training.num_candidates=2", "training.negatives_per_group=1", "training.max_new_tokens=16",
            "training.logging_steps=1", "training.save_steps=2", "training.eval_steps=2", "training.warmup_steps=0"]


def as_flags(overrides: list[str]) -> list[str]:
    return [flag for override in overrides for flag in ("--set", override)]


def test_sft_on_two_processes_matches_one_process_steps_and_writes_once(world):
    from harp.config import load_sft_config
    from harp.train.sft import train_sft

    train_sft(load_sft_config(ROOT / "configs" / "demo" / "sft.yaml",
                              sft_overrides(world, "sft_one") + ["training.per_device_train_batch_size=4"]))
    result = ok(launch(world, ROOT / "scripts" / "train_sft.py", "--config", str(ROOT / "configs/demo/sft.yaml"),
                       *as_flags(sft_overrides(world, "sft_two") + ["training.per_device_train_batch_size=2"])))
    one, two = world / "sft_one", world / "sft_two"
    assert state(two / "checkpoint-4")["global_step"] == state(one / "checkpoint-4")["global_step"] == 4
    assert not (two / "checkpoint-6").exists()  # not two processes each training alone (8 steps)
    assert {p.name for p in (two / "checkpoint-4").glob("rng_state*")} == {"rng_state_0.pth", "rng_state_1.pth"}
    assert len(event_writers(two / "runs")) == 1 and len(list((two / "runs").iterdir())) == 1
    assert (two / "final" / "config.json").is_file() and not (two / "final-adapter").exists()
    assert "training.bf16: no bf16-capable GPU here" in "".join(warnings_once(result.stderr))
    assert result.stdout.count("SFT done") == 1
    assert "find_unused_parameters" not in result.stderr  # DDP's per-rank warning


def read_probe(folder: Path) -> dict[int, list[list[dict]]]:
    """step -> one list of rows per rank."""
    steps: dict[int, list[list[dict]]] = {}
    for rank in (0, 1):
        for line in (folder / f"rank{rank}.jsonl").read_text().splitlines():
            entry = json.loads(line)
            steps.setdefault(entry["step"], [[], []])[rank] = entry["rows"]
    return steps


def grpo_two(world: Path, out: str, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    probe = world / f"probe_{out}"
    probe.mkdir(exist_ok=True)
    return launch(world, PROBE, "train", "grpo", "--config", str(ROOT / "configs/demo/grpo.yaml"),
                  *as_flags(grpo_overrides(world, out, 1)), *extra,
                  env={"HARP_PROBE_DIR": str(probe), **(env or {})})


def test_grpo_on_two_processes_gathers_rewards_keeps_negatives_in_their_group_and_resumes(world):
    from harp.config import load_grpo_config
    from harp.train.grpo import train_grpo

    train_grpo(load_grpo_config(ROOT / "configs" / "demo" / "grpo.yaml", grpo_overrides(world, "grpo_one", 2)),
               progress=False)
    result = ok(grpo_two(world, "grpo_two"))
    one, two = world / "grpo_one", world / "grpo_two"
    assert state(two / "checkpoint-4")["global_step"] == state(one / "checkpoint-4")["global_step"] == 4
    assert not (two / "checkpoint-6").exists()

    # train/reward = the mean H-PRM total of every sampled completion of the step, both ranks together
    probe = read_probe(world / "probe_grpo_two")
    logged = {row["step"]: row for row in state(two / "checkpoint-4")["log_history"] if "reward" in row}
    assert sorted(probe) == sorted(logged) == [1, 2, 3, 4]
    for step, ranks in probe.items():
        assert all(ranks), f"step {step}: a rank generated nothing"
        sampled = [row["total"] for rows in ranks for row in rows if not row["negative"]]
        assert len(sampled) == 2 * 2  # 2 ranks x 1 prompt x 2 candidates
        assert logged[step]["reward"] == pytest.approx(sum(sampled) / len(sampled), abs=1e-5)
        negatives = [row["total"] for rows in ranks for row in rows if row["negative"]]
        assert logged[step]["negatives/reward"] == pytest.approx(sum(negatives) / len(negatives), abs=1e-5)
        # each negative is one of its own prompt's, in that prompt's group, on every rank
        for rows in ranks:
            assert len({row["key"] for row in rows}) == 1  # one prompt per rank per step here: one group
            for row in rows:
                assert row["task"] in row["prompt"]
                if row["negative"]:
                    assert row["completion"] in row["negatives"]
    keys = [row["key"] for ranks in probe.values() for rows in ranks for row in rows[:1]]
    assert len(set(keys)) == 8  # the 8 prompts, each trained once across the two ranks

    # outputs written once
    for step in (2, 4):
        assert {p.name for p in (two / f"checkpoint-{step}").glob("rng_state*")} == {"rng_state_0.pth", "rng_state_1.pth"}
    assert (two / "best" / "config.json").is_file() and (two / "final" / "config.json").is_file()
    assert len(event_writers(two / "runs")) == 1 and len(list((two / "runs").iterdir())) == 1
    history = [json.loads(line)["step"] for line in (two / "eval_history.jsonl").read_text().splitlines()]
    assert history == [0, 2, 4]
    warnings_once(result.stderr)
    assert result.stdout.count("final model:") == 1

    # killed after step 2's checkpoint, resumed: the same final step and the same weights as uninterrupted
    killed = grpo_two(world, "grpo_killed", env={"HARP_PROBE_STOP_AT": "2"})
    assert killed.returncode != 0
    assert (world / "grpo_killed" / "checkpoint-2").is_dir() and not (world / "grpo_killed" / "checkpoint-4").exists()
    ok(grpo_two(world, "grpo_killed", "--resume"))
    resumed = world / "grpo_killed"
    assert state(resumed / "checkpoint-4")["global_step"] == 4
    assert_same_weights(resumed / "final", two / "final")


def assert_same_weights(a: Path, b: Path) -> None:
    from safetensors.torch import load_file

    left, right = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert left.keys() == right.keys()
    for name in left:
        torch.testing.assert_close(left[name], right[name], rtol=1e-5, atol=1e-6, msg=name)


def test_evaluation_on_two_processes_equals_one_process_and_writes_once(world):
    from harp.eval.evaluate import evaluate

    model = str(world / "sft_ref" / "final")
    evaluate(model, world / "actions.jsonl", world / "eval_one" / "evaluation.json", report=False,
             max_new_tokens=24, quiet=True)
    result = ok(launch(world, ROOT / "scripts" / "evaluate.py", "--model_path", model, "--test_data",
                       str(world / "actions.jsonl"), "--output_path", str(world / "eval_two" / "evaluation.json"),
                       "--no_report", "--max_new_tokens", "24"))
    one = (world / "eval_one" / "predictions" / "sft_ref-final.jsonl").read_text().splitlines()
    two = (world / "eval_two" / "predictions" / "sft_ref-final.jsonl").read_text().splitlines()
    assert len(two) == 12 and two == one  # every record once, in order, with the same plan
    assert len({json.loads(line)["prediction"] for line in two}) > 1  # the plans differ: order is really checked
    assert json.loads((world / "eval_two" / "evaluation.json").read_text()) == \
        json.loads((world / "eval_one" / "evaluation.json").read_text())
    assert result.stdout.count("wrote ") == 1 and result.stdout.count("sft_ref/final: format_accuracy") == 1


def test_negatives_on_two_processes_are_written_once(world):
    from harp.negatives.mine import generate_negatives

    model = str(world / "sft_ref" / "final")
    common = dict(num_samples_per_image=1, max_new_tokens=24, seed=3)
    generate_negatives(model, world / "train.jsonl", world / "neg_one.jsonl", progress=False, **common)
    result = ok(launch(world, ROOT / "scripts" / "generate_negatives.py", "--model_path", model,
                       "--data_path", str(world / "train.jsonl"), "--output_path", str(world / "neg_two.jsonl"),
                       "--num_samples_per_image", "1", "--max_new_tokens", "24", "--seed", "3"))
    one = (world / "neg_one.jsonl").read_text().splitlines()
    two = (world / "neg_two.jsonl").read_text().splitlines()
    assert two and sorted(two) == sorted(one)  # the same lines, none twice
    assert warnings_once(result.stderr) == ["harp: warning: negatives: generated by the main process only (2 processes launched)"]
    assert result.stdout.count("lines added") == 1
