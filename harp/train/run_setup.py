"""Setting up a training run, shared by SFT (harp.train.sft) and GRPO (harp.train.grpo).

Both trainers take the same steps before TRL runs, with the same config keys: load the planning
domain (`model.domain`), freeze the vision tower and choose LoRA or full fine-tuning
(`model.freeze_vision_encoder`, `model.use_lora`, `lora.*`), check DeepSpeed, find the checkpoint
to resume, pick the loggers and the precision the machine can really run, and map the training
keys both configs spell alike onto the Trainer's arguments (`trainer_arguments`). After training,
both write their model the same way (`save_model_dir`: LoRA merged, ZeRO-3 shards gathered).

Loggers and precision: the guide's configs ask for `report_to: ["tensorboard", "wandb"]` and
`bf16: true`. On a machine without a W&B login (or without wandb installed) or without a bf16 GPU,
training still runs, with one warning saying what changed, instead of stopping at a prompt or
crashing in the first step.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import netrc
import os
import sys
import warnings
from pathlib import Path

from harp.config import save_run_config
from harp.errors import ConfigError
from harp.models import load as model_loading  # a module: tests stand in for model_loading.bf16_available
from harp.plan.loader import load_domain as load_plan_domain
from harp.processes import free_port, world_size
from harp.train.checkpoint import missing_parts, newest_complete_checkpoint

logger = logging.getLogger(__name__)

VISION_PREFIXES = ("visual.", "model.visual.")  # Qwen2.5-VL's vision tower and merger


@contextlib.contextmanager
def quiet_library_deprecations():
    """Within a training run (a context or a decorator): no FutureWarning about transformers 5's deprecated
    `is_gradient_checkpointing` alias (peft and TRL still read it, on every LoRA run), nor about torch's
    `all_gather_into_tensor`/`reduce_scatter_tensor` (DeepSpeed's ZeRO calls them, in every process). The
    warnings are the libraries', say nothing about the user's run, and scroll by on every run. Scoped to
    the run, so importing HARP changes no filter."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        warnings.filterwarnings(
            "ignore",
            message=r"`torch\.distributed\.(all_gather_into_tensor|reduce_scatter_tensor)` "
            r"is deprecated",
            category=FutureWarning,
        )
        yield


def load_domain(name: str, source: str = ""):
    """The planning domain the prompt describes; a missing domain is a ConfigError naming model.domain."""
    try:
        return load_plan_domain(name)
    except ConfigError as error:
        raise ConfigError(f"{source}: model.domain: {error}") from None


def prepare_trainable(model, config):
    """Freeze the vision tower if asked; return a PEFT LoraConfig when use_lora, else None (full fine-tuning).

    `config`: an SFTConfig or a GRPOConfig (both have `model.freeze_vision_encoder`, `model.use_lora`, `lora`)."""
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
    return LoraConfig(
        r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets, task_type="CAUSAL_LM"
    )


def check_deepspeed(config) -> None:
    """DeepSpeed needs its package. Without a GPU it runs on its CPU accelerator over gloo (said once);
    without a launcher (`python scripts/train_sft.py`) as a launch of one process."""
    if importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(
            f"{config.source}: training.deepspeed: the deepspeed package is not installed "
            f"(pip install deepspeed), or remove training.deepspeed"
        )
    if name_cpu_accelerator():
        logger.warning("training.deepspeed: no GPU visible; DeepSpeed runs on its CPU accelerator (gloo)")
    if "LOCAL_RANK" not in os.environ:
        # No launcher set these: DeepSpeed would look for MPI (mpi4py) to find its peers and fail.
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))


def name_cpu_accelerator() -> bool:
    """Without CUDA, name DeepSpeed's CPU accelerator (`DS_ACCELERATOR=cpu`) before anything imports deepspeed;
    true when there is no GPU. accelerate imports deepspeed in every Trainer run once it is installed, and
    DeepSpeed's own detection, which picks the same accelerator, prints a warning in every process doing so."""
    import torch

    if torch.cuda.is_available():
        return False
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    return True


