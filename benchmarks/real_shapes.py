"""Qwen2.5-VL-3B and -7B at their real shapes on the CPU, through HARP's own stages, and the GPU memory
they would need at full depth.

    python benchmarks/real_shapes.py [--sizes 3b 7b] [--depths 1 2] [--max-new-tokens 128] [--grpo-full]

Each model is the real architecture (harp/models/qwen_sizes.py: widths, heads, vocabulary, vision
patch and merge sizes, M-RoPE) with the hub processor's pixel limits, so a 640x480 frame is 391 image
tokens; only its depth is cut (`--depths` text layers, one vision block) and its weights are random
(bf16). The tokenizer is the embedded tiny model's (no download): prompts are shorter than with
Qwen's tokenizer, image tokens are not. For each size and depth the guide's stages run in this
process, in order, each timed and its peak memory measured (resident, while it trains or generates,
above the process's before the stage): one LoRA SFT step (configs/sft_config.yaml: rank 64, 2
samples), negatives for 2 records, one GRPO step (configs/grpo_config.yaml: 1 prompt x 4 candidates
+ 1 negative; with LoRA unless `--grpo-full`, the guide's full fine-tuning, which needs about 10
bytes per parameter), and an evaluation of the 2 records. Generation runs to `--max-new-tokens`
(random weights rarely stop).

The GPU estimate, per stage, for the full depth at the guide's settings in bf16 (README, "Real shapes"):

    memory(L) = static(L) + a + b * L
    static    = 2 P                                  weights (bf16), every stage
              + 16 P_lora                            LoRA: fp32 adapter, its gradient, AdamW's two moments
              + 2 P + 6 P_train                      GRPO full fine-tuning: the reference model, bf16
                                                     gradients and AdamW moments of the trained weights
    a + b * L = what the stage measured above its static memory at depth 1 and 2, fitted linearly
                (activations, logits, KV cache, allocator), extrapolated to L layers

where P counts every parameter at depth L (vision tower at its 32 blocks), P_train those outside the
frozen vision tower. It is an estimate from CPU resident memory (the CPU's attention and allocator are
not a GPU's); benchmarks/gpu_check.py measures a GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CARDS_GB = (24, 48, 80)
IMAGE = (640, 480)  # BridgeData V2 frames
VISION_BLOCKS = 1  # measured depth of the vision tower (its 32 frozen blocks are only weights at full depth)
STAGES = ("sft", "negatives", "grpo", "evaluate")
SCALED = {  # the test's stand-in: the same layout at a fraction of the width
    "text": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 2048,
    },
    "vision": {"hidden_size": 32, "intermediate_size": 64, "num_heads": 2},
    "rope": [2, 3, 3],  # head_dim 16: mrope sections sum to 8
}


@dataclass
class Stage:
    size: str
    depth: int
    name: str
    seconds: float
    peak_gb: float  # resident memory in training and generation, above the process's before the stage


@dataclass
class Shape:
    size: str
    layers: int  # full depth
    params: dict = field(default_factory=dict)  # at full depth: total, vision, lora
    per_depth: dict = field(default_factory=dict)  # measured depth -> total, vision, lora


# ----------------------------------------------------------------------------------- memory


def _kib(field: str) -> float:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 2**20


class Windows:
    """The peak resident memory (Linux) inside the calls that hold a model on the device: the Trainer's
    `train` and every `generate`, not the loading and saving around them (a GPU run loads on the CPU,
    and HARP merges LoRA there)."""

    def __init__(self):
        self.peak = 0.0
        self.depth = 0  # windows open (generate runs inside train)
        self.saved = []

    @contextlib.contextmanager
    def installed(self):
        import transformers

        self.saved = [
            (owner, name, getattr(owner, name))
            for owner, name in ((transformers.Trainer, "train"), (transformers.GenerationMixin, "generate"))
        ]
        for owner, name, call in self.saved:
            setattr(owner, name, self._watched(call))
        try:
            yield
        finally:
            for owner, name, call in self.saved:
                setattr(owner, name, call)

    def _watched(self, call):
        def watched(*args, **kwargs):
            if self.depth:
                self.peak = max(self.peak, _kib("VmHWM"))  # the enclosing window's peak so far
            Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current size
            self.depth += 1
            try:
                return call(*args, **kwargs)
            finally:
                self.depth -= 1
                self.peak = max(self.peak, _kib("VmHWM"))
                if self.depth:
                    Path("/proc/self/clear_refs").write_text("5")  # the enclosing window goes on from here

        return watched


WINDOWS = Windows()


@contextlib.contextmanager
def measured(stages: list, size: str, depth: int, name: str):
    """Time a stage, and its peak resident memory in its windows above what the process held before it."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed memory back, so the baseline is what is live
    before, started = _kib("VmRSS"), time.perf_counter()
    WINDOWS.peak = 0.0
    yield
    stages.append(Stage(size, depth, name, time.perf_counter() - started, WINDOWS.peak - before))
    print(f"  {size} depth {depth} {name:<9} {stages[-1].seconds:7.1f} s  {stages[-1].peak_gb:6.2f} GB", flush=True)


