"""Shared scenes for the planning tests."""

import pytest

from harp.plan import Domain, Scene


@pytest.fixture(scope="session")
def npp():
    return Domain.load("navigate_pick_place")


@pytest.fixture(scope="session")
def drawers():
    return Domain.load("drawers")


@pytest.fixture
def two_tables():
    """Apple on the white table, cup on the red table; the apple must go into the basket."""
    return Scene.from_dict({
        "robot": "start",
        "locations": ["White Table", "red table", "basket"],
        "objects": {"apple": "white table", "cup": "red table"},
        "goal": {"apple": "basket"},
    })


@pytest.fixture
def drawer_scene():
    """A spoon in a closed drawer must go onto the table, and the drawer must end closed."""
    return Scene.from_dict({
        "robot": "start",
        "locations": ["table"],
        "objects": {"spoon": "drawer"},
        "openable": {"drawer": False},
        "goal": {"spoon": "table"},
        "goal_open": {"drawer": False},
    })
