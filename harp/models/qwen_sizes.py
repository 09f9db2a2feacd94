"""The real Qwen2.5-VL-3B/7B-Instruct architectures, written out so a randomly initialised model of the
true size can be built with no download (benchmarks/gpu_check.py times them).

The numbers are those of the public `config.json` files of Qwen/Qwen2.5-VL-3B-Instruct and
Qwen/Qwen2.5-VL-7B-Instruct; `PUBLISHED_PARAMETERS` are the model cards' sizes, which
tests/models/test_qwen_sizes.py checks the built architectures against (on the meta device: no
memory). Token ids are the real tokenizer's, so the image tokens sit where the model expects them.
"""

from __future__ import annotations

VISION = {  # the same vision tower in both sizes; out_hidden_size = the text hidden size
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "in_channels": 3,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2,
    "hidden_act": "silu",
}
TEXT = {
    "3b": {
        "hidden_size": 2048,
        "intermediate_size": 11008,
        "num_hidden_layers": 36,
        "num_attention_heads": 16,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "max_window_layers": 70,
        "tie_word_embeddings": True,
    },
    "7b": {
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "vocab_size": 152064,
        "max_window_layers": 28,
        "tie_word_embeddings": False,
    },
}
PUBLISHED_PARAMETERS = {"3b": 3.75e9, "7b": 8.29e9}  # "Model size" on the Hugging Face model cards
TOKEN_IDS = {"bos_token_id": 151643, "eos_token_id": 151645, "pad_token_id": 151643}
IMAGE_TOKEN_ID, VIDEO_TOKEN_ID, VISION_START_ID, VISION_END_ID = 151655, 151656, 151652, 151653
ROPE = {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}  # head_dim 128 both
# The hub processor's pixel limits (preprocessor_config.json: min_pixels 3136, max_pixels 12845056), as
# transformers 5's image processor spells them: a 640x480 frame becomes 476x644, 34x46 patches, 391 tokens.
HUB_IMAGE_SIZE = {"shortest_edge": 3136, "longest_edge": 12845056}


def real_config(size: str):
    """transformers' Qwen2_5_VLConfig of the real 3B or 7B model (`size`: "3b" or "7b")."""
    from transformers import Qwen2_5_VLConfig

    if size not in TEXT:
        raise ValueError(f"unknown Qwen2.5-VL size {size!r}; known: {', '.join(TEXT)}")
    text = dict(TEXT[size])
    tie = text.pop("tie_word_embeddings")
    text_config = {
        **text,
        "max_position_embeddings": 128000,
        "rms_norm_eps": 1e-6,
        "hidden_act": "silu",
        "attention_dropout": 0.0,
        "use_sliding_window": False,
        "sliding_window": 32768,
        "rope_parameters": dict(ROPE),
        "tie_word_embeddings": tie,
        **TOKEN_IDS,
    }
    vision_config = {**VISION, "out_hidden_size": text["hidden_size"]}
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=IMAGE_TOKEN_ID,
        video_token_id=VIDEO_TOKEN_ID,
        vision_start_token_id=VISION_START_ID,
        vision_end_token_id=VISION_END_ID,
        tie_word_embeddings=tie,
    )


def random_model(size: str, dtype=None, device: str = "cpu"):
    """A randomly initialised Qwen2.5-VL of the real size, built directly on `device` ("meta": no memory)."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    with torch.device(device):
        return Qwen2_5_VLForConditionalGeneration._from_config(real_config(size), dtype=dtype or torch.bfloat16)


def parameter_counts(model) -> dict[str, int]:
    """Parameters of the vision tower (merger included), of the language model without its input
    embedding, and in all (tied weights counted once)."""
    seen, counts = set(), {"vision": 0, "text": 0, "embedding": 0, "total": 0}
    for name, param in model.named_parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        counts["total"] += param.numel()
        if ".visual." in f".{name}":
            counts["vision"] += param.numel()
        elif "embed_tokens" in name:
            counts["embedding"] += param.numel()
        else:
            counts["text"] += param.numel()  # layers, norm and lm_head (a matmul per token)
    return counts
