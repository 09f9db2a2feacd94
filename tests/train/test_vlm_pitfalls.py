"""What users of TRL's GRPO (and SFT) with Qwen2.5-VL run into, each as a test that fails if HARP had it:

- image tokens cut by a length limit: SFT counts a sample's tokens exactly, image tokens included, for
  any image size, and never truncates; GRPO's prompts are never cut (TRL 1.16 has no prompt limit);
- padding with image tokens: batches of prompts of different lengths and image sizes generate the same
  plans as one prompt at a time (evaluation's generation, GRPO's sampling), and the loss covers the same
  tokens with the same log-probabilities either way; N samples in one batch, in N accumulation steps
  (or N processes, tests/integration/test_deepspeed.py) train the same step;
- a record with no image, two images, or image tokens in its task: one line naming it, before training;
- groups whole over processes: tests/integration/test_deepspeed.py::test_groups_stay_whole_when_prompts_are_sharded_over_processes.
"""

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harp.errors import DataError
from harp.train.sft_data import IGNORE_INDEX, PlanCollator, drop_overlong, load_examples, sample_length

WORDS = ["put", "the", "apple", "into", "bin", "then", "cup", "on", "red", "table", "white", "please", "carefully"]
SCENE = {
    "robot": "start",
    "locations": ["white table", "red table", "bin"],
    "objects": {"apple": "white table", "cup": "red table"},
    "goal": {"apple": "bin", "cup": "white table"},
}


@pytest.fixture(scope="module")
def domain():
    from harp.plan import load_domain

    return load_domain("navigate_pick_place")


@pytest.fixture(scope="module")
def micro(micro_model_dir):
    from harp.models.load import load_model_and_processor

    return load_model_and_processor(micro_model_dir, dtype=torch.float32)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Saved images by size: a BridgeData frame (640x480) and a small portrait one."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")

    def image(width: int, height: int) -> str:
        path = folder / f"{width}x{height}.png"
        if not path.exists():
            Image.new("RGB", (width, height), (width % 255, height % 255, 90)).save(path)
        return str(path)

    return image


def example(image: str, task: str, plan: str = "Navigate(White Table), Pick(Apple), Navigate(Bin), Place(Bin)") -> dict:
    return {"image": image, "task": task, "completion": plan, "where": f"{image}:1"}


def image_tokens(processor, grid) -> int:
    return int(grid.prod()) // processor.image_processor.merge_size**2


# ------------------------------------------------------------------------------------ truncation


@pytest.mark.slow  # loads the micro model
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(28, 700), height=st.integers(28, 700), words=st.integers(1, 40))
def test_sft_counts_every_image_token_for_any_size_and_never_cuts(micro, images, domain, width, height, words):
    """The length check that drops overlong samples is exact, so none is ever cut to fit (nor cut at all)."""
    _, processor = micro
    sample = example(images(width, height), " ".join(WORDS[i % len(WORDS)] for i in range(words)))
    batch = PlanCollator(processor, domain)([sample])
    length = sample_length(processor, sample, domain)
    assert batch["input_ids"].shape[1] == length
    assert int((batch["input_ids"] == processor.image_token_id).sum()) == image_tokens(
        processor, batch["image_grid_thw"][0]
    )
    assert drop_overlong([sample], processor, domain, length, "error", "train")[0] == [sample]
    with pytest.raises(DataError, match=f"{length} tokens > training.max_length {length - 1}"):
        drop_overlong([sample], processor, domain, length - 1, "error", "train")


def test_grpo_prompts_have_no_length_limit_to_cut_them():
    """TRL 1.16's GRPO keeps prompts whole (its `max_prompt_length`, which cut image tokens, is gone);
    a TRL that brings a limit back fails here before it cuts a 640x480 frame's ~300 image tokens."""
    from harp.config import GRPOConfig
    from harp.train.grpo import trl_args

    args = trl_args(GRPOConfig(), 5, bf16=False)
    assert getattr(args, "max_prompt_length", None) is None


# --------------------------------------------------------------------------------------- padding


