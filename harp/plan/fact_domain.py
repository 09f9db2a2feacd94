"""The fact engine: a PDDL domain in the plan language, its steps, reasons, scenes and search.

`FactDomain` keeps the contract of harp/plan/protocols.py (`Domain`), as the guide's engine does
(harp/plan/guide.py), so `load_domain("alfred")` and `load_domain("navigate_pick_place")` are
used the same way.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harp.errors import DataError
from harp.plan.alfred import infer_alfred_scene
from harp.plan.fact_search import FactSearch
from harp.plan.facts import FactScene, FactState, GroundAction, grounding
from harp.plan.names import normalize_entity
from harp.plan.pddl_domain import PddlSpec
from harp.plan.planner import search
from harp.plan.protocols import StepOutcome


class FactDomain:
    """A PDDL domain with its plan-language mapping; get one with `harp.plan.load_domain`."""

    def __init__(self, spec: PddlSpec):
        self.spec = spec
        self.name = spec.name
        self.description = spec.description
        self.path = spec.path
        self.actions = dict(spec.words)  # word -> WordSpec (.argument_kind, .description)
        self.action_names = list(self.actions)
        self._by_lower = {a.lower(): a for a in self.actions}
        self._plain: FactDomain | None = None  # this domain less its shorthand words (judging_domain)

    def __repr__(self) -> str:
        return f"FactDomain({self.name!r}, actions={self.action_names})"

    def __hash__(self) -> int:
        return hash(self.spec)

    def __eq__(self, other) -> bool:
        return isinstance(other, FactDomain) and self.spec == other.spec

    def canonical_action(self, name: str) -> str | None:
        return self._by_lower.get(name.strip().lower())

    # ------------------------------------------------------------------------- one step

    def step(self, action_text: str, argument_text: str, state: FactState, scene: FactScene) -> StepOutcome:
        """One step as written: canonical action and argument, why it is invalid, which level, next state."""
        word = self._by_lower.get(action_text.strip().lower())
        arg = normalize_entity(argument_text)
        if word is None:
            reason = f"unknown action '{action_text}' (the domain has {', '.join(self.action_names)})"
            return StepOutcome(None, arg, reason, "action", state)
        kind = self.actions[word].argument_kind
        if not arg:
            return StepOutcome(word, arg, f"{word} needs an argument ({kind})", "action", state)
        ground = grounding(scene, self.spec)
        instances = ground.instances(arg)
        if not instances:
            return StepOutcome(word, arg, f"{arg} is not an entity in the scene", "action", state)
        typed = [i for i in instances if ground.writable(word, i)]
        if not typed:
            what = scene.entities.get(instances[0], "constant")
            reason = f"{word} needs {_article(kind)} {kind}, but {instances[0]} is {_article(what)} {what}"
            return StepOutcome(word, arg, reason, "action", state)
        for instance in typed:
            outcomes = {}
            for action in ground.step_actions(word, instance, state):
                if action.applicable(state):
                    outcomes.setdefault(action.apply(state), action)
            if len(outcomes) == 1:
                return StepOutcome(word, instance, None, None, next(iter(outcomes)))
            if len(outcomes) > 1:
                options = " or ".join(_describe(a) for a in list(outcomes.values())[:3])
                return StepOutcome(
                    word, instance, f"{word}({instance}) is ambiguous here: {options}", "transition", state
                )
        reason = self._reason(ground.step_actions(word, typed[0], state), state)
        return StepOutcome(word, typed[0], reason, "transition", state)

    def _reason(self, actions: list[GroundAction], state: FactState) -> str:
        """The first failing precondition of the binding that gets furthest, as a sentence."""
        failures = [(a.first_failure(state), a) for a in actions]
        best = max(index for index, _ in failures)
        at_best = [a for index, a in failures if index == best]
        action = at_best[0]
        lifted = action.schema.conjuncts[best]
        unbound = len({_bound_terms(lifted, a.binding) for a in at_best}) > 1
        return self._sentence(lifted, action.binding, state, unbound)

    def _sentence(self, formula, binding: dict, state: FactState, unbound: bool) -> str:
        reasons = self.spec.reasons
        kind = formula[0]
        if kind == "or":
            return self._sentence(formula[1][-1], binding, state, unbound)
        negated = kind == "not"
        atom = formula[1] if negated else formula
        if atom[0] == "atom":
            args = [binding.get(t, t) for t in atom[2]]
            key = ("not " if negated else "") + atom[1]
            template = (reasons.get(key + "?") if unbound else None) or reasons.get(key)
            if template:
                roles = self.spec.roles
                return template.format(*args, robot=_first(state, roles.robot), holding=_first(state, roles.holding))
            text = f"({atom[1]}{''.join(' ' + a for a in args)})"
            return f"{text} holds" if negated else f"{text} does not hold"
        if atom[0] == "eq":
            left, right = binding.get(atom[1], atom[1]), binding.get(atom[2], atom[2])
            return f"{left} and {right} are the same" if negated else f"{left} is not {right}"
        return "a precondition does not hold"

    # ---------------------------------------------------------------------- scenes

    def scene_from_dict(self, data: Any, where: str = "scene") -> FactScene:
        return FactScene.from_dict(data, self.spec, where)

    def infer_scene(self, plan) -> FactScene:
        """The scene a reference plan implies; its goal is the plan's net effect. Never raises for
        alfred; a domain without scene inference raises a DataError saying records need a scene."""
        if self.spec.scene_inference != "alfred":
            # No way to guess an initial state for an arbitrary PDDL domain: records need a scene.
            raise DataError(
                f"domain {self.name}: cannot infer a scene from a plan (its mapping has no "
                f"scene_inference); give each record a 'scene' with entities, init and goal"
            )
        return infer_alfred_scene(plan, self.spec, self)

    def new_search(self, scene: FactScene) -> FactSearch:
        return FactSearch(scene, self)

    def judging_domain(self, scene: FactScene, words) -> FactDomain:
        """The domain whose shortest plans a plan written with `words` is judged against.

        Each way of doing a thing is optimal in its own terms: a plan that uses none of the mapping's
        `shorthand` words (ALFRED's Heat, Cool, Clean) is judged against the shortest plan without
        them, so the steps of the simulator's physics (put the apple in the sink basin, switch the
        faucet on) are not counted as waste; a plan that uses one against the shortest plan of all.
        Where the shorthand cannot matter for the goal, or no plan without it is certified optimal
        (the goal cannot be reached without it, or the search passed its budgets), the domain itself."""
        if not self.spec.shorthand or set(words) & set(self.spec.shorthand):
            return self
        relevance = search(scene, self).relevance
        shorthand = {id(s) for word in self.spec.shorthand for s in self.spec.words[word].schemas}
        if not (relevance.everything or relevance.schemas & shorthand):
            return self  # the same search: no shorthand action can matter
        if self._plain is None:
            words = {w: spec for w, spec in self.spec.words.items() if w not in self.spec.shorthand}
            self._plain = FactDomain(replace(self.spec, words=words, shorthand=()))
        plain = search(scene, self._plain)
        return self._plain if plain.optimal_length is not None else self


def _bound_terms(formula, binding: dict) -> tuple:
    terms = []

    def walk(node):
        if node[0] == "atom":
            terms.extend(binding.get(t, t) for t in node[2])
        elif node[0] == "eq":
            terms.extend((binding.get(node[1], node[1]), binding.get(node[2], node[2])))
        elif node[0] == "not":
            walk(node[1])
        elif node[0] in ("and", "or"):
            for child in node[1]:
                walk(child)

    walk(formula)
    return tuple(terms)


def _describe(action: GroundAction) -> str:
    values = [v for k, v in action.binding.items() if k != action.schema.written]
    return f"{action.schema.name} with {', '.join(values)}" if values else action.schema.name


def _first(state: FactState, pred: str) -> str:
    """The first argument of a `pred` fact of the state ("nothing" when none holds)."""
    for fact in state:
        if fact[0] == pred and len(fact) > 1:
            return fact[1]
    return "nothing"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