# ------------------------------------------------------------------------------------ model


def shape_config(size: str, depth: int, token_ids: dict, scaled: bool = False):
    """The real config of `size` (or the scaled stand-in) with `depth` text layers and one vision block,
    its special token ids the tokenizer's."""
    from harp.models.qwen_sizes import real_config

    config = real_config(size)
    text, vision = config.text_config, config.vision_config
    if scaled:
        for key, value in SCALED["text"].items():
            setattr(text, key, value)
        for key, value in SCALED["vision"].items():
            setattr(vision, key, value)
        text.rope_parameters["mrope_section"] = list(SCALED["rope"])
        text.head_dim = text.hidden_size // text.num_attention_heads
        vision.out_hidden_size = text.hidden_size
    text.num_hidden_layers, text.max_window_layers = depth, depth
    text.layer_types = ["full_attention"] * depth
    vision.depth, vision.fullatt_block_indexes = VISION_BLOCKS, [VISION_BLOCKS - 1]
    for key in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"):
        setattr(config, key, token_ids[key])
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        setattr(text, key, token_ids["text_config"][key])
    return config


def write_model(config, out: Path, tokenizer_dir: Path) -> Path:
    """Random bf16 weights of `config`, with the tokenizer of `tokenizer_dir` and the hub's pixel limits."""
    import torch
    from transformers import AutoProcessor, GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from harp.models.qwen_sizes import HUB_IMAGE_SIZE

    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    model.generation_config = GenerationConfig.from_pretrained(tokenizer_dir)
    model.save_pretrained(out)
    del model
    processor = AutoProcessor.from_pretrained(tokenizer_dir)
    processor.image_processor.size = dict(HUB_IMAGE_SIZE)
    processor.save_pretrained(out)
    return out


def parameters(config, lora_rank: int = 64) -> dict:
    """Parameters of `config` (tied weights once): total, vision tower, and the guide's LoRA adapters (q/k/v/o)."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from harp.models.qwen_sizes import parameter_counts

    with torch.device("meta"):  # no memory; tied weights tied
        model = Qwen2_5_VLForConditionalGeneration._from_config(config)
    counts = parameter_counts(model)
    t = config.text_config
    head_dim = t.hidden_size // t.num_attention_heads
    kv = t.num_key_value_heads * head_dim
    lora = t.num_hidden_layers * lora_rank * (6 * t.hidden_size + 2 * kv)  # r x (in + out) of q, k, v, o
    return {"total": counts["total"], "vision": counts["vision"], "lora": lora}


# ------------------------------------------------------------------------------------- data


def records(folder: Path, count: int = 2) -> Path:
    """`count` synthetic scenes as 640x480 frames, the guide's record format."""
    from PIL import Image

    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic

    build_synthetic(num_scenes=count, seed=11, images_dir=folder / "img", output_dir=folder, progress=False)
    rows = read_records(folder / "actions.jsonl")
    for row in rows:
        Image.open(row.image_path).convert("RGB").resize(IMAGE).save(row.image_path)
    write_records(folder / "train.jsonl", rows)
    return folder / "train.jsonl"


