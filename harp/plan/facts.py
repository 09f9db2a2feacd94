"""The general symbolic core: states as sets of ground facts, PDDL actions grounded per scene.

A fact is a tuple `("in", "apple", "pot")`. A `FactScene` holds the entities (name -> PDDL type),
the static facts (predicates no action changes), the initial fluent facts and a goal (facts that
must hold, facts that must not). Per (scene, domain) every action schema is grounded once over the
typed entities: derived predicates are inlined, `exists` expanded, static atoms and equalities
decided, so checking a ground action in a state is two set operations plus the few disjunctions
left. A plan step `Word(Argument)` runs the ground actions of that word whose written parameter is
the argument; the other parameters are whatever binding the state allows. One binding: the step
is valid. None: the first precondition that fails (in the PDDL file's order) gives the reason,
from the mapping's `reasons`. Several with different outcomes: an ambiguous step, invalid.

An argument may name a kind (`book`): it denotes the first instance in scene order (`book`,
`book 2`, ...) for which the step is valid, so `Pick(Book)` picks the book within reach; a plan
that must tell instances apart writes `Book 2`.
"""

from __future__ import annotations

import gc
import itertools
import re
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterable, Optional

from harp.errors import DataError
from harp.plan.names import normalize_entity
from harp.plan.pddl_domain import PddlSpec, WordSpec

_INSTANCE = re.compile(r"^(.*\S) (\d+)$")
_MAX_DERIVED_DEPTH = 8
ROBOT = "robot-at"  # the predicate of the robot's place: states index ground actions by it


def kind_of(name: str) -> str:
    """`"book 2"` -> `"book"`; a name without a number is its own kind."""
    match = _INSTANCE.match(name)
    return match.group(1) if match else name


class FactState(frozenset):
    """A set of ground fluent facts. `objects` lists (item, container) for the placement predicate."""

    __slots__ = ()
    placement = "in"

    @property
    def objects(self) -> tuple:
        return tuple(sorted((f[1], f[2]) for f in self if f[0] == self.placement and len(f) == 3))

    def to_dict(self) -> dict:
        return {"facts": sorted(list(f) for f in self)}


