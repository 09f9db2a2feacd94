"""Domains written in PDDL: the general symbolic core's actions, read with the `pddl` package.

A PDDL domain gives typed predicates, derived predicates and action schemas (preconditions as
formulas, effects as add/delete lists and conditional effects, `(forall (?i - item) (when COND
(heated ?i)))`, COND read in the state the action starts from, as PDDL has it). What the plan
language needs on top comes from a small mapping YAML beside it (domains/alfred.yaml):

- `actions`: each plan word (`Pick`) lists the PDDL actions it may mean, in order, and which of
  their parameters is the written argument (`Pick(Apple)` binds `?x`); the other parameters are
  bound from the state (the held object, the robot's place, where the object stands). A word may
  stand for several schemas (`Toggle` = `toggle-on` or `toggle-off`);
- `reasons`: per predicate, the sentence a failing precondition gives (`{0}`, `{1}` its arguments;
  `not P` when P must be false; `P?` when no binding of the unwritten parameters exists at all);
- `scene_inference`: how a scene is inferred from a reference plan (only `alfred` today);
- `shorthand`: plan words that abbreviate what other words do (ALFRED's Heat for the microwave's
  open, put, close, switch on...): a plan that uses none of them is judged against the shortest plan
  without them (fact_domain.py, `judging_domain`);
- `scene`: which predicates and types say where the robot is, what the hand holds, where an object
  is and which entities are places (`SceneRoles`): what evaluation, negatives and the teacher's
  check read of a scene, and `{robot}`, `{holding}` in reasons. Without it the conventional names
  are read where the file declares them (`robot-at`, `holding`, `in`, type `place`).

A bare PDDL file works too: each action is its own word (`pick-up` -> `Pick_up`), its first
parameter is written, reasons are generic. This module turns the lifted formulas into nested
tuples; harp/plan/facts.py grounds them per scene.

Everything is checked here, at load, so a mistake is one line naming the file and its line (PDDL)
or key (mapping), not a wrong verdict or a crash hours into GRPO. The `pddl` package checks the
syntax, the types and the constants; this module checks what it does not: every predicate declared
and given its number of arguments, every variable bound, no action, predicate or derived rule
defined twice, no action a plan cannot name, every reason sentence formats, scene inference only
for a domain that declares what it writes.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache

from harp.errors import ConfigError
from harp.files import read_text
from harp.plan.domain_yaml import check_word, known_keys, optional_text, shown

MAX_NESTING = 32  # grounding and reason sentences recurse through formulas: deeper ones are refused

# What each scene inference writes into a scene (harp/plan/alfred.py). A mapping may ask for it only
# when its PDDL file declares these types and predicates, or inferred scenes would hold entities and
# facts the domain cannot read (tests/plan/test_domain_loading.py keeps alfred.py within this list).
SCENE_INFERENCE = {
    "alfred": {
        "types": ("item", "furniture", "spot"),
        "predicates": {
            "robot-at": 1,
            "hand-empty": 0,
            "in": 2,
            "beside": 2,
            "receptacle": 1,
            "pickable": 1,
            "openable": 1,
            "opened": 1,
            "toggleable": 1,
            "sharp": 1,
            "sliceable": 1,
            "heater": 1,
            "cooler": 1,
            "washer": 1,
        },
    },
}

# Lifted formulas: ("atom", pred, terms) | ("eq", t1, t2) | ("not", f) | ("and", fs) | ("or", fs)
# | ("exists", ((var, types), ...), f). Terms are "?var" or a constant's canonical name.


@dataclass(frozen=True)
class Schema:
    """One PDDL action as the plan language uses it."""

    name: str  # the PDDL action name
    parameters: tuple[tuple[str, frozenset], ...]  # ("?x", {"item"}) in order
    written: str  # the parameter the plan's argument binds ("?x")
    conjuncts: tuple  # top-level precondition formulas, in order (the first failing one gives the reason)
    add: tuple  # atoms (pred, terms)
    delete: tuple
    # conditional effects: (forall variables ((var, types), ...), condition formula or None, add, delete)
    conditional: tuple = ()


@dataclass(frozen=True)
class WordSpec:
    """A plan word (`Navigate`) and what the prompt says about it."""

    name: str
    argument_kind: str  # shown in the prompt: Navigate(place)
    description: str
    schemas: tuple[Schema, ...]


@dataclass(frozen=True)
class SceneRoles:
    """What the stages read of a fact scene (harp/plan/protocols.py, Scene), in the domain's own
    predicates and types: the mapping's `scene` key. "" or (): the domain has no such predicate."""

    robot: str = ""  # (P ?place): where the robot is; {robot} in a reason
    holding: str = ""  # (P ?object): what the hand holds; {holding} in a reason
    placement: str = ""  # (P ?object ?place): where an object is; Scene.objects and Scene.goal
    locations: tuple = ()  # types (with their subtypes) of the places the robot goes to; Scene.locations