def tokens_note(model: Path, data: Path) -> str:
    """How long one SFT sample of `data` is for `model`'s processor, and its image's share."""
    from harp.models.load import load_processor
    from harp.plan import load_domain
    from harp.train.sft_data import load_examples, sample_length

    processor = load_processor(model)
    example = load_examples(data)[0]
    image = (
        processor.image_processor.get_number_of_image_patches(IMAGE[1], IMAGE[0], {})
        // processor.image_processor.merge_size**2
    )
    return (
        f"a {IMAGE[0]}x{IMAGE[1]} frame: {image} image tokens; one SFT sample: "
        f"{sample_length(processor, example, load_domain('navigate_pick_place'))} tokens (the embedded tokenizer)"
    )


# ----------------------------------------------------------------------------------- stages


def run_stages(
    model: Path,
    data: Path,
    work: Path,
    size: str,
    depth: int,
    stages: list,
    *,
    max_new_tokens: int,
    grpo_full: bool,
    max_length: int = 1024,
) -> None:
    """The guide's stages on `model`, each measured: SFT (LoRA), negatives, GRPO, evaluation."""
    from harp.config import load_grpo_config, load_sft_config
    from harp.eval.evaluate import evaluate
    from harp.negatives.mine import generate_negatives
    from harp.train.grpo import train_grpo
    from harp.train.sft import train_sft

    quiet = ["training.report_to=none", "training.save_steps=1000", "training.logging_steps=1", "training.max_steps=1"]
    with measured(stages, size, depth, "sft"):
        # max_length: 391 image tokens + the prompt + the plan pass the guide's 512 with Qwen's tokenizer (README)
        train_sft(
            load_sft_config(
                ROOT / "configs" / "sft_config.yaml",
                quiet
                + [
                    f"model.name={model}",
                    f"data.train_path={data}",
                    "data.val_path=null",
                    f"training.output_dir={work / 'sft'}",
                    "training.gradient_accumulation_steps=1",
                    f"training.max_length={max_length}",
                    "training.warmup_steps=0",
                ],
            )
        )
    sft_model = work / "sft" / "final"
    with measured(stages, size, depth, "negatives"):
        generate_negatives(
            str(sft_model), data, work / "negatives.jsonl", max_new_tokens=max_new_tokens, progress=False
        )
    with measured(stages, size, depth, "grpo"):
        train_grpo(
            load_grpo_config(
                ROOT / "configs" / "grpo_config.yaml",
                quiet
                + [
                    f"model.sft_model_path={sft_model}",
                    f"data.train_path={data}",
                    f"data.negative_path={work / 'negatives.jsonl'}",
                    "data.val_path=null",
                    f"training.output_dir={work / 'grpo'}",
                    f"training.max_new_tokens={max_new_tokens}",
                    f"model.use_lora={str(not grpo_full).lower()}",
                    "training.warmup_steps=0",
                ],
            ),
            progress=False,
        )
    with measured(stages, size, depth, "evaluate"):
        evaluate(
            str(work / "grpo" / "final"),
            data,
            work / "evaluation.json",
            batch_size=4,
            max_new_tokens=max_new_tokens,
            report=False,
            quiet=True,
        )


# --------------------------------------------------------------------------------- estimate


def static_gb(stage: str, params: dict, grpo_full: bool) -> float:
    """Weights, gradients and optimizer states of a stage (see the module docstring), in GB."""
    total, vision, lora = params["total"], params["vision"], params["lora"]
    weights = 2 * total
    if stage == "sft" or (stage == "grpo" and not grpo_full):
        return (weights + 16 * lora) / 2**30
    if stage == "grpo":
        return (weights + 2 * total + 6 * (total - vision)) / 2**30
    return weights / 2**30


def estimate(stages: list[Stage], shape: Shape, measured_full: bool) -> dict[str, float]:
    """GB per stage at full depth with the guide's settings (GRPO: full fine-tuning)."""
    result = {}
    for name in STAGES:
        points = {
            s.depth: s.peak_gb - static_gb(name, shape.per_depth[s.depth], measured_full)
            for s in stages
            if s.size == shape.size and s.name == name
        }
        (d1, m1), (d2, m2) = sorted(points.items())[:2]
        per_layer = max(0.0, (m2 - m1) / (d2 - d1))
        # Resident memory is noisy at small scale; activations and caches cannot be negative.
        dynamic = max(0.0, m1 + per_layer * (shape.layers - d1))
        result[name] = static_gb(name, shape.params, grpo_full=True) + dynamic
    return result