class FactScene:
    """Entities, static facts, initial state and goal of one task. Immutable and hashable."""

    __slots__ = ("domain_path", "entities", "statics", "initial", "goal_true", "goal_false", "robot",
                 "objects", "locations", "goal", "_key", "_hash")

    def __init__(self, spec: PddlSpec, entities: dict, facts: Iterable[tuple], goal_true: Iterable[tuple] = (),
                 goal_false: Iterable[tuple] = ()):
        self.domain_path = spec.path
        self.entities = {normalize_entity(k): str(v).lower() for k, v in entities.items()}
        facts = {tuple(normalize_entity(x) if i else str(x).lower() for i, x in enumerate(f)) for f in facts}
        self.statics = frozenset(f for f in facts if f[0] not in spec.fluents)
        self.initial = FactState(f for f in facts if f[0] in spec.fluents)
        self.goal_true = tuple(sorted(set(goal_true)))
        self.goal_false = tuple(sorted(set(goal_false)))
        robot = [f[1] for f in self.initial if f[0] == "robot-at" and len(f) == 2]
        self.robot = robot[0] if robot else ""
        self.objects = {f[1]: f[2] for f in sorted(self.initial) if f[0] == "in" and len(f) == 3}
        places = spec.subtypes("place") if "place" in spec.types else frozenset()
        self.locations = tuple(n for n, t in self.entities.items() if t in places and t != "spot")
        self.goal = {f[1]: f[2] for f in self.goal_true if f[0] == "in" and len(f) == 3}
        self._key = (self.domain_path, tuple(self.entities.items()), tuple(sorted(self.statics)),
                     tuple(sorted(self.initial)), self.goal_true, self.goal_false)
        self._hash = hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FactScene) and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"FactScene({self.to_dict()!r})"

    def satisfied(self, state: frozenset) -> bool:
        return all(f in state for f in self.goal_true) and not any(f in state for f in self.goal_false)

    def goal_facts_met(self, state: frozenset) -> tuple[int, int]:
        met = sum(f in state for f in self.goal_true) + sum(f not in state for f in self.goal_false)
        return met, len(self.goal_true) + len(self.goal_false)

    def goal_size(self) -> int:
        return len(self.goal_true) + len(self.goal_false)

    def to_dict(self) -> dict:
        """Scene JSON for fact domains: entities with types, initial facts, goal facts (`["not", ...]`)."""
        return {"entities": dict(self.entities),
                "init": [list(f) for f in sorted(self.statics | self.initial)],
                "goal": [list(f) for f in self.goal_true] + [["not", *f] for f in self.goal_false]}

    @classmethod
    def from_dict(cls, data: Any, spec: PddlSpec, where: str = "scene") -> "FactScene":
        """Read a fact scene JSON; a malformed one is a DataError naming `where` and the key."""
        if isinstance(data, FactScene):
            return data
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected an object, got {type(data).__name__}")
        unknown = set(data) - {"entities", "init", "goal"}
        if unknown:
            raise DataError(f"{where}: unknown key '{sorted(unknown)[0]}' (a {spec.name} scene has entities, init, goal)")
        entities = data.get("entities")
        if not isinstance(entities, dict) or not entities:
            raise DataError(f"{where}.entities: expected a mapping of entity -> type")
        for name, type_name in entities.items():
            if str(type_name).lower() not in spec.types and str(type_name).lower() != "object":
                raise DataError(f"{where}.entities: '{name}' has unknown type '{type_name}'")
        names = {normalize_entity(k) for k in entities} | set(spec.constants)
        init = [_read_fact(f, spec, names, f"{where}.init[{i}]") for i, f in enumerate(_list(data, "init", where))]
        goal_true, goal_false = [], []
        for i, item in enumerate(_list(data, "goal", where)):
            negated = isinstance(item, list) and item[:1] == ["not"]
            fact = _read_fact(item[1:] if negated else item, spec, names, f"{where}.goal[{i}]")
            (goal_false if negated else goal_true).append(fact)
        return cls(spec, entities, init, goal_true, goal_false)


