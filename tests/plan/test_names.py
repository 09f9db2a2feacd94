"""Entity names: one canonical form for case, spaces, underscores, articles and stray quotes."""

import pytest

from harp.plan.names import display_name, normalize_entity, task_names_sources


@pytest.mark.parametrize(
    "raw, canonical",
    [
        ("White Table", "white table"),
        ("  white   TABLE ", "white table"),  # case and runs of spaces
        ("white_table", "white table"),  # underscores read as spaces
        ("the white table", "white table"),  # leading article
        ("An apple", "apple"),
        ("'Basket'.", "basket"),  # quotes and a trailing full stop
        ("A", "a"),  # a name that is only an "article" is kept
        ("", ""),
    ],
)
def test_normalize_entity(raw, canonical):
    assert normalize_entity(raw) == canonical


def test_display_name_round_trips_through_normalize():
    assert display_name("white table") == "White Table"
    assert normalize_entity(display_name("red cup")) == "red cup"


def test_a_task_names_its_sources_only_when_it_names_every_moved_object_s_start():
    from harp.plan import GuideScene

    scene = GuideScene(
        "start",
        ["red table", "blue table", "bin"],
        {"apple": "red table", "cup": "blue table"},
        {"apple": "bin", "cup": "bin"},
    )
    assert task_names_sources("Move the apple from the red table and the cup from the blue table to the bin", scene)
    assert not task_names_sources("Move the apple from the red table and the cup to the bin", scene)  # one of two
    assert not task_names_sources("Put the apple and the cup into the bin", scene)