ROLE_ARITY = {"robot": 1, "holding": 1, "placement": 2}
# A mapping without `scene`, or a bare PDDL file: these names, each where the file declares it so.
CONVENTIONAL_ROLES = {"robot": "robot-at", "holding": "holding", "placement": "in", "locations": ["place"]}


@dataclass(frozen=True)
class PddlSpec:
    """Everything read from a PDDL file and its mapping; hashable, shared by every scene."""

    name: str
    description: str
    path: str
    mapping: str  # the mapping YAML's path; "" for a bare PDDL file
    types: dict  # type -> parent type
    predicates: dict  # name -> arity
    signatures: dict  # name -> each argument's types (empty: any)
    derived: dict  # name -> (params, formula)
    constants: tuple
    words: dict  # plan word -> WordSpec (in the mapping's order)
    reasons: dict
    scene_inference: str | None
    kinds: dict  # property -> entity kinds that have it (scene inference)
    fluents: frozenset  # predicates some effect changes
    roles: SceneRoles = field(default_factory=SceneRoles)  # what the stages read of a scene
    shorthand: tuple = ()  # plan words that abbreviate what other words do (fact_domain.py, judging_domain)

    # One PDDL file under two mappings is two domains (other words), and so is a domain less its
    # shorthand words: caches must not mix them.
    def __hash__(self) -> int:
        return hash((self.path, self.mapping, tuple(self.words)))

    def __eq__(self, other) -> bool:
        return isinstance(other, PddlSpec) and (self.path, self.mapping, tuple(self.words)) == (
            other.path,
            other.mapping,
            tuple(other.words),
        )

    def subtypes(self, type_name: str) -> frozenset:
        """The type and every type below it."""
        result, changed = {type_name}, True
        while changed:
            changed = False
            for child, parent in self.types.items():
                if parent in result and child not in result:
                    result.add(child)
                    changed = True
        return frozenset(result)


