"""DeepSpeed ZeRO-2 and ZeRO-3 in two processes on the CPU (DeepSpeed's CPU accelerator over gloo),
launched as the guide launches it (`deepspeed --num_gpus 2`) and with `accelerate launch`, checked
against runs without DeepSpeed: SFT (full fine-tuning; LoRA under ZeRO-3, the sharded case) and GRPO
(FTCA, one negative per group; LoRA under ZeRO-3 too; through the plan grammar under ZeRO-3), a ZeRO-3 run killed with SIGKILL and resumed, and the NaN guard under ZeRO-3.

Two launches run everything: deepspeed_probe.py runs the guide's scripts one after another in the
processes of one launch (a launch costs half a minute before its first step).

Tolerances: SFT under DeepSpeed takes the same 4 steps as one process at the same global batch, each
loss within 1e-4 of its, and its `final/` within 1e-4 of its weights (LoRA without dropout: each
process draws its own dropout masks, one process other ones). GRPO samples per process, so
one process draws other candidates: it takes the same steps, and equals (losses within 1e-5,
weights within 1e-5) the same two processes without DeepSpeed. Every `final/` (ZeRO-3's gathered
weights, LoRA merged) plans the val records exactly as its reference. A ZeRO-3 run killed after
step 2's checkpoint and resumed ends with the uninterrupted run's weights, bit for bit.
"""

import json
import math
import re
from pathlib import Path

import pytest
import torch
from launching import ROOT, as_flags, assert_same_weights, launch, read_probe, state

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]
DRIVER = Path(__file__).with_name("deepspeed_probe.py")
ZERO2, ZERO3 = str(ROOT / "configs" / "ds_config_zero2.json"), str(ROOT / "configs" / "ds_config_zero3.json")


def sft(world: Path, out: str, processes: int, *extra: str) -> list[str]:
    """SFT from the fine-tuned tiny model: 8 records, 4 steps of 2 (one epoch: one data order for any process count)."""
    return [
        f"model.name={world / 'sft_ref' / 'final'}",
        f"data.train_path={world / 'train.jsonl'}",
        f"data.val_path={world / 'val.jsonl'}",
        f"training.output_dir={world / out}",
        "training.report_to=tensorboard",
        "training.num_epochs=1",
        f"training.per_device_train_batch_size={2 // processes}",
        "training.learning_rate=1e-3",
        "training.warmup_steps=0",
        "training.save_steps=2",
        "training.eval_steps=2",
        "training.logging_steps=1",
        "training.bf16=false",
        *extra,
    ]


def grpo(world: Path, out: str, processes: int, *extra: str) -> list[str]:
    """GRPO with FTCA and one negative per group: 4 prompts per step (two groups per process on two), 2 steps."""
    return [
        f"model.sft_model_path={world / 'sft_ref' / 'final'}",
        f"data.train_path={world / 'train.jsonl'}",
        f"data.val_path={world / 'val.jsonl'}",
        "data.negative_path=null",
        f"training.output_dir={world / out}",
        "training.max_steps=-1",
        "training.num_epochs=1",
        f"training.per_device_train_batch_size={4 // processes}",
        "training.num_candidates=2",
        "training.negatives_per_group=1",
        "training.max_new_tokens=16",
        "training.logging_steps=1",
        "training.save_steps=2",
        "training.eval_steps=2",
        "training.warmup_steps=0",
        "training.max_eval_samples=2",
        "training.report_to=tensorboard",
        "reward.use_ftca=true",
        *extra,
    ]


def script(name: str, overrides: list[str], *options: str) -> list[str]:
    config = ROOT / "configs" / "demo" / ("sft.yaml" if name == "sft" else "grpo.yaml")
    return [*options, str(ROOT / "scripts" / f"train_{name}.py"), "--config", str(config), *as_flags(overrides)]


def sequence(*runs: list[str]) -> list[str]:
    return [arg for i, run in enumerate(runs) for arg in ([] if i == 0 else ["--then"]) + run]


def exits(stdout: str) -> list[int]:
    return [int(code) for code in re.findall(r"^probe: \d+ exit (-?\d+)$", stdout, re.MULTILINE)]


