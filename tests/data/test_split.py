"""`harp data split` writes byte for byte what the guide's inline script writes."""

import json
import subprocess
import sys

import pytest

from harp.data.split import split_records
from harp.errors import DataError

# The guide's snippet (数据生成 / Step 3), verbatim apart from the shell wrapper.
GUIDE_SNIPPET = """
import json
import random
from pathlib import Path

# 读取数据
with open('actions.jsonl', 'r') as f:
    data = [json.loads(line) for line in f]

# 打乱
random.seed(42)
random.shuffle(data)

# 划分
n = len(data)
train_end = int(0.8 * n)
val_end = int(0.9 * n)

train_data = data[:train_end]
val_data = data[train_end:val_end]
test_data = data[val_end:]

# 保存
Path('data').mkdir(exist_ok=True)
for name, dataset in [('train', train_data), ('val', val_data), ('test', test_data)]:
    with open(f'data/sft_{name}.jsonl', 'w') as f:
        for item in dataset:
            f.write(json.dumps(item) + '\\n')

print(f'Train: {len(train_data)}, Val: {len(val_data)}, Test: {len(test_data)}')
"""


def write_actions(path, n):
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            # Non-ASCII text and nested values: the guide's json.dumps escapes them; so must we.
            record = {
                "image": f"./bdv2/s_{i}_0.png",
                "task": f"Put the café apple {i} into the basket",
                "plan": ["Navigate(White Table)", "Pick(Apple)"],
                "meta": {"num_objects": 1, "source_named": i % 2 == 0},
            }
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


@pytest.mark.parametrize("n", [1, 7, 53])
def test_split_is_byte_identical_to_the_guide_script(tmp_path, n):
    guide, ours = tmp_path / "guide", tmp_path / "ours"
    guide.mkdir()
    write_actions(guide / "actions.jsonl", n)
    result = subprocess.run(
        [sys.executable, "-c", GUIDE_SNIPPET], cwd=guide, capture_output=True, text=True, check=True
    )

    counts = split_records(guide / "actions.jsonl", ours)

    assert result.stdout.strip() == f"Train: {counts['train']}, Val: {counts['val']}, Test: {counts['test']}"
    for name in ("train", "val", "test"):
        assert (ours / f"sft_{name}.jsonl").read_bytes() == (guide / "data" / f"sft_{name}.jsonl").read_bytes()
    assert sum(counts.values()) == n


def test_split_proportions_and_no_record_lost(tmp_path):
    write_actions(tmp_path / "actions.jsonl", 100)
    counts = split_records(tmp_path / "actions.jsonl", tmp_path / "data")
    assert counts == {"train": 80, "val": 10, "test": 10}
    images = [
        json.loads(line)["image"]
        for name in ("train", "val", "test")
        for line in (tmp_path / "data" / f"sft_{name}.jsonl").read_text().splitlines()
    ]
    assert sorted(images) == sorted(f"./bdv2/s_{i}_0.png" for i in range(100))


def test_split_names_the_bad_line(tmp_path):
    (tmp_path / "actions.jsonl").write_text('{"image": "a"}\n{not json\n')
    with pytest.raises(DataError, match=r"actions.jsonl:2: not valid JSON"):
        split_records(tmp_path / "actions.jsonl", tmp_path / "data")


def test_a_cut_line_names_the_column_without_a_dangling_at(tmp_path):
    (tmp_path / "actions.jsonl").write_text('{"image": "a"}\n{"image": "./bdv2/s_1\n')
    with pytest.raises(DataError) as caught:
        split_records(tmp_path / "actions.jsonl", tmp_path / "data")
    assert str(caught.value).endswith("actions.jsonl:2: not valid JSON (Unterminated string starting at column 11)")


def test_split_missing_input_is_one_line(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        split_records(tmp_path / "actions.jsonl", tmp_path / "data")


def test_a_scenes_records_stay_in_one_split_and_records_without_an_image_are_not_grouped(tmp_path):
    """A scene said several ways (`harp data build --phrasings`) must not be trained on and tested on."""
    with (tmp_path / "actions.jsonl").open("w") as handle:
        for i in range(40):
            for k in range(1 + i % 3):  # one, two or three sentences a picture
                handle.write(json.dumps({"image": f"./bdv2/s_{i}_0.png", "task": f"task {i} said way {k}"}) + "\n")
        for i in range(20):  # imported ALFRED plans have no picture: each is its own group
            handle.write(json.dumps({"image": "", "task": f"alfred {i}"}) + "\n")
    counts = split_records(tmp_path / "actions.jsonl", tmp_path / "data")
    where: dict = {}
    for name in ("train", "val", "test"):
        for line in (tmp_path / "data" / f"sft_{name}.jsonl").read_text().splitlines():
            record = json.loads(line)
            where.setdefault(record["image"] or record["task"], set()).add(name)
    assert sum(counts.values()) == sum(1 + i % 3 for i in range(40)) + 20  # nothing lost
    assert all(len(splits) == 1 for splits in where.values())  # every picture in one split
    assert len(where) == 60 and {"train", "val", "test"} <= set().union(*where.values())
    unpictured = [where[f"alfred {i}"] for i in range(20)]
    assert len(set().union(*unpictured)) > 1  # spread over the splits, not one group