def read_pddl(path: str, text: str, mapping: dict | None = None, mapping_path: str = "") -> PddlSpec:
    """Parse and check a PDDL domain's text and apply its mapping (None: a bare PDDL file, defaults)."""
    source = _Source(path, text)
    domain = source.parse()
    source.check_unique()
    types = {str(k): (str(v) if v else None) for k, v in dict(domain.types).items()}
    predicates, signatures = {}, {}
    for p in domain.predicates:
        name = str(p.name)
        if name in predicates:
            raise source.error(
                source.section("predicates"), f"predicate {name} is declared twice", _opening(name), nth=1
            )
        predicates[name] = p.arity
        signatures[name] = tuple(frozenset(str(t) for t in term.type_tags) for term in p.terms)
    reader = _Reader(source, predicates, {str(dp.predicate.name) for dp in domain.derived_predicates})
    derived = {}
    for rule in domain.derived_predicates:
        name = str(rule.predicate.name)
        params = tuple("?" + str(t.name) for t in rule.predicate.terms)
        derived[name] = (
            params,
            reader.formula(rule.condition, frozenset(params), f"derived {name}", source.span("derived", name)),
        )
    order = {name: i for i, name in enumerate(source.names("action"))}
    actions = sorted(domain.actions, key=lambda a: order.get(str(a.name).lower(), len(order)))
    lifted = {}
    for action in actions:
        name = str(action.name).lower()
        where = source.span("action", name)
        parameters = tuple(_typed(v) for v in action.parameters)
        bound = frozenset(p for p, _ in parameters)
        conjuncts = reader.conjuncts(action.precondition, bound, f"action {name}", where)
        lifted[name] = (parameters, conjuncts, *reader.effects(action.effect, bound, f"action {name}", where))
    where = mapping_path or path
    mapping = mapping or {}
    if mapping.get("actions") is None:
        words = _bare_words(lifted, source)
    else:
        words = _words(mapping["actions"], lifted, where)
    return PddlSpec(
        name=optional_text(mapping, "name", where) or str(domain.name),
        description=optional_text(mapping, "description", where) or f"PDDL domain {domain.name}",
        path=path,
        mapping=mapping_path,
        types=types,
        predicates=predicates,
        signatures=signatures,
        derived=derived,
        constants=tuple(str(c.name).lower() for c in domain.constants),
        words=words,
        reasons=_reasons(mapping.get("reasons"), predicates, where),
        scene_inference=_scene_inference(mapping.get("scene_inference"), types, predicates, derived, where),
        kinds=_kinds(mapping.get("kinds"), where),
        fluents=frozenset(
            p
            for _, _, add, delete, conditional in lifted.values()
            for atoms in (add, delete, *(c[2] + c[3] for c in conditional))
            for p, _ in atoms
        ),
        roles=_roles(mapping.get("scene"), types, predicates, derived, where),
        shorthand=_shorthand(mapping.get("shorthand"), words, where),
    )


MAPPING_KEYS = ("name", "description", "pddl", "actions", "reasons", "kinds", "scene_inference", "scene", "shorthand")


def read_mapping(path: str, data: dict) -> PddlSpec:
    """A plan-language mapping (a domain YAML with a `pddl` key, domains/alfred.yaml) and the PDDL
    file it names, beside it."""
    known_keys(path, "", data, MAPPING_KEYS)
    if not isinstance(data["pddl"], str) or not data["pddl"].strip():
        raise ConfigError(f"{path}: pddl: expected the path of the PDDL file, from this file's folder")
    # beside the mapping file itself, not beside a link to it
    pddl_path = os.path.join(os.path.dirname(os.path.realpath(path)), data["pddl"])
    if not os.path.lexists(pddl_path):
        raise ConfigError(f"{path}: pddl: no such file {pddl_path}")
    pddl_path = os.path.abspath(pddl_path)
    return read_pddl(pddl_path, read_text(pddl_path, "PDDL domain file"), data, path)


# ---------------------------------------------------------------------------- the PDDL file


