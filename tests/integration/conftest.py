"""Fixtures for the integration tests: the embedded tiny model and a synthetic scene, built once."""

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from harp.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen2.5-vl", seed=0)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The tiny model runs fastest on one thread (a second one only adds contention); restored after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