def table(stages: list[Stage], shapes: list[Shape], estimates: dict[str, dict[str, float]]) -> str:
    lines = ["| size | depth | stage | seconds | peak GB (CPU) |", "|---|---|---|---|---|"]
    lines += [f"| {s.size} | {s.depth} | {s.name} | {s.seconds:.1f} | {s.peak_gb:.2f} |" for s in stages]
    lines += [
        "",
        "| size | stage | full-depth estimate (GB, one GPU, bf16) | " + " | ".join(f"{c} GB" for c in CARDS_GB) + " |",
        "|---|---|---|" + "---|" * len(CARDS_GB),
    ]
    for shape in shapes:
        for name, gb in estimates[shape.size].items():
            fits = " | ".join(
                "fits" if gb <= card * 0.9 else "no" for card in CARDS_GB
            )  # 10% for CUDA context, fragmentation
            lines.append(f"| {shape.size} ({shape.params['total'] / 1e9:.2f}B) | {name} | {gb:.1f} | {fits} |")
    return "\n".join(lines)


def run(sizes, depths, work: Path, *, max_new_tokens: int, grpo_full: bool, scaled: bool = False, warmup: bool = True):
    """Measure every size at every depth; returns (stages, shapes, estimates)."""
    with WINDOWS.installed():
        return _run(
            sizes, depths, work, max_new_tokens=max_new_tokens, grpo_full=grpo_full, scaled=scaled, warmup=warmup
        )


def _run(sizes, depths, work: Path, *, max_new_tokens: int, grpo_full: bool, scaled: bool, warmup: bool):
    from harp.models.qwen_sizes import TEXT, VISION
    from harp.models.tiny import build_tiny_model

    tokenizer_dir = build_tiny_model(work / "tokenizer")
    token_ids = json.loads((tokenizer_dir / "config.json").read_text())
    data = records(work / "data")
    stages: list[Stage] = []
    shapes = []
    if warmup:  # the first stage would also count the libraries' one-time allocations
        config = shape_config(sizes[0], 1, token_ids, scaled=True)
        run_stages(
            write_model(config, work / "warmup" / "model", tokenizer_dir),
            data,
            work / "warmup",
            "warm-up",
            1,
            [],
            max_new_tokens=4,
            grpo_full=grpo_full,
        )
    for size in sizes:
        layers = TEXT[size]["num_hidden_layers"]
        full = shape_config(size, layers, token_ids, scaled)
        full.vision_config.depth, full.vision_config.fullatt_block_indexes = (
            VISION["depth"],
            VISION["fullatt_block_indexes"],
        )
        shape = Shape(size, layers, parameters(full))
        for depth in depths:
            config = shape_config(size, depth, token_ids, scaled)
            shape.per_depth[depth] = parameters(config)
            folder = work / f"{size}-{depth}"
            model = write_model(config, folder / "model", tokenizer_dir)
            if not stages:
                print(tokens_note(model, data), flush=True)
            run_stages(model, data, folder, size, depth, stages, max_new_tokens=max_new_tokens, grpo_full=grpo_full)
        shapes.append(shape)
    estimates = {shape.size: estimate(stages, shape, grpo_full) for shape in shapes}
    return stages, shapes, estimates


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["3b", "7b"], choices=["3b", "7b"])
    parser.add_argument("--depths", nargs=2, type=int, default=[1, 2], help="two measured text depths")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="generated tokens (the guide's 128)")
    parser.add_argument("--grpo-full", action="store_true", help="GRPO as the guide: full fine-tuning (~10 B/param)")
    parser.add_argument("--work", help="keep the models and outputs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HARP_TEST_CPU_BF16", "1")  # the guide's bf16, on the CPU
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        stages, shapes, estimates = run(
            args.sizes, args.depths, work, max_new_tokens=args.max_new_tokens, grpo_full=args.grpo_full
        )
    print(table(stages, shapes, estimates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
