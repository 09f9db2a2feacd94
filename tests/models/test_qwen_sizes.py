"""The real Qwen2.5-VL-3B/7B architectures written into harp.models.qwen_sizes: accepted by transformers'
config classes as written, and the models they build (on the meta device: no memory) have the
model cards' sizes."""

import pytest

from harp.models.qwen_sizes import PUBLISHED_PARAMETERS, TEXT, VISION, parameter_counts, random_model, real_config


@pytest.mark.parametrize("size", ["3b", "7b"])
def test_config_classes_take_the_sizes_as_written(size):
    config = real_config(size)
    text, vision = config.text_config, config.vision_config
    for key, value in TEXT[size].items():
        if key != "tie_word_embeddings":
            assert getattr(text, key) == value, key
    for key in (
        "depth",
        "hidden_size",
        "intermediate_size",
        "num_heads",
        "patch_size",
        "spatial_merge_size",
        "window_size",
        "fullatt_block_indexes",
    ):
        assert getattr(vision, key) == VISION[key], key
    assert vision.out_hidden_size == text.hidden_size
    assert text.hidden_size // text.num_attention_heads == 128  # head_dim: M-RoPE sections 16+24+24 = 64 = 128 / 2
    assert config.tie_word_embeddings is (size == "3b")


@pytest.mark.parametrize("size", ["3b", "7b"])
def test_built_models_have_the_published_size(size):
    counts = parameter_counts(random_model(size, device="meta"))
    assert counts["total"] == pytest.approx(PUBLISHED_PARAMETERS[size], rel=0.01), counts
    assert counts["vision"] == pytest.approx(0.67e9, rel=0.02), counts  # the 32-block, 1280-wide ViT + merger


def test_unknown_size_is_named():
    with pytest.raises(ValueError, match="unknown Qwen2.5-VL size '14b'"):
        real_config("14b")
