"""Domains load from YAML; mistakes in a domain file are one-line errors naming the key."""

import pytest

from harp.errors import ConfigError
from harp.plan import GuideDomain, available_domains, load_domain
from harp.plan.guide import EFFECTS, PREDICATES


def test_shipped_domains(npp, drawers):
    assert available_domains() == ["alfred", "alfworld", "drawers", "navigate_pick_place"]
    assert npp.action_names == ["Navigate", "Pick", "Place"]
    assert [npp.actions[a].argument_kind for a in npp.action_names] == ["location", "object", "location"]
    assert drawers.action_names == ["Navigate", "Pick", "Place", "Open", "Close"]
    assert all(spec.description for spec in drawers.actions.values())
    assert load_domain("navigate_pick_place") is npp  # cached: one object per file


def test_canonical_action_is_case_insensitive(npp):
    assert npp.canonical_action("navigate") == "Navigate"
    assert npp.canonical_action(" PICK ") == "Pick"
    assert npp.canonical_action("Grab") is None


def test_every_vocabulary_entry_is_used_by_a_shipped_domain():
    guide = [load_domain(name) for name in available_domains()]
    used = {
        name
        for domain in guide
        if isinstance(domain, GuideDomain)
        for spec in domain.actions.values()
        for name in spec.preconditions + spec.effects
    }
    assert used == set(PREDICATES) | set(EFFECTS)


def test_a_user_domain_file_loads_by_path(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(
        "name: mini\nactions:\n  Go:\n    argument: location\n    description: go\n    effects: [robot_to_argument]\n"
    )
    domain = load_domain(path)
    assert domain.name == "mini" and domain.action_names == ["Go"]


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "actions:\n  Go:\n    argument: place\n    description: go\n    effects: [robot_to_argument]\n",
            "actions.Go.argument: must be one of location, object, openable",
        ),
        (
            "actions:\n  Go:\n    argument: location\n    description: go\n    effects: [robot_to_argumnt]\n",
            "did you mean 'robot_to_argument'",
        ),
        (
            "actions:\n  Go:\n    argument: location\n    descripton: go\n    effects: [robot_to_argument]\n",
            "actions.Go.descripton: unknown key (did you mean 'actions.Go.description'?)",
        ),
        ("actions:\n  Go:\n    argument: location\n    effects: [robot_to_argument]\n", "actions.Go.description"),
        ("actions: {}\n", "actions: expected a non-empty mapping"),
        (
            "actions:\n  Grab:\n    argument: object\n    description: grab\n    effects: [hold_argument]\n",
            "actions.Grab.preconditions: an action with effect hold_argument needs hand_empty",
        ),
        ("actions: [\n", "invalid YAML"),
    ],
)
def test_domain_file_mistakes_name_the_key(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as error:
        load_domain(path)
    assert str(path) in str(error.value)
    assert message in str(error.value) or (message == "invalid YAML" and "line" in str(error.value))
    assert "\n" not in str(error.value)


def test_unknown_domain_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known: alfred, alfworld, drawers, navigate_pick_place"):
        load_domain("kitchen")
