"""Supervised fine-tuning of a Qwen2.5-VL planner on (image, task) -> plan records, on TRL's SFTTrainer.

`train_sft(config)` is the whole stage: it loads the model (hub id or local directory), freezes the
vision tower if asked, adds LoRA adapters (or trains every weight with `use_lora: false`), trains
with the guide's settings, evaluates on the val split, and writes the guide's folders:

    <output_dir>/checkpoint-{step}/   Trainer checkpoints (adapters or weights, optimizer, processor)
    <output_dir>/final/               the model with LoRA merged, and its processor: from_pretrained loads it
    <output_dir>/runs/                TensorBoard event files
    harp_config.yaml                  the resolved config (every key), in <output_dir>, final/ and each checkpoint

What we add to TRL, and why: the collator (harp.train.sft_data: images are read lazily and nothing
is ever truncated, so image tokens stay whole; the loss is on the plan only), LoRA target modules
restricted to the language model when the vision tower is frozen (Qwen2.5-VL's vision blocks also
have gate/up/down_proj layers), W&B/bf16 fallbacks (harp.train.run_setup), resuming full fine-tuning
with the checkpoint's weights really loaded (harp.train.checkpoint), and a final merged model.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from harp.config import LR_SCHEDULERS, SFTConfig, save_run_config
from harp.errors import DataError
from harp.models.load import load_model_and_processor
from harp.train.checkpoint import ResumableMixin
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
    save_model_dir,
    trainer_arguments,
    use_bf16,
)
from harp.train.sft_data import PlanCollator, drop_overlong, load_examples

logger = logging.getLogger(__name__)


@quiet_library_deprecations()
def train_sft(config: SFTConfig) -> Path:
    """Run SFT as configured; return the final model directory (<output_dir>/final)."""
    import torch
    from datasets import Dataset

    started = time.time()
    t = config.training
    output_dir = Path(t.output_dir)
    check_launch()
    domain = load_domain(config.model.domain, config.source)
    bf16 = use_bf16(t.bf16)
    if t.deepspeed:
        check_deepspeed(config)
    resume = resume_checkpoint(t.resume_from_checkpoint, output_dir)

    model, processor = load_model_and_processor(
        config.model.name,
        dtype=torch.bfloat16 if bf16 else torch.float32,
        max_pixels=config.model.max_pixels,
        for_training=True,
    )
    train = load_examples(config.data.train_path)[: config.data.max_train_records]
    val = load_examples(config.data.val_path) if config.data.val_path else []
    train, skipped = drop_overlong(train, processor, domain, t.max_length, config.data.on_overlong, "train")
    val, skipped_val = drop_overlong(val, processor, domain, t.max_length, config.data.on_overlong, "val")
    for note in skipped + skipped_val:
        logger.warning(f"skipped {note}")
    if not train:
        raise DataError(f"{config.data.train_path}: no sample fits training.max_length {t.max_length}")

    trainer = build_trainer(
        config, model, processor, domain, Dataset.from_list(train), Dataset.from_list(val) if val else None, bf16=bf16
    )
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    if trainer.is_world_process_zero():
        logger.info(
            f"SFT: {len(train)} train / {len(val)} val samples ({len(skipped) + len(skipped_val)} skipped as overlong), "
            f"{trainable / 1e6:.2f}M of {total / 1e6:.2f}M parameters trainable, "
            f"{'LoRA' if config.model.use_lora else 'full fine-tuning'}, {'bf16' if bf16 else 'fp32'}"
        )
    result = trainer.train(resume_from_checkpoint=resume)
    metrics = {"train_loss": result.training_loss, "steps": trainer.state.global_step}
    if val:
        metrics["eval_loss"] = trainer.evaluate()["eval_loss"]
    finish_wandb()
    final = output_dir / "final"
    save_model_dir(trainer, final)  # LoRA merged, ZeRO-3 shards gathered
    if trainer.is_world_process_zero():
        save_run_config(config, final)
    if trainer.is_world_process_zero():
        shown = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
        logger.info(f"SFT done in {time.time() - started:.0f}s: {shown}; final model: {final}")
    return final


def build_trainer(
    config: SFTConfig, model, processor, domain, train_dataset, eval_dataset=None, *, bf16: bool | None = None
):
    """TRL's SFTTrainer with the guide's settings and our collator; the vision freeze and LoRA applied.

    `bf16`: the precision the caller already resolved (None: resolve it here, warning on a CPU)."""
    from trl import SFTConfig as TRLSFTConfig

    from harp.train.guards import FiniteGuard

    t = config.training
    args = TRLSFTConfig(
        **trainer_arguments(t, use_bf16(t.bf16) if bf16 is None else bf16, resolve_report_to(t.report_to)),
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size,
        eval_strategy="steps" if eval_dataset is not None else "no",
        eval_steps=t.eval_steps,
        lr_scheduler_type=LR_SCHEDULERS[t.lr_scheduler],
        max_length=None,  # our collator never truncates; overlong samples were dropped beforehand
        remove_unused_columns=False,  # the collator needs image, task, completion
        dataset_kwargs={"skip_prepare_dataset": True},
        label_names=["labels"],
        disable_tqdm=False,
    )
    join_deepspeed(args)
    return _sft_trainer_class()(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processor,
        data_collator=PlanCollator(processor, domain),
        peft_config=prepare_trainable(model, config),
        callbacks=[
            FiniteGuard(),
            config_recorder(config),
        ],  # the guard first: a NaN run stops before it saves (harp.train.guards)
    )


def _sft_trainer_class():
    from trl import SFTTrainer

    class HarpSFTTrainer(ResumableMixin, SFTTrainer):
        """TRL's SFTTrainer, resuming full fine-tuning with its weights (harp.train.checkpoint), and
        its loss the mean over every plan token of the optimizer step.

        Qwen2.5-VL declares `accepts_loss_kwargs = False`, so the Trainer would not count the step's
        tokens: each micro-batch's loss would be its own token mean, averaged over processes and
        accumulation steps, and N processes (or N accumulation steps) would train on other gradients than
        one process with the same samples. TRL's loss divides by that count itself (the model never sees
        it), so the count is asked for."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.model_accepts_loss_kwargs = True

    return HarpSFTTrainer
