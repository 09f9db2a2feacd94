"""Loading a Qwen2.5-VL model and its processor from a hub id or a local directory.

Every stage loads models here, so the failure a user meets most (no network, no local copy) reads
the same everywhere, in one line, and names the embedded model as the way to try the pipeline.
Before touching the network we look in the local Hugging Face cache and check that the hub's host
resolves: without that, `from_pretrained` retries for half a minute before failing.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from harp.errors import HarpError

EMBEDDED_MODEL_DIR = "models/tiny-qwen2.5-vl"
EMBEDDED_HINT = (
    f"to try the pipeline offline, build the embedded model with "
    f"`harp model init-tiny --out {EMBEDDED_MODEL_DIR}` and use model.name: {EMBEDDED_MODEL_DIR}"
)


class ModelNotFoundError(HarpError):
    """A model directory or hub id cannot be loaded (missing, offline, not a Qwen2.5-VL checkpoint)."""


def resolve_model_path(name: str | Path) -> str:
    """A local directory as is, or a hub id found in the cache or downloadable; else ModelNotFoundError."""
    name = str(name)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{name}: not a model directory (no config.json); {EMBEDDED_HINT}")
        return str(path)
    # A hub id is `owner/name`; anything else, or a path under an existing folder, is a local path.
    looks_local = name.startswith((".", "/", "~")) or name.count("/") != 1 or Path(name.split("/")[0]).is_dir()
    if looks_local:
        raise ModelNotFoundError(f"{name}: model directory not found{_did_you_mean(path)}; {EMBEDDED_HINT}")
    if _in_cache(name):
        return name
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ModelNotFoundError(
            f"{name}: not in the local Hugging Face cache and HF_HUB_OFFLINE is set; {EMBEDDED_HINT}"
        )
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    if not _resolves(host):
        raise ModelNotFoundError(
            f"{name}: no such local directory, not in the Hugging Face cache, and {host} cannot be reached (offline?); {EMBEDDED_HINT}"
        )
    return name


def _did_you_mean(path: Path) -> str:
    """` (did you mean outputs/grpo/final?)` for a typo beside real model directories, else ``."""
    import difflib

    try:
        models = [p.name for p in path.parent.iterdir() if (p / "config.json").is_file()]
    except OSError:  # no such folder, or unreadable
        return ""
    close = difflib.get_close_matches(path.name, models, n=1)
    return f" (did you mean {path.parent / close[0]}?)" if close else ""


def load_processor(name: str | Path, max_pixels: int | None = None):
    """AutoProcessor for a model, with the image processor capped at `max_pixels` when given."""
    from transformers import AutoProcessor

    path = resolve_model_path(name)
    try:
        processor = AutoProcessor.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise ModelNotFoundError(f"{name}: cannot load the processor: {_first_line(error)}") from None
    if max_pixels is not None:
        set_max_pixels(processor, max_pixels)
    # Batched generation needs left padding; training collators pad explicitly per call.
    processor.tokenizer.padding_side = "left"
    if processor.tokenizer.pad_token is None:
        processor.tokenizer.pad_token = processor.tokenizer.eos_token
    return processor


def set_max_pixels(processor, max_pixels: int) -> None:
    """Cap image (and video) size: fewer pixels, fewer image tokens, less memory."""
    for sub in (getattr(processor, "image_processor", None), getattr(processor, "video_processor", None)):
        if sub is None or not hasattr(sub, "size"):
            continue
        size = dict(sub.size)
        size["longest_edge"] = int(max_pixels)
        size["shortest_edge"] = min(int(size.get("shortest_edge") or max_pixels), int(max_pixels))
        sub.size = size


def load_model_and_processor(
    name: str | Path,
    *,
    dtype=None,
    device: str | None = None,
    max_pixels: int | None = None,
    for_training: bool = False,
):
    """(model, processor) for a hub id or a local directory; `dtype` None = bf16 on a bf16 GPU, else fp32.

    The model is in eval mode on `device` (None = CUDA when available, else CPU); with `for_training`
    it is left in train mode where it was loaded, for the Trainer to place.
    """
    import torch
    from transformers import AutoModelForImageTextToText

    path = resolve_model_path(name)
    processor = load_processor(path, max_pixels=max_pixels)
    if dtype is None:
        dtype = torch.bfloat16 if bf16_available() else torch.float32
    try:
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
    except (OSError, ValueError) as error:
        raise ModelNotFoundError(f"{name}: cannot load the model: {_first_line(error)}") from None
    if for_training:
        model.train()  # the Trainer (or accelerate/DeepSpeed) places it on the devices
        if not torch.cuda.is_available():
            limit_cpu_threads(model)
        return model, processor
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    model.eval()
    if model.device.type == "cpu":
        limit_cpu_threads(model)
    return model, processor


SMALL_MODEL_PARAMS = 50_000_000


def limit_cpu_threads(model) -> None:
    """Run a small model on one intra-op thread (process-wide) unless OMP_NUM_THREADS says otherwise.

    A model this small gains nothing from splitting each tiny matmul across threads, and on a busy
    CPU the threads wait on each other. Measured on this project's 2-core machine shared with other
    jobs (benchmarks/sft_step.py): an SFT step of the tiny model, batch 8, 0.12 s on one thread
    against 7.0 s on two; 32 greedy plans, 0.45 s against 8.1 s.
    """
    import torch

    if "OMP_NUM_THREADS" not in os.environ and sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMS:
        torch.set_num_threads(1)


# Tests only: torch runs bf16 on a CPU too (slowly), so CI can train in bf16 and catch dtype mistakes.
CPU_BF16_ENV = "HARP_TEST_CPU_BF16"


def bf16_available() -> bool:
    """True on a GPU that computes in bf16 (Ampere or newer); CPUs train in fp32 unless HARP_TEST_CPU_BF16=1."""
    import torch

    if os.environ.get(CPU_BF16_ENV) == "1":
        return True
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _in_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # a malformed id or cache: let the download path report it
        return False
    return isinstance(found, str)


def _resolves(host: str, timeout: float = 3.0) -> bool:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False
    finally:
        socket.setdefaulttimeout(previous)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