def join_deepspeed(args) -> None:
    """DeepSpeed's process group, for a DeepSpeed run on the CPU, once the Trainer's arguments exist.

    There HARP joins the processes as accelerate's CPU processes (gloo, `use_cpu`), and accelerate then
    leaves deepspeed.comm unset: ZeRO-3's sharded loading (TRL's reference model, under zero.Init) would
    take the run for one process and fail its batch-size check. DeepSpeed adopts the gloo group."""
    if not (args.deepspeed and args.use_cpu):
        return
    import deepspeed

    args.device  # noqa: B018 (accelerate joins the processes when the device is first asked for)
    deepspeed.init_distributed(dist_backend="gloo")


def resume_checkpoint(setting, output_dir: Path):
    """The Trainer's resume argument: a complete checkpoint's path, or None to start fresh (with a
    note if there is none). `true` takes the newest complete `checkpoint-N` (harp.train.checkpoint)."""
    if not setting:
        return None
    if isinstance(setting, str):
        if not Path(setting).is_dir():
            raise ConfigError(f"training.resume_from_checkpoint: {setting} does not exist")
        missing = missing_parts(setting)
        if missing:
            raise ConfigError(
                f"training.resume_from_checkpoint: {setting} is incomplete (no {', no '.join(missing)}; "
                "a save was interrupted?): resume from an older checkpoint, or with --resume alone "
                "to take the newest complete one"
            )
        return setting
    last = newest_complete_checkpoint(output_dir, logger.warning)
    if last is None:
        logger.warning(f"resume: no complete checkpoint in {output_dir}; starting from the beginning")
    return last


def save_model_dir(trainer, path) -> None:
    """The trainer's model as an ordinary model directory at `path` (LoRA merged), with its processor;
    every process calls it (under ZeRO-3 the Trainer's save gathers the shards).

    LoRA: the Trainer saves the adapter, then the main process merges it into a fresh copy of the
    base weights on the CPU (no second copy of the model on the GPU) and removes the adapter folder."""
    from peft import PeftModel

    if not isinstance(trainer.accelerator.unwrap_model(trainer.model), PeftModel):
        trainer.save_model(str(path))
        return
    import shutil

    import torch
    from peft import PeftConfig
    from transformers import AutoModelForImageTextToText

    path = Path(path)
    adapter = path.with_name(path.name + "-adapter")
    trainer.save_model(str(adapter))
    if trainer.is_world_process_zero():
        with outside_zero3(trainer.args):
            base = AutoModelForImageTextToText.from_pretrained(
                PeftConfig.from_pretrained(str(adapter)).base_model_name_or_path,
                dtype=torch.bfloat16 if trainer.args.bf16 else torch.float32,
            )
            merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
        merged.save_pretrained(path)
        trainer.processing_class.save_pretrained(path)
        shutil.rmtree(adapter)
    trainer.accelerator.wait_for_everyone()


@contextlib.contextmanager
def outside_zero3(args):
    """Models load whole within it, in a ZeRO-3 run. While a ZeRO-3 Trainer lives, transformers loads
    every model sharded over the processes (deepspeed.zero.Init): one process loading alone would wait
    for the others forever."""
    from transformers.integrations.deepspeed import set_hf_deepspeed_config, unset_hf_deepspeed_config

    config = getattr(args, "hf_deepspeed_config", None)
    if config is None:
        yield
        return
    unset_hf_deepspeed_config()
    try:
        yield
    finally:
        set_hf_deepspeed_config(config)


