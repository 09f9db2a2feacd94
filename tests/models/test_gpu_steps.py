"""benchmarks/gpu_check.py's step timings (benchmarks/gpu_steps.py) run end to end on the CPU with a
scaled-down Qwen2.5-VL that keeps the real token ids and vision layout, and the check itself stops
with one line where there is no GPU."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def small_real_layout_model():
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from harp.models import qwen_sizes as q

    text = {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "rope_parameters": {**q.ROPE, "mrope_section": [2, 3, 3]},
        **q.TOKEN_IDS,
    }
    vision = {
        **q.VISION,
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "fullatt_block_indexes": [1],
        "out_hidden_size": 64,
    }
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=q.IMAGE_TOKEN_ID,
        video_token_id=q.VIDEO_TOKEN_ID,
        vision_start_token_id=q.VISION_START_ID,
        vision_end_token_id=q.VISION_END_ID,
    )
    torch.manual_seed(0)
    return Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.float32)


@pytest.mark.slow
def test_sft_and_grpo_step_timings_run_on_a_scaled_down_model():
    from gpu_steps import add_lora, grpo_step_timing, sft_step_timing

    from harp.models.qwen_sizes import parameter_counts

    model = small_real_layout_model()
    counts = parameter_counts(model)
    model = add_lora(model, rank=4, alpha=8)
    model.gradient_checkpointing_enable()
    model.enable_input_require_grads()
    sft = sft_step_timing(model, counts, batch=2, text_tokens=16, image_side=56, steps=1, warmup=1)
    assert sft.tokens == 2 * (16 + 2 + 4) and sft.seconds > 0 and sft.flops > 0
    generation, update = grpo_step_timing(
        model, counts, candidates=2, new_tokens=8, prompt_tokens=8, image_side=56, steps=1, warmup=0
    )
    assert generation.tokens == 2 * 8  # min_new_tokens: every candidate samples exactly new_tokens
    assert update.tokens == 2 * (8 + 2 + 4 + 8) and update.flops > generation.flops / 10


def test_gpu_check_stops_with_one_line_without_a_gpu(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path / "t.md")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gpu_check: error: no CUDA GPU visible (torch.cuda.is_available() is false); run it on a machine with an "
        "NVIDIA GPU (see the header of benchmarks/gpu_check.py)"
    ]
    assert not (tmp_path / "t.md").exists()
