"""SFT samples: records -> (image, prompt, plan) examples, the length check, and the batch collator.

Why our own collator instead of TRL's `DataCollatorForVisionLanguageModeling`: TRL's truncates every
sequence to `max_length`, which can cut image placeholder tokens (the model then fails on a
feature/token mismatch, or trains on a broken sample), and it needs decoded images in the dataset.
Ours reads each image from its path when the batch is built, never truncates (overlong samples are
found beforehand, reported by index and skipped, or stop the run, per `data.on_overlong`), and
builds the labels from separately tokenised prompt and completion, so the loss covers exactly the
assistant's plan and its end-of-turn token: system prompt, task, image tokens and padding are -100.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harp.data.images import image_size, open_image
from harp.data.records import read_records, where
from harp.errors import DataError
from harp.models.generate import prompt_text
from harp.plan.parser import format_plan, parse_plan

IGNORE_INDEX = -100
END_OF_TURN = "<|im_end|>"


def plan_text(plan) -> str:
    """The assistant's answer for a record's plan: its steps joined with ", " (canonical form when parsable)."""
    if isinstance(plan, str):
        text = plan.strip()
    else:
        text = ", ".join(step.strip() for step in plan)
    parsed = parse_plan(text)
    return format_plan(parsed.steps) if parsed.ok else text


def load_examples(path: str | Path) -> list[dict]:
    """SFT examples (rows of the training dataset) of a records file: the image path the reader
    resolved, task, completion text, and `where` (the record's file:line, for errors)."""
    return [
        {
            "image": str(record.image_path),
            "task": record["task"],
            "completion": plan_text(record["plan"]),
            "where": where(record),
        }
        for record in read_records(path)
    ]


def sample_length(processor, example: dict, domain) -> int:
    """Tokens of one sample, image tokens included, without processing pixels (only the image size is read)."""
    width, height = image_size(example["image"], example["where"])
    image_processor = processor.image_processor
    patches = image_processor.get_number_of_image_patches(height, width, {})
    image_tokens = patches // image_processor.merge_size**2
    tokenizer = processor.tokenizer
    prompt = tokenizer(prompt_text(processor, example["task"], domain), add_special_tokens=False)["input_ids"]
    completion = tokenizer(example["completion"] + END_OF_TURN, add_special_tokens=False)["input_ids"]
    return len(prompt) - 1 + image_tokens + len(completion)  # the one <|image_pad|> expands to image_tokens


def drop_overlong(
    examples: list[dict], processor, domain, max_length: int, on_overlong: str, split: str
) -> tuple[list[dict], list[str]]:
    """Examples that fit in max_length, and a note per skipped one (index, file:line, length).

    With on_overlong="error" the first overlong sample raises a DataError naming its line.
    """
    kept, skipped = [], []
    for index, example in enumerate(examples):
        length = sample_length(processor, example, domain)
        if length <= max_length:
            kept.append(example)
            continue
        if on_overlong == "error":
            raise DataError(
                f"{example['where']}: {split} sample {index} has {length} tokens > training.max_length "
                f"{max_length}; raise training.max_length or set data.on_overlong: skip"
            )
        skipped.append(f"{split}[{index}] ({example['where']}): {length} tokens > training.max_length {max_length}")
    return kept, skipped


@dataclass
class PlanCollator:
    """Builds a training batch: prompt (with image) + plan, right-padded, labels only on the plan.

    Returns input_ids, attention_mask, mm_token_type_ids, labels (batch, seq) and pixel_values,
    image_grid_thw for the images.
    """

    processor: object
    domain: object

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        tokenizer = self.processor.tokenizer
        images = [open_image(example["image"], example["where"]) for example in examples]
        prompts = self.processor(
            images=images,
            text=[prompt_text(self.processor, e["task"], self.domain) for e in examples],
            padding=True,
            padding_side="left",
            return_tensors="pt",
        )
        image_id = self.processor.image_token_id
        video_id = self.processor.video_token_id
        rows, label_rows = [], []
        for i, example in enumerate(examples):
            prompt_ids = prompts["input_ids"][i][prompts["attention_mask"][i].bool()].tolist()
            completion_ids = tokenizer(example["completion"] + END_OF_TURN, add_special_tokens=False)["input_ids"]
            rows.append(prompt_ids + completion_ids)
            label_rows.append([IGNORE_INDEX] * len(prompt_ids) + completion_ids)
        width = max(len(r) for r in rows)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        labels = torch.tensor([r + [IGNORE_INDEX] * (width - len(r)) for r in label_rows])
        attention_mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        # text 0, image 1, video 2: the model's M-RoPE positions come from these
        mm_token_type_ids = (input_ids == image_id).long() + 2 * (input_ids == video_id).long()
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "mm_token_type_ids": mm_token_type_ids,
            "labels": labels,
            "pixel_values": prompts["pixel_values"],
            "image_grid_thw": prompts["image_grid_thw"],
        }
