"""Fixtures every test folder shares: the models, each built once per test run (read only: tests write
their outputs elsewhere)."""

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """The embedded tiny Qwen2.5-VL exactly as `harp model init-tiny --out DIR` writes it (seed 0)."""
    from harp.cli import main

    out = tmp_path_factory.mktemp("models") / "tiny-qwen2.5-vl"
    assert main(["model", "init-tiny", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def micro_model_dir(tmp_path_factory):
    """The same classes at test size (MICRO_SIZES, seed 0): seconds to build, milliseconds to run."""
    from harp.models.tiny import MICRO_SIZES, build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "micro", seed=0, sizes=MICRO_SIZES)
