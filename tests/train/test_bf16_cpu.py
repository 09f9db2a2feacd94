"""SFT and GRPO steps in bf16 on the CPU (HARP_TEST_CPU_BF16=1, a test-only switch): weights, autocast,
FTCA advantages, log-probs, the KL reference and the negatives' rows all go through bf16 here, so a
dtype mistake fails in CI rather than on the user's first GPU run. Without the switch a CPU trains in
fp32 with one warning."""

import json
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory, tiny_model_dir):
    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic

    root = tmp_path_factory.mktemp("bf16")
    build_synthetic(num_scenes=4, seed=2, images_dir=root / "img", output_dir=root, progress=False)
    write_records(root / "train.jsonl", read_records(root / "actions.jsonl"))
    (root / "tiny").symlink_to(tiny_model_dir)  # the shared tiny model, at the path the configs name
    return root


def test_a_cpu_trains_in_fp32_with_one_warning_by_default(monkeypatch, capsys):
    import torch

    from harp.train.run_setup import use_bf16

    monkeypatch.delenv("HARP_TEST_CPU_BF16", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU, also on a machine with a GPU
    assert use_bf16(True) is False
    assert capsys.readouterr().err.count("training.bf16: no bf16-capable GPU here; training in fp32") == 1


def test_sft_then_grpo_steps_in_bf16_on_the_cpu(data, monkeypatch):
    from harp.config import load_grpo_config, load_sft_config
    from harp.train.grpo import train_grpo
    from harp.train.grpo_trainer import HarpGRPOTrainer
    from harp.train.sft import train_sft

    monkeypatch.setenv("HARP_TEST_CPU_BF16", "1")
    sft = train_sft(
        load_sft_config(
            ROOT / "configs" / "demo" / "sft.yaml",
            [
                f"model.name={data / 'tiny'}",
                f"data.train_path={data / 'train.jsonl'}",
                "data.val_path=null",
                f"training.output_dir={data / 'sft'}",
                "training.max_steps=2",
                "training.per_device_train_batch_size=2",
                "training.report_to=none",
                "training.bf16=true",
                "training.logging_steps=1",
            ],
        )
    )
    assert_bf16_and_finite(sft)

    seen = {}
    score = HarpGRPOTrainer._generate_and_score_completions
    compute_loss = HarpGRPOTrainer._compute_loss

    def recording_score(self, inputs):
        output = score(self, inputs)
        seen["advantages"] = output["advantages"]
        seen["ref_logps"] = output.get("ref_per_token_logps")
        seen["policy"] = next(self.model.parameters()).dtype
        seen["ref"] = next(self.ref_model.parameters()).dtype if self.ref_model is not None else None
        seen["autocast"] = self.args.bf16
        return output

    def recording_loss(self, model, inputs):
        loss = compute_loss(self, model, inputs)
        seen.setdefault("losses", []).append(loss.detach().float().item())
        return loss

    monkeypatch.setattr(HarpGRPOTrainer, "_generate_and_score_completions", recording_score)
    monkeypatch.setattr(HarpGRPOTrainer, "_compute_loss", recording_loss)
    final = train_grpo(
        load_grpo_config(
            ROOT / "configs" / "demo" / "grpo.yaml",
            [
                f"model.sft_model_path={sft}",
                f"data.train_path={data / 'train.jsonl'}",
                "data.negative_path=null",
                "data.val_path=null",
                f"training.output_dir={data / 'grpo'}",
                "training.max_steps=2",
                "training.per_device_train_batch_size=1",
                "training.num_candidates=2",
                "training.negatives_per_group=1",
                "training.max_new_tokens=8",
                "training.bf16=true",
                "training.report_to=none",
                "training.kl_coef=0.1",
                "training.num_iterations=2",
            ],
        ),
        progress=False,
    )

    assert seen["policy"] == torch.bfloat16 and seen["ref"] == torch.bfloat16 and seen["autocast"] is True
    assert seen["advantages"].dim() == 2 and torch.isfinite(seen["advantages"]).all()  # FTCA, negatives' rows too
    assert seen["ref_logps"] is not None and torch.isfinite(seen["ref_logps"]).all()  # the KL reference ran
    assert len(seen["losses"]) == 2 and all(torch.isfinite(torch.tensor(seen["losses"])))
    assert_bf16_and_finite(final)


def assert_bf16_and_finite(model_dir: Path) -> None:
    """The saved model is bf16 throughout, and no weight became inf/NaN in the bf16 steps."""
    from safetensors.torch import load_file

    config = json.loads((model_dir / "config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "bfloat16"
    tensors = load_file(model_dir / "model.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.bfloat16}
    assert all(torch.isfinite(t.float()).all() for t in tensors.values())
