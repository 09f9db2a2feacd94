"""Fixtures for the model tests: the embedded tiny model (built by its CLI), a micro model, scene images."""

import random

import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """The embedded model exactly as `harp model init-tiny --out DIR` writes it."""
    from harp.cli import main

    out = tmp_path_factory.mktemp("tiny") / "tiny-qwen2.5-vl"
    assert main(["model", "init-tiny", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def micro_dir(tmp_path_factory):
    """The same classes at test size (seconds to build, milliseconds to run)."""
    from harp.models.tiny import MICRO_SIZES, build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("micro") / "model", seed=0, sizes=MICRO_SIZES)


@pytest.fixture(scope="session")
def scenes():
    """Three synthetic scenes: (PIL image, task) pairs of different tasks and images."""
    from harp.data import world

    samples = [world.sample_scene(random.Random(f"models-test:{i}")) for i in range(3)]
    return [(world.render(s), s.task) for s in samples]


@pytest.fixture(scope="session")
def domain():
    from harp.plan.domain import Domain

    return Domain.load("navigate_pick_place")