@pytest.mark.slow  # loads the micro model
def test_sft_batch_of_mixed_images_masks_and_scores_the_same_tokens_as_one_at_a_time(micro, images, domain):
    model, processor = micro
    samples = [
        example(images(640, 480), "put the apple into the bin then the cup on the white table please"),
        example(images(200, 360), "apple to bin", "Navigate(White Table), Pick(Apple)"),
    ]
    collator = PlanCollator(processor, domain)
    batch = collator(samples)
    singles = [collator([sample]) for sample in samples]
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        single_logits = [model(**{k: v for k, v in s.items() if k != "labels"}).logits for s in singles]
    for row, single, alone in zip(range(len(samples)), singles, single_logits):
        n = single["input_ids"].shape[1]
        assert batch["input_ids"][row, :n].tolist() == single["input_ids"][0].tolist()  # right-padded after it
        assert batch["labels"][row, :n].tolist() == single["labels"][0].tolist()
        assert (batch["labels"][row, n:] == IGNORE_INDEX).all()
        labels = single["labels"][0, 1:]
        scored = labels != IGNORE_INDEX
        batched = torch.log_softmax(logits[row, : n - 1], -1)[scored].gather(-1, labels[scored, None])
        one = torch.log_softmax(alone[0, :-1], -1)[scored].gather(-1, labels[scored, None])
        torch.testing.assert_close(batched, one, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # loads the micro model
def test_greedy_plans_of_mixed_prompts_batched_equal_one_at_a_time(micro, images, domain):
    from harp.models.generate import generate_plans

    model, processor = micro
    pictures = [images(640, 480), images(200, 360), images(120, 90)]
    tasks = ["put the apple into the bin then the cup on the white table please", "apple to bin", "cup"]
    batched = generate_plans(model, processor, pictures, tasks, domain, max_new_tokens=12, batch_size=3)
    assert batched == [
        generate_plans(model, processor, [p], [t], domain, max_new_tokens=12)[0] for p, t in zip(pictures, tasks)
    ]


@pytest.mark.slow  # loads the micro model
def test_grpo_samples_and_scores_a_batch_of_mixed_prompts_as_one_prompt_at_a_time(
    micro_model_dir, images, domain, tmp_path, monkeypatch
):
    """TRL left-pads the prompts of a GRPO batch: the completions (top_k=1: sampling without chance),
    their masks and the reference log-probs the loss uses are those of each prompt alone, and each
    prompt keeps all its image tokens and its whole task."""
    from PIL import Image

    from harp.config import GRPOConfig
    from harp.models.load import load_model_and_processor
    from harp.rewards.hprm import HPRM
    from harp.train.grpo import build_dataset, build_trainer

    monkeypatch.chdir(tmp_path)
    config = GRPOConfig()
    t = config.training
    t.output_dir, t.report_to, t.max_steps, t.max_new_tokens, t.bf16 = "out", ["none"], 1, 10, False
    t.num_candidates, t.negatives_per_group = 2, 0
    long_task = "put the apple into the bin then the cup on the white table please carefully"
    records = [
        {"image": images(640, 480), "task": long_task, "plan": ["Navigate(White Table)"], "scene": SCENE},
        {"image": images(200, 360), "task": "cup", "plan": ["Navigate(Red Table)"], "scene": SCENE},
    ]
    dataset = build_dataset(records, domain)
    model, processor = load_model_and_processor(micro_model_dir, for_training=True, dtype=torch.float32)
    trainer = build_trainer(config, model, processor, dataset, HPRM(domain), bf16=False)
    trainer.generation_config.top_k = 1

    def generate(rows):
        out = trainer._generate_and_score_completions([row for row in rows for _ in range(2)])
        result = []
        for i in range(0, len(out["completion_ids"]), 2):
            prompt = out["prompt_ids"][i][out["prompt_mask"][i].bool()]
            mask = out["completion_mask"][i].bool()
            result.append(
                (prompt.tolist(), out["completion_ids"][i][mask].tolist(), out["ref_per_token_logps"][i][mask])
            )
        return result

    torch.manual_seed(0)
    batched = generate([dataset[0], dataset[1]])
    alone = [generate([dataset[i]])[0] for i in range(2)]
    for (prompt, completion, logps), (prompt1, completion1, logps1), record in zip(batched, alone, records):
        assert prompt == prompt1 and completion == completion1
        torch.testing.assert_close(logps, logps1, rtol=1e-4, atol=1e-5)
        grid = processor.image_processor(images=[Image.open(record["image"])], return_tensors="pt")["image_grid_thw"][0]
        assert prompt.count(processor.image_token_id) == image_tokens(processor, grid)
        assert record["task"] in processor.tokenizer.decode(prompt)


@pytest.mark.slow  # loads the micro model
def test_one_batch_and_gradient_accumulation_train_the_same_step(micro_model_dir, tmp_path):
    """The SFT loss is the mean over every plan token of the step, not a mean of micro-batch means:
    2 samples of different plan lengths in one batch, or in 2 accumulation steps, make the same update."""
    from safetensors.torch import load_file

    from harp.config import load_sft_config
    from harp.data.records import read_records, write_records
    from harp.data.synthetic import build_synthetic
    from harp.train.sft import train_sft

    build_synthetic(num_scenes=4, seed=3, images_dir=tmp_path / "img", output_dir=tmp_path, progress=False)
    rows = read_records(tmp_path / "actions.jsonl")
    assert len({len(row["plan"]) for row in rows}) > 1  # plans of different lengths: the weighting shows
    write_records(tmp_path / "train.jsonl", rows)
    config = tmp_path / "sft.yaml"
    config.write_text(
        json.dumps(
            {
                "model": {"name": str(micro_model_dir), "use_lora": False, "freeze_vision_encoder": False},
                "data": {"train_path": str(tmp_path / "train.jsonl"), "val_path": None},
                "training": {
                    "max_steps": 2,
                    "learning_rate": 1e-2,
                    "warmup_steps": 0,
                    "logging_steps": 1,
                    "save_steps": 2,
                    "report_to": ["none"],
                    "bf16": False,
                },
            }
        )
    )
    runs = {}
    for name, batch, accumulation in (("batch", 2, 1), ("accumulated", 1, 2)):
        out = tmp_path / name
        train_sft(
            load_sft_config(
                config,
                [
                    f"training.output_dir={out}",
                    f"training.per_device_train_batch_size={batch}",
                    f"training.gradient_accumulation_steps={accumulation}",
                ],
            )
        )
        history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
        runs[name] = [row["loss"] for row in history if "loss" in row], load_file(out / "final" / "model.safetensors")
    assert runs["batch"][0] == pytest.approx(runs["accumulated"][0], abs=1e-5)
    for key, weight in runs["batch"][1].items():
        torch.testing.assert_close(weight, runs["accumulated"][1][key], rtol=0, atol=1e-5, msg=key)


# ---------------------------------------------------------------------------------- image count


@pytest.mark.parametrize(
    "change, message",
    [
        ({"image": None}, "image"),
        ({"image": ["a_0.png", "b_0.png"]}, "image"),
        ({"task": "put <|image_pad|> in the bin"}, "<|image_pad|>"),
        ({"task": "<|vision_start|><|image_pad|><|vision_end|> apple"}, "<|vision_start|>"),
    ],
)
def test_a_record_with_no_image_two_images_or_image_tokens_is_one_line_naming_it(
    tmp_path, images, domain, change, message
):
    """SFT's and GRPO's readers refuse it before any model loads, naming file:line, instead of a
    feature/token mismatch deep in the model."""
    from harp.data.records import read_records
    from harp.train.grpo import build_dataset

    good = {"image": images(64, 48), "task": "put the apple into the bin", "plan": ["Navigate(White Table)"]}
    bad = {**good, **change}
    if bad["image"] is None:
        del bad["image"]
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    for read in (load_examples, lambda p: build_dataset(read_records(p), domain)):
        with pytest.raises(DataError) as caught:
            read(path)
        assert str(caught.value).startswith(f"{path}:2") and message in str(caught.value)
        assert "\n" not in str(caught.value)
