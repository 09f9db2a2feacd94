"""The grounded model's recipe starts from what the shipped model started from.

`harp model pretrain` takes 40 to 60 minutes, so a change to what it trains on (the tokenizer, the
random model, the scenes, the records) used to show only when a rebuild came out as other bytes. The
shipped `pretraining.json` records the inputs' sha256 (harp.recipes.pretrain.recipe_inputs); these
tests make them again from the code as it is."""

import pytest

from harp.models.grounded import GROUNDED_DIR
from harp.models.tiny import build_tiny_model
from harp.recipes.pretrain import NUM_SCENES, STAGES, pretraining_records, recipe_inputs


@pytest.fixture(scope="module")
def shipped_inputs():
    import json

    return json.loads((GROUNDED_DIR / "pretraining.json").read_text(encoding="utf-8"))["inputs"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrain")
    build_tiny_model(folder / "base", seed=0)
    return folder


def test_the_random_model_and_tokenizer_are_those_the_shipped_model_was_trained_from(workdir, shipped_inputs):
    from harp.models.grounded import sha256

    for name in ("model.safetensors", "tokenizer.json"):
        assert sha256(workdir / "base" / name) == shipped_inputs[f"base/{name}"], name


@pytest.mark.slow
def test_the_scenes_and_records_are_those_the_shipped_model_was_trained_on(workdir, shipped_inputs):
    for stage in STAGES:
        pretraining_records(workdir / "scenes", NUM_SCENES, stage)
    assert recipe_inputs(workdir, NUM_SCENES) == shipped_inputs
