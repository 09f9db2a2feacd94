"""SFT samples: the loss covers only the plan (and its end-of-turn token); overlong samples are skipped or refused."""

import json

import pytest

from harp.errors import DataError
from harp.train.sft_data import IGNORE_INDEX, PlanCollator, drop_overlong, load_examples, plan_text, sample_length


@pytest.fixture(scope="module")
def micro(micro_model_dir):
    from harp.models.load import load_processor

    return load_processor(micro_model_dir)


@pytest.fixture(scope="module")
def records_file(tmp_path_factory):
    """Four synthetic records (absolute image paths), one- and two-object tasks."""
    from harp.data import world
    from harp.data.synthetic import synthetic_record
    from harp.plan import load_domain

    folder = tmp_path_factory.mktemp("records")
    domain = load_domain("navigate_pick_place")
    lines = []
    for index in range(4):
        image = folder / f"scene_{index}_0.png"
        record, sample = synthetic_record(index, 3, domain, str(image))
        world.render(sample).save(image)
        lines.append(json.dumps(record))
    path = folder / "records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def domain():
    from harp.plan import load_domain

    return load_domain("navigate_pick_place")


def test_plan_text_joins_steps_with_comma_space():
    assert plan_text(["Navigate(White Table)", " Pick(Apple) "]) == "Navigate(White Table), Pick(Apple)"
    assert plan_text("Navigate(Basket), Place(Basket)") == "Navigate(Basket), Place(Basket)"


def test_labels_cover_only_the_plan_and_its_end_of_turn(micro, records_file, domain):
    processor = micro
    examples = load_examples(records_file)
    batch = PlanCollator(processor, domain)(examples)
    tokenizer = processor.tokenizer
    image_id = processor.image_token_id
    for row, example in enumerate(examples):
        ids, labels, mask = batch["input_ids"][row], batch["labels"][row], batch["attention_mask"][row]
        trained = labels != IGNORE_INDEX
        # exactly the assistant's answer is trained: plan text then <|im_end|>
        assert tokenizer.decode(labels[trained]) == example["completion"] + "<|im_end|>"
        # the trained tokens are the last real tokens of the row, and equal the input there
        assert bool((ids[trained] == labels[trained]).all())
        last = int(mask.sum())
        assert bool(trained[last - int(trained.sum()) : last].all())
        # image tokens, system prompt, task and padding are masked
        assert not bool(trained[ids == image_id].any()) and int((ids == image_id).sum()) == 16
        assert not bool(trained[mask == 0].any())
        prompt = tokenizer.decode(ids[: last - int(trained.sum())])
        assert prompt.endswith("<|im_start|>assistant\n") and example["task"] in prompt
    assert batch["mm_token_type_ids"].eq(1).sum() == (batch["input_ids"] == image_id).sum()
    assert batch["pixel_values"].shape[0] == int(batch["image_grid_thw"].prod(dim=1).sum())
    assert batch["attention_mask"].shape == batch["labels"].shape == batch["input_ids"].shape


def test_sample_length_matches_the_collated_length(micro, records_file, domain):
    processor = micro
    collator = PlanCollator(processor, domain)
    for example in load_examples(records_file):
        assert sample_length(processor, example, domain) == collator([example])["input_ids"].shape[1]


def test_overlong_samples_are_skipped_by_index_or_refused(micro, records_file, domain):
    examples = load_examples(records_file)
    lengths = [sample_length(micro, e, domain) for e in examples]
    limit = sorted(lengths)[1]  # keeps the two shortest (ties aside)
    kept, notes = drop_overlong(examples, micro, domain, limit, "skip", "train")
    assert len(kept) == sum(n <= limit for n in lengths) and len(notes) == len(examples) - len(kept)
    first_long = next(i for i, n in enumerate(lengths) if n > limit)
    assert notes[0].startswith(f"train[{first_long}] ({records_file}:{first_long + 1}): {lengths[first_long]} tokens")
    with pytest.raises(DataError, match=rf"records.jsonl:{first_long + 1}: .*data.on_overlong"):
        drop_overlong(examples, micro, domain, limit, "error", "train")
    kept, notes = drop_overlong(examples, micro, domain, max(lengths), "skip", "train")
    assert len(kept) == len(examples) and not notes


def test_relative_image_paths_resolve_beside_the_records_file(tmp_path, records_file):
    line = json.loads(records_file.read_text().splitlines()[0])
    (tmp_path / "img.png").write_bytes(open(line["image"], "rb").read())
    line["image"] = "img.png"
    (tmp_path / "r.jsonl").write_text(json.dumps(line) + "\n")
    (example,) = load_examples(tmp_path / "r.jsonl")
    assert example["image"] == str(tmp_path / "img.png")
