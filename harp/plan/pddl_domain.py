"""Domains written in PDDL: the general symbolic core's actions, read with the `pddl` package.

A PDDL domain gives typed predicates, derived predicates and action schemas (preconditions as
formulas, effects as add/delete lists). What the plan language needs on top comes from a small
mapping YAML beside it (domains/alfred.yaml):

- `actions`: each plan word (`Pick`) lists the PDDL actions it may mean, in order, and which of
  their parameters is the written argument (`Pick(Apple)` binds `?x`); the other parameters are
  bound from the state (the held object, the robot's place, where the object stands). A word may
  stand for several schemas (`Toggle` = `toggle-on` or `toggle-off`);
- `reasons`: per predicate, the sentence a failing precondition gives (`{0}`, `{1}` its arguments;
  `not P` when P must be false; `P?` when no binding of the unwritten parameters exists at all);
- `scene_inference`: how a scene is inferred from a reference plan (only `alfred` today).

A bare `.pddl` path works too: each action is its own word (`pick-up` -> `Pick_up`), its first
parameter is written, reasons are generic. This module turns the lifted formulas into nested
tuples; harp/plan/facts.py grounds them per scene.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml

from harp.errors import ConfigError

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


@dataclass(frozen=True)
class WordSpec:
    """A plan word (`Navigate`) and what the prompt says about it."""

    name: str
    argument_kind: str  # shown in the prompt: Navigate(place)
    description: str
    schemas: tuple[Schema, ...]


@dataclass(frozen=True)
class PddlSpec:
    """Everything read from a PDDL file and its mapping; hashable, shared by every scene."""

    name: str
    description: str
    path: str
    types: dict  # type -> parent type
    predicates: dict  # name -> arity
    signatures: dict  # name -> each argument's types (empty: any)
    derived: dict  # name -> (params, formula)
    constants: tuple
    words: dict  # plan word -> WordSpec (in the mapping's order)
    reasons: dict
    scene_inference: Optional[str]
    kinds: dict  # property -> entity kinds that have it (scene inference)
    fluents: frozenset  # predicates some effect changes

    def __hash__(self) -> int:
        return hash(self.path)

    def __eq__(self, other) -> bool:
        return isinstance(other, PddlSpec) and self.path == other.path

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


def read_pddl(pddl_path: Path, mapping: Optional[dict], mapping_path: str) -> PddlSpec:
    """Parse a PDDL domain (with the `pddl` package) and apply a mapping; errors name file and line."""
    from pddl import parse_domain

    try:
        text = pddl_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{pddl_path}: cannot read PDDL domain ({getattr(error, 'strerror', None) or error})") from None
    try:
        domain = parse_domain(str(pddl_path))
    except Exception as error:  # lark's parse errors and pddl's validation errors have no common base
        raise ConfigError(f"{pddl_path}:{_error_line(error, text)}: {_first_line(error)}") from None
    types = {str(k): (str(v) if v else None) for k, v in dict(domain.types).items()}
    predicates = {str(p.name): p.arity for p in domain.predicates}
    signatures = {str(p.name): tuple(frozenset(str(t) for t in term.type_tags) for term in p.terms)
                  for p in domain.predicates}
    derived = {}
    for dp in domain.derived_predicates:
        params = tuple("?" + str(t.name) for t in dp.predicate.terms)
        derived[str(dp.predicate.name)] = (params, _formula(dp.condition, pddl_path))
    order = [m.group(1).lower() for m in re.finditer(r"\(\s*:action\s+([^\s()]+)", text, re.IGNORECASE)]
    actions = {str(a.name): a for a in sorted(domain.actions, key=lambda a: order.index(a.name) if a.name in order else 1e9)}
    fluents = set()
    lifted = {}
    for name, action in actions.items():
        parameters = tuple(("?" + str(v.name), frozenset(str(t) for t in v.type_tags) or frozenset({"object"}))
                           for v in action.parameters)
        conjuncts = _conjuncts(action.precondition, pddl_path) if action.precondition is not None else ()
        add, delete = _effects(action.effect, pddl_path, name)
        fluents.update(p for p, _ in add + delete)
        lifted[name] = (parameters, conjuncts, add, delete)
    mapping = mapping or {}
    words = _words(mapping, lifted, mapping_path or str(pddl_path))
    reasons = mapping.get("reasons") or {}
    if not isinstance(reasons, dict) or not all(isinstance(v, str) for v in reasons.values()):
        raise ConfigError(f"{mapping_path}: reasons: expected a mapping of predicate -> sentence")
    kinds = mapping.get("kinds") or {}
    if not isinstance(kinds, dict) or not all(isinstance(v, list) for v in kinds.values()):
        raise ConfigError(f"{mapping_path}: kinds: expected a mapping of property -> list of kinds")
    return PddlSpec(
        name=str(mapping.get("name") or str(domain.name)),
        description=str(mapping.get("description") or f"PDDL domain {domain.name}"),
        path=str(pddl_path), types=types, predicates=predicates, signatures=signatures, derived=derived,
        constants=tuple(str(c.name).lower() for c in domain.constants), words=words, reasons=dict(reasons),
        scene_inference=mapping.get("scene_inference"),
        kinds={str(k): frozenset(str(x).lower() for x in v) for k, v in kinds.items()},
        fluents=frozenset(fluents),
    )


def _words(mapping: dict, lifted: dict, where: str) -> dict:
    spec = mapping.get("actions")
    if spec is None:  # a bare PDDL file: one word per action, its first parameter written
        words = {}
        for name, (parameters, conjuncts, add, delete) in lifted.items():
            word = name[:1].upper() + re.sub(r"[^A-Za-z0-9_]", "_", name[1:])
            written = parameters[0][0] if parameters else ""
            kind = "/".join(sorted(parameters[0][1])) if parameters else "nothing"
            words[word] = WordSpec(word, kind, f"the PDDL action {name}",
                                   (Schema(name, parameters, written, conjuncts, add, delete),))
        return words
    if not isinstance(spec, dict) or not spec:
        raise ConfigError(f"{where}: actions: expected a mapping of plan word -> spec")
    words = {}
    for word, item in spec.items():
        key = f"actions.{word}"
        if not isinstance(word, str) or not word.isidentifier() or not isinstance(item, dict):
            raise ConfigError(f"{where}: {key}: expected a one-word action name with a mapping")
        schemas = []
        for entry in item.get("pddl") or []:
            if not isinstance(entry, dict) or set(entry) - {"action", "written"}:
                raise ConfigError(f"{where}: {key}.pddl: each entry is {{action: NAME, written: ?PARAM}}")
            name = str(entry.get("action", "")).lower()
            if name not in lifted:
                close = difflib.get_close_matches(name, list(lifted), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"{where}: {key}.pddl: no PDDL action '{name}'{hint}")
            parameters, conjuncts, add, delete = lifted[name]
            written = str(entry.get("written", ""))
            if written not in [p for p, _ in parameters]:
                raise ConfigError(f"{where}: {key}.pddl: '{written}' is not a parameter of {name}")
            schemas.append(Schema(name, parameters, written, conjuncts, add, delete))
        if not schemas:
            raise ConfigError(f"{where}: {key}.pddl: list at least one PDDL action")
        description = " ".join(str(item.get("description") or "").split())
        if not description:
            raise ConfigError(f"{where}: {key}.description: expected a one-line description")
        words[word] = WordSpec(word, str(item.get("argument") or "entity"), description, tuple(schemas))
    return words


def _formula(node, where) -> tuple:
    from pddl.logic.base import And, ExistsCondition, Not, Or
    from pddl.logic.predicates import EqualTo, Predicate

    if isinstance(node, Predicate):
        return ("atom", str(node.name), tuple(_term(t) for t in node.terms))
    if isinstance(node, EqualTo):
        return ("eq", _term(node.left), _term(node.right))
    if isinstance(node, Not):
        return ("not", _formula(node.argument, where))
    if isinstance(node, And):
        return ("and", tuple(_formula(x, where) for x in node.operands))
    if isinstance(node, Or):
        return ("or", tuple(_formula(x, where) for x in node.operands))
    if isinstance(node, ExistsCondition):
        variables = tuple(sorted(("?" + str(v.name), frozenset(str(t) for t in v.type_tags) or frozenset({"object"}))
                                 for v in node.variables))
        return ("exists", variables, _formula(node.condition, where))
    raise ConfigError(f"{where}: unsupported precondition {node} (HARP reads and/or/not/exists/=)")


def _conjuncts(node, where) -> tuple:
    formula = _formula(node, where)
    return formula[1] if formula[0] == "and" else (formula,)


def _effects(node, where, action: str) -> tuple[tuple, tuple]:
    from pddl.logic.base import And, Not
    from pddl.logic.predicates import Predicate

    add, delete = [], []
    for item in (node.operands if isinstance(node, And) else (node,) if node is not None else ()):
        if isinstance(item, Predicate):
            add.append((str(item.name), tuple(_term(t) for t in item.terms)))
        elif isinstance(item, Not) and isinstance(item.argument, Predicate):
            delete.append((str(item.argument.name), tuple(_term(t) for t in item.argument.terms)))
        else:
            raise ConfigError(f"{where}: action {action}: unsupported effect {item} (HARP reads add/delete literals)")
    return tuple(add), tuple(delete)


def _term(term) -> str:
    from pddl.logic.terms import Variable

    return "?" + str(term.name) if isinstance(term, Variable) else str(term.name).lower()


def _error_line(error: Exception, text: str) -> str:
    line = getattr(error, "line", None)
    if isinstance(line, int) and line > 0:
        return f" line {line}"
    return ""


def _first_line(error: Exception) -> str:
    message = str(error).strip().splitlines()
    return (message[0] if message else type(error).__name__)[:200]


@lru_cache(maxsize=32)
def load_pddl_domain(pddl_path: str, mapping_path: str = ""):
    """A FactDomain for a PDDL file and its mapping YAML (cached per pair of paths)."""
    from harp.plan.fact_domain import FactDomain

    mapping = None
    if mapping_path:
        try:
            mapping = yaml.safe_load(Path(mapping_path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ConfigError(f"{mapping_path}: cannot read domain mapping ({error})") from None
    return FactDomain(read_pddl(Path(pddl_path), mapping, mapping_path))
