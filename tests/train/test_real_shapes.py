"""benchmarks/real_shapes.py scaled down: the real layout (vision patch and merge sizes, M-RoPE, the hub
processor's pixel limits, untied 7B head) at a fraction of the width runs every stage at two depths
and gives an estimate; its parameter and LoRA counts are the models' own."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import real_shapes  # noqa: E402


@pytest.mark.parametrize("size", ["3b", "7b"])
def test_parameter_counts_are_the_real_models_with_tied_weights_once(size):
    from harp.models.qwen_sizes import PUBLISHED_PARAMETERS, real_config

    counts = real_shapes.parameters(real_config(size))
    assert counts["total"] == pytest.approx(PUBLISHED_PARAMETERS[size], rel=0.01)
    assert 0 < counts["lora"] < counts["total"] - counts["vision"]
    # Full GRPO holds gradients and optimizer states, SFT only LoRA's. (The measured part of the estimate,
    # resident memory, is too noisy in the scaled-down run below to order the stages.)
    static = {name: real_shapes.static_gb(name, counts, grpo_full=True) for name in real_shapes.STAGES}
    assert static["grpo"] > static["sft"] > static["evaluate"] > 0


@pytest.mark.slow  # trains and generates with a small model
def test_scaled_down_run_measures_every_stage_at_two_depths_and_estimates(tmp_path, monkeypatch):
    import json

    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2_5_VLForConditionalGeneration

    from harp.models.load import load_processor
    from harp.models.tiny import build_tiny_model

    monkeypatch.setenv("HARP_TEST_CPU_BF16", "1")  # the guide's bf16
    stages, shapes, estimates = real_shapes.run(
        ["7b"], [1, 2], tmp_path, max_new_tokens=4, grpo_full=False, scaled=True, warmup=False
    )
    assert [(s.depth, s.name) for s in stages] == [(d, n) for d in (1, 2) for n in real_shapes.STAGES]
    assert all(s.seconds > 0 and s.peak_gb > 0 for s in stages)
    (shape,) = shapes
    assert shape.layers == 28 and shape.params["total"] > shape.per_depth[2]["total"] > shape.per_depth[1]["total"]
    for name, gb in estimates["7b"].items():  # the guide's settings: GRPO fine-tunes every weight
        assert gb >= real_shapes.static_gb(name, shape.params, grpo_full=True) > 0, name
    printed = real_shapes.table(stages, shapes, estimates)
    assert printed.count("| 7b |") == 8 and "| 24 GB | 48 GB | 80 GB |" in printed

    # The hub processor's pixel limits: a 640x480 frame is 391 image tokens.
    processor = load_processor(tmp_path / "7b-1" / "model")
    assert processor.image_processor.get_number_of_image_patches(480, 640, {}) // 4 == 391
    # The LoRA formula counts what peft adds with the guide's rank and targets.
    tokens = json.loads((build_tiny_model(tmp_path / "tok") / "config.json").read_text())
    config = real_shapes.shape_config("7b", 2, tokens, scaled=True)
    model = get_peft_model(
        Qwen2_5_VLForConditionalGeneration._from_config(config),
        LoraConfig(r=64, target_modules=r"^(?!.*\bvisual\b).*\.(q_proj|k_proj|v_proj|o_proj)$"),
    )
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == real_shapes.parameters(config)["lora"]
