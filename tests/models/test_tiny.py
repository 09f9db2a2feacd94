"""The embedded tiny Qwen2.5-VL: loads like a hub model, small, deterministic, real image placeholders."""

import hashlib
import json

from harp.models.tiny import MICRO_SIZES, SPECIAL_TOKENS, build_tiny_model


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_cli_writes_an_ordinary_checkpoint(tiny_model_dir, capsys):
    names = {p.name for p in tiny_model_dir.iterdir()}
    # model weights + config, processor (image + video), tokenizer, chat template
    assert {
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "processor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
    } <= names
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["architectures"] == ["Qwen2_5_VLForConditionalGeneration"]


def test_auto_classes_load_it_and_it_is_small(tiny_model_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert type(processor.tokenizer).__name__ == "Qwen2Tokenizer"
    assert processor.video_processor is not None
    params = sum(p.numel() for p in model.parameters())
    assert params < 5_000_000  # "a few million at most"
    assert any(n.startswith("model.visual.") for n, _ in model.named_parameters())  # vision tower included
    # the model and the tokenizer agree on the placeholder ids
    assert model.config.image_token_id == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert model.config.video_token_id == processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert model.config.text_config.vocab_size >= len(processor.tokenizer)


def test_special_tokens_are_single_tokens_and_plans_are_short(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for token in SPECIAL_TOKENS:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1, token
    plan = "Navigate(White Table), Pick(Apple), Navigate(Basket), Place(Basket)"
    ids = tokenizer(plan, add_special_tokens=False)["input_ids"]
    assert len(ids) <= 16  # the domain BPE knows the words (bytes would be 68)
    assert tokenizer.decode(ids) == plan
    # byte-level: text outside the training vocabulary still round-trips
    odd = "Öffne die Schublade 🙂"
    assert tokenizer.decode(tokenizer(odd, add_special_tokens=False)["input_ids"]) == odd


def test_chat_template_expands_the_image_placeholder(tiny_model_dir, scenes, domain):
    from transformers import AutoProcessor

    from harp.models.prompt import build_messages

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    image, task = scenes[0]
    text = processor.apply_chat_template(build_messages(task, domain), add_generation_prompt=True, tokenize=False)
    assert text.count("<|vision_start|><|image_pad|><|vision_end|>") == 1
    assert text.endswith("<|im_start|>assistant\n") and task in text
    batch = processor(images=[image], text=[text], return_tensors="pt")
    # a 224x224 scene is capped at 112x112: 8x8 patches merged 2x2 = 16 image tokens
    assert batch["image_grid_thw"].tolist() == [[1, 8, 8]]
    assert int((batch["input_ids"] == processor.image_token_id).sum()) == 16


def test_same_seed_same_files(tmp_path, micro_model_dir):
    again = build_tiny_model(tmp_path / "again", seed=0, sizes=MICRO_SIZES)
    assert _digests(again) == _digests(micro_model_dir)
    other = build_tiny_model(tmp_path / "other", seed=1, sizes=MICRO_SIZES)
    assert _digests(other)["model.safetensors"] != _digests(micro_model_dir)["model.safetensors"]
    assert _digests(other)["tokenizer.json"] == _digests(micro_model_dir)["tokenizer.json"]


def test_the_tokenizer_is_the_shipped_model_s_whatever_the_world_or_the_domains_say_now(micro_model_dir):
    """The tokenizer learns from a frozen corpus (harp/models/tokenizer_corpus.json): once it learnt from
    the world's words and every domain's prompt, so a new word or domain silently changed the tokenizer
    `harp model pretrain` builds, and the rebuild was no longer the shipped model."""
    from harp.models.grounded import GROUNDED_DIR, read_manifest

    shipped = read_manifest(GROUNDED_DIR)["tokenizer.json"]
    assert _digests(micro_model_dir)["tokenizer.json"] == shipped
