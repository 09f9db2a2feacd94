"""Entity names: one canonical form for case, spaces, underscores, articles and stray quotes."""

import pytest

from harp.plan.names import display_name, normalize_entity


@pytest.mark.parametrize("raw, canonical", [
    ("White Table", "white table"),
    ("  white   TABLE ", "white table"),  # case and runs of spaces
    ("white_table", "white table"),  # underscores read as spaces
    ("the white table", "white table"),  # leading article
    ("An apple", "apple"),
    ("'Basket'.", "basket"),  # quotes and a trailing full stop
    ("A", "a"),  # a name that is only an "article" is kept
    ("", ""),
])
def test_normalize_entity(raw, canonical):
    assert normalize_entity(raw) == canonical


def test_display_name_round_trips_through_normalize():
    assert display_name("white table") == "White Table"
    assert normalize_entity(display_name("red cup")) == "red cup"
