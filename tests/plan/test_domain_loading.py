"""Loading domains (issue 23): a broken PDDL file or mapping is refused at load in one line naming
the file and the line or key, instead of loading and failing later, hours into GRPO; hostile files
(not UTF-8, a link to /dev/zero, a FIFO, too big, a YAML alias bomb) are one line, never a hang."""

import os
import sys
import time

import pytest

from harp.errors import ConfigError
from harp.files import MAX_TEXT_BYTES as MAX_DOMAIN_BYTES
from harp.plan import load_domain, optimal_plan, simulate
from harp.plan.alfred import infer_initial
from harp.plan.pddl_domain import SCENE_INFERENCE

LIGHTS = """(define (domain lights)
  (:requirements :strips :typing :negative-preconditions)
  (:types lamp)
  (:predicates (lit ?l - lamp) (plugged ?l - lamp))
  (:action switch-on
    :parameters (?l - lamp)
    :precondition (and (plugged ?l) (not (lit ?l)))
    :effect (lit ?l))
  (:action switch-off
    :parameters (?l - lamp)
    :precondition (lit ?l)
    :effect (not (lit ?l))))
"""
MAPPING = """name: lights
pddl: lights.pddl
actions:
  Light: {argument: lamp, description: Switch a lamp on., pddl: [{action: switch-on, written: "?l"}]}
  Dim: {argument: lamp, description: Switch a lamp off., pddl: [{action: switch-off, written: "?l"}]}
reasons:
  plugged: "{0} is not plugged in"
  not lit: "{0} is already on"
"""
SCENE = {"entities": {"a": "lamp"}, "init": [["plugged", "a"]], "goal": [["lit", "a"]]}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path, *parts):
    """load_domain(path) is one ConfigError line holding every part; returns the message."""
    with pytest.raises(ConfigError) as error:
        load_domain(path)
    message = str(error.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, message
    return message


# ------------------------------------------------------------------ item 4: broken PDDL


@pytest.mark.parametrize(
    "old, new, parts",
    [
        # an undeclared predicate: every precondition naming it would fail, for a reason that is no reason
        (
            "(plugged ?l) (not",
            "(pluged ?l) (not",
            ["line 7", "undeclared predicate 'pluged'", "did you mean 'plugged'"],
        ),
        ("(lit ?l))))", "(lit ?x))))", ["line 12", "switch-off", "undeclared variable ?x"]),  # in an effect
        ("(plugged ?l) (not", "(plugged ?l ?l) (not", ["line 7", "plugged takes 1 argument, got 2"]),
        ("(:action switch-off", "(:action switch-on", ["line 9", "action switch-on is defined twice"]),
        ("(plugged ?l - lamp))", "(plugged ?l - lamp) (lit ?a ?b))", ["line 4", "predicate lit is declared twice"]),
    ],
)
def test_a_broken_pddl_file_is_refused_naming_file_and_line(tmp_path, old, new, parts):
    assert old in LIGHTS
    path = write(tmp_path, "lights.pddl", LIGHTS.replace(old, new, 1))
    assert refused(path, *parts).startswith(f"{path}: line ")


def test_an_undeclared_predicate_in_a_derived_predicate_is_refused(tmp_path):
    text = LIGHTS.replace(":negative-preconditions", ":negative-preconditions :derived-predicates").replace(
        "(plugged ?l - lamp))", "(plugged ?l - lamp) (ready ?l - lamp))\n  (:derived (ready ?l - lamp) (powered ?l))"
    )
    path = write(tmp_path, "lights.pddl", text)
    refused(path, f"{path}: line 5", "derived ready", "undeclared predicate 'powered'")


def test_an_empty_precondition_means_always_applicable(tmp_path):
    # `:precondition ()` is legal PDDL for "none"; the pddl package reads it as an empty (or), never true
    path = write(tmp_path, "lights.pddl", LIGHTS.replace("(and (plugged ?l) (not (lit ?l)))", "()"))
    domain = load_domain(path)
    scene = domain.scene_from_dict({"entities": {"a": "lamp"}, "init": [], "goal": [["lit", "a"]]})
    trace = simulate("Switch_on(A)", scene, domain)
    assert trace.steps[0].valid and trace.completed
    assert optimal_plan(scene, domain) == ["Switch_on(A)"]


def test_an_action_without_precondition_or_effect_loads(tmp_path):
    # both are optional in PDDL; pddl 0.5.1 fails on either ('NoneType' object is not subscriptable)
    text = LIGHTS.replace("    :precondition (and (plugged ?l) (not (lit ?l)))\n", "")
    text = text.replace("    :effect (not (lit ?l))", "    :effect ()")
    domain = load_domain(write(tmp_path, "lights.pddl", text))
    scene = domain.scene_from_dict({"entities": {"a": "lamp"}, "init": [], "goal": [["lit", "a"]]})
    assert simulate("Switch_on(A), Switch_off(A)", scene, domain).completed


def test_an_empty_or_inside_a_precondition_is_refused(tmp_path):
    text = LIGHTS.replace(":negative-preconditions", ":negative-preconditions :disjunctive-preconditions")
    path = write(tmp_path, "lights.pddl", text.replace("(not (lit ?l)))", "(not (lit ?l)) (or))", 1))
    refused(path, f"{path}: line 7", "(or) with nothing inside never holds")


def test_a_formula_nested_too_deeply_is_refused(tmp_path):
    deep = "(not " * 100 + "(lit ?l)" + ")" * 100
    path = write(tmp_path, "lights.pddl", LIGHTS.replace("(not (lit ?l)))", deep + ")", 1))
    refused(path, str(path), "nested deeper than")


def test_a_parameterless_action_is_refused_in_a_bare_pddl_file_and_may_stay_unmapped(tmp_path):
    # A plan step is Word(Argument): no step could name it, yet the planner would use it.
    text = LIGHTS[:-2] + "\n  (:action reset :parameters () :effect (and)))\n"
    path = write(tmp_path, "lights.pddl", text)
    refused(path, f"{path}: line 13", "action reset has no parameters")
    mapped = load_domain(write(tmp_path, "lights.yaml", MAPPING))  # a mapping that leaves it out is fine
    assert mapped.action_names == ["Light", "Dim"]


def test_two_actions_that_become_one_plan_word_are_refused(tmp_path):
    path = write(tmp_path, "lights.pddl", LIGHTS.replace("switch-off", "switch_on"))
    refused(path, "switch_on", "Switch_on")


def test_a_constant_the_file_does_not_declare_names_its_line(tmp_path):
    path = write(tmp_path, "lights.pddl", LIGHTS.replace(":precondition (lit ?l)", ":precondition (lit desk)"))
    refused(path, f"{path}: line 11", "Constant 'desk' not defined")


def test_a_failed_parse_leaves_tracebacks_alone(tmp_path):
    # pddl 0.5.1 sets sys.tracebacklimit = 0 while parsing and leaves it there after an error
    refused(write(tmp_path, "broken.pddl", "(define (domain broken)\n  (:predicates (on ?x)\n"), "broken.pddl")
    assert getattr(sys, "tracebacklimit", None) != 0


def test_scene_inference_is_refused_for_a_domain_it_does_not_fit(tmp_path):
    write(tmp_path, "lights.pddl", LIGHTS)
    # alfred's inference writes furniture, spots and (in ...) facts: lights has none of them
    path = write(tmp_path, "lights.yaml", MAPPING + "scene_inference: alfred\n")
    refused(path, f"{path}: scene_inference: alfred", "type 'item'")
    path = write(tmp_path, "other.yaml", MAPPING + "scene_inference: kitchen\n")
    refused(path, f"{path}: scene_inference: unknown 'kitchen' (known: alfred)")


def test_alfred_scene_inference_writes_only_what_its_check_asks_for():
    # SCENE_INFERENCE["alfred"] is what the load check demands; harp/plan/alfred.py must stay within it
    alfred = load_domain("alfred")
    needs = SCENE_INFERENCE["alfred"]
    plan = (
        "Navigate(Apple), Pick(Apple), Navigate(Microwave), Heat(Apple), Navigate(Fridge), Open(Fridge), "
        "Cool(Apple), Place(Fridge), Close(Fridge), Navigate(Knife), Pick(Knife), Navigate(Bread), "
        "Slice(Bread), Navigate(Sink), Clean(Knife), Navigate(Lamp), Toggle(Lamp), Navigate(Cup), "
        "Place(Cup), Pick(Cup), Navigate(Table), Place(Table)"
    )
    entities, facts, _ = infer_initial(plan, alfred.spec)
    assert set(entities.values()) <= set(needs["types"])
    assert {fact[0] for fact in facts} <= set(needs["predicates"])
    assert all(len(fact) - 1 == needs["predicates"][fact[0]] for fact in facts)
    assert {fact[0] for fact in facts} >= {"in", "heater", "cooler", "washer", "sharp", "sliceable", "toggleable"}


# -------------------------------------------------------------- item 7: mapping templates


@pytest.mark.parametrize(
    "template, part",
    [
        ("{3} is not plugged in", "{3}"),
        ("{what} is not plugged in", "{what}"),
        ("{0 is not plugged in", "expected '}'"),
        ("{0} is not } plugged in", "Single '}'"),
        ("{0.__class__} is not plugged in", "{0.__class__}"),
        ("{0:d} is not plugged in", "Unknown format code"),
        ("{} is not plugged in", "{}"),
    ],
)
def test_a_reason_template_that_would_fail_is_refused_at_load(tmp_path, template, part):
    write(tmp_path, "lights.pddl", LIGHTS)
    path = write(tmp_path, "lights.yaml", MAPPING.replace('"{0} is not plugged in"', repr(template)))
    refused(path, f"{path}: reasons.plugged:", part)


def test_a_reason_for_an_unknown_predicate_is_refused(tmp_path):
    write(tmp_path, "lights.pddl", LIGHTS)
    path = write(tmp_path, "lights.yaml", MAPPING.replace("  plugged:", "  pluged:"))
    refused(path, f"{path}: reasons.pluged: no predicate 'pluged'", "did you mean 'plugged'")
    path = write(tmp_path, "odd.yaml", MAPPING.replace("  plugged:", "  plugged!:"))
    refused(path, f"{path}: reasons.plugged!:")


def test_every_reason_template_renders_when_its_precondition_fails(tmp_path):
    write(tmp_path, "lights.pddl", LIGHTS)
    domain = load_domain(write(tmp_path, "lights.yaml", MAPPING))
    scene = domain.scene_from_dict(
        {"entities": {"a": "lamp", "b": "lamp"}, "init": [["lit", "b"], ["plugged", "b"]], "goal": []}
    )
    steps = simulate("Light(A), Light(B)", scene, domain).steps
    assert [s.reason for s in steps] == ["a is not plugged in", "b is already on"]


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("name: lights", "name: [lights]", "name: expected text"),
        ("argument: lamp", "argument: {a: 1}", "actions.Light.argument: expected text"),
        ("  Light:", "  Lïght:", "actions.Lïght: a plan word is one word of ASCII letters"),  # the parser reads ASCII
        ("  Light:", "  On:", "actions.True: YAML reads on/off"),  # YAML 1.1: On is true
        ("pddl: lights.pddl", "pddl: [x]", "pddl: expected the path"),
    ],
)
def test_mapping_values_of_the_wrong_type_are_refused(tmp_path, old, new, key):
    write(tmp_path, "lights.pddl", LIGHTS)
    path = write(tmp_path, "bad.yaml", MAPPING.replace(old, new, 1))
    refused(path, f"{path}: {key}")


