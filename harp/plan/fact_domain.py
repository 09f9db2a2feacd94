"""A PDDL domain in the plan language: steps, reasons, scenes and inference for the fact core.

`FactDomain` offers what the simulator, the planner, H-PRM and the data stages use of a domain
(`actions`, `action_names`, `canonical_action`, `step`, `scene_from_dict`, `infer_scene`), so
`Domain.load("alfred")` and `Domain.load("navigate_pick_place")` are used the same way.
"""

from __future__ import annotations

from typing import Any, Optional

from harp.errors import DataError
from harp.plan.facts import FactScene, FactState, GroundAction, grounding
from harp.plan.names import normalize_entity
from harp.plan.pddl_domain import PddlSpec

# Predicates the net-effect goal leaves out: where the robot stands is a goal only when the plan
# changes nothing else, and an empty hand or a vacated place follows from the facts that are kept.
_NOT_GOALS = frozenset({"robot-at", "hand-empty"})
_IMPLIED_BY_OTHERS = frozenset({"robot-at", "hand-empty", "in", "holding"})


class FactDomain:
    """A PDDL domain with its plan-language mapping; get one with `Domain.load`."""

    kind = "facts"

    def __init__(self, spec: PddlSpec):
        self.spec = spec
        self.name = spec.name
        self.description = spec.description
        self.path = spec.path
        self.actions = dict(spec.words)  # word -> WordSpec (.argument_kind, .description)
        self.action_names = list(self.actions)
        self._by_lower = {a.lower(): a for a in self.actions}

    def __repr__(self) -> str:
        return f"FactDomain({self.name!r}, actions={self.action_names})"

    def __hash__(self) -> int:
        return hash(self.spec)

    def __eq__(self, other) -> bool:
        return isinstance(other, FactDomain) and self.spec == other.spec

    def canonical_action(self, name: str) -> Optional[str]:
        return self._by_lower.get(name.strip().lower())

    # ------------------------------------------------------------------------- one step

    def step(self, action_text: str, argument_text: str, state: FactState, scene: FactScene):
        """(canonical action, canonical argument, reason, error kind, next state) of one step."""
        word = self._by_lower.get(action_text.strip().lower())
        arg = normalize_entity(argument_text)
        if word is None:
            return None, arg, f"unknown action '{action_text}' (the domain has {', '.join(self.action_names)})", "action", state
        kind = self.actions[word].argument_kind
        if not arg:
            return word, arg, f"{word} needs an argument ({kind})", "action", state
        ground = grounding(scene, self.spec)
        instances = ground.instances(arg)
        if not instances:
            return word, arg, f"{arg} is not an entity in the scene", "action", state
        typed = [i for i in instances if ground.writable(word, i)]
        if not typed:
            what = scene.entities.get(instances[0], "constant")
            return word, arg, f"{word} needs {_article(kind)} {kind}, but {instances[0]} is {_article(what)} {what}", \
                "action", state
        for instance in typed:
            outcomes = {}
            for action in ground.step_actions(word, instance, state):
                if action.applicable(state):
                    outcomes.setdefault(action.apply(state), action)
            if len(outcomes) == 1:
                return word, instance, None, None, next(iter(outcomes))
            if len(outcomes) > 1:
                options = " or ".join(_describe(a) for a in list(outcomes.values())[:3])
                return word, instance, f"{word}({instance}) is ambiguous here: {options}", "transition", state
        return word, typed[0], self._reason(ground.step_actions(word, typed[0], state), state), "transition", state

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
                return template.format(*args, robot=_first(state, "robot-at"), holding=_first(state, "holding"))
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
        from harp.plan.alfred import infer_initial

        if self.spec.scene_inference != "alfred":
            # No way to guess an initial state for an arbitrary PDDL domain: records need a scene.
            raise DataError(f"domain {self.name}: cannot infer a scene from a plan (its mapping has no "
                            f"scene_inference); give each record a 'scene' with entities, init and goal")
        entities, facts, _ = infer_initial(plan, self.spec)
        provisional = FactScene(self.spec, entities, facts)
        return with_net_effect_goal(provisional, plan, self)


def with_net_effect_goal(scene: FactScene, plan, domain: FactDomain) -> FactScene:
    """The scene with the goal a plan's valid steps achieve.

    Goal facts: what holds at the end and did not at the start, or was undone on the way and
    restored (the cloth cleaned and put back in its cabinet); must-not facts: what held at the start,
    is gone at the end and is not a place or a hand (a lamp switched off, a drawer closed).
    """
    from harp.plan.simulator import simulate

    trace = simulate(plan, scene, domain)
    final = trace.final_state
    undone, state = set(), scene.initial
    for result in trace.steps:
        if result.valid:
            undone |= state - result.state
            state = result.state
    kept = (final - scene.initial) | (final & scene.initial & undone)
    added = [f for f in kept if f[0] not in _NOT_GOALS]
    removed = [f for f in scene.initial - final if f[0] not in _IMPLIED_BY_OTHERS]
    if not added and not removed:
        added = [f for f in final - scene.initial if f[0] == "robot-at"]  # a search task: be there
    facts = list(scene.statics | scene.initial)
    return FactScene(domain.spec, scene.entities, facts, added, removed)


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
    for fact in state:
        if fact[0] == pred and len(fact) > 1:
            return fact[1]
    return "nothing"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