def config_recorder(config):
    """A TrainerCallback writing the resolved config (harp.config.save_run_config) into the run's
    output folder when training starts and into each `checkpoint-{step}/` it saves."""
    from transformers import TrainerCallback

    class RecordConfig(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                save_run_config(config, args.output_dir)

        def on_save(self, args, state, control, **kwargs):
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and checkpoint.is_dir():
                save_run_config(config, checkpoint)

    return RecordConfig()


def trainer_arguments(training, bf16: bool, report_to: list[str]) -> dict:
    """The Trainer arguments SFT and GRPO map alike from their `training` section (TRL's names)."""
    import torch

    name_cpu_accelerator()
    t = training
    return dict(
        output_dir=t.output_dir,
        num_train_epochs=t.num_epochs,
        max_steps=t.max_steps,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_steps,
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        bf16=bf16,
        use_cpu=use_cpu(bf16),  # several CPU processes over gloo; bf16 on a CPU (tests only)
        log_level_replica="error",  # the other ranks print errors only: each warning once
        ddp_find_unused_parameters=False,  # every trainable weight gets a gradient each step (DDP warned per rank)
        report_to=report_to,
        run_name=t.run_name,
        activation_checkpointing=t.gradient_checkpointing,  # transformers 5 name of gradient_checkpointing
        deepspeed=t.deepspeed,
        seed=t.seed,
        data_seed=t.seed,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),  # no "pin_memory ... no accelerator" warning on a CPU
        logging_nan_inf_filter=False,  # a NaN loss is logged as NaN, so harp.train.guards stops the run
    )


def resolve_report_to(report_to: list[str]) -> list[str]:
    """The loggers to pass to the Trainer: W&B goes offline (or away) with one warning when it cannot log in."""
    chosen = [name for name in report_to if name != "none"]
    if "wandb" in chosen:
        if importlib.util.find_spec("wandb") is None:
            logger.warning("report_to: wandb is not installed (pip install wandb); logging to the other loggers only")
            chosen.remove("wandb")
        elif os.environ.get("WANDB_MODE", "").lower() not in ("offline", "disabled") and not wandb_logged_in():
            logger.warning(
                "report_to: no W&B login found (WANDB_API_KEY or `wandb login`); W&B runs offline "
                "in ./wandb (sync later with `wandb sync`)"
            )
            os.environ["WANDB_MODE"] = "offline"
    return chosen or ["none"]


def finish_wandb() -> None:
    """End the stage's W&B run, which the Trainer leaves open: its summary is written now, and a next
    stage in the same process (SFT then GRPO) logs to a run of its own instead of into this one."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()


def wandb_logged_in() -> bool:
    """True when W&B has an API key: the environment or the netrc file `wandb login` writes."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        hosts = netrc.netrc(str(path)).hosts
    except (OSError, netrc.NetrcParseError):
        return False
    return any("wandb" in host for host in hosts)


def use_bf16(requested: bool) -> bool:
    """bf16 only where the hardware computes in it; otherwise fp32 with one warning."""
    if requested and not model_loading.bf16_available():
        logger.warning("training.bf16: no bf16-capable GPU here; training in fp32")
        return False
    return requested


def use_cpu(bf16: bool) -> bool:
    """The Trainer's `use_cpu`. Without CUDA it must be set for accelerate to join several processes
    over gloo (unset, each process trains alone, all writing the same output_dir); bf16 on a CPU
    (tests only, HARP_TEST_CPU_BF16) also needs it. With CUDA it stays off."""
    import torch

    return not torch.cuda.is_available() and (bf16 or world_size() > 1)


def check_launch() -> None:
    """`accelerate launch --cpu --num_processes N` starts ONE process (several CPU processes need its
    mpirun launcher); say so once instead of letting the user believe N processes trained."""
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() == "true" and "MASTER_ADDR" in os.environ and world_size() == 1:
        logger.warning(
            "accelerate launch --cpu starts a single process; for several CPU processes use "
            "`accelerate launch --multi_gpu --num_processes N` without --cpu on a machine without CUDA "
            "(HARP then trains on the CPU over gloo) or torchrun --nproc_per_node N"
        )