# ------------------------------------------------ items 10, 12, 17: hostile or misnamed files


@pytest.mark.parametrize("name", ["lights.pddl", "lights.yaml"])
def test_a_domain_file_that_is_not_utf8_names_its_line(tmp_path, name):
    text = LIGHTS if name.endswith(".pddl") else MAPPING
    write(tmp_path, "lights.pddl", LIGHTS)
    path = tmp_path / name
    path.write_bytes(
        text.replace("Switch a lamp", "Switch a l\xe4mp").replace("(:types lamp)", "(:types l\xe4mp)").encode("latin-1")
    )
    line = 3 if name.endswith(".pddl") else 4
    refused(path, f"{path}: line {line}: not UTF-8 text")


def test_a_mapping_whose_pddl_file_is_not_utf8_names_it(tmp_path):
    text = LIGHTS.replace("(:types lamp)", "; caf\xe9\n  (:types lamp)")
    (tmp_path / "lights.pddl").write_bytes(text.encode("latin-1"))
    refused(write(tmp_path, "lights.yaml", MAPPING), f"{tmp_path / 'lights.pddl'}: line 3: not UTF-8 text")


@pytest.mark.parametrize("name", ["zero.pddl", "zero.yaml", "zero"])
def test_a_link_to_dev_zero_is_refused_at_once(tmp_path, name):
    path = tmp_path / name
    path.symlink_to("/dev/zero")
    start = time.monotonic()
    refused(path, str(path), "not a regular file")
    assert time.monotonic() - start < 5


