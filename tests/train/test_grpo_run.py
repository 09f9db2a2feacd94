"""A short GRPO run end to end: it raises the mean H-PRM reward of the policy's samples on its train
prompt (fixed seed, measured against the start), and `train_grpo` writes the guide's outputs and resumes."""

import json

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sft_model(tmp_path_factory, tiny_model_dir):
    """A briefly fine-tuned tiny model: it writes plans, with mistakes GRPO can remove."""
    from harp.config import load_sft_config
    from harp.data.synthetic import build_synthetic
    from harp.train.sft import train_sft

    root = tmp_path_factory.mktemp("grpo_run")
    build_synthetic(num_scenes=4, seed=3, images_dir=root / "img", output_dir=root, progress=False)
    (root / "sft.yaml").write_text(
        json.dumps(
            {
                "model": {"name": str(tiny_model_dir), "use_lora": False, "freeze_vision_encoder": False},
                "data": {"train_path": str(root / "actions.jsonl"), "val_path": None},
                "training": {
                    "output_dir": str(root / "sft"),
                    "max_steps": 50,
                    "per_device_train_batch_size": 4,
                    "gradient_accumulation_steps": 1,
                    "learning_rate": 3e-3,
                    "warmup_steps": 2,
                    "logging_steps": 100,
                    "save_steps": 1000,
                    "report_to": ["none"],
                    "bf16": False,
                },
            }
        )
    )
    return root, train_sft(load_sft_config(root / "sft.yaml"))


def sampled_reward(trainer, row, rounds=8, seed=1234):
    """Mean H-PRM total of rounds x num_generations completions sampled by the trainer itself."""
    torch.manual_seed(seed)
    totals = []
    for _ in range(rounds):
        trainer._generate_and_score_completions([row] * trainer.num_generations)
        totals += [b.total for b in trainer.scorer.last_breakdowns]
    return sum(totals) / len(totals)


def test_short_grpo_run_raises_the_mean_reward_of_its_samples(sft_model, tmp_path):
    from harp.config import GRPOConfig
    from harp.data.records import read_records
    from harp.models.load import load_model_and_processor
    from harp.plan import load_domain
    from harp.rewards.hprm import HPRM
    from harp.train.grpo import build_dataset, build_trainer

    root, sft = sft_model
    record = read_records(root / "actions.jsonl")[0]
    config = GRPOConfig()
    config.model.freeze_vision_encoder = False  # every weight trains
    t = config.training
    t.output_dir, t.report_to, t.bf16, t.max_steps, t.logging_steps = str(tmp_path / "grpo"), ["none"], False, 30, 1
    t.per_device_train_batch_size, t.num_candidates, t.negatives_per_group = 1, 16, 0
    # A small step: a single Adam step of 3e-4 already wrecks this 1.3M-parameter model.
    t.max_new_tokens, t.learning_rate, t.kl_coef, t.warmup_steps, t.save_steps = 40, 5e-5, 0.0, 0, 1000
    domain = load_domain("navigate_pick_place")
    model, processor = load_model_and_processor(sft, for_training=True, dtype=torch.float32)
    dataset = build_dataset([record], domain)
    trainer = build_trainer(config, model, processor, dataset, HPRM(domain), bf16=False)  # FTCA on (the default)
    before = sampled_reward(trainer, dataset[0])
    trainer.train()
    after = sampled_reward(trainer, dataset[0])
    assert after > before + 0.05, (before, after)  # measured while tuning: 0.18 -> 0.30