@pytest.fixture(scope="module")
def runs(world):
    """Every run once: one process without DeepSpeed (in this process), then two launches of two."""
    from harp.config import load_grpo_config, load_sft_config
    from harp.train.grpo import train_grpo
    from harp.train.sft import train_sft

    demo = ROOT / "configs" / "demo"
    train_sft(load_sft_config(demo / "sft.yaml", sft(world, "sft_one", 1)))
    train_sft(load_sft_config(demo / "sft.yaml", sft(world, "lora_one", 1, "model.use_lora=true", "lora.dropout=0")))
    train_grpo(load_grpo_config(demo / "grpo.yaml", grpo(world, "grpo_one", 1)), progress=False)

    guide = launch(
        world,
        DRIVER,
        *sequence(
            script("sft", sft(world, "sft_z3", 2, f"training.deepspeed={ZERO3}")),
            script(
                "sft", sft(world, "lora_z3", 2, f"training.deepspeed={ZERO3}", "model.use_lora=true", "lora.dropout=0")
            ),
            script("grpo", grpo(world, "grpo_z3", 2, f"training.deepspeed={ZERO3}"), "--rows", str(world / "rows_z3")),
            script("grpo", grpo(world, "grpo_lora_z3", 2, f"training.deepspeed={ZERO3}", "model.use_lora=true")),
            script("sft", sft(world, "nan_z3", 2, f"training.deepspeed={ZERO3}"), "--nan-at", "2"),
            script("sft", sft(world, "killed_z3", 2, f"training.deepspeed={ZERO3}"), "--kill-at", "2"),
        ),
        launcher="deepspeed",
        timeout=600,
    )
    accelerate = launch(
        world,
        DRIVER,
        *sequence(
            script("sft", sft(world, "killed_z3", 2, f"training.deepspeed={ZERO3}")) + ["--resume"],
            script("sft", sft(world, "sft_z2", 2, f"training.deepspeed={ZERO2}")),
            script("grpo", grpo(world, "grpo_z2", 2, f"training.deepspeed={ZERO2}"), "--rows", str(world / "rows_z2")),
            script("grpo", grpo(world, "grpo_ddp", 2), "--rows", str(world / "rows_ddp")),
            script(
                "grpo",
                grpo(world, "grpo_grammar_z3", 2, f"training.deepspeed={ZERO3}", "training.constrained_sampling=true"),
            ),
        ),
        timeout=600,
    )
    return world, guide, accelerate


