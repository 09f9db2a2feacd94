"""GRPO training (the guide's GRPO训练 step): the SFT policy, H-PRM rewards, FTCA, verified negatives.

`train_grpo(config)` is what `python scripts/train_grpo.py --config configs/grpo_config.yaml`
runs. It maps the guide's keys onto TRL's `GRPOConfig` and trains `HarpGRPOTrainer`
(harp.train.grpo_trainer) from `model.sft_model_path`; the KL reference is that same SFT model
(TRL loads a frozen copy, or disables the adapters with `use_lora`).

Key mapping (guide -> TRL):
- `per_device_train_batch_size` counts *prompts*; each prompt brings `num_candidates` sampled
  completions plus `negatives_per_group` negatives (and one refusal probe with `refusal_probe`), so
  TRL's `num_generations` is `num_candidates + negatives_per_group` (+ 1) and its per-device (completion) batch is
  `per_device_train_batch_size * num_generations`. The guide's 1 prompt x 4 candidates is TRL's
  batch of 4 (5 with the default one negative).
- `kl_coef` -> `beta`; `max_new_tokens` -> `max_completion_length`; `temperature`, `top_p`,
  learning rate, weight decay, warm-up, `max_grad_norm`, logging/save steps, `run_name` as is.
- TRL's own GRPO options keep their names and TRL's defaults: `loss_type`, `scale_rewards`,
  `num_iterations`, `epsilon`, `epsilon_high`, `mask_truncated_completions`, `vllm_mode`,
  `vllm_gpu_memory_utilization`.
- `bf16` only where the hardware has it; `report_to` with W&B falling back to offline
  (harp.train.run_setup, which SFT shares, as it shares the keys both configs spell alike).
- `reward.w_*` -> the five reward functions' `reward_weights`, normalised to sum 1.

Outputs in `training.output_dir`: `checkpoint-{step}/` (TRL, resumable), `best/` (highest val
reward, harp.train.grpo_eval), `final/`, `runs/` (TensorBoard), `eval_history.jsonl`, and
`harp_config.yaml` (the resolved config, every key) there and in `final/`, `best/` and each checkpoint.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

from harp.config import save_run_config
from harp.data.records import Record, as_record, load_image, read_records, where
from harp.errors import ConfigError, DataError
from harp.eval.constrained import plan_grammar
from harp.eval.evaluate import load_test_records
from harp.models.load import load_model_and_processor
from harp.models.prompt import build_messages
from harp.negatives.mine import perturbation_negatives, teaches_refusals
from harp.negatives.store import negatives_by_record, record_key
from harp.rewards.hprm import HPRM, RewardWeights
from harp.train.grpo_rewards import HPRMScorer, reward_weights
from harp.train.run_setup import (
    check_deepspeed,
    check_launch,
    config_recorder,
    finish_wandb,
    join_deepspeed,
    load_domain,
    prepare_trainable,
    quiet_library_deprecations,
    resolve_report_to,
    resume_checkpoint,
    trainer_arguments,
    use_bf16,
)

logger = logging.getLogger(__name__)

VAL_FALLBACK = "sft_val.jsonl"  # looked for beside data.train_path when data.val_path is null


def val_path(config) -> Path | None:
    """The val records: `data.val_path`, else `sft_val.jsonl` beside the training file if it exists."""
    if config.data.val_path:
        return Path(config.data.val_path)
    candidate = Path(config.data.train_path).parent / VAL_FALLBACK
    return candidate if candidate.is_file() else None


def checked_image(record: Record) -> str:
    """The record's image path (resolved by the reader), decoded once here so a missing or corrupt
    file is a one-line DataError naming its line before training starts (TRL decodes lazily, mid-run,
    with a traceback)."""
    load_image(record)
    return str(record.image_path)


def prompt_negatives(
    records: list[dict], negatives: dict[str, list[str]], k: int, hprm, domain, seed: int
) -> tuple[list[list[str]], int]:
    """Each record's negatives for GRPO groups, and how many records were topped up.

    A record with fewer than `k` negatives in the file gets verified rule-based perturbations of
    its reference (the same ones generate_negatives tops up with), so every group has `k`.
    """

    rng = random.Random(seed)
    out, topped = [], 0
    refusals = teaches_refusals(records, domain)
    for record in records:
        texts = list(negatives.get(record_key(record), []))
        if len(texts) < k:
            extra = perturbation_negatives(record, hprm, domain, k - len(texts), rng, set(texts), refusals=refusals)
            texts += [text for text, _kind, _name in extra]
            topped += 1
        if not texts:
            raise DataError(f"{where(record)}: no negative can be made for this record (plan {record['plan']!r})")
        out.append(texts)
    return out, topped


def build_dataset(records: list[Record], domain, negatives: list[list[str]] | None = None):
    """The prompt dataset TRL samples from: chat prompt, image, the record as JSON (for H-PRM), key, negatives.

    `records`: as read_records returns them (a plain dict's image is taken relative to the working directory)."""
    from datasets import Dataset, Image

    rows = []
    for i, record in enumerate(map(as_record, records)):
        row = {
            "prompt": build_messages(record["task"], domain),
            "image": checked_image(record),
            "example": json.dumps(record, ensure_ascii=False, sort_keys=True),
            "key": record_key(record),
        }
        if negatives is not None:
            row["negatives"] = negatives[i]
        rows.append(row)
    return Dataset.from_list(rows).cast_column("image", Image())


def trl_args(config, num_generations: int, bf16: bool | None = None):
    """TRL's GRPOConfig from the guide's keys (see the module docstring for the mapping); `bf16`
    when the caller already resolved it (so the fp32 fallback warns once)."""
    from trl import GRPOConfig as TRLGRPOConfig

    t = config.training
    return TRLGRPOConfig(
        **trainer_arguments(t, use_bf16(t.bf16) if bf16 is None else bf16, resolve_report_to(t.report_to)),
        per_device_train_batch_size=t.per_device_train_batch_size * num_generations,
        num_generations=num_generations,
        temperature=t.temperature,
        top_p=t.top_p,
        max_completion_length=t.max_new_tokens,
        beta=t.kl_coef,
        max_grad_norm=t.max_grad_norm,
        eval_strategy="no",  # validation is ours (grpo_eval): generation + H-PRM metrics
        use_vllm=t.use_vllm,
        vllm_mode=t.vllm_mode,
        vllm_gpu_memory_utilization=t.vllm_gpu_memory_utilization,
        loss_type=t.loss_type,
        scale_rewards=t.scale_rewards,
        num_iterations=t.num_iterations,
        epsilon=t.epsilon,
        epsilon_high=t.epsilon_high,
        mask_truncated_completions=t.mask_truncated_completions,
        reward_weights=reward_weights(config.reward),
        remove_unused_columns=False,
        log_completions=False,
    )


def build_trainer(
    config, model, processor, train_dataset, hprm, *, validation=None, bf16: bool | None = None, progress: bool = True
):
    """`HarpGRPOTrainer` as the config says: TRL's arguments, the five H-PRM reward functions, FTCA,
    negatives per group, the vision freeze and LoRA (as SFT), and the val `validation` callback wired in.

    `train_dataset`: `build_dataset`'s rows; `bf16`: the precision the caller already resolved
    (None: resolve it here, warning on a CPU)."""
    from harp.train.grpo_trainer import HarpGRPOTrainer
    from harp.train.guards import FiniteGuard

    t = config.training
    args = trl_args(config, t.num_candidates + int(t.refusal_probe) + t.negatives_per_group, bf16=bf16)
    args.disable_tqdm = not progress
    join_deepspeed(args)
    scorer = HPRMScorer(hprm, binary_task=config.reward.binary_task, slip_penalty=config.reward.slip_penalty)
    return HarpGRPOTrainer(
        model=model,
        reward_funcs=scorer.functions(),
        args=args,
        train_dataset=train_dataset,
        processing_class=processor,
        peft_config=prepare_trainable(model, config),
        validation=validation,
        callbacks=[
            FiniteGuard(),
            config_recorder(config),
        ],  # the guard before validation's: a NaN step stops before best/ (harp.train.guards)
        scorer=scorer,
        num_candidates=t.num_candidates,
        negatives_per_group=t.negatives_per_group,
        refusal_probe=t.refusal_probe,
        refusal_probe_names=t.refusal_probe_names,
        plan_grammar=plan_grammar(processor, hprm.domain, t.max_new_tokens) if t.constrained_sampling else None,
        grammar_leak_weight=t.grammar_leak_weight,
        first_token_temperature=t.first_token_temperature,
        use_ftca=config.reward.use_ftca,
        ftca_alpha=config.reward.ftca_alpha,
    )


@quiet_library_deprecations()
def train_grpo(config, resume: bool | str | None = None, progress: bool = True) -> Path:
    """Train GRPO as the config says; returns the `final/` model directory.

    `resume`: True = the latest `checkpoint-*` in `output_dir`, or a checkpoint path; None = the
    config's `training.resume_from_checkpoint`.
    """
    import torch

    from harp.train.grpo_eval import ValidationCallback

    t = config.training
    check_launch()
    domain = load_domain(config.model.domain, config.source)
    if t.deepspeed:
        check_deepspeed(config)
    resume = resume_checkpoint(t.resume_from_checkpoint if resume is None else resume, Path(t.output_dir))
    hprm = HPRM(domain, RewardWeights.from_config(config.reward))

    records = read_records(config.data.train_path)
    if not records:
        raise DataError(f"{config.data.train_path}: no training records")
    k = t.negatives_per_group
    negatives = None
    if k > 0:
        mined = negatives_by_record(config.data.negative_path) if config.data.negative_path else {}
        negatives, topped = prompt_negatives(records, mined, k, hprm, domain, t.seed)
        if topped:
            logger.warning(
                f"data.negative_path: {topped} of {len(records)} prompts had fewer than {k} negatives; "
                "topped up with verified rule-based perturbations"
            )
    if t.refusal_probe and not teaches_refusals(records, domain):
        raise ConfigError(
            f"{config.source}: training.refusal_probe: no task of {config.data.train_path} is impossible (no "
            "scene names what it is `missing`), so a refusal can never win; set it to false"
        )
    dataset = build_dataset(records, domain, negatives)

    val = val_path(config)
    val_records = load_test_records(val, domain, t.max_eval_samples) if val else []
    if not val_records:
        logger.warning("data.val_path: no val records; best/ is not written and no reward-hacking check runs")

    bf16 = use_bf16(t.bf16)
    model, processor = load_model_and_processor(
        config.model.sft_model_path, for_training=True, dtype=torch.bfloat16 if bf16 else torch.float32
    )
    validation = None
    if val_records:
        validation = ValidationCallback(
            val_records,
            domain,
            hprm,
            t.output_dir,
            t.eval_steps or t.save_steps,
            batch_size=max(4, t.per_device_train_batch_size * (t.num_candidates + k)),
            max_new_tokens=t.max_new_tokens,
            fresh=resume is None,
        )
    trainer = build_trainer(
        config, model, processor, dataset, hprm, validation=validation, bf16=bf16, progress=progress
    )

    trainer.train(resume_from_checkpoint=resume)
    finish_wandb()
    final = Path(t.output_dir) / "final"
    trainer.save_policy(final)
    if trainer.is_world_process_zero():
        save_run_config(config, final)
    if validation is not None and trainer.is_world_process_zero():
        logger.info(summary(validation.history))
    return final


def summary(history: list[dict]) -> str:
    """Val figures at the start (SFT), the end, and the best step, one line each."""

    def line(name, row):
        return (
            f"{name:<12} step {row['step']:>5}  task_completion {row['task_completion']:.4f}  "
            f"avg_reward {row['avg_reward']:.4f}  format {row['format_accuracy']:.4f}"
        )

    lines = []
    start = next((row for row in history if row["step"] == 0), None)
    if start:
        lines.append(line("val (SFT)", start))
    if history:
        lines.append(line("val (final)", history[-1]))
    best = [row for row in history if row.get("best")]
    if best:
        lines.append(line("val (best/)", max(best, key=lambda row: (row["avg_reward"], -row["step"]))))
    return "\n".join(lines)
