"""The general symbolic core: states as sets of ground facts, PDDL actions grounded per state.

A fact is a tuple `("in", "apple", "pot")`. A `FactScene` holds the entities (name -> PDDL type),
the static facts (predicates no action changes), the initial fluent facts and a goal (facts that
must hold, facts that must not). Nothing is grounded up front: the actions a state allows are found
by matching their preconditions against the facts true in it (`Grounding`), so a scene's size costs
only what its states hold. A plan step `Word(Argument)` runs the ground actions of that word whose
written parameter is the argument; the other parameters are whatever binding the state allows. One
binding: the step is valid. None: the first precondition that fails (in the PDDL file's order)
gives the reason, from the mapping's `reasons`. Several with different outcomes: an ambiguous step,
invalid. The work of one step or one state is bounded (`BINDING_BUDGET`); past it the step is not
checked, and says so in one line.

An argument may name a kind (`book`): it denotes the first instance in scene order (`book`,
`book 2`, ...) for which the step is valid, so `Pick(Book)` picks the book within reach; a plan
that must tell instances apart writes `Book 2`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from harp.errors import DataError
from harp.plan.names import normalize_entity
from harp.plan.pddl_domain import MAX_NESTING, PddlSpec
from harp.plan.protocols import PlanningBudgetExceeded
from harp.plan.refusal import check_missing, read_missing

_INSTANCE = re.compile(r"^(.*\S) (\d+)$")
_MAX_DERIVED_DEPTH = 8
_ANY = frozenset({"object"})  # an untyped variable's type


def kind_of(name: str) -> str:
    """`"book 2"` -> `"book"`; a name without a number is its own kind."""
    match = _INSTANCE.match(name)
    return match.group(1) if match else name


class FactState(frozenset):
    """A set of ground fluent facts."""

    __slots__ = ()

    def to_dict(self) -> dict:
        return {"facts": sorted(list(f) for f in self)}


class FactScene:
    """Entities, static facts, initial state and goal of one task. Immutable and hashable."""

    __slots__ = (
        "domain_path",
        "entities",
        "statics",
        "initial",
        "goal_true",
        "goal_false",
        "goal_formula",
        "spec",
        "objects",
        "locations",
        "goal",
        "missing",
        "names",
        "_key",
        "_hash",
    )

    def __init__(
        self,
        spec: PddlSpec,
        entities: dict,
        facts: Iterable[tuple],
        goal_true: Iterable[tuple] = (),
        goal_false: Iterable[tuple] = (),
        missing: Iterable[str] = (),
        goal_formula: tuple | None = None,
    ):
        self.domain_path = spec.path
        self.spec = spec  # what `satisfied` grounds a goal formula with
        # A goal no list of facts states ("some newspaper in some drawer": ALFWorld's existential goals),
        # as a lifted formula (pddl_domain.py's tuples), besides goal_true and goal_false.
        self.goal_formula = goal_formula
        self.entities = {normalize_entity(k): str(v).lower() for k, v in entities.items()}
        facts = {tuple(normalize_entity(x) if i else str(x).lower() for i, x in enumerate(f)) for f in facts}
        self.statics = frozenset(f for f in facts if f[0] not in spec.fluents)
        self.initial = FactState(f for f in facts if f[0] in spec.fluents)
        self.goal_true = tuple(sorted(set(goal_true)))
        self.goal_false = tuple(sorted(set(goal_false)))
        # The views the stages read (harp/plan/protocols.py), in the domain's own predicates (its `scene` roles).
        placement, places = spec.roles.placement, frozenset().union(*map(spec.subtypes, spec.roles.locations))
        self.objects = {f[1]: f[2] for f in sorted(self.initial) if f[0] == placement}
        self.locations = tuple(n for n, t in self.entities.items() if t in places)
        self.goal = {f[1]: f[2] for f in self.goal_true if f[0] == placement}
        self.missing = tuple(dict.fromkeys(normalize_entity(x) for x in missing))  # harp/plan/refusal.py
        names = frozenset(self.entities) | frozenset(spec.constants)
        self.names = names | {kind_of(n) for n in names}  # `book 2` is there, so a `book` is
        self._key = (
            self.domain_path,
            tuple(self.entities.items()),
            tuple(sorted(self.statics)),
            tuple(sorted(self.initial)),
            self.goal_true,
            self.goal_false,
            self.goal_formula,
            self.missing,
        )
        self._hash = hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FactScene) and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"FactScene({self.to_dict()!r})"

    def satisfied(self, state: frozenset) -> bool:
        if not (all(f in state for f in self.goal_true) and not any(f in state for f in self.goal_false)):
            return False
        return self.goal_formula is None or all(self._formula_met(state))

    def goal_facts_met(self, state: frozenset) -> tuple[int, int]:
        met = sum(f in state for f in self.goal_true) + sum(f not in state for f in self.goal_false)
        formula = self._formula_met(state) if self.goal_formula is not None else []
        return met + sum(formula), len(self.goal_true) + len(self.goal_false) + len(formula)

    def goal_size(self) -> int:
        formula = 0 if self.goal_formula is None else len(_conjuncts(self.goal_formula))
        return len(self.goal_true) + len(self.goal_false) + formula

    def _formula_met(self, state: frozenset) -> list[bool]:
        """Whether each top-level conjunct of the goal formula holds in the state."""
        return grounding(self, self.spec).goal_met(state)

    def has(self, name: str) -> bool:
        """Whether the scene (or its domain's constants) holds an entity of this canonical name or kind."""
        return name in self.names

    def to_dict(self) -> dict:
        """Scene JSON for fact domains: entities with types, initial facts, goal facts (`["not", ...]`)."""
        goal = [list(f) for f in self.goal_true] + [["not", *f] for f in self.goal_false]
        if self.goal_formula is not None:  # a formula: the facts join it in one conjunction
            goal = (
                formula_as_lists(self.goal_formula) if not goal else ["and", *goal, formula_as_lists(self.goal_formula)]
            )
        data = {
            "entities": dict(self.entities),
            "init": [list(f) for f in sorted(self.statics | self.initial)],
            "goal": goal,
        }
        if self.missing:
            data["missing"] = list(self.missing)
        return data

    @classmethod
    def from_dict(cls, data: Any, spec: PddlSpec, where: str = "scene") -> FactScene:
        """Read a fact scene JSON; a malformed one is a DataError naming `where` and the key."""
        if isinstance(data, FactScene):
            return data
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected an object, got {type(data).__name__}")
        unknown = set(data) - {"entities", "init", "goal", "missing"}
        if unknown:
            raise DataError(
                f"{where}: unknown key '{sorted(unknown)[0]}' (a {spec.name} scene has entities, init, goal, missing)"
            )
        entities = data.get("entities")
        if not isinstance(entities, dict) or not entities:
            raise DataError(f"{where}.entities: expected a mapping of entity -> type")
        for name, type_name in entities.items():
            if str(type_name).lower() not in spec.types and str(type_name).lower() != "object":
                raise DataError(f"{where}.entities: '{name}' has unknown type '{type_name}'")
        names = {normalize_entity(k) for k in entities} | set(spec.constants)
        init = [_read_fact(f, spec, names, f"{where}.init[{i}]") for i, f in enumerate(_list(data, "init", where))]
        goal_true, goal_false, formula = [], [], None
        goal = data.get("goal") or []
        if isinstance(goal, list) and goal and isinstance(goal[0], str):  # a formula: ["and", ["exists", ...]]
            types = {normalize_entity(k): str(v).lower() for k, v in entities.items()}
            formula = _read_formula(goal, spec, names, types, f"{where}.goal", frozenset())
        else:
            for i, item in enumerate(_list(data, "goal", where)):
                negated = isinstance(item, list) and item[:1] == ["not"]
                fact = _read_fact(item[1:] if negated else item, spec, names, f"{where}.goal[{i}]")
                (goal_false if negated else goal_true).append(fact)
        scene = cls(spec, entities, init, goal_true, goal_false, read_missing(data, where), formula)
        check_missing(scene.missing, scene.has, where)
        return scene


_CONNECTIVES = ("and", "or")


def _read_formula(item: Any, spec: PddlSpec, names: set, types: dict, where: str, bound: frozenset, depth: int = 0):
    """A goal formula as nested lists (`["exists", ["?o", "-", "book"], ["inreceptacle", "?o", "?r"]]`,
    and, or, not, exists, =) -> pddl_domain.py's lifted tuples; a malformed one is one DataError line."""
    if depth > MAX_NESTING:
        raise DataError(f"{where}: a formula nested deeper than {MAX_NESTING}")
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise DataError(f'{where}: expected a formula like ["and", ["in", "?o", "pot"], ...]')
    head = item[0].lower()
    inner = f"{where}[{1 if head != 'exists' else 2}]"
    if head in _CONNECTIVES:
        if len(item) < 2:
            raise DataError(f"{where}: ({head}) with nothing inside")
        return (
            head,
            tuple(
                _read_formula(x, spec, names, types, f"{where}[{i}]", bound, depth + 1)
                for i, x in enumerate(item[1:], start=1)
            ),
        )
    if head == "not":
        if len(item) != 2:
            raise DataError(f"{where}: not takes one formula")
        return ("not", _read_formula(item[1], spec, names, types, inner, bound, depth + 1))
    if head == "exists":
        if len(item) != 3 or not isinstance(item[1], list):
            raise DataError(f'{where}: expected ["exists", ["?x", "-", "type", ...], formula]')
        variables = _typed_variables(item[1], spec, f"{where}[1]")
        return (
            "exists",
            variables,
            _read_formula(item[2], spec, names, types, inner, bound | {v for v, _ in variables}, depth + 1),
        )
    terms = [_term(x, names, bound, f"{where}") for x in item[1:]]
    if head == "=":
        if len(terms) != 2:
            raise DataError(f"{where}: = takes two terms")
        return ("eq", *terms)
    if head not in spec.predicates:
        raise DataError(f"{where}: unknown predicate '{item[0]}'")
    if len(terms) != spec.predicates[head]:
        raise DataError(f"{where}: {head} takes {spec.predicates[head]} arguments, got {len(terms)}")
    return ("atom", head, tuple(terms))


def _typed_variables(items: list, spec: PddlSpec, where: str) -> tuple:
    """`["?o", "?p", "-", "thing", "?r", "-", "receptacle"]` -> (("?o", {"thing"}), ...), sorted as pddl_domain does."""
    variables, pending, i = [], [], 0
    while i < len(items):
        token = items[i]
        if not isinstance(token, str):
            raise DataError(f"{where}: expected variables and types (strings), got {token!r}")
        if token == "-":
            if i + 1 >= len(items) or not isinstance(items[i + 1], str) or not pending:
                raise DataError(f"{where}: '-' must follow variables and precede a type")
            kind = items[i + 1].lower()
            if kind != "object" and kind not in spec.types:
                raise DataError(f"{where}: unknown type '{items[i + 1]}'")
            variables += [(v, frozenset({kind})) for v in pending]
            pending, i = [], i + 2
            continue
        if not token.startswith("?") or len(token) < 2:
            raise DataError(f"{where}: '{token}' is not a variable (?name)")
        pending.append(token.lower())
        i += 1
    variables += [(v, frozenset({"object"})) for v in pending]
    if not variables:
        raise DataError(f"{where}: exists with no variable")
    return tuple(sorted(variables))


def _term(token: Any, names: set, bound: frozenset, where: str) -> str:
    if not isinstance(token, str):
        raise DataError(f"{where}: expected names or ?variables (strings), got {token!r}")
    if token.startswith("?"):
        if token.lower() not in bound:
            raise DataError(f"{where}: variable {token} is not bound by an exists")
        return token.lower()
    name = normalize_entity(token)
    if name not in names:
        raise DataError(f"{where}: '{name}' is not in the scene's entities")
    return name


def formula_as_lists(formula: tuple) -> list:
    """A lifted formula back as the nested lists `_read_formula` reads."""
    kind = formula[0]
    if kind == "atom":
        return [formula[1], *formula[2]]
    if kind == "eq":
        return ["=", formula[1], formula[2]]
    if kind == "not":
        return ["not", formula_as_lists(formula[1])]
    if kind in _CONNECTIVES:
        return [kind, *(formula_as_lists(f) for f in formula[1])]
    typed = [x for var, types in formula[1] for x in (var, "-", sorted(types)[0])]
    return ["exists", typed, formula_as_lists(formula[2])]


def _conjuncts(formula: tuple) -> tuple:
    return formula[1] if formula[0] == "and" else (formula,)


def _list(data: dict, key: str, where: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise DataError(f'{where}.{key}: expected a list of facts like ["in", "apple", "pot"]')
    return value


def _read_fact(item: Any, spec: PddlSpec, names: set, where: str) -> tuple:
    if not isinstance(item, list) or not item or not all(isinstance(x, str) for x in item):
        raise DataError(f'{where}: expected a fact like ["in", "apple", "pot"]')
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

BINDING_BUDGET = 200_000  # candidate facts and values one step check or one state's successors may try (~0.5 s)


class _Node:
    """A formula compiled once per scene. `vars`: its free variables; `own`: an `exists`'s variables."""

    __slots__ = ("kind", "pred", "terms", "children", "vars", "own", "static", "derived")

    def __init__(self, kind, pred="", terms=(), children=(), own=()):
        self.kind, self.pred, self.terms, self.children, self.own = kind, pred, terms, children, own
        found = {t for t in terms if t[:1] == "?"}
        for child in children:
            found |= child.vars
        self.vars = frozenset(found - set(own))
        self.static = self.derived = False


class _View:
    """The facts of one state indexed by predicate and by (predicate, position, value), for joins."""

    __slots__ = ("facts", "index")

    def __init__(self, facts):
        index: dict = {}
        for fact in facts:
            index.setdefault(fact[0], []).append(fact)
            for position, value in enumerate(fact[1:]):
                index.setdefault((fact[0], position, value), []).append(fact)
        self.facts, self.index = facts, index


class GroundAction:
    """One PDDL action with every parameter bound, made when a state first needs it."""

    __slots__ = ("ground", "word", "written", "schema", "binding", "add", "delete", "order", "relevance")

    def __init__(self, ground: Grounding, word: str, schema, binding: dict):
        self.ground, self.word, self.schema, self.binding = ground, word, schema, binding
        self.written = binding[schema.written] if schema.written else ""
        self.add = frozenset(ground.fact(p, terms, binding) for p, terms in schema.add)
        self.delete = frozenset(ground.fact(p, terms, binding) for p, terms in schema.delete)
        self.order = (ground.word_rank[word], ground.position.get(self.written, -1))  # successors' order
        self.relevance = None  # the planner's (matters, kept add facts), once asked

    def applicable(self, state: frozenset) -> bool:
        return self.first_failure(state) == len(self.schema.conjuncts)

    def apply(self, state: frozenset) -> FactState:
        add, delete = self.effects(state)
        return FactState((state - delete) | add)

    def effects(self, state: frozenset) -> tuple[frozenset, frozenset]:
        """(facts added, facts deleted) in `state`: the plain ones, and the conditional effects whose
        condition holds in `state` (read before any change, for every value of their forall variables)."""
        if not self.schema.conditional:
            return self.add, self.delete
        add, delete = set(self.add), set(self.delete)
        for variables, node, cond_add, cond_delete in self.ground.conditional(self.schema):
            types = {**dict(self.schema.parameters), **dict(variables)}
            for binding in self.ground.satisfying(node, self.binding, [v for v, _ in variables], types, state):
                add.update(self.ground.fact(p, terms, binding) for p, terms in cond_add)
                delete.update(self.ground.fact(p, terms, binding) for p, terms in cond_delete)
        return frozenset(add), frozenset(delete)

    def first_failure(self, state: frozenset) -> int:
        """Index of the first precondition that does not hold; len(conjuncts) when all hold."""
        ground = self.ground
        ground.begin(BINDING_BUDGET, self.schema)
        view, types = ground.view(state), dict(self.schema.parameters)
        for index, node in enumerate(ground.conjuncts(self.schema)):
            if not ground.holds(node, self.binding, types, view):
                return index
        return len(self.schema.conjuncts)


class Grounding:
    """One domain's actions over one scene's entities, grounded lazily (cached per scene).

    Nothing is enumerated up front: the ground actions of a state are found by matching each
    action's preconditions against the facts true in it (a join: `(robot-at ?p)` binds ?p to the
    robot's place, `(in ?x ?r)` binds ?r to where ?x is), so the work grows with the facts of a
    state, not with the product of the typed entities (a 100-entity scene has 10^6 `pick`
    bindings, of which a state allows a handful). A parameter no precondition binds (`Navigate`'s
    ?to) ranges over its type. The work of one step check or one state's successors is bounded by
    `BINDING_BUDGET`: past it, `PlanningBudgetExceeded` names the action.
    """

    def __init__(self, spec: PddlSpec, scene: FactScene):
        self.spec, self.scene = spec, scene
        self.names = list(scene.entities) + [c for c in spec.constants if c not in scene.entities]
        self.position = {name: i for i, name in enumerate(self.names)}
        self.word_rank = {name: i for i, name in enumerate(spec.words)}
        self.kinds: dict[str, list[str]] = {}
        for name in scene.entities:
            self.kinds.setdefault(kind_of(name), []).append(name)
        self.statics = _View(scene.statics)
        self.work, self._limit, self._budget, self._schema = 0, BINDING_BUDGET, BINDING_BUDGET, None
        self._typed: dict = {}
        self._type_sets: dict = {}
        self._exists_types: dict = {}  # renamed `exists` variables -> their types
        self._fresh = itertools.count()
        self._compiled: dict = {}
        self._expanded: dict = {}
        self._views: dict = {}
        self._actions: dict = {}
        self._facts: dict = {}
        self._well_typed: dict = {}
        self._possible: dict = {}
        self._plans: dict = {}
        self._found: dict = {}
        self._goal_met: dict = {}  # state -> whether each goal conjunct holds

    # ------------------------------------------------------------------------- types and facts

    def typed(self, types: frozenset) -> list[str]:
        """The entities of any of these types, in scene order (constants count as `object` only)."""
        found = self._typed.get(types)
        if found is None:
            if "object" in types:
                found = list(self.names)
            else:
                allowed = set().union(*(self.spec.subtypes(t) for t in types))
                found = [n for n in self.scene.entities if self.scene.entities[n] in allowed]
            self._typed[types], self._type_sets[types] = found, frozenset(found)
        return found

    def type_set(self, types: frozenset) -> frozenset:
        if types not in self._type_sets:
            self.typed(types)
        return self._type_sets[types]

    def var_types(self, var: str, types: dict) -> frozenset:
        return types.get(var) or self._exists_types.get(var) or _ANY

    def fact(self, pred: str, terms: tuple, binding: dict) -> tuple:
        """The ground fact, one object per distinct fact (states share them)."""
        fact = (pred, *(binding.get(t, t) for t in terms))
        if len(self._facts) > 200_000:
            self._facts.clear()
        return self._facts.setdefault(fact, fact)

    def well_typed(self, fact: tuple) -> bool:
        """An ill-typed fluent fact, `(in countertop x)`, never holds: no action can make it true."""
        known = self._well_typed.get(fact)
        if known is None:
            known = all(
                not types or "object" in types or arg in self.type_set(types)
                for arg, types in zip(fact[1:], self.spec.signatures.get(fact[0], ()))
            )
            if len(self._well_typed) > 200_000:
                self._well_typed.clear()
            self._well_typed[fact] = known
        return known

    def view(self, state: frozenset) -> _View:
        found = self._views.get(state)
        if found is None:
            if len(self._views) > 256:
                self._views.clear()
            found = self._views[state] = _View(state)
        return found

    # ----------------------------------------------------------------------------- formulas

    def goal_conjuncts(self) -> tuple:
        """The scene's goal formula's top-level conjuncts, compiled once."""
        found = self._compiled.get("goal")
        if found is None:
            formula = self.scene.goal_formula
            found = self._compiled["goal"] = tuple(self.compile(c) for c in _conjuncts(formula)) if formula else ()
        return found

    def goal_met(self, state: frozenset) -> list[bool]:
        """Whether each conjunct of the goal formula holds in the state; its own budget of work, the
        enclosing operation's restored after."""
        known = self._goal_met.get(state)
        if known is not None:
            return known
        saved = self._limit, self._budget, self._schema
        self.begin(BINDING_BUDGET)
        try:
            view = self.view(state)
            known = [self.holds(node, {}, {}, view) for node in self.goal_conjuncts()]
        finally:
            self._limit, self._budget, self._schema = saved
        if len(self._goal_met) > 200_000:
            self._goal_met.clear()
        self._goal_met[state] = known
        return known

    def conjuncts(self, schema) -> tuple:
        """A schema's top-level preconditions, compiled (in the PDDL file's order)."""
        found = self._compiled.get(id(schema))
        if found is None:
            found = self._compiled[id(schema)] = (schema, tuple(self.compile(c) for c in schema.conjuncts))
        return found[1]

    def conditional(self, schema) -> tuple:
        """A schema's conditional effects with their conditions compiled: (variables, node or None, add, delete)."""
        found = self._compiled.get(("when", id(schema)))
        if found is None:
            effects = tuple(
                (variables, None if condition is None else self.compile(condition), add, delete)
                for variables, condition, add, delete in schema.conditional
            )
            found = self._compiled[("when", id(schema))] = (schema, effects)
        return found[1]

    def satisfying(self, node, binding: dict, free: list, types: dict, state: frozenset) -> Iterator[dict]:
        """Every extension of `binding` to the `free` variables under which `node` (None: true) holds in the state."""
        if node is None:
            yield from self._assign(free, binding, types)
            return
        seen = set()
        for found in self.solve(node, binding, types, self.view(state), 0):
            left = [v for v in free if v not in found]
            for full in self._assign(left, found, types) if left else (found,):
                key = tuple(full[v] for v in free)
                if key not in seen:
                    seen.add(key)
                    yield full

    def _precondition(self, schema) -> _Node:
        """All of a schema's preconditions as one conjunction (what a join plans over)."""
        found = self._compiled.get(("and", id(schema)))
        if found is None:
            found = self._compiled[("and", id(schema))] = (schema, _Node("and", children=self.conjuncts(schema)))
        return found[1]

    def compile(self, formula) -> _Node:
        kind = formula[0]
        if kind == "atom":
            node = _Node("atom", formula[1], tuple(formula[2]))
            node.derived = formula[1] in self.spec.derived
            node.static = not node.derived and formula[1] not in self.spec.fluents
            return node
        if kind == "eq":
            return _Node("eq", terms=(formula[1], formula[2]))
        if kind == "not":
            return _Node("not", children=(self.compile(formula[1]),))
        if kind in ("and", "or"):
            return _Node(kind, children=tuple(self.compile(f) for f in formula[1]))
        # exists: renamed apart, so every variable of a scene has one type wherever it occurs
        renamed = {var: f"{var}#{next(self._fresh)}" for var, _ in formula[1]}
        for var, types in formula[1]:
            self._exists_types[renamed[var]] = types
        body = self.compile(_substitute(formula[2], renamed))
        return _Node("exists", children=(body,), own=tuple(renamed.values()))

    def expand(self, node: _Node) -> _Node:
        """A derived atom's definition with its parameters replaced by the atom's terms."""
        key = (node.pred, node.terms)
        found = self._expanded.get(key)
        if found is None:
            params, body = self.spec.derived[node.pred]
            found = self._expanded[key] = self.compile(_substitute(body, dict(zip(params, node.terms))))
        return found

    def possible(self, fact: tuple) -> bool:
        """Whether a fluent fact can ever hold: it holds at the start, or some action adds it in a
        binding its static preconditions allow. `(in apple apple 2)` cannot: only `place` adds `in`,
        and it needs `(receptacle apple 2)`, which no action changes."""
        known = self._possible.get(fact)
        if known is None:
            known = self.well_typed(fact) and (fact in self.scene.initial or self._addable(fact))
            self._possible[fact] = known
        return known

    def _addable(self, fact: tuple) -> bool:
        for schema in self.schemas():
            for variables, condition, add, _ in ((), None, schema.add, ()), *self.conditional(schema):
                types = {**dict(schema.parameters), **dict(variables)}
                for pred, terms in add:
                    binding = self.unify(terms, fact[1:], types) if pred == fact[0] else None
                    if binding is not None and all(
                        self.static_status(node, binding, types) is not False
                        for node in (*self.conjuncts(schema), *([condition] if condition else []))
                    ):
                        return True
        return False

    def schemas(self) -> list:
        """Every PDDL action the plan words use, once."""
        seen: dict = {}
        for word in self.spec.words.values():
            for schema in word.schemas:
                seen.setdefault(id(schema), schema)
        return list(seen.values())

    def unify(self, terms: tuple, values: tuple, types: dict) -> dict | None:
        """The binding that makes `terms` read `values` (None: any value), or None when none does."""
        binding: dict = {}
        for term, value in zip(terms, values):
            if term[:1] != "?":
                if value is not None and value != term:
                    return None
            elif value is not None:
                if binding.get(term, value) != value or value not in self.type_set(self.var_types(term, types)):
                    return None
                binding[term] = value
        return binding

    def static_status(self, node: _Node, binding: dict, types: dict, depth: int = 0) -> bool | None:
        """True or False when the statics and equalities alone decide a formula for every value of
        its unbound variables (and every state), else None."""
        kind = node.kind
        if kind == "atom":
            if node.derived:
                return (
                    self.static_status(self.expand(node), binding, types, depth + 1)
                    if depth < _MAX_DERIVED_DEPTH
                    else False
                )
            if not node.static:
                return None
            values = tuple(binding.get(t) if t[:1] == "?" else t for t in node.terms)
            if None not in values:
                return (node.pred, *values) in self.scene.statics
            return None if self._candidates(node.pred, values, self.statics) else False
        if kind == "eq":
            left, right = (binding.get(t) if t[:1] == "?" else t for t in node.terms)
            return None if left is None or right is None else left == right
        if kind == "not":
            inner = self.static_status(node.children[0], binding, types, depth)
            return None if inner is None else not inner
        if kind == "exists":  # ruled out for every value of its variables, or undecided
            return False if self.static_status(node.children[0], binding, types, depth) is False else None
        statuses = [self.static_status(child, binding, types, depth) for child in node.children]
        decisive = kind == "or"  # True decides an `or`, False an `and`
        if decisive in statuses:
            return decisive
        return (not decisive) if all(s is not None for s in statuses) else None

    # ------------------------------------------------------------------------------- joins

    def begin(self, limit: int, schema=None) -> None:
        """Start counting one operation's work (on `schema`'s bindings) against `limit`."""
        self._limit, self._budget, self._schema = self.work + limit, limit, schema

    def _tick(self, work: int = 1) -> None:
        self.work += work
        if self.work > self._limit:
            action = f" action {self._schema.name}:" if self._schema is not None else ""
            raise PlanningBudgetExceeded(
                f"domain {self.spec.name}:{action} more than {self._budget:,} bindings to try in one state "
                "(give its parameters types, or preconditions that bind them to facts)"
            )

    def holds(self, node: _Node, binding: dict, types: dict, view: _View, depth: int = 0) -> bool:
        """Whether `node` holds in the state for this binding (of all its variables, or some: then
        for some value of the others)."""
        if binding.keys() >= node.vars:
            return self._check(node, binding, types, view, depth)
        for _ in self.solve(node, binding, types, view, depth):
            return True
        return False

    def _check(self, node: _Node, binding: dict, types: dict, view: _View, depth: int) -> bool:
        """`holds` for a binding of every variable of `node`: no join, a plain evaluation."""
        kind = node.kind
        if kind == "atom":
            if node.derived:
                return depth < _MAX_DERIVED_DEPTH and self.holds(self.expand(node), binding, types, view, depth + 1)
            fact = (node.pred, *[binding[t] if t[:1] == "?" else t for t in node.terms])
            if node.static:
                return fact in self.scene.statics
            return fact in view.facts and self.well_typed(fact)
        if kind == "and":
            for child in node.children:
                if not self._check(child, binding, types, view, depth):
                    return False
            return True
        if kind == "or":
            for child in node.children:
                if self._check(child, binding, types, view, depth):
                    return True
            return False
        if kind == "not":
            return not self._check(node.children[0], binding, types, view, depth)
        if kind == "eq":
            left, right = node.terms
            return binding.get(left, left) == binding.get(right, right)
        for _ in self.solve(node.children[0], binding, types, view, depth):  # exists: its own variables
            return True
        return False

    def solve(self, node: _Node, binding: dict, types: dict, view: _View, depth: int) -> Iterator[dict]:
        """Every extension of `binding` under which `node` holds in the state `view` (variables the
        formula leaves unbound are unconstrained by it)."""
        if binding.keys() >= node.vars:
            if self._check(node, binding, types, view, depth):
                yield binding
            return
        kind = node.kind
        if kind == "atom":
            if node.derived:
                if depth < _MAX_DERIVED_DEPTH:
                    yield from self.solve(self.expand(node), binding, types, view, depth + 1)
            else:
                yield from self._match(node, binding, types, view)
        elif kind == "and":
            yield from self._join(self._plan(node, binding), 0, binding, types, view, depth)
        elif kind == "eq":
            yield from self._equal(node, binding, types)
        elif kind == "not":
            for full in self._assign([v for v in node.vars if v not in binding], binding, types):
                if not self._check(node.children[0], full, types, view, depth):
                    yield full
        else:  # or, exists: the same extension may come from several branches or witnesses
            free = [v for v in node.vars if v not in binding]
            seen = set()
            for child in node.children:
                for found in self.solve(child, binding, types, view, depth):
                    key = tuple(found.get(v) for v in free)
                    if key not in seen:
                        seen.add(key)
                        yield {k: v for k, v in found.items() if k not in node.own} if node.own else found

    def _plan(self, node: _Node, binding: dict) -> tuple:
        """A conjunction's order of evaluation for the variables bound on entry (planned once):
        checks first, then atoms with a bound argument, then the rest; each binds what it reads."""
        shape = node.vars.intersection(binding)
        plans = self._plans.setdefault(id(node), (node, {}))[1]
        plan = plans.get(shape)
        if plan is None:
            bound, left, plan = set(shape), list(node.children), []
            while left:
                child = min(left, key=lambda c: _order_cost(c, bound))
                left.remove(child)
                plan.append(child)
                bound |= child.vars
            plan = plans[shape] = tuple(plan)
        return plan

    def _join(self, plan: tuple, index: int, binding: dict, types: dict, view: _View, depth: int) -> Iterator[dict]:
        if index == len(plan):
            yield binding
            return
        for found in self.solve(plan[index], binding, types, view, depth):
            yield from self._join(plan, index + 1, found, types, view, depth)

    def _candidates(self, pred: str, values: tuple, view: _View) -> list:
        """The facts of `pred` that may match (None: any value), from the most selective index."""
        best = None
        for position, value in enumerate(values):
            if value is not None:
                found = view.index.get((pred, position, value), ())
                if best is None or len(found) < len(best):
                    best = found
        return view.index.get(pred, ()) if best is None else best

    def _match(self, node: _Node, binding: dict, types: dict, view: _View) -> Iterator[dict]:
        values = tuple(binding.get(t) if t[:1] == "?" else t for t in node.terms)
        for fact in self._candidates(node.pred, values, self.statics if node.static else view):
            self._tick()
            found = dict(binding)
            for term, value, actual in zip(node.terms, values, fact[1:]):
                if value is not None:
                    if value != actual:
                        break
                elif term[:1] == "?":
                    known = found.get(term)
                    if known is None:
                        if actual not in self.type_set(self.var_types(term, types)):
                            break
                        found[term] = actual
                    elif known != actual:  # the variable occurs twice
                        break
            else:
                if node.static or self.well_typed(fact):
                    yield found

    def _equal(self, node: _Node, binding: dict, types: dict) -> Iterator[dict]:
        left, right = node.terms
        a = binding.get(left) if left[:1] == "?" else left
        b = binding.get(right) if right[:1] == "?" else right
        if a is None and b is None:
            for full in self._assign([left], binding, types):
                yield from self._equal(node, full, types)
            return
        var, value = (left, b) if a is None else (right, a)
        if value in self.type_set(self.var_types(var, types)):
            yield {**binding, var: value}

    def _assign(self, free: list, binding: dict, types: dict) -> Iterator[dict]:
        """Every assignment of the free variables over their types (a `not` needs them bound)."""
        for combo in itertools.product(*(self.typed(self.var_types(v, types)) for v in free)):
            self._tick()
            yield {**binding, **dict(zip(free, combo))}

    # ----------------------------------------------------------------------- actions of a state

    def bindings(self, schema, fixed: dict, view: _View) -> dict:
        """Every binding of the schema's parameters extending `fixed` under which its precondition
        holds in the state, by its values in parameter order."""
        types = dict(schema.parameters)
        params = [p for p, _ in schema.parameters]
        found: dict = {}
        self._schema = schema
        for partial in self.solve(self._precondition(schema), fixed, types, view, 0):
            free = [p for p in params if p not in partial]
            for full in self._assign(free, partial, types) if free else (partial,):
                found.setdefault(tuple(full[p] for p in params), full)
        return found

    def action(self, word: str, schema, key: tuple, binding: dict) -> GroundAction:
        cache_key = (word, id(schema), key)
        found = self._actions.get(cache_key)
        if found is None:
            if len(self._actions) > 100_000:
                self._actions.clear()
            found = self._actions[cache_key] = GroundAction(self, word, schema, binding)
        return found

    def applicable_actions(self, state: frozenset, wanted=None, limit: int = BINDING_BUDGET) -> list[GroundAction]:
        """Every ground action applicable in `state`, of the schemas `wanted` (ids) if given.

        A schema's actions depend only on the facts of the predicates its precondition reads, which
        many states share (they differ in what is heated or open): they are cached by those facts,
        and a cached answer still counts the work it took, so budgets do not depend on the cache."""
        self.begin(limit)
        view = None
        result = []
        for word in self.spec.words.values():
            for schema in word.schemas:
                if wanted is not None and id(schema) not in wanted:
                    continue
                reads = self._reads(schema)
                key = (word.name, id(schema), frozenset(f for f in state if f[0] in reads))
                found = self._found.get(key)
                if found is None:
                    view = view or self.view(state)
                    before = self.work
                    found = [self.action(word.name, schema, k, b) for k, b in self.bindings(schema, {}, view).items()]
                    if len(self._found) > 50_000:
                        self._found.clear()
                    self._found[key] = found = (found, self.work - before)
                else:
                    self._tick(found[1])
                result += found[0]
        return result

    def _reads(self, schema) -> frozenset:
        """The fluent predicates a schema's precondition reads, through derived predicates."""
        found = self._compiled.get(("reads", id(schema)))
        if found is None:
            reads, todo, seen = set(), list(schema.conjuncts), set()
            while todo:
                formula = todo.pop()
                kind = formula[0]
                if kind == "atom":
                    if formula[1] in self.spec.derived and formula[1] not in seen:
                        seen.add(formula[1])
                        todo.append(self.spec.derived[formula[1]][1])
                    elif formula[1] in self.spec.fluents:
                        reads.add(formula[1])
                elif kind == "not":
                    todo.append(formula[1])
                elif kind in ("and", "or"):
                    todo.extend(formula[1])
                elif kind == "exists":
                    todo.append(formula[2])
            found = self._compiled[("reads", id(schema))] = (schema, frozenset(reads))
        return found[1]

    def writable(self, word: str, instance: str) -> bool:
        """Whether `Word(instance)` names any ground action: the instance has the written
        parameter's type and every other parameter has entities of its type."""
        return any(self._fits(schema, instance) for schema in self.spec.words[word].schemas)

    def _fits(self, schema, instance: str) -> bool:
        if not schema.written:
            return False
        types = dict(schema.parameters)
        return instance in self.type_set(types[schema.written]) and all(
            self.typed(t) for p, t in schema.parameters if p != schema.written
        )

    def _rank(self, schema, binding: dict) -> tuple:
        """A binding's place in the order the other parameters' entities are listed in."""
        return tuple(self.position[binding[p]] for p, _ in schema.parameters if p != schema.written)

    def step_actions(self, word: str, instance: str, state: frozenset) -> list[GroundAction]:
        """The ground actions `Word(instance)` can mean in `state`: those applicable, in the order of
        the other parameters' entities; when none is, the bindings whose preconditions hold furthest
        (in the PDDL file's order), the failing precondition's reason is read from: the first
        binding, and one that reads that precondition with other arguments when there is one."""
        self.begin(BINDING_BUDGET)
        view = self.view(state)
        found = []
        for schema in self.spec.words[word].schemas:
            if self._fits(schema, instance):
                bindings = self.bindings(schema, {schema.written: instance}, view)
                found += [
                    self.action(word, schema, key, b)
                    for key, b in sorted(bindings.items(), key=lambda item: self._rank(schema, item[1]))
                ]
        return found or self._furthest(word, instance, view)

    def _furthest(self, word: str, instance: str, view: _View) -> list[GroundAction]:
        best, groups = -1, []
        for rank, schema in enumerate(self.spec.words[word].schemas):
            if not self._fits(schema, instance):
                continue
            types = dict(schema.parameters)
            partial = [{schema.written: instance}]
            self._schema = schema
            reached = len(schema.conjuncts)
            for index, node in enumerate(self.conjuncts(schema)):
                extended, seen = [], set()
                for binding in partial:
                    for found in self.solve(node, binding, types, view, 0):
                        key = tuple(sorted(found.items()))
                        if key not in seen:
                            seen.add(key)
                            extended.append(found)
                if not extended:
                    reached = index
                    break
                partial = extended
            if reached > best:
                best, groups = reached, []
            if reached == best:
                groups.append((rank, schema, partial))
        candidates = []  # (order, schema, first completion, partial binding)
        for rank, schema, partial in groups:
            types = dict(schema.parameters)
            for binding in partial:
                first = {p: binding.get(p) or self.typed(t)[0] for p, t in schema.parameters}
                candidates.append(((rank, self._rank(schema, first)), schema, first, binding))
        candidates.sort(key=lambda c: c[0])
        _, schema, first, _ = candidates[0]
        terms = _terms(schema.conjuncts[best]) if best < len(schema.conjuncts) else []
        reading = tuple(first.get(t, t) for t in terms)
        chosen = [(schema, first)]
        for _, other, completion, binding in candidates:
            if tuple(completion.get(t, t) for t in terms) != reading:
                chosen.append((other, completion))
                break
            params = dict(other.parameters)
            loose = [t for t in terms if t in params and t not in binding and len(self.typed(params[t])) > 1]
            if loose:  # an unbound argument of the failing precondition: any other entity fails there too
                chosen.append((other, {**completion, loose[0]: self.typed(params[loose[0]])[1]}))
                break
        return [self.action(word, s, tuple(b[p] for p, _ in s.parameters), b) for s, b in chosen]

    def instances(self, name: str) -> list[str]:
        """The entities an argument names: itself, or every instance of the kind it names."""
        if name in self.kinds:  # a kind: its instances, the one named like the kind first
            return sorted(self.kinds[name], key=lambda n: n != name)
        if name in self.scene.entities or name in self.spec.constants:
            return [name]
        return []


def _order_cost(node: _Node, bound: set) -> tuple:
    """How early a conjunct should be evaluated once `bound` variables are known (lower: earlier):
    checks; atoms with a known argument (few facts match); other formulas with one, such as
    `(near ?x ?p)` once ?p is known (a join from ?p's side); atoms with none (a fluent one-argument
    atom, `(robot-at ?p)`, is usually one fact, a static one, `(pickable ?x)`, a property of many);
    other formulas; equalities, then negations, which must enumerate what is still unbound."""
    if node.vars <= bound:
        return (0, 0)
    known = bool(node.vars & bound)
    if node.kind == "atom" and not node.derived:
        return (1 if known else 2, len(node.vars - bound), node.static)
    if node.kind == "eq":
        return (0, 1) if known else (4, 0)
    if node.kind == "not":
        return (5, 0)
    return (1, 9) if known else (3, 0)


def _substitute(formula, mapping: dict):
    """A lifted formula with variables renamed or bound (`exists` shadows its own variables)."""
    kind = formula[0]
    if kind == "atom":
        return ("atom", formula[1], tuple(mapping.get(t, t) for t in formula[2]))
    if kind == "eq":
        return ("eq", mapping.get(formula[1], formula[1]), mapping.get(formula[2], formula[2]))
    if kind == "not":
        return ("not", _substitute(formula[1], mapping))
    if kind in ("and", "or"):
        return (kind, tuple(_substitute(f, mapping) for f in formula[1]))
    inner = {k: v for k, v in mapping.items() if k not in {var for var, _ in formula[1]}}
    return ("exists", formula[1], _substitute(formula[2], inner))


def _terms(formula) -> list:
    """The terms a failure reason reads from a precondition (not those under an `exists`)."""
    kind = formula[0]
    if kind == "atom":
        return list(formula[2])
    if kind == "eq":
        return [formula[1], formula[2]]
    if kind == "not":
        return _terms(formula[1])
    if kind in ("and", "or"):
        return [t for child in formula[1] for t in _terms(child)]
    return []


@lru_cache(maxsize=512)  # a search keeps its own grounding; this spares re-grounding for simulation
def grounding(scene: FactScene, spec: PddlSpec) -> Grounding:
    return Grounding(spec, scene)
