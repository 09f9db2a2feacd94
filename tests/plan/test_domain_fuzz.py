"""Fuzzing the domain loaders (issue 23): a PDDL file and a mapping YAML, mutated or random.

Whatever the bytes, `load_domain` returns a domain or fails with one ConfigError line naming the
file; a domain it returns simulates every plan word on every entity, giving a reason for each
failing step (no IndexError or KeyError from a reason sentence, hours into GRPO). Never another
exception."""

import itertools
import json
import re

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harp.errors import ConfigError
from harp.plan import FactDomain, load_domain, simulate

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = itertools.count()  # load_domain caches per path: each example gets a file of its own

BASE = """(define (domain rooms)
  (:requirements :strips :typing :negative-preconditions :equality :disjunctive-preconditions
                 :existential-preconditions :derived-predicates)
  (:types room box - thing)
  (:constants hall - room)
  (:predicates (at ?r - room) (in ?b - box ?r - room) (holding ?b - box) (free) (near ?b - box))
  (:derived (near ?b - box) (exists (?r - room) (and (at ?r) (in ?b ?r))))
  (:action go
    :parameters (?to - room ?from - room)
    :precondition (and (at ?from) (not (= ?to ?from)))
    :effect (and (not (at ?from)) (at ?to)))
  (:action take
    :parameters (?b - box ?r - room)
    :precondition (and (free) (at ?r) (in ?b ?r) (or (near ?b) (= ?r hall)))
    :effect (and (holding ?b) (not (free)) (not (in ?b ?r))))
  (:action drop
    :parameters (?b - box ?r - room)
    :precondition ()
    :effect (and (in ?b ?r) (free) (not (holding ?b)))))
"""
MAPPING = {
    "name": "rooms",
    "pddl": "rooms.pddl",
    "actions": {
        "Go": {"argument": "room", "description": "Go to a room.", "pddl": [{"action": "go", "written": "?to"}]},
        "Take": {"argument": "box", "description": "Take a box.", "pddl": [{"action": "take", "written": "?b"}]},
        "Drop": {"argument": "room", "description": "Drop the box.", "pddl": [{"action": "drop", "written": "?r"}]},
    },
    "reasons": {
        "at": "the robot is not in {0}",
        "free": "the hand holds {holding}",
        "in": "{0} is not in {1}",
        "not holding?": "nothing to drop",
    },
}
TOKENS = [
    "(",
    ")",
    "()",
    "?b",
    "?r",
    "?x",
    "and",
    "or",
    "not",
    "exists",
    "=",
    "at",
    "in",
    "near",
    "free",
    ":action",
    ":parameters",
    ":precondition",
    ":effect",
    ":derived",
    "- room",
    "hall",
    "go",
    ";",
    "\n",
    "x" * 3,
]


def _tokens(text):
    return re.findall(r"\s+|[()]|[^\s()]+", text)


@st.composite
def mutated_pddl(draw):
    tokens = _tokens(BASE)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "replace", "insert", "duplicate"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        else:
            new = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
            tokens[i : i + (op == "replace")] = [" ", new, " "]
    return "".join(tokens).encode("utf-8", "surrogatepass")


pddl_bytes = st.one_of(
    mutated_pddl(),
    st.binary(max_size=60),
    st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(1, 400).map(lambda depth: BASE.replace("(free)", "(not " * depth + "(free)" + ")" * depth, 1).encode()),
    st.just(BASE.replace("(at ?r)", "(at ?r)" + " (at ?r)" * 2000, 1).encode()),
)


def _entities(domain):
    spec = domain.spec
    types = [t for t in spec.types if t not in spec.types.values()] or ["object"]  # the leaf types
    return {f"e{i}": t for i, t in enumerate(types[:4])}


def _exercise(domain):
    """Every word on every entity, from a scene with nothing true: each step is valid or has a reason."""
    scene = domain.scene_from_dict({"entities": _entities(domain), "init": [], "goal": []})
    for word in domain.action_names:
        for entity in [*scene.entities, *domain.spec.constants][:5]:
            for step in simulate(f"{word}({entity})", scene, domain).steps:
                assert step.valid or (isinstance(step.reason, str) and step.reason)


