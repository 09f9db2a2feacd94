"""Two processes on the CPU, for real: `accelerate launch --multi_gpu --num_processes 2` (no GPU here, so
HARP trains over gloo) runs SFT, GRPO (FTCA and negatives on), evaluation and negatives on the tiny
model, and the results are checked against one process: optimizer steps at the same global batch,
rewards gathered from both ranks, each negative in its own prompt's group, outputs and warnings
written once, and a run killed mid-way resuming to the same weights.

`accelerate launch --cpu --num_processes 2` is not used: accelerate starts ONE process for it
(several CPU processes need its mpirun launcher); HARP says so in a warning (harp.train.run_setup).
"""

import json
import subprocess
from pathlib import Path

import pytest
from launching import (
    PROBE,
    ROOT,
    as_flags,
    assert_same_weights,
    event_writers,
    grpo_overrides,
    launch,
    ok,
    read_probe,
    sft_overrides,
    state,
    warnings_once,
)

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]


def test_sft_on_two_processes_matches_one_process_steps_and_writes_once(world):
    from harp.config import load_sft_config
    from harp.train.sft import train_sft

    train_sft(
        load_sft_config(
            ROOT / "configs" / "demo" / "sft.yaml",
            sft_overrides(world, "sft_one") + ["training.per_device_train_batch_size=4"],
        )
    )
    result = ok(
        launch(
            world,
            ROOT / "scripts" / "train_sft.py",
            "--config",
            str(ROOT / "configs/demo/sft.yaml"),
            *as_flags(sft_overrides(world, "sft_two") + ["training.per_device_train_batch_size=2"]),
        )
    )
    one, two = world / "sft_one", world / "sft_two"
    assert state(two / "checkpoint-4")["global_step"] == state(one / "checkpoint-4")["global_step"] == 4
    assert not (two / "checkpoint-6").exists()  # not two processes each training alone (8 steps)
    assert {p.name for p in (two / "checkpoint-4").glob("rng_state*")} == {"rng_state_0.pth", "rng_state_1.pth"}
    assert len(event_writers(two / "runs")) == 1 and len(list((two / "runs").iterdir())) == 1
    assert (two / "final" / "config.json").is_file() and not (two / "final-adapter").exists()
    assert "training.bf16: no bf16-capable GPU here" in "".join(warnings_once(result.stderr))
    assert result.stdout.count("SFT done") == 1
    assert "find_unused_parameters" not in result.stderr  # DDP's per-rank warning


def grpo_two(world: Path, out: str, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    probe = world / f"probe_{out}"
    probe.mkdir(exist_ok=True)
    return launch(
        world,
        PROBE,
        "train",
        "grpo",
        "--config",
        str(ROOT / "configs/demo/grpo.yaml"),
        *as_flags(grpo_overrides(world, out, 1)),
        *extra,
        env={"HARP_PROBE_DIR": str(probe), **(env or {})},
    )


def test_grpo_on_two_processes_gathers_rewards_keeps_negatives_in_their_group_and_resumes(world):
    from harp.config import load_grpo_config
    from harp.train.grpo import train_grpo

    train_grpo(
        load_grpo_config(ROOT / "configs" / "demo" / "grpo.yaml", grpo_overrides(world, "grpo_one", 2)), progress=False
    )
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
        assert {p.name for p in (two / f"checkpoint-{step}").glob("rng_state*")} == {
            "rng_state_0.pth",
            "rng_state_1.pth",
        }
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


def test_evaluation_on_two_processes_equals_one_process_and_writes_once(world):
    from harp.eval.evaluate import evaluate

    model = str(world / "sft_ref" / "final")
    evaluate(
        model,
        world / "actions.jsonl",
        world / "eval_one" / "evaluation.json",
        report=False,
        max_new_tokens=24,
        quiet=True,
    )
    result = ok(
        launch(
            world,
            ROOT / "scripts" / "evaluate.py",
            "--model_path",
            model,
            "--test_data",
            str(world / "actions.jsonl"),
            "--output_path",
            str(world / "eval_two" / "evaluation.json"),
            "--no_report",
            "--max_new_tokens",
            "24",
        )
    )
    one = (world / "eval_one" / "predictions" / "sft_ref-final.jsonl").read_text().splitlines()
    two = (world / "eval_two" / "predictions" / "sft_ref-final.jsonl").read_text().splitlines()
    assert len(two) == 12 and two == one  # every record once, in order, with the same plan
    assert len({json.loads(line)["prediction"] for line in two}) > 1  # the plans differ: order is really checked
    assert json.loads((world / "eval_two" / "evaluation.json").read_text()) == json.loads(
        (world / "eval_one" / "evaluation.json").read_text()
    )
    assert result.stdout.count("wrote ") == 1 and result.stdout.count("sft_ref/final: format_accuracy") == 1


def test_negatives_on_two_processes_are_written_once(world):
    from harp.negatives.mine import generate_negatives

    model = str(world / "sft_ref" / "final")
    common = dict(num_samples_per_image=1, max_new_tokens=24, seed=3)
    generate_negatives(model, world / "train.jsonl", world / "neg_one.jsonl", progress=False, **common)
    result = ok(
        launch(
            world,
            ROOT / "scripts" / "generate_negatives.py",
            "--model_path",
            model,
            "--data_path",
            str(world / "train.jsonl"),
            "--output_path",
            str(world / "neg_two.jsonl"),
            "--num_samples_per_image",
            "1",
            "--max_new_tokens",
            "24",
            "--seed",
            "3",
        )
    )
    one = (world / "neg_one.jsonl").read_text().splitlines()
    two = (world / "neg_two.jsonl").read_text().splitlines()
    assert two and sorted(two) == sorted(one)  # the same lines, none twice
    assert warnings_once(result.stderr) == [
        "harp: warning: negatives: generated by the main process only (2 processes launched)"
    ]
    assert result.stdout.count("lines added") == 1
