"""Fixtures for the model tests: scene images and the domain (the models are tests/conftest.py's)."""

import random

import pytest


@pytest.fixture(scope="session")
def scenes():
    """Three synthetic scenes: (PIL image, task) pairs of different tasks and images."""
    from harp.data import world

    samples = [world.sample_scene(random.Random(f"models-test:{i}")) for i in range(3)]
    return [(world.render(s), s.task) for s in samples]


@pytest.fixture(scope="session")
def domain():
    from harp.plan import load_domain

    return load_domain("navigate_pick_place")