class _Source:
    """A PDDL file's text, to name the line of a mistake (the `pddl` package keeps no positions)."""

    def __init__(self, path: str, text: str):
        self.path, self.text = path, text
        # comments blanked, offsets kept: a name in a comment is never taken for its use
        self.code = re.sub(r";[^\n]*", lambda m: " " * len(m.group()), text)
        self.blocks = [
            (m[1].lower(), m[2].lower(), m.start())
            for m in re.finditer(r"\(\s*:(action|derived)\s*\(?\s*([^\s()]+)", self.code, re.IGNORECASE)
        ]
        self.starts = [start for _, _, start in self.blocks]
        self.by_name: dict[tuple[str, str], list[int]] = {}
        for kind, name, start in self.blocks:
            self.by_name.setdefault((kind, name), []).append(start)

    def parse(self):
        try:
            return _transformer_class()().transform(_grammar().parse(self.text))
        except RecursionError:
            raise ConfigError(f"{self.path}: nested too deeply") from None
        except Exception as error:  # lark's parse errors and pddl's validation errors have no common base
            raise self._parse_error(error) from None

    def _parse_error(self, error: Exception) -> ConfigError:
        error = getattr(error, "orig_exc", error)  # lark wraps what the transformer raised in a VisitError
        message = str(error).strip().splitlines()
        message = (message[0] if message else type(error).__name__)[:200]
        line = getattr(error, "line", None)
        if not (isinstance(line, int) and line > 0):
            line = None
            quoted = re.search(r"'([^'\s]+)'", message)  # pddl's own checks: "Constant 'desk' not defined."
            found = quoted and re.search(rf"(?<![\w?-]){re.escape(quoted[1])}(?![\w-])", self.code)
            if found:
                line = self.text.count("\n", 0, found.start()) + 1
        return ConfigError(f"{self.path}: line {line}: {message}" if line else f"{self.path}: {message}")

    def names(self, kind: str) -> list[str]:
        return [name for k, name, _ in self.blocks if k == kind]

    def span(self, kind: str, name: str, nth: int = 0) -> tuple[int, int]:
        """Where the nth `(:action NAME` (or `(:derived (NAME`) block is: up to the next block."""
        starts = self.by_name.get((kind, name.lower()), [0])
        start = starts[min(nth, len(starts) - 1)]
        index = bisect.bisect_right(self.starts, start)
        return start, self.starts[index] if index < len(self.starts) else len(self.code)

    def section(self, keyword: str) -> tuple[int, int]:
        found = re.search(rf"\(\s*:{keyword}\b", self.code, re.IGNORECASE)
        return (found.start() if found else 0), (self.starts[0] if self.starts else len(self.code))

    def check_unique(self) -> None:
        seen = set()
        for kind, name, _ in self.blocks:
            if (kind, name) in seen:
                what = (
                    f"action {name} is defined twice"
                    if kind == "action"
                    else f"predicate {name} is derived by two rules (HARP reads one: join them with (or ...))"
                )
                raise self.error(self.span(kind, name, 1), what)
            seen.add((kind, name))

    def error(self, span: tuple[int, int], message: str, pattern: str = "", nth: int = 0) -> ConfigError:
        """A ConfigError at the nth match of `pattern` inside `span` (else at the span's start)."""
        offset = span[0]
        if pattern:
            found = list(re.compile(pattern, re.IGNORECASE).finditer(self.code, span[0], span[1]))
            if found:
                offset = found[min(nth, len(found) - 1)].start()
        return ConfigError(f"{self.path}: line {self.text.count(chr(10), 0, offset) + 1}: {message}")


# pddl's own parser (pddl.parse_domain) compiles its grammar on every call (0.1 s) and leaves
# sys.tracebacklimit = 0 after an error; its grammar and transformer are used directly instead.
@lru_cache(maxsize=1)
def _grammar():
    from lark import Lark
    from pddl.parser import GRAMMAR_FILE, PARSERS_DIRECTORY

    return Lark(GRAMMAR_FILE.read_text(), parser="lalr", import_paths=[PARSERS_DIRECTORY], start="domain")


@lru_cache(maxsize=1)
def _transformer_class():
    """pddl's domain transformer (one per file: it keeps state), taught that :precondition and :effect
    are optional."""
    from pddl.logic.base import And
    from pddl.parser.domain import DomainTransformer

    class Transformer(DomainTransformer):
        def action_def(self, args):
            # The body is [":precondition", formula, ":effect", effect], None where absent; pddl 0.5.1
            # fails on a None ('NoneType' object is not subscriptable): an absent one is (and), none.
            body = getattr(args[5], "children", None)
            if body is not None and len(body) == 4:
                for index, keyword in ((0, ":precondition"), (2, ":effect")):
                    if body[index] is None:
                        body[index : index + 2] = [keyword, And()]
            return super().action_def(args)

    return Transformer


def _typed(variable) -> tuple[str, frozenset]:
    """("?x", its types); an untyped variable is an object."""
    return "?" + str(variable.name), frozenset(str(t) for t in variable.type_tags) or frozenset({"object"})


def _opening(name: str) -> str:
    return rf"\(\s*{re.escape(name)}(?=[\s()])"


