"""Step timings of a Qwen2.5-VL of any size, for benchmarks/gpu_check.py: one LoRA SFT step and one GRPO
step (sampling with HF generate, then the policy/reference forward and the update), on synthetic token
ids and pixels (no tokenizer, no download), with model FLOPs for the utilisation figure.

Model FLOPs (the PaLM convention; activation recomputation from gradient checkpointing is not counted):
per text token 2 x (text parameters without the input embedding) + 4 x layers x hidden x sequence
length for attention, per image patch 2 x vision parameters, times 3 for a training step that
computes weight gradients, or 2 when only LoRA adapters train (the frozen weights get none), and
times 1 for generation. Runs on any device; tests run it on the CPU with a scaled-down config.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

LORA_TARGETS = r"^(?!.*\bvisual\b).*\.(q_proj|k_proj|v_proj|o_proj)$"  # the guide's LoRA, outside the vision tower


@dataclass
class Timing:
    seconds: float  # per step, mean of the timed steps
    tokens: int  # tokens processed (trained or generated) per step
    flops: float  # model FLOPs per step
    peak_memory_gb: float

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds

    def mfu(self, peak_flops: float | None) -> float | None:
        return self.flops / self.seconds / peak_flops if peak_flops else None


def synthetic_batch(config, batch: int, text_tokens: int, image_side: int, device, dtype, seed: int = 0):
    """input_ids with one image each (vision start, image pads, vision end) then random text; pixels; grids."""
    import torch

    g = torch.Generator().manual_seed(seed)
    vision = config.vision_config
    grid = image_side // vision.patch_size
    patches = grid * grid
    image_tokens = patches // vision.spatial_merge_size**2
    text = torch.randint(0, 150000, (batch, text_tokens), generator=g)  # below the special ids
    image = torch.full((batch, image_tokens), config.image_token_id)
    start = torch.full((batch, 1), config.vision_start_token_id)
    end = torch.full((batch, 1), config.vision_end_token_id)
    input_ids = torch.cat([text[:, :8], start, image, end, text[:, 8:]], dim=1).clamp(
        max=config.text_config.vocab_size - 1
    )
    input_ids[:, 8 + 1 : 8 + 1 + image_tokens] = config.image_token_id  # clamp must not move the image ids
    channels = vision.in_channels * vision.temporal_patch_size * vision.patch_size**2
    pixel_values = torch.randn(batch * patches, channels, generator=g).to(dtype)
    grid_thw = torch.tensor([[1, grid, grid]] * batch)
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": torch.ones_like(input_ids).to(device),
        "pixel_values": pixel_values.to(device),
        "image_grid_thw": grid_thw.to(device),
    }, patches


def model_flops(config, counts: dict, text_tokens: int, patches: int, sequence: int, factor: int) -> float:
    t = config.text_config
    per_token = 2 * counts["text"] + 4 * t.num_hidden_layers * t.hidden_size * sequence
    return factor * (per_token * text_tokens + 2 * counts["vision"] * patches)


def add_lora(model, rank: int = 64, alpha: int = 128):
    from peft import LoraConfig, get_peft_model

    for param in model.parameters():
        param.requires_grad_(False)
    return get_peft_model(
        model,
        LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"),
    )


def _sync(device) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _peak_gb(device) -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if str(device).startswith("cuda") else 0.0


def sft_step_timing(
    model, counts, *, batch: int = 4, text_tokens: int = 256, image_side: int = 448, steps: int = 5, warmup: int = 2
) -> Timing:
    """LoRA SFT steps (forward, backward, AdamW) with gradient checkpointing; the loss on the text tokens."""
    import torch

    device, dtype = model.device, model.dtype
    inputs, patches = synthetic_batch(model.config, batch, text_tokens, image_side, device, dtype)
    labels = inputs["input_ids"].clone()
    labels[labels == model.config.image_token_id] = -100
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()
    elapsed = 0.0
    for step in range(warmup + steps):
        _sync(device)
        started = time.perf_counter()
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        if step >= warmup:
            elapsed += time.perf_counter() - started
    sequence = inputs["input_ids"].shape[1]
    tokens = batch * sequence
    return Timing(
        elapsed / steps,
        tokens,
        model_flops(model.config, counts, tokens, batch * patches, sequence, 2),
        _peak_gb(device),
    )


def grpo_step_timing(
    model,
    counts,
    *,
    candidates: int = 4,
    new_tokens: int = 128,
    prompt_tokens: int = 64,
    image_side: int = 448,
    beta: float = 0.04,
    steps: int = 3,
    warmup: int = 1,
) -> tuple[Timing, Timing]:
    """GRPO steps of one prompt x `candidates`: HF generate (sampling exactly `new_tokens`), then TRL's
    loss shape: per-token log-probs of the policy (LoRA, with gradients) and of the reference (adapters
    off), group-normalised advantages, a KL term, backward and AdamW. Returns (generation, update)."""
    import torch

    device, dtype = model.device, model.dtype
    prompt, patches = synthetic_batch(model.config, 1, prompt_tokens, image_side, device, dtype)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    generation = update = 0.0
    for step in range(warmup + steps):
        model.eval()
        _sync(device)
        started = time.perf_counter()
        with torch.no_grad():
            sequences = model.generate(
                **prompt,
                do_sample=True,
                temperature=1.0,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                num_return_sequences=candidates,
                pad_token_id=model.config.text_config.pad_token_id,
            )
        _sync(device)
        middle = time.perf_counter()
        model.train()
        inputs = {
            "input_ids": sequences,
            "attention_mask": torch.ones_like(sequences),
            "pixel_values": prompt["pixel_values"].repeat(candidates, 1),
            "image_grid_thw": prompt["image_grid_thw"].repeat(candidates, 1),
        }
        start = sequences.shape[1] - new_tokens
        targets = sequences[:, start:]

        def token_logps(logits):
            return (
                torch.log_softmax(logits[:, start - 1 : -1].float(), dim=-1)
                .gather(-1, targets.unsqueeze(-1))
                .squeeze(-1)
            )

        with torch.no_grad(), model.disable_adapter():
            reference = token_logps(model(**inputs).logits)
        logps = token_logps(model(**inputs).logits)
        rewards = torch.randn(candidates, device=device)
        advantages = ((rewards - rewards.mean()) / (rewards.std() + 1e-4)).unsqueeze(1)
        kl = torch.exp(reference - logps) - (reference - logps) - 1
        loss = (-(torch.exp(logps - logps.detach()) * advantages) + beta * kl).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        if step >= warmup:
            generation += middle - started
            update += time.perf_counter() - middle
    sequence = sequences.shape[1]
    config = model.config
    # generation: each new token attends to a growing cache (~ the full sequence on average counts half)
    gen_flops = model_flops(
        config, counts, candidates * new_tokens, candidates * patches, sequence // 2, 1
    ) + model_flops(config, counts, candidates * (sequence - new_tokens), 0, sequence - new_tokens, 1)
    # update: the reference forward (1x) + the policy forward and backward without weight gradients (2x)
    update_flops = model_flops(config, counts, candidates * sequence, candidates * patches, sequence, 3)
    return (
        Timing(generation / steps, candidates * new_tokens, gen_flops, _peak_gb(device)),
        Timing(update / steps, candidates * sequence, update_flops, _peak_gb(device)),
    )
