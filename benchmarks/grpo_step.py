"""Time of one GRPO step: ours (H-PRM's five reward functions + FTCA token advantages) against TRL's
plain GRPOTrainer with a trivial reward, same model, same batch, measured side by side in one run.

    python benchmarks/grpo_step.py                                     # embedded tiny model, toy records
    python benchmarks/grpo_step.py --model .demo/outputs/sft/final --data .demo/data/sft_train.jsonl

Both trainers run with learning rate 0, so the policy never changes and, from the same seed, both
sample the same completions: the difference is only what we add (scoring, FTCA, negatives off).
The rounds alternate (ours, plain, ours, plain, ...) so a busy machine slows both alike. Prints
the median step time of each and the ratio (target <= 1.10).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def toy_records(folder: Path, n: int) -> list[dict]:
    """n synthetic-style records with one-colour images (enough for timing)."""
    from PIL import Image

    records = []
    for i in range(n):
        image = folder / f"scene_{i}.png"
        Image.new("RGB", (112, 112), (40 * i % 255, 90, 160)).save(image)
        records.append(
            {
                "image": str(image),
                "task": "Put the apple into the bin",
                "id": f"s{i}",
                "scene": {
                    "robot": "start",
                    "locations": ["white table", "red table", "bin"],
                    "objects": {"apple": "white table", "cup": "red table"},
                    "goal": {"apple": "bin"},
                },
                "plan": ["Navigate(White Table)", "Pick(Apple)", "Navigate(Bin)", "Place(Bin)"],
            }
        )
    return records


def trivial_reward(completions, **kwargs):
    """Plain GRPO's stand-in reward: the completion's length (no parsing, no simulation)."""
    return [float(len(c[-1]["content"] if isinstance(c, list) else c)) for c in completions]


def make_trainer(kind: str, model_path: str, dataset, config, num_generations: int):
    import torch
    from trl import GRPOTrainer

    from harp.models.load import load_model_and_processor
    from harp.plan import load_domain
    from harp.rewards.hprm import HPRM
    from harp.train.grpo import build_trainer, trl_args

    model, processor = load_model_and_processor(model_path, for_training=True, dtype=torch.float32)
    if kind == "harp":
        return build_trainer(config, model, processor, dataset, HPRM(load_domain("navigate_pick_place")))
    args = trl_args(config, num_generations)
    args.reward_weights = None
    return GRPOTrainer(
        model=model, reward_funcs=[trivial_reward], args=args, train_dataset=dataset, processing_class=processor
    )


def step_times(trainer, steps: int, seed: int) -> list[float]:
    """Wall time of each of `steps` optimiser steps (generation, scoring, loss, backward, update)."""
    import torch

    torch.manual_seed(seed)
    iterator = iter(trainer.get_train_dataloader())
    times = []
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train, which we bypass
    trainer.model.train()
    for _ in range(steps):
        batch = next(iterator)
        start = time.perf_counter()
        inputs = trainer._prepare_inputs(batch)
        loss = trainer.compute_loss(trainer.model, inputs)
        loss.backward()
        trainer.model.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
        trainer._step += 1
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: build the embedded tiny model)")
    parser.add_argument("--data", help="records (jsonl) for the prompts (default: toy records)")
    parser.add_argument("--prompts", type=int, default=2, help="prompts per step")
    parser.add_argument("--candidates", type=int, default=4, help="completions per prompt")
    parser.add_argument("--max_new_tokens", type=int, default=40)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="grpo_step_") as folder:
        return run(args, Path(folder))


def run(args, tmp: Path) -> int:
    from harp.config import GRPOConfig
    from harp.data.records import read_records
    from harp.plan import load_domain
    from harp.train.grpo import build_dataset

    model = args.model
    if model is None:
        from harp.models.tiny import build_tiny_model

        model = str(build_tiny_model(tmp / "tiny"))
    records = read_records(args.data) if args.data else toy_records(tmp, 16)
    dataset = build_dataset(records, load_domain("navigate_pick_place"))
    config = GRPOConfig()
    config.model.freeze_vision_encoder = False  # train what the plain trainer trains
    t = config.training
    t.output_dir, t.report_to, t.bf16 = str(tmp / "out"), ["none"], False
    t.per_device_train_batch_size, t.num_candidates, t.negatives_per_group = args.prompts, args.candidates, 0
    t.max_new_tokens, t.learning_rate, t.warmup_steps, t.max_steps = args.max_new_tokens, 0.0, 0, 1000

    trainers = {kind: make_trainer(kind, model, dataset, config, args.candidates) for kind in ("harp", "plain")}
    for trainer in trainers.values():  # warm-up: first-call allocations, lazy imports
        step_times(trainer, 1, seed=0)
    times = {kind: [] for kind in trainers}
    for round_index in range(args.rounds):
        for kind, trainer in trainers.items():
            times[kind] += step_times(trainer, args.steps, seed=round_index + 1)
    harp, plain = statistics.median(times["harp"]), statistics.median(times["plain"])
    print(
        f"GRPO step, {args.prompts} prompts x {args.candidates} completions, max {args.max_new_tokens} new tokens, "
        f"{args.rounds} x {args.steps} steps each, model {model}"
    )
    print(f"  TRL GRPOTrainer, trivial reward : {plain * 1000:8.1f} ms/step (median)")
    print(f"  HARP: H-PRM (5 rewards) + FTCA : {harp * 1000:8.1f} ms/step (median)")
    print(f"  ratio {harp / plain:.3f} (target <= 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
