"""The embedded tiny Qwen2.5-VL: the same classes as the real model, small enough for a 2-core CPU.

`build_tiny_model(out_dir)` writes an ordinary checkpoint directory that `AutoProcessor` and
`AutoModelForImageTextToText.from_pretrained` load like `Qwen/Qwen2.5-VL-7B-Instruct`, with no
network. Every stage therefore runs the real code paths (chat template, image placeholder
expansion, M-RoPE, the vision tower and its merger) on a laptop.

How it differs from the real model, and why:
- The tokenizer is a byte-level BPE (Qwen2's pre-tokenizer and `Qwen2Tokenizer` class) trained on
  this project's own text only (`tokenizer_corpus.json`, frozen: the domains' action names, the
  synthetic world's words and the system prompts as they were when the shipped model was built).
  So a plan like `Navigate(White Table)` is ~5 tokens, not 20 bytes, and the embedding matrix stays
  tiny; a word the corpus lacks is spelt in smaller pieces, down to bytes. Qwen2.5-VL's special tokens are appended with their usual names
  (their ids differ: the model config carries the ids, so nothing hard-codes 151655).
- The image processor caps images at `max_pixels` (112x112 by default: 8x8 patches of 14 px,
  merged 2x2 into 16 image tokens), so an image costs 16 tokens instead of hundreds.
- The weights are random (seeded); the demo's SFT teaches it the task.

Same seed, same files: BPE training and weight initialisation are deterministic, and the JSON
files are written with sorted keys.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from harp.data.records import PROCESSOR_TOKENS
from harp.models.folder import check_model_out, write_model_dir

# Qwen2.5-VL's special tokens, in the real model's order (ids follow the BPE vocabulary here).
SPECIAL_TOKENS = list(PROCESSOR_TOKENS)

# Qwen2-VL's chat template (an image content item becomes <|vision_start|><|image_pad|><|vision_end|>,
# which the processor expands to one pad per image token), with `{% generation %}` markers around
# the assistant's answer so `return_assistant_tokens_mask` works too.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['role'] == 'assistant' %}{% generation %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}{% if 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>{% endgeneration %}\n"
    "{% else %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

DEFAULT_MAX_PIXELS = 112 * 112  # 16 image tokens per image
DEFAULT_MIN_PIXELS = 56 * 56

# Sizes of the embedded model. A few million parameters: the demo trains it in minutes on 2 CPU cores.
TINY_SIZES = {
    "hidden_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 384,
    "vision_hidden_size": 64,
    "vision_depth": 2,
    "vision_heads": 2,
    "vision_intermediate_size": 128,
}

# A still smaller model for tests: same classes and code paths, a fraction of the compute.
MICRO_SIZES = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "intermediate_size": 64,
    "vision_hidden_size": 32,
    "vision_depth": 1,
    "vision_heads": 2,
    "vision_intermediate_size": 64,
}

# The lines the tokenizer learns from, frozen: a new word of the world or a domain's new prompt must not
# change the tokenizer, or `harp model pretrain` would no longer rebuild the shipped model (it once did).
TOKENIZER_CORPUS = Path(__file__).with_name("tokenizer_corpus.json")


def tokenizer_corpus() -> list[str]:
    """The frozen lines of TOKENIZER_CORPUS (its `about` says where they come from)."""
    return json.loads(TOKENIZER_CORPUS.read_text(encoding="utf-8"))["lines"]


def build_tokenizer(vocab_size: int = 2048):
    """A Qwen2Tokenizer whose BPE is trained on TOKENIZER_CORPUS (deterministic)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte stays encodable
        special_tokens=[],
    )
    # Repeat the corpus so frequent pieces merge first; order is fixed, so merges are deterministic.
    bpe.train_from_iterator(tokenizer_corpus() * 4, trainer=trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    vocab = dict(state["vocab"])
    for token in SPECIAL_TOKENS:
        vocab.setdefault(token, len(vocab))
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",  # an instruct model stops at the end of its turn
        pad_token="<|endoftext|>",
        model_max_length=4096,
        extra_special_tokens={},
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer, max_pixels: int = DEFAULT_MAX_PIXELS, min_pixels: int = DEFAULT_MIN_PIXELS):
    """Qwen2_5_VLProcessor = image processor + tokenizer + video processor, with a small max_pixels."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(size=size),
        chat_template=CHAT_TEMPLATE,
    )


def tiny_config(tokenizer, sizes: dict | None = None):
    """A Qwen2_5_VLConfig of the given sizes whose token ids match `tokenizer`."""
    from transformers import Qwen2_5_VLConfig

    s = {**TINY_SIZES, **(sizes or {})}
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab_size = -(-len(tokenizer) // 64) * 64  # padded like Qwen's, to a multiple of 64
    head_dim = s["hidden_size"] // s["num_attention_heads"]
    # M-RoPE sections (time, height, width) sum to head_dim / 2, in the real model's 2:3:3 ratio ([16, 24, 24] for 128)
    mrope_section = [head_dim // 8, 3 * head_dim // 16, 3 * head_dim // 16]
    text_config = {
        "vocab_size": vocab_size,
        "hidden_size": s["hidden_size"],
        "intermediate_size": s["intermediate_size"],
        "num_hidden_layers": s["num_hidden_layers"],
        "num_attention_heads": s["num_attention_heads"],
        "num_key_value_heads": s["num_key_value_heads"],
        "max_position_embeddings": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope_section},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "tie_word_embeddings": False,
    }
    vision_config = {
        "depth": s["vision_depth"],
        "hidden_size": s["vision_hidden_size"],
        "intermediate_size": s["vision_intermediate_size"],
        "num_heads": s["vision_heads"],
        "out_hidden_size": s["hidden_size"],
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [s["vision_depth"] - 1],
    }
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def build_tiny_model(
    out_dir: str | Path,
    seed: int = 0,
    sizes: dict | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    key: str = "--out",
) -> Path:
    """Build the tokenizer, processor and a randomly initialised model; save them to `out_dir`, in place
    of a model there (harp.models.folder; `key` names `out_dir` in its errors)."""
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    out_dir = check_model_out(out_dir, key)
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer, max_pixels=max_pixels)
    config = tiny_config(tokenizer, sizes)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.text_config.bos_token_id,
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )

    def save(folder: Path) -> None:
        model.save_pretrained(folder)
        processor.save_pretrained(folder)

    return write_model_dir(out_dir, save, key)


def describe(model_dir: str | Path) -> str:
    """One line about a saved tiny model: parameters, vocabulary, sizes."""
    from safetensors import safe_open

    model_dir = Path(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    with safe_open(str(model_dir / "model.safetensors"), "pt") as handle:
        params = sum(math.prod(handle.get_slice(key).get_shape()) for key in handle.keys())
    text, vision = config["text_config"], config["vision_config"]
    try:  # the cap the model's processor was saved with (a stage's model.max_pixels), else the default
        processor = json.loads((model_dir / "processor_config.json").read_text())
        pixels = int(processor["image_processor"]["size"]["longest_edge"])
    except (OSError, ValueError, KeyError, TypeError):
        pixels = DEFAULT_MAX_PIXELS
    return (
        f"wrote {model_dir}: Qwen2_5_VLForConditionalGeneration, {params / 1e6:.2f}M parameters, "
        f"vocabulary {text['vocab_size']}, text {text['num_hidden_layers']}x{text['hidden_size']}, "
        f"vision {vision['depth']}x{vision['hidden_size']}; images up to {pixels} pixels "
        f"= {pixels // (28 * 28)} image tokens"
    )
