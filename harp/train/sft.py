"""Supervised fine-tuning of a Qwen2.5-VL planner on (image, task) -> plan records, on TRL's SFTTrainer.

`train_sft(config)` is the whole stage: it loads the model (hub id or local directory), freezes the
vision tower if asked, adds LoRA adapters (or trains every weight with `use_lora: false`), trains
with the guide's settings, evaluates on the val split, and writes the guide's folders:

    <output_dir>/checkpoint-{step}/   Trainer checkpoints (adapters or weights, optimizer, processor)
    <output_dir>/final/               the model with LoRA merged, and its processor: from_pretrained loads it
    <output_dir>/runs/                TensorBoard event files

What we add to TRL, and why: the collator (harp.train.sft_data: images are read lazily and nothing
is ever truncated, so image tokens stay whole; the loss is on the plan only), LoRA target modules
restricted to the language model when the vision tower is frozen (Qwen2.5-VL's vision blocks also
have gate/up/down_proj layers), W&B/bf16 fallbacks (harp.train.report), resuming full fine-tuning
with the checkpoint's weights really loaded (harp.train.checkpoint), and a final merged model.
"""

from __future__ import annotations

import time
from pathlib import Path

from harp.config import SFTConfig
from harp.errors import ConfigError, DataError
from harp.train.report import resolve_report_to, use_bf16, warn

VISION_PREFIXES = ("visual.", "model.visual.")  # Qwen2.5-VL's vision tower and merger


def train_sft(config: SFTConfig) -> Path:
    """Run SFT as configured; return the final model directory (<output_dir>/final)."""
    import torch
    from datasets import Dataset

    from harp.models.load import load_model_and_processor
    from harp.train.sft_data import drop_overlong, load_examples

    started = time.time()
    t = config.training
    output_dir = Path(t.output_dir)
    domain = load_domain(config.model.domain, config.source)
    report_to = resolve_report_to(t.report_to)
    bf16 = use_bf16(t.bf16)
    if t.deepspeed:
        check_deepspeed(config)
    resume = resume_checkpoint(t.resume_from_checkpoint, output_dir)

    model, processor = load_model_and_processor(config.model.name, dtype=torch.bfloat16 if bf16 else torch.float32,
                                                max_pixels=config.model.max_pixels, for_training=True)
    train = load_examples(config.data.train_path)
    val = load_examples(config.data.val_path) if config.data.val_path else []
    train, skipped = drop_overlong(train, processor, domain, t.max_length, config.data.on_overlong, "train")
    val, skipped_val = drop_overlong(val, processor, domain, t.max_length, config.data.on_overlong, "val")
    for note in skipped + skipped_val:
        warn(f"skipped {note}")
    if not train:
        raise DataError(f"{config.data.train_path}: no sample fits training.max_length {t.max_length}")

    peft_config = prepare_trainable(model, config)
    trainer = build_trainer(config, model, processor, domain, Dataset.from_list(train),
                            Dataset.from_list(val) if val else None, peft_config, report_to, bf16)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    if trainer.is_world_process_zero():
        print(f"SFT: {len(train)} train / {len(val)} val samples ({len(skipped) + len(skipped_val)} skipped as overlong), "
              f"{trainable / 1e6:.2f}M of {total / 1e6:.2f}M parameters trainable, "
              f"{'LoRA' if config.model.use_lora else 'full fine-tuning'}, {'bf16' if bf16 else 'fp32'}")
    result = trainer.train(resume_from_checkpoint=resume)
    metrics = {"train_loss": result.training_loss, "steps": trainer.state.global_step}
    if val:
        metrics["eval_loss"] = trainer.evaluate()["eval_loss"]
    final = save_final(trainer, config, processor, bf16)
    if trainer.is_world_process_zero():
        shown = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
        print(f"SFT done in {time.time() - started:.0f}s: {shown}; final model: {final}")
    return final


def load_domain(name: str, source: str = ""):
    """The planning domain the prompt describes; a missing domain is a ConfigError naming model.domain."""
    from harp.plan.domain import Domain

    try:
        return Domain.load(name)
    except ConfigError as error:
        raise ConfigError(f"{source}: model.domain: {error}") from None