def losses(folder: Path) -> list[float]:
    last = max(folder.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    return [row["loss"] for row in state(last)["log_history"] if "loss" in row]


def predictions(world: Path, folders: list[str]) -> dict[str, list[str]]:
    """Each `final/`'s greedy plans for the val records (harp.eval.evaluate, all models in one call)."""
    from harp.eval.evaluate import evaluate

    out = world / "evaluated"
    evaluate(
        [str(world / folder / "final") for folder in folders],
        world / "val.jsonl",
        out / "evaluation.json",
        report=False,
        max_new_tokens=24,
        quiet=True,
    )
    return {
        folder: [
            json.loads(line)["prediction"]
            for line in (out / "predictions" / f"{folder}-final.jsonl").read_text().splitlines()
        ]
        for folder in folders
    }


def test_launches_ran_every_run_and_said_each_thing_once(runs):
    world, guide, accelerate = runs
    assert exits(guide.stdout) == [0, 0, 0, 0, 1], guide.stderr[
        -3000:
    ]  # the NaN run stopped; the killed one printed nothing
    assert guide.returncode != 0 and exits(accelerate.stdout) == [0] * 5, accelerate.stderr[-3000:]
    for result, deepspeed_runs in ((guide, 6), (accelerate, 4)):
        # HARP's own lines once per run, not once per process; no library deprecation per process
        assert result.stderr.count("DeepSpeed runs on its CPU accelerator") == deepspeed_runs
        assert "FutureWarning" not in result.stderr
    assert "Setting accelerator to CPU" not in accelerate.stderr  # DeepSpeed's detection warning, in every process
    assert accelerate.stdout.count("SFT done") == 2 and accelerate.stdout.count("final model:") == 5


def test_grpo_through_the_plan_grammar_trains_under_zero3(runs):
    """On-policy constrained GRPO projects the final hidden states through the sharded LM head once more:
    under ZeRO-3 it ran, every sampled plan parsed, and the loss and KL stayed finite."""
    world, _, _ = runs
    logged = [row for row in state(world / "grpo_grammar_z3" / "checkpoint-2")["log_history"] if "loss" in row]
    assert len(logged) == 2 and all(row["reward/format"] == 1.0 for row in logged)
    assert all(math.isfinite(row["loss"]) and math.isfinite(row.get("kl_div", 0.0)) for row in logged)


def test_sft_under_zero2_and_zero3_equals_one_process_and_its_final_plans_the_same(runs):
    world, _, _ = runs
    for reference, runs_ in (("sft_one", ("sft_z3", "sft_z2")), ("lora_one", ("lora_z3",))):
        for run in runs_:
            assert (
                state(world / run / "checkpoint-4")["global_step"] == 4 and not (world / run / "checkpoint-6").exists()
            )
            assert losses(world / run) == pytest.approx(losses(world / reference), abs=1e-4), run
            assert_same_weights(world / run / "final", world / reference / "final", rtol=0, atol=1e-4)
            assert not (world / run / "final-adapter").exists()
    plans = predictions(world, ["sft_one", "sft_z3", "sft_z2", "lora_one", "lora_z3"])
    assert len(set(plans["sft_one"])) > 1  # different plans per record: the comparison means something
    assert plans["sft_z3"] == plans["sft_z2"] == plans["sft_one"]
    assert plans["lora_z3"] == plans["lora_one"]


def test_grpo_under_zero2_and_zero3_equals_the_same_processes_without_deepspeed(runs):
    """Generation under ZeRO-3 gathers the sharded weights: it ran (no hang) and sampled what DDP sampled."""
    world, _, _ = runs
    for run in ("grpo_z3", "grpo_z2", "grpo_ddp"):
        assert (
            state(world / run / "checkpoint-2")["global_step"]
            == state(world / "grpo_one" / "checkpoint-2")["global_step"]
            == 2
        )
        assert (world / run / "best" / "config.json").is_file()
    for run in ("grpo_z3", "grpo_z2"):
        assert losses(world / run) == pytest.approx(losses(world / "grpo_ddp"), abs=1e-5), run
        assert_same_weights(world / run / "final", world / "grpo_ddp" / "final", rtol=0, atol=1e-5)
    plans = predictions(world, ["grpo_z3", "grpo_z2", "grpo_ddp"])
    assert plans["grpo_z3"] == plans["grpo_z2"] == plans["grpo_ddp"]


def test_grpo_with_lora_under_zero3_saves_merged_models(runs):
    """best/ and final/ of a LoRA policy whose weights are sharded: the adapter gathered, merged into the base."""
    from safetensors.torch import load_file

    world, _, _ = runs
    start = load_file(world / "sft_ref" / "final" / "model.safetensors")
    final = load_file(world / "grpo_lora_z3" / "final" / "model.safetensors")
    assert final.keys() == start.keys()  # a plain model: no adapter weights left
    assert any(not torch.equal(final[key], start[key]) for key in final)  # the adapters trained and were merged
    assert_same_weights(
        world / "grpo_lora_z3" / "best", world / "grpo_lora_z3" / "final", rtol=0, atol=0
    )  # both step 2
    assert not any(world.glob("grpo_lora_z3/*-adapter"))


def test_a_zero3_run_killed_mid_run_resumes_to_the_same_weights(runs):
    world, _, _ = runs
    killed = world / "killed_z3"
    assert (killed / "checkpoint-2" / "global_step2").is_dir()
    assert state(killed / "checkpoint-4")["global_step"] == 4
    assert_same_weights(killed / "final", world / "sft_z3" / "final", rtol=0, atol=0)


def test_the_nan_guard_sees_every_zero3_shard_and_says_so_once(runs):
    """NaN written into the second process's shard only, after step 2: both processes stop before step 2's checkpoint."""
    world, guide, _ = runs
    assert guide.stderr.count("NaN or infinite") == 1
    assert "train_sft.py: error: training: the weights became NaN or infinite at step 2" in guide.stderr
    assert not any((world / "nan_z3").glob("checkpoint-*")) and not (world / "nan_z3" / "final").exists()


def test_groups_stay_whole_when_prompts_are_sharded_over_processes(runs):
    """Two groups per process per step: each group's candidates and its negative come from one record,
    and each is scored (H-PRM) against that record."""
    from harp.data.records import read_records
    from harp.negatives.store import record_key
    from harp.rewards.hprm import HPRM

    world, _, _ = runs
    hprm = HPRM("navigate_pick_place")  # the demo config's weights are H-PRM's defaults
    records = {record_key(record): record for record in read_records(world / "train.jsonl")}
    for probe in ("rows_z3", "rows_z2", "rows_ddp"):
        steps = read_probe(world / probe)
        assert sorted(steps) == [1, 2]
        trained = []
        for ranks in steps.values():
            for rows in ranks:
                assert len(rows) == 2 * 3  # 2 prompts x (2 candidates + 1 negative)
                for start in range(0, len(rows), 3):
                    group = rows[start : start + 3]
                    assert len({row["key"] for row in group}) == 1 and [row["negative"] for row in group] == [
                        False,
                        False,
                        True,
                    ]
                    record = records[group[0]["key"]]
                    for row in group:
                        assert row["task"] == record["task"] and record["task"] in row["prompt"]
                        assert row["total"] == pytest.approx(hprm.score(row["completion"], record).total, abs=1e-6)
                    assert group[2]["completion"] in group[2]["negatives"]
                    trained.append(group[0]["key"])
        assert len(trained) == len(set(trained)) == 8, probe  # every prompt once, in one group, on one process
