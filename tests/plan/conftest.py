"""Shared scenes for the planning tests."""

import pytest

from harp.plan import GuideScene, load_domain


@pytest.fixture(scope="session")
def npp():
    return load_domain("navigate_pick_place")


@pytest.fixture(scope="session")
def drawers():
    return load_domain("drawers")


@pytest.fixture
def two_tables():
    """Apple on the white table, cup on the red table; the apple must go into the basket."""
    return GuideScene.from_dict(
        {
            "robot": "start",
            "locations": ["White Table", "red table", "basket"],
            "objects": {"apple": "white table", "cup": "red table"},
            "goal": {"apple": "basket"},
        }
    )


@pytest.fixture
def drawer_scene():
    """A spoon in a closed drawer must go onto the table, and the drawer must end closed."""
    return GuideScene.from_dict(
        {
            "robot": "start",
            "locations": ["table"],
            "objects": {"spoon": "drawer"},
            "openable": {"drawer": False},
            "goal": {"spoon": "table"},
            "goal_open": {"drawer": False},
        }
    )
