"""Reading record files: each malformed line is one error naming file:line (and the column)."""

import pytest

from harp.data.records import iter_records
from harp.errors import DataError


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"image": "./bdv2/s_0.png", "task": "t", "plan": ["Pick(Apple)"]', "(Expecting ',' delimiter at column 65)"),
        ('{"image": "./bdv2/s_0', "(Unterminated string starting at column 11)"),
        ("", None),  # blank lines are skipped
    ],
)
def test_a_malformed_line_names_line_and_column(tmp_path, line, message):
    path = tmp_path / "sft_train.jsonl"
    path.write_text('{"image": "a.png", "task": "t", "plan": ["Pick(Apple)"]}\n' + line + "\n")
    if message is None:
        assert len(list(iter_records(path))) == 1
        return
    with pytest.raises(DataError) as caught:
        list(iter_records(path))
    assert str(caught.value) == f"{path}:2: not valid JSON {message}"