def prepare_trainable(model, config: SFTConfig):
    """Freeze the vision tower if asked; return a PEFT LoraConfig when use_lora, else None (full fine-tuning)."""
    if config.model.freeze_vision_encoder:
        for name, param in model.named_parameters():
            if name.startswith(VISION_PREFIXES):
                param.requires_grad_(False)
    if not config.model.use_lora:
        return None
    from peft import LoraConfig

    lora = config.lora
    targets = lora.target_modules
    if config.model.freeze_vision_encoder:
        # A regex over full module names: the listed layers, outside the vision tower.
        targets = rf"^(?!.*\bvisual\b).*\.({'|'.join(lora.target_modules)})$"
    return LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets,
                      task_type="CAUSAL_LM")


def build_trainer(config: SFTConfig, model, processor, domain, train_dataset, eval_dataset, peft_config,
                  report_to: list[str], bf16: bool):
    """TRL's SFTTrainer with the guide's settings and our collator."""
    import torch
    from trl import SFTConfig as TRLSFTConfig

    from harp.train.sft_data import PlanCollator

    t = config.training
    args = TRLSFTConfig(
        output_dir=t.output_dir,
        num_train_epochs=t.num_epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_steps,
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        eval_strategy="steps" if eval_dataset is not None else "no",
        eval_steps=t.eval_steps,
        bf16=bf16,
        use_cpu=bf16 and not torch.cuda.is_available(),  # bf16 on a CPU: tests only (HARP_TEST_CPU_BF16)
        report_to=report_to,
        run_name=t.run_name,
        activation_checkpointing=t.gradient_checkpointing,  # transformers 5 name of gradient_checkpointing
        deepspeed=t.deepspeed,
        seed=t.seed,
        data_seed=t.seed,
        max_length=None,  # our collator never truncates; overlong samples were dropped beforehand
        remove_unused_columns=False,  # the collator needs image, task, completion
        dataset_kwargs={"skip_prepare_dataset": True},
        label_names=["labels"],
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False,
    )
    return _sft_trainer_class()(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=processor,
        data_collator=PlanCollator(processor, domain),
        peft_config=peft_config,
    )


def _sft_trainer_class():
    from trl import SFTTrainer

    from harp.train.checkpoint import ResumableMixin

    class HarpSFTTrainer(ResumableMixin, SFTTrainer):
        """TRL's SFTTrainer, resuming full fine-tuning with its weights (harp.train.checkpoint)."""

    return HarpSFTTrainer


def resume_checkpoint(setting, output_dir: Path):
    """The Trainer's resume argument: a checkpoint path, or None to start fresh (with a note if none exists)."""
    if not setting:
        return None
    if isinstance(setting, str):
        if not Path(setting).is_dir():
            raise ConfigError(f"training.resume_from_checkpoint: {setting} does not exist")
        return setting
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if last is None:
        warn(f"resume: no checkpoint in {output_dir}; starting from the beginning")
    return last


def save_final(trainer, config: SFTConfig, processor, bf16: bool) -> Path:
    """Write <output_dir>/final: merged weights (LoRA folded in) and the processor, loadable by from_pretrained."""
    final = Path(config.training.output_dir) / "final"
    if not config.model.use_lora:
        trainer.save_model(str(final))  # gathers ZeRO-3 shards when needed
        if trainer.is_world_process_zero():
            processor.save_pretrained(final)
        return final
    # LoRA: save the adapter (ZeRO-safe), then merge it into a fresh copy of the base weights on the main process.
    adapter_dir = Path(config.training.output_dir) / "final-adapter"
    trainer.save_model(str(adapter_dir))
    if trainer.is_world_process_zero():
        import shutil

        import torch
        from peft import PeftModel
        from transformers import AutoModelForImageTextToText

        from harp.models.load import resolve_model_path

        base = AutoModelForImageTextToText.from_pretrained(resolve_model_path(config.model.name),
                                                           dtype=torch.bfloat16 if bf16 else torch.float32)
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
        merged.save_pretrained(final)
        processor.save_pretrained(final)
        shutil.rmtree(adapter_dir)
    trainer.accelerator.wait_for_everyone()
    return final


def check_deepspeed(config: SFTConfig) -> None:
    """DeepSpeed needs its package and a GPU; say so in one line instead of a deep traceback."""
    import importlib.util

    import torch

    if importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(f"{config.source}: training.deepspeed: the deepspeed package is not installed "
                          f"(pip install deepspeed), or remove training.deepspeed")
    if not torch.cuda.is_available():
        raise ConfigError(f"{config.source}: training.deepspeed: DeepSpeed needs a GPU and none is visible; "
                          f"remove training.deepspeed to train on the CPU")
