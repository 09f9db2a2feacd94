"""Scenes: the JSON round-trips, malformed scenes are DataErrors, teacher plans imply a scene."""

import pytest

from harp.errors import DataError
from harp.plan import GuideScene, infer_scene, scene_for, simulate


def test_from_dict_normalises_names_and_round_trips(two_tables):
    assert two_tables.locations == ("white table", "red table", "basket")
    assert two_tables.initial.objects == (("apple", "white table"), ("cup", "red table"))
    assert GuideScene.from_dict(two_tables.to_dict()) == two_tables
    assert hash(GuideScene.from_dict(two_tables.to_dict())) == hash(two_tables)


def test_openable_places_are_locations(drawer_scene):
    assert "drawer" in drawer_scene.locations
    assert drawer_scene.initial.open == frozenset()


@pytest.mark.parametrize(
    "scene, message",
    [
        ({"locations": ["a"], "objects": {"x": "a"}, "goal": {"y": "a"}}, "scene.goal: 'y' is not in scene.objects"),
        ({"locations": ["a"], "objects": {"x": "a"}, "goal": {"x": "b"}}, "which is not in scene.locations"),
        (
            {"locations": ["a"], "objects": {"x": "shelf"}, "goal": {}},
            "scene.objects: 'x' starts at 'shelf', which is not",
        ),
        ({"locations": "a", "objects": {}, "goal": {}}, "scene.locations: expected a list"),
        ({"locations": [], "objects": {}, "goal": {}, "goals": {}}, "unknown key 'goals'"),
        ([], "expected an object"),
    ],
)
def test_malformed_scenes_are_one_line_data_errors(scene, message):
    with pytest.raises(DataError, match=message):
        GuideScene.from_dict(scene)


def test_infer_scene_from_the_guides_example(npp):
    scene = infer_scene(["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"], npp)
    assert scene.to_dict() == {
        "robot": "start",
        "locations": ["table", "basket"],
        "objects": {"apple": "table"},
        "goal": {"apple": "basket"},
    }


def test_infer_scene_two_objects_and_a_moved_twice_object(npp):
    plan = [
        "Navigate(Shelf)",
        "Pick(Cup)",
        "Navigate(Table)",
        "Place(Table)",
        "Navigate(Counter)",
        "Pick(Pear)",
        "Navigate(Bin)",
        "Place(Bin)",
        "Navigate(Table)",
        "Pick(Cup)",
        "Navigate(Bin)",
        "Place(Bin)",
    ]
    scene = infer_scene(plan, npp)
    assert scene.objects == {"cup": "shelf", "pear": "counter"}  # where each was first picked
    assert scene.goal == {"cup": "bin", "pear": "bin"}  # the final placements
    assert simulate(plan, scene, npp).completed


def test_infer_scene_with_drawers(drawers):
    plan = ["Navigate(Drawer)", "Open(Drawer)", "Pick(Spoon)", "Close(Drawer)", "Navigate(Table)", "Place(Table)"]
    scene = infer_scene(plan, drawers)
    assert scene.openable == {"drawer": False}  # opened first, so it starts closed
    assert scene.goal == {"spoon": "table"} and scene.goal_open == {"drawer": False}
    assert simulate(plan, scene, drawers).completed


def test_infer_scene_never_raises_on_garbage(npp):
    scene = infer_scene("nonsense ((", npp)
    assert scene.goal == {} and scene.objects == {}


def test_scene_for_prefers_the_records_scene(npp, two_tables):
    record = {"task": "t", "plan": ["Navigate(X)"], "scene": two_tables.to_dict()}
    assert scene_for(record, npp) == two_tables
    record["scene"] = {"locations": []}
    with pytest.raises(DataError, match="f.jsonl:3: scene.objects"):
        scene_for(record, npp, where="f.jsonl:3: scene")