class _Reader:
    """pddl's formulas as tuples, checked: every predicate declared and given its number of arguments,
    every variable a parameter (or bound by exists), nothing nested deeper than MAX_NESTING."""

    def __init__(self, source: _Source, predicates: dict, derived: set):
        self.source, self.predicates, self.derived = source, predicates, derived

    def conjuncts(self, node, bound: frozenset, label: str, span) -> tuple:
        from pddl.logic.base import Or

        if node is None or (isinstance(node, Or) and not node.operands):
            return ()  # no precondition; pddl reads `:precondition ()` as an empty (or), never true
        formula = self.formula(node, bound, label, span)
        return formula[1] if formula[0] == "and" else (formula,)

    def formula(self, node, bound: frozenset, label: str, span, depth: int = 0) -> tuple:
        from pddl.logic.base import And, ExistsCondition, Not, Or
        from pddl.logic.predicates import EqualTo, Predicate

        if depth > MAX_NESTING:
            raise self.source.error(span, f"{label}: a formula nested deeper than {MAX_NESTING}")
        if isinstance(node, Predicate):
            return self.atom(node, bound, label, span)
        if isinstance(node, EqualTo):
            return ("eq", self.term(node.left, bound, label, span), self.term(node.right, bound, label, span))
        if isinstance(node, Not):
            return ("not", self.formula(node.argument, bound, label, span, depth + 1))
        if isinstance(node, Or) and not node.operands:
            raise self.source.error(span, f"{label}: (or) with nothing inside never holds", r"\(\s*or\s*\)")
        if isinstance(node, (And, Or)):
            kind = "and" if isinstance(node, And) else "or"
            return (kind, tuple(self.formula(x, bound, label, span, depth + 1) for x in node.operands))
        if isinstance(node, ExistsCondition):
            variables = tuple(sorted(_typed(v) for v in node.variables))
            inner = bound | {v for v, _ in variables}
            return ("exists", variables, self.formula(node.condition, inner, label, span, depth + 1))
        raise self.source.error(
            span, f"{label}: unsupported {type(node).__name__} (HARP reads and, or, not, exists and =)"
        )

    def atom(self, node, bound: frozenset, label: str, span) -> tuple:
        name = str(node.name)
        if name not in self.predicates:
            close = difflib.get_close_matches(name, list(self.predicates), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.source.error(span, f"{label}: undeclared predicate '{name}'{hint}", _opening(name))
        terms = tuple(self.term(t, bound, label, span) for t in node.terms)
        arity = self.predicates[name]
        if len(terms) != arity:
            raise self.source.error(
                span, f"{label}: {name} takes {arity} argument{'s' * (arity != 1)}, got {len(terms)}", _opening(name)
            )
        return ("atom", name, terms)

    def term(self, term, bound: frozenset, label: str, span) -> str:
        from pddl.logic.terms import Variable

        if not isinstance(term, Variable):
            return str(term.name).lower()  # a constant: pddl has checked that it is declared
        name = "?" + str(term.name)
        if name not in bound:
            raise self.source.error(
                span, f"{label}: undeclared variable {name} (not a parameter)", re.escape(name) + r"(?![\w-])"
            )
        return name

    def effects(self, node, bound: frozenset, label: str, span) -> tuple[tuple, tuple, tuple]:
        """(add atoms, delete atoms, conditional effects): literals, and `forall`/`when` around them."""
        from pddl.logic.base import Or

        if node is None or (isinstance(node, Or) and not node.operands):
            return (), (), ()  # no effect; pddl reads `:effect ()` as an empty (or)
        add, delete, conditional = [], [], []
        self._effect(node, bound, (), None, label, span, add, delete, conditional)
        return tuple(add), tuple(delete), tuple(conditional)

    def _effect(self, node, bound, variables, condition, label, span, add, delete, conditional) -> None:
        """Read one effect into the lists: an unconditional literal into add/delete, one under a
        `forall` or `when` into the conditional effect of its variables and condition."""
        from pddl.logic.base import And, Not
        from pddl.logic.effects import Forall, When
        from pddl.logic.predicates import Predicate

        if isinstance(node, And):
            for item in node.operands:
                self._effect(item, bound, variables, condition, label, span, add, delete, conditional)
            return
        if isinstance(node, Forall):
            own = tuple(sorted(_typed(v) for v in node.variables))
            shadowed = [v for v, _ in own if v in bound]
            if shadowed:
                raise self.source.error(span, f"{label}: forall variable {shadowed[0]} is already bound")
            inner = bound | {v for v, _ in own}
            self._effect(node.effect, inner, variables + own, condition, label, span, add, delete, conditional)
            return
        if isinstance(node, When):  # pddl's grammar allows only literals inside
            formula = self.formula(node.condition, bound, label, span)
            self._effect(node.effect, bound, variables, formula, label, span, add, delete, conditional)
            return
        negated = isinstance(node, Not)
        atom = node.argument if negated else node
        if not isinstance(atom, Predicate):
            raise self.source.error(
                span,
                f"{label}: unsupported effect {type(node).__name__} (HARP reads literals, and, forall and when)",
            )
        _, name, terms = self.atom(atom, bound, label, span)
        if name in self.derived:
            raise self.source.error(
                span, f"{label}: an effect cannot change {name}, a derived predicate", _opening(name)
            )
        if not variables and condition is None:
            (delete if negated else add).append((name, terms))
            return
        literal = ((), ((name, terms),)) if negated else (((name, terms),), ())
        key = (variables, condition)
        for index, (known_vars, known_condition, known_add, known_delete) in enumerate(conditional):
            if (known_vars, known_condition) == key:  # literals under one forall/when stay together
                conditional[index] = (variables, condition, known_add + literal[0], known_delete + literal[1])
                return
        conditional.append((variables, condition, *literal))


# ------------------------------------------------------------------------------ the mapping


def _bare_words(lifted: dict, source: _Source) -> dict:
    """A bare PDDL file: one word per action, its first parameter written."""
    words, lower = {}, {}
    for name, (parameters, conjuncts, add, delete, conditional) in lifted.items():
        where = source.span("action", name)
        if not parameters:
            # A step is Word(Argument): no plan could name the action, yet the planner would use it.
            raise source.error(
                where,
                f"action {name} has no parameters, so no plan step can name it: give it one, "
                f"or map the plan words in a YAML file that leaves it out",
            )
        word = name[:1].upper() + re.sub(r"[^A-Za-z0-9_]", "_", name[1:])
        if word.lower() in lower:
            raise source.error(
                where, f"actions {lower[word.lower()]} and {name} are both the plan word {word}: rename one"
            )
        lower[word.lower()] = name
        kind = "/".join(sorted(parameters[0][1]))
        words[word] = WordSpec(
            word,
            kind,
            f"the PDDL action {name}",
            (Schema(name, parameters, parameters[0][0], conjuncts, add, delete, conditional),),
        )
    return words


def _words(spec, lifted: dict, where: str) -> dict:
    if not isinstance(spec, dict) or not spec:
        raise ConfigError(f"{where}: actions: expected a mapping of plan word -> spec")
    words, lower = {}, {}
    for word, item in spec.items():
        key = f"actions.{shown(word)}"
        check_word(word, where, key)
        if word.lower() in lower:
            raise ConfigError(f"{where}: {key}: {lower[word.lower()]} and {word} differ only in case")
        lower[word.lower()] = word
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: {key}: expected a mapping with argument, description and pddl")
        entries = item.get("pddl")
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{where}: {key}.pddl: list at least one PDDL action")
        schemas = []
        for entry in entries:
            if (
                not isinstance(entry, dict)
                or set(entry) - {"action", "written"}
                or not all(isinstance(entry.get(k), str) for k in ("action", "written"))
            ):
                raise ConfigError(f"{where}: {key}.pddl: each entry is {{action: NAME, written: ?PARAM}}")
            name = entry["action"].lower()
            if name not in lifted:
                close = difflib.get_close_matches(name, list(lifted), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"{where}: {key}.pddl: no PDDL action '{shown(name)}'{hint}")
            parameters, conjuncts, add, delete, conditional = lifted[name]
            if entry["written"] not in [p for p, _ in parameters]:
                raise ConfigError(f"{where}: {key}.pddl: '{shown(entry['written'])}' is not a parameter of {name}")
            schemas.append(Schema(name, parameters, entry["written"], conjuncts, add, delete, conditional))
        description = optional_text(item, "description", where, f"{key}.")
        if not description:
            raise ConfigError(f"{where}: {key}.description: expected a one-line description")
        words[word] = WordSpec(
            word, optional_text(item, "argument", where, f"{key}.") or "entity", description, tuple(schemas)
        )
    return words


_REASON_KEY = re.compile(r"(not )?([^\s?]+)(\?)?")


def _reasons(value, predicates: dict, where: str) -> dict:
    """Each sentence is formatted now, as a failing precondition would: a mistake in one would
    otherwise surface the first time that precondition fails, hours into GRPO."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{where}: reasons: expected a mapping of predicate -> sentence (quote keys like 'on')")
    for written, template in value.items():
        key = f"reasons.{shown(written)}"
        match = _REASON_KEY.fullmatch(written)
        name = match[2] if match else written
        if name not in predicates:
            close = difflib.get_close_matches(name, list(predicates), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{where}: {key}: no predicate '{shown(name)}' in the PDDL file{hint}; keys are P, not P, P? or not P?"
            )
        fields = [str(i) for i in range(predicates[name])] + ["robot", "holding"]
        try:
            used = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
            unknown = [field for field in used if field not in fields]
            if not unknown:
                template.format(*fields[:-2], robot="robot", holding="holding")
        except (ValueError, IndexError, KeyError, TypeError) as error:
            raise ConfigError(f"{where}: {key}: {error} in {template!r} (a literal brace is {{{{ or }}}})") from None
        if unknown:
            allowed = ", ".join("{" + field + "}" for field in fields)
            raise ConfigError(
                f"{where}: {key}: {shown('{' + unknown[0] + '}')} in {template!r}: a sentence may use {allowed}"
            )
    return dict(value)


def _kinds(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values()
    ):
        raise ConfigError(f"{where}: kinds: expected a mapping of property -> list of kinds")
    return {str(k): frozenset(x.lower() for x in v) for k, v in value.items()}


def _shorthand(value, words: dict, where: str) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(w, str) and w in words for w in value):
        raise ConfigError(f"{where}: shorthand: expected a list of this mapping's plan words ({', '.join(words)})")
    if len(value) == len(words):
        raise ConfigError(f"{where}: shorthand: some plan word must not be shorthand")
    return tuple(value)


def _scene_inference(value, types: dict, predicates: dict, derived: dict, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in SCENE_INFERENCE:
        raise ConfigError(f"{where}: scene_inference: unknown {value!r} (known: {', '.join(SCENE_INFERENCE)})")
    needs = SCENE_INFERENCE[value]
    for type_name in needs["types"]:
        if type_name not in types:
            raise ConfigError(
                f"{where}: scene_inference: {value} writes entities of type '{type_name}', which the "
                f"PDDL file does not declare"
            )
    for name, arity in needs["predicates"].items():
        if predicates.get(name) != arity or name in derived:
            raise ConfigError(
                f"{where}: scene_inference: {value} writes facts ({name}{' ?x' * arity}), which the PDDL "
                f"file does not declare as a predicate of {arity} argument{'s' * (arity != 1)}"
            )
    return value


def _roles(value, types: dict, predicates: dict, derived: dict, where: str) -> SceneRoles:
    if value is None:  # the conventional names, those the file declares as such
        found = {
            role: name
            for role, name in CONVENTIONAL_ROLES.items()
            if role in ROLE_ARITY and predicates.get(name) == ROLE_ARITY[role] and name not in derived
        }
        return SceneRoles(**found, locations=tuple(t for t in CONVENTIONAL_ROLES["locations"] if t in types))
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: scene: expected a mapping with robot, holding, placement, locations")
    known_keys(where, "scene.", value, (*ROLE_ARITY, "locations"))
    found = {}
    for role, arity in ROLE_ARITY.items():
        name = value.get(role)
        if name is None:
            continue
        if not isinstance(name, str) or predicates.get(name.lower()) != arity or name.lower() in derived:
            raise ConfigError(
                f"{where}: scene.{role}: expected a predicate of {arity} argument{'s' * (arity != 1)} "
                f"that the PDDL file declares, got {shown(name)!r}"
            )
        found[role] = name.lower()
    locations = value.get("locations") or []
    if not isinstance(locations, list) or not all(isinstance(t, str) and t.lower() in types for t in locations):
        raise ConfigError(f"{where}: scene.locations: expected a list of types the PDDL file declares")
    return SceneRoles(**found, locations=tuple(t.lower() for t in locations))
