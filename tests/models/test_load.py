"""Loading models: local directories, hub ids, and the one-line error when neither can be had."""

import pytest

from harp.errors import HarpError
from harp.models import load
from harp.models.load import EMBEDDED_MODEL_DIR, ModelNotFoundError, load_model_and_processor, resolve_model_path


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(load, "_in_cache", lambda repo_id: False)
    monkeypatch.setattr(load, "_resolves", lambda host, timeout=3.0: False)


def _one_line_naming_embedded(error):
    text = str(error)
    assert "\n" not in text
    assert "harp model init-tiny" in text and EMBEDDED_MODEL_DIR in text


def test_hub_id_offline_is_one_line_naming_the_embedded_model(offline):
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model_path("Qwen/Qwen2.5-VL-7B-Instruct")
    assert isinstance(caught.value, HarpError)
    assert "Qwen/Qwen2.5-VL-7B-Instruct" in str(caught.value) and "cannot be reached" in str(caught.value)
    _one_line_naming_embedded(caught.value)


def test_hf_hub_offline_is_reported_without_touching_the_network(monkeypatch):
    monkeypatch.setattr(load, "_in_cache", lambda repo_id: False)
    monkeypatch.setattr(load, "_resolves", lambda host, timeout=3.0: pytest.fail("network touched"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE"):
        resolve_model_path("Qwen/Qwen2.5-VL-3B-Instruct")


def test_cached_hub_id_is_used_as_is(monkeypatch):
    monkeypatch.setattr(load, "_in_cache", lambda repo_id: True)
    assert resolve_model_path("Qwen/Qwen2.5-VL-7B-Instruct") == "Qwen/Qwen2.5-VL-7B-Instruct"


def test_missing_or_broken_local_directories(tmp_path, offline):
    with pytest.raises(ModelNotFoundError, match="model directory not found") as caught:
        resolve_model_path(str(tmp_path / "nothing" / "here"))
    _one_line_naming_embedded(caught.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_model_path(tmp_path / "empty")


def test_a_typo_beside_model_directories_suggests_the_closest(tmp_path, offline):
    for name in ("final", "best", "checkpoint-200"):
        (tmp_path / "grpo" / name).mkdir(parents=True)
        (tmp_path / "grpo" / name / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model_path(str(tmp_path / "grpo" / "fianl"))
    assert f"model directory not found (did you mean {tmp_path / 'grpo' / 'final'}?)" in str(caught.value)
    _one_line_naming_embedded(caught.value)
    with pytest.raises(ModelNotFoundError) as caught:  # nothing close: no suggestion
        resolve_model_path(str(tmp_path / "grpo" / "zzz"))
    assert "did you mean" not in str(caught.value)


def test_loads_for_inference_and_training(micro_model_dir):
    import torch

    model, processor = load_model_and_processor(micro_model_dir, max_pixels=56 * 56)
    assert not model.training and model.device.type in ("cpu", "cuda")
    assert model.dtype == torch.float32  # no bf16 GPU here, or fp32 by default on a CPU
    assert processor.tokenizer.padding_side == "left"  # batched generation
    assert processor.image_processor.size["longest_edge"] == 56 * 56
    model, _ = load_model_and_processor(micro_model_dir, for_training=True)
    assert model.training


def test_small_models_on_a_cpu_use_one_thread_unless_omp_says_otherwise(micro_model_dir, monkeypatch):
    import torch

    from harp.models.load import limit_cpu_threads

    before = torch.get_num_threads()
    model, _ = load_model_and_processor(micro_model_dir, device="cpu")
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        torch.set_num_threads(2)
        limit_cpu_threads(model)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        torch.set_num_threads(2)
        limit_cpu_threads(model)
        assert torch.get_num_threads() == 2  # the user's choice wins
    finally:
        torch.set_num_threads(before)