def test_a_mapping_whose_pddl_is_a_fifo_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "lights.pddl")
    start = time.monotonic()
    refused(write(tmp_path, "lights.yaml", MAPPING), "lights.pddl", "not a regular file")
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("name", ["big.pddl", "big.yaml"])
def test_a_domain_file_over_the_cap_is_refused(tmp_path, name):
    path = tmp_path / name
    path.write_text("; " + "x" * MAX_DOMAIN_BYTES + "\n" if name.endswith(".pddl") else "# " + "x" * MAX_DOMAIN_BYTES)
    refused(path, str(path), "MiB")


def test_a_yaml_alias_bomb_is_refused(tmp_path):
    write(tmp_path, "lights.pddl", LIGHTS)
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = write(tmp_path, "lights.yaml", MAPPING + "kinds:\n" + "".join(f"  {line}\n" for line in bomb))
    start = time.monotonic()
    refused(path, f"{path}: line 11", "alias")
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("name", ["lights.PDDL", "lights.txt", "lights"])
def test_a_pddl_file_is_read_as_pddl_whatever_its_name(tmp_path, name):
    domain = load_domain(write(tmp_path, name, "; the lamps\n" + LIGHTS))
    assert domain.action_names == ["Switch_on", "Switch_off"]


def test_a_linked_mapping_finds_its_pddl_file_beside_the_real_file(tmp_path):
    (tmp_path / "real").mkdir()
    write(tmp_path / "real", "lights.pddl", LIGHTS)
    write(tmp_path / "real", "lights.yaml", MAPPING)
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real" / "lights.yaml")
    assert load_domain(tmp_path / "link.yaml").action_names == ["Light", "Dim"]


def test_a_mapping_and_a_bare_load_of_one_pddl_file_are_different_domains(tmp_path):
    bare = load_domain(write(tmp_path, "lights.pddl", LIGHTS))
    mapped = load_domain(write(tmp_path, "lights.yaml", MAPPING))
    assert bare != mapped and bare.action_names != mapped.action_names
    scene = mapped.scene_from_dict(SCENE)
    assert optimal_plan(scene, mapped) == ["Light(A)"]
    assert optimal_plan(bare.scene_from_dict(SCENE), bare) == ["Switch_on(A)"]