def _one_line_about(error, folder):
    message = str(error)
    assert message.startswith(str(folder)) and "\n" not in message, message


@FUZZ
@given(pddl_bytes)
@example(BASE.encode())
@example(BASE.replace("(free)", "(fre)", 1).encode())
@example(b"\xff\xfe(define")
@example(BASE.replace("(free)", "(not " * 3000 + "(free)" + ")" * 3000, 1).encode())
def test_any_pddl_file_loads_or_fails_in_one_line(tmp_path, data):
    path = tmp_path / f"{next(NAMES)}.pddl"
    path.write_bytes(data)
    try:
        domain = load_domain(path)
    except ConfigError as error:
        _one_line_about(error, tmp_path)
        return
    _exercise(domain)


yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.text(alphabet="{}0123:!rsd.[]x ", max_size=12),  # format strings, good and bad
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
KEY_PATHS = [
    ("name",),
    ("description",),
    ("pddl",),
    ("actions",),
    ("actions", "Go"),
    ("actions", "Go", "pddl"),
    ("actions", "Take", "argument"),
    ("actions", "Drop", "description"),
    ("reasons",),
    ("reasons", "at"),
    ("reasons", "in"),
    ("reasons", "not holding?"),
    ("kinds",),
    ("scene_inference",),
    ("extra",),
]


def _set(mapping, keys, value):
    mapping = json.loads(json.dumps(mapping))
    node = mapping
    for key in keys[:-1]:
        node = node[key]
    if value is _DELETE:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return mapping


_DELETE = object()
mutated_mappings = st.builds(_set, st.just(MAPPING), st.sampled_from(KEY_PATHS), yaml_values | st.just(_DELETE))
mapping_bytes = st.one_of(
    mutated_mappings.map(lambda m: yaml.safe_dump(m, allow_unicode=True).encode()),
    st.builds(
        lambda key, template: yaml.safe_dump(_set(MAPPING, ("reasons", key), template)).encode(),
        st.sampled_from(["at", "in", "not in?", "holding", "free?", "near", "nope"]),
        st.text(alphabet="{}01234:!rsdholding.[]x ", max_size=14),
    ),
    st.text(max_size=60).map(lambda t: ("pddl: rooms.pddl\n" + t).encode("utf-8", "surrogatepass")),
    st.binary(max_size=60),
    st.integers(1, 400).map(lambda depth: b"pddl: rooms.pddl\nkinds: " + b"[" * depth + b"]" * depth),
    st.just(b"pddl: rooms.pddl\nkinds:\n  a: &a [x, x]\n  b: [*a, *a]\n"),
)


@FUZZ
@given(mapping_bytes)
@example(yaml.safe_dump(MAPPING).encode())
@example(yaml.safe_dump(_set(MAPPING, ("reasons", "in"), "{2} is not in {1}")).encode())
@example(b"pddl: rooms.pddl\nkinds: " + b"[" * 3000 + b"]" * 3000)
@example(yaml.safe_dump(_set(MAPPING, ("actions", "Go\nTo"), {})).encode())  # a key is printed in the message
@example(yaml.safe_dump(_set(MAPPING, ("reasons", "in\nx"), "x")).encode())
@example(yaml.safe_dump(_set(MAPPING, ("kind\ns",), {})).encode())
@example(yaml.safe_dump(_set(MAPPING, ("actions", "Go", "pddl"), [{"action": "g\no", "written": "?\nto"}])).encode())
def test_any_mapping_loads_or_fails_in_one_line(tmp_path, data):
    (tmp_path / "rooms.pddl").write_text(BASE)
    path = tmp_path / f"{next(NAMES)}.yaml"
    path.write_bytes(data)
    try:
        domain = load_domain(path)
    except ConfigError as error:
        _one_line_about(error, tmp_path)
        return
    if isinstance(domain, FactDomain):  # a mapping mutated past its `pddl` key is a guide domain
        _exercise(domain)