def _list(data: dict, key: str, where: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise DataError(f"{where}.{key}: expected a list of facts like [\"in\", \"apple\", \"pot\"]")
    return value


def _read_fact(item: Any, spec: PddlSpec, names: set, where: str) -> tuple:
    if not isinstance(item, list) or not item or not all(isinstance(x, str) for x in item):
        raise DataError(f"{where}: expected a fact like [\"in\", \"apple\", \"pot\"]")
    pred = item[0].lower()
    if pred not in spec.predicates or pred in spec.derived:
        raise DataError(f"{where}: unknown predicate '{item[0]}'")
    if len(item) - 1 != spec.predicates[pred]:
        raise DataError(f"{where}: {pred} takes {spec.predicates[pred]} arguments, got {len(item) - 1}")
    args = tuple(normalize_entity(x) for x in item[1:])
    for arg in args:
        if arg not in names:
            raise DataError(f"{where}: '{arg}' is not in the scene's entities")
    return (pred, *args)


# ------------------------------------------------------------------------------ grounding


class GroundAction:
    __slots__ = ("word", "written", "schema", "binding", "conjuncts", "pos", "neg", "rest", "add", "delete",
                 "possible", "order")

    def __init__(self, word, written, schema, binding, conjuncts, add, delete):
        self.word, self.written, self.schema, self.binding = word, written, schema, binding
        self.conjuncts = conjuncts  # ground formulas, one per top-level precondition
        self.possible = all(c is not False for c in conjuncts)
        pos, neg, rest = set(), set(), []
        for c in conjuncts:
            if c is True or c is False:
                continue
            if c[0] == "atom":
                pos.add(c[1])
            elif c[0] == "not" and c[1][0] == "atom":
                neg.add(c[1][1])
            else:
                rest.append(c)
        self.pos, self.neg = frozenset(pos), frozenset(neg)
        self.rest = tuple(_alternatives(r) for r in rest)
        self.add, self.delete = frozenset(add), frozenset(delete)

    def applicable(self, state: frozenset) -> bool:
        if not (self.possible and self.pos <= state) or self.neg & state:
            return False
        for alternatives in self.rest:
            if isinstance(alternatives, list):
                if not any(p <= state and not n & state for p, n in alternatives):
                    return False
            elif not holds(alternatives, state):
                return False
        return True

    def apply(self, state: frozenset) -> FactState:
        return FactState((state - self.delete) | self.add)

    def first_failure(self, state: frozenset) -> int:
        """Index of the first precondition that does not hold; len(conjuncts) when all hold."""
        for index, c in enumerate(self.conjuncts):
            if not holds(c, state):
                return index
        return len(self.conjuncts)


def _alternatives(formula):
    """A disjunction of conjunctions of literals as a list of (positive facts, negative facts); else as is."""
    options = formula[1] if formula[0] == "or" else (formula,)
    result = []
    for option in options:
        parts = option[1] if option[0] == "and" else (option,)
        pos, neg = set(), set()
        for part in parts:
            if part[0] == "atom":
                pos.add(part[1])
            elif part[0] == "not" and part[1][0] == "atom":
                neg.add(part[1][1])
            else:
                return formula  # deeper nesting: evaluated by holds()
        result.append((frozenset(pos), frozenset(neg)))
    return result


def holds(formula, state: frozenset) -> bool:
    if formula is True or formula is False:
        return formula
    kind = formula[0]
    if kind == "atom":
        return formula[1] in state
    if kind == "not":
        return not holds(formula[1], state)
    if kind == "and":
        return all(holds(f, state) for f in formula[1])
    return any(holds(f, state) for f in formula[1])  # "or"


class Grounding:
    """Every action of a domain grounded over one scene's entities (cached per scene)."""

    def __init__(self, spec: PddlSpec, scene: FactScene):
        self.spec, self.scene = spec, scene
        self.names = list(scene.entities) + [c for c in spec.constants if c not in scene.entities]
        self._typed: dict = {}
        self._derived: dict = {}
        self.by_step: dict[tuple[str, str], list[GroundAction]] = {}
        self.all: list[GroundAction] = []
        for word in spec.words.values():
            for schema in word.schemas:
                for action in self._ground_schema(word, schema):
                    self.by_step.setdefault((word.name, action.written), []).append(action)
                    if action.possible:
                        self.all.append(action)
        words = {name: i for i, name in enumerate(spec.words)}
        position = {name: i for i, name in enumerate(self.names)}
        for action in self.all:  # successors are listed in the domain's word order, then the scene's
            action.order = (words[action.word], position.get(action.written, -1))
        self.kinds: dict[str, list[str]] = {}
        for name in scene.entities:
            self.kinds.setdefault(kind_of(name), []).append(name)

    def typed(self, types: frozenset) -> list[str]:
        key = types
        if key not in self._typed:
            if "object" in types:
                self._typed[key] = list(self.names)
            else:
                allowed = set().union(*(self.spec.subtypes(t) for t in types))
                self._typed[key] = [n for n in self.scene.entities if self.scene.entities[n] in allowed]
        return self._typed[key]

    def _ground_schema(self, word: WordSpec, schema) -> Iterable[GroundAction]:
        others = [(p, t) for p, t in schema.parameters if p != schema.written]
        written_types = dict(schema.parameters)[schema.written] if schema.written else frozenset({"object"})
        for written in (self.typed(written_types) if schema.written else [""]):
            for combo in itertools.product(*(self.typed(t) for _, t in others)):
                binding = dict(zip((p for p, _ in others), combo))
                if schema.written:
                    binding[schema.written] = written
                conjuncts = tuple(self.ground(c, binding, 0) for c in schema.conjuncts)
                add = [self._fact(p, terms, binding) for p, terms in schema.add]
                delete = [self._fact(p, terms, binding) for p, terms in schema.delete]
                yield GroundAction(word.name, written, schema, binding, conjuncts, add, delete)

    def _fact(self, pred: str, terms: tuple, binding: dict) -> tuple:
        return (pred, *(binding.get(t, t) for t in terms))

    def ground(self, formula, binding: dict, depth: int):
        kind = formula[0]
        if kind == "atom":
            fact = self._fact(formula[1], formula[2], binding)
            if fact[0] in self.spec.derived:
                if depth >= _MAX_DERIVED_DEPTH:
                    return False
                if fact not in self._derived:  # each derived atom is grounded once per scene
                    params, body = self.spec.derived[fact[0]]
                    self._derived[fact] = self.ground(body, dict(zip(params, fact[1:])), depth + 1)
                return self._derived[fact]
            if fact[0] not in self.spec.fluents:
                return fact in self.scene.statics
            if not self._well_typed(fact):
                return False  # (in countertop x): no action can ever make an ill-typed fact true
            return ("atom", fact)
        if kind == "eq":
            return binding.get(formula[1], formula[1]) == binding.get(formula[2], formula[2])
        if kind == "not":
            inner = self.ground(formula[1], binding, depth)
            return (not inner) if isinstance(inner, bool) else ("not", inner)
        if kind == "exists":
            variables, body = formula[1], formula[2]
            options = []
            for combo in itertools.product(*(self.typed(t) for _, t in variables)):
                options.append(self.ground(body, {**binding, **dict(zip((v for v, _ in variables), combo))}, depth))
            return _simplify("or", options)
        return _simplify(kind, [self.ground(f, binding, depth) for f in formula[1]])

    def _well_typed(self, fact: tuple) -> bool:
        for arg, types in zip(fact[1:], self.spec.signatures.get(fact[0], ())):
            if types and "object" not in types and arg not in self.typed(types):
                return False
        return True

    @staticmethod
    def index(actions: list) -> tuple[dict, dict, list]:
        """File each action under the fact (or the fact and the robot's place) it needs that is
        rarest in a state, so a state checks only the actions that may apply."""
        trigger: dict = {}
        pair_trigger: dict = {}
        untriggered: list = []
        for action in actions:
            fluent = sorted(action.pos, key=lambda f: (f[0] in (ROBOT, "hand-empty"), f))
            robot = [f for f in action.pos if f[0] == ROBOT]
            if fluent and robot and fluent[0][0] != ROBOT:
                pair_trigger.setdefault((fluent[0], robot[0]), []).append(action)
            elif fluent:
                trigger.setdefault(fluent[0], []).append(action)
            else:
                untriggered.append(action)
        return trigger, pair_trigger, untriggered

    def instances(self, name: str) -> list[str]:
        """The entities an argument names: itself, or every instance of the kind it names."""
        if name in self.kinds:  # a kind: its instances, the one named like the kind first
            return sorted(self.kinds[name], key=lambda n: n != name)
        if name in self.scene.entities or name in self.spec.constants:
            return [name]
        return []


def _simplify(kind: str, parts: list):
    stop, neutral = (False, True) if kind == "and" else (True, False)
    kept = []
    for part in parts:
        if part is stop:
            return stop
        nested = part[1] if isinstance(part, tuple) and part[0] == kind else (part,)  # (or a (or b c)) = (or a b c)
        for item in nested:
            if item is not neutral and item not in kept:
                kept.append(item)
    if not kept:
        return neutral
    return kept[0] if len(kept) == 1 else (kind, tuple(kept))


@contextmanager
def no_cyclic_gc():
    """Planning allocates many small immutable objects and no cycles: the cyclic collector would
    rescan them (and every cached graph) again and again; it took half the time of a search."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


@lru_cache(maxsize=512)  # a search keeps its own grounding; this spares re-grounding for simulation
def grounding(scene: FactScene, spec: PddlSpec) -> Grounding:
    with no_cyclic_gc():
        return Grounding(spec, scene)
