"""The scene an ALFRED-style plan implies, and the instance names an imported ALFRED plan needs.

A record without a scene is judged against the smallest world its reference plan implies. We walk
the plan once, keeping the robot's place, the held object and where each object stands:

- a name the plan picks, slices, heats, cools or cleans, or of a kind the mapping lists under
  `kinds.item`, is an item; every other name is furniture (a place the robot can go to);
- an item first met where the robot is starts there; an item first met as a `Navigate` target
  starts on a spot of its own (`apple spot`) until the plan shows where that is: when the robot
  acts on the item from a piece of furniture, the spot *is* that furniture, except that an item
  picked from its spot and put into furniture without moving stood *beside* it (`beside`: the
  furniture is reachable from the spot), since putting it back where it was would be pointless;
- a piece of furniture first met as what a step acts on while the robot is at another piece of
  furniture stands on or beside that one (`beside`), and is used from there: the coffee machine on
  the counter, the faucet of the sink basin, the knob of the burner (a switch beside an appliance
  runs it, alfred.pddl); met again from elsewhere, it is out of reach;
- the robot starts at `start`, with an empty hand; containers the plan opens start closed;
  properties (receptacle, sharp, sliceable, heater, ...) come from the plan's use and the kinds:
  the knife the plan slices with is sharp, the place where it heats (cools, cleans) is a heater
  (cooler, washer) even if it is called a counter.

Importing ALFRED (`rename=True`): ALFRED names kinds, not instances (`countertop`), and its expert
walks between different counters. When merging a spot into the furniture the robot went to would
make an earlier move go nowhere (the expert went from that counter to the apple, so the apple is on
another counter), the move is renamed to a new instance instead (`CounterTop 2`); a second object
of a kind picked elsewhere is `Book 2`. ALFRED's controller heats, cools and cleans whatever the
agent holds (its written argument is informational and sometimes blank or wrong), so an imported
`Heat`/`Cool`/`Clean` names the held object; with nothing held it keeps its argument.

The goal is the plan's net effect (`with_net_effect_goal`): what its valid steps leave changed, and
what they changed and changed back as it was (tidying up: the cabinet opened to take a cup and closed
again stays closed; a plan that leaves it open is incomplete, one that closes what its reference left
open is longer than needed). The guide's engine infers drawers the same way (harp/plan/scene.py).

Heating, cooling, cleaning. A plan may use ALFRED's shorthand (`Heat(Apple)` at the microwave) or the
simulator's physics (the apple put into the microwave, closed, switched on): alfred.pddl has both. The
goal is the effect either way, `(heated apple)` and where the apple ends, so both kinds of plan reach
it. Optimal means optimal in the plan's own vocabulary: a plan that uses none of the mapping's
`shorthand` words is judged against the shortest plan without them, one that uses one against the
shortest plan of all (harp/plan/fact_domain.py, `judging_domain`). So an expert's physics is not
waste, a shorthand plan scores as it always did, and a shorthand plan is never judged longer than a
physics reference.
"""

from __future__ import annotations

from harp.plan.facts import FactScene, kind_of
from harp.plan.names import normalize_entity
from harp.plan.parser import ParsedPlan, parse_plan
from harp.plan.pddl_domain import PddlSpec
from harp.plan.protocols import Domain
from harp.plan.simulator import simulate

START = "start"
ITEM_WORDS = ("pick", "heat", "cool", "clean", "slice")
HELD_WORDS = ("heat", "cool", "clean")  # act on the held object (ALFRED's controller)
# Predicates the net-effect goal leaves out: where the robot stands is a goal only when the plan
# changes nothing else, and an empty hand or a vacated place follows from the facts that are kept.
NOT_GOALS = frozenset({"robot-at", "hand-empty"})
IMPLIED_BY_OTHERS = frozenset({"robot-at", "hand-empty", "in", "holding"})
APPLIANCE = {"heat": "heater", "cool": "cooler", "clean": "washer"}  # where each is done


class _Walk:
    def __init__(self, steps: list[tuple[str, str]], spec: PddlSpec, rename: bool):
        self.spec, self.rename = spec, rename
        # importing, a Heat/Cool/Clean argument may be wrong (it is replaced by the held object): it names no item
        words = [w for w in ITEM_WORDS if not (rename and w in HELD_WORDS)]
        self.item_names = {arg for word, arg in steps if word in words and arg}
        self.item_kinds = set(spec.kinds.get("item", ())) | {kind_of(arg) for arg in self.item_names}
        self.types: dict[str, str] = {START: "spot"}
        self.where: dict[str, str] = {}  # item -> container, now
        self.initially: dict[str, str] = {}  # item -> container, at the start
        self.held: str | None = None
        self.robot = START
        self.navs: list[list] = [[-1, START]]  # [step index, place] of every move, the start first
        self.props: dict[str, set] = {
            p: set()
            for p in ("receptacle", "pickable", "sliceable", "sharp", "toggleable", "openable", *APPLIANCE.values())
        }
        self.opened: dict[str, bool] = {}
        self.beside: dict[str, str] = {}  # furniture -> the spot it stands beside
        self.out: list[str] = [arg for _, arg in steps]

    # ------------------------------------------------------------------------- helpers

    def is_item(self, name: str) -> bool:
        return name in self.item_names or kind_of(name) in self.item_kinds

    def top(self, entity: str) -> str:
        seen = set()
        while entity in self.where and entity not in seen:
            seen.add(entity)
            entity = self.where[entity]
        return entity

    def near(self, entity: str) -> bool:
        top = self.top(entity)
        return entity != self.held and (top == self.robot or self.beside.get(top, "") == self.robot)

    def fresh(self, kind: str) -> str:
        if kind not in self.types:
            return kind
        n = 2
        while f"{kind} {n}" in self.types:
            n += 1
        return f"{kind} {n}"

    def instances(self, arg: str, type_name: str | None = None) -> list[str]:
        if self.rename:
            found = [n for n in self.types if kind_of(n) == arg or n == arg]
        else:
            found = [arg] if arg in self.types else []
        return [n for n in found if type_name is None or self.types[n] == type_name]

    def new_item(self, arg: str, container: str) -> str:
        name = self.fresh(arg) if self.rename else arg
        self.types[name] = "item"
        self.where[name] = self.initially[name] = container
        return name

    def rename_everywhere(self, old: str, new: str, type_name: str) -> None:
        self.types = {
            (new if n == old else n): (type_name if n == old else t)
            for n, t in self.types.items()
            if not (n == old and new in self.types)
        }
        for table in (self.where, self.initially):
            for key, value in table.items():
                if value == old:
                    table[key] = new
        for nav in self.navs:
            if nav[1] == old:
                nav[1] = new
        self.beside = {(new if f == old else f): (new if p == old else p) for f, p in self.beside.items()}
        if self.robot == old:
            self.robot = new
        for names in self.props.values():
            if old in names:
                names.discard(old)
                names.add(new)

    def wasted_after_merge(self, old: str, new: str) -> bool:
        places = [new if place == old else place for _, place in self.navs]
        return any(a == b for a, b in zip(places, places[1:]))

    def resolve_spot(self, spot: str) -> None:
        """The item on `spot` turns out to be where the robot is: the spot is that place."""
        here = self.robot
        last_index, last_place = self.navs[-1]
        if (
            self.rename
            and self.wasted_after_merge(spot, here)
            and last_place == here
            and last_index >= 0
            and self.types.get(here) == "furniture"
        ):
            name = self.fresh(kind_of(here))
            self.rename_everywhere(spot, name, "furniture")
            self.navs[-1][1] = name
            self.out[last_index] = name
            self.robot = name
        else:
            self.rename_everywhere(spot, here, self.types.get(here, "furniture"))

    def spot_of(self, item: str) -> str | None:
        place = self.top(item)
        return place if self.types.get(place) == "spot" and place != START and place != self.robot else None

    def item(self, arg: str) -> str:
        """The item a step means: the held one, one within reach, one on an unplaced spot, or a new one."""
        found = self.instances(arg, "item")
        if self.held in found:
            return self.held
        for name in found:
            if self.near(name):
                return name
        for name in found:
            spot = self.spot_of(name)
            if spot is not None:
                self.resolve_spot(spot)
                return name
        if found and not self.rename:
            return found[0]  # known but out of reach: the step fails in the simulation
        return self.new_item(arg, self.robot)

    def furniture(self, arg: str, placing: bool = False) -> str:
        """A piece of furniture a step acts on where the robot is; an unplaced spot here becomes it,
        unless the robot puts the item it picked from that spot into it: that would put the item
        back where it was, so the furniture stands beside the spot."""
        found = self.instances(arg, "furniture")
        if self.robot in found:
            return self.robot
        spot = self.robot if self.types.get(self.robot) == "spot" and self.robot != START else None
        if spot is not None and placing and self.held is not None and self.initially.get(self.held) == spot:
            name = found[0] if found and not self.rename else self.fresh(arg) if self.rename else arg
            self.types.setdefault(name, "furniture")
            self.beside[name] = spot
            return name
        if spot is not None:
            if found and not (self.rename and self.wasted_after_merge(spot, found[0])):
                self.rename_everywhere(spot, found[0], "furniture")
                return found[0]
            name = self.fresh(arg) if self.rename else arg
            self.rename_everywhere(spot, name, "furniture")
            return name
        if found:
            return found[0]
        self.types[arg] = "furniture"
        if self.types.get(self.robot) == "furniture":
            self.beside[arg] = self.robot  # a fixture used where it stands: the counter's coffee machine
        return arg

    def entity(self, arg: str) -> str:
        return self.item(arg) if self.is_item(arg) else self.furniture(arg)

    # --------------------------------------------------------------------------- steps

    def step(self, index: int, word: str, arg: str) -> None:
        if word in HELD_WORDS:
            # the plan heats (cools, cleans) here, so an oven (fridge, sink) is here: ALFRED's
            # bathroom counters hold the sink basin, and an expert may clean at the counter
            self.props[APPLIANCE[word]].add(self.robot)
        if self.rename and word in HELD_WORDS and self.held is not None:
            self.out[index] = self.held  # ALFRED heats/cools/cleans what is held, whatever the argument
            return
        if not arg:
            return
        if word == "navigate":
            self.navigate(index, arg)
            return
        if word == "pick":
            name = self.item(arg)
            self.props["pickable"].add(name)
            if self.held is None and self.near(name):
                self.where.pop(name, None)
                self.held = name
        elif word == "place":
            name = self.item(arg) if self.is_item(arg) else self.furniture(arg, placing=True)
            self.props["receptacle"].add(name)
            if self.held is not None and self.held != name and self.near(name):
                self.where[self.held] = name
                self.held = None
        elif word in ("open", "close"):
            name = self.entity(arg)
            self.props["openable"].add(name)
            self.opened.setdefault(name, word == "close")
        elif word == "toggle":
            name = self.entity(arg)
            self.props["toggleable"].add(name)
        elif word == "slice":
            name = self.item(arg)
            self.props["sliceable"].add(name)
            if self.held is not None:
                self.props["sharp"].add(self.held)
        elif word in HELD_WORDS:
            name = self.item(arg)
        else:
            return
        self.out[index] = name

    def navigate(self, index: int, arg: str) -> None:
        if self.is_item(arg):
            found = [n for n in self.instances(arg, "item") if n != self.held]
            far = [n for n in found if not self.near(n)]
            if found:
                name = (far or found)[0]
                target = self.top(name)
            else:
                name = self.fresh(arg) if self.rename else arg
                target = self.fresh(f"{name} spot")
                self.types[target] = "spot"
                self.types[name] = "item"
                self.where[name] = self.initially[name] = target
        else:
            found = self.instances(arg, "furniture")
            if self.rename and found:
                # ALFRED goes to viewpoints: a return to a kind is taken as another instance of it
                # unless the plan shows it is the same (an object picked where it was put).
                name = self.fresh(arg)
            else:
                name = found[0] if found else arg
            self.types.setdefault(name, "furniture")
            target = name
        self.out[index] = name
        self.navs.append([index, target])
        self.robot = target

    # --------------------------------------------------------------------------- result

    def facts(self) -> list[tuple]:
        kinds = self.spec.kinds
        facts = [("robot-at", START), ("hand-empty",)]
        facts += [("in", item, place) for item, place in self.initially.items()]
        for name, type_name in self.types.items():
            kind = kind_of(name)
            if type_name == "furniture" or name in self.props["receptacle"] or kind in kinds.get("receptacle", ()):
                facts.append(("receptacle", name))
            for prop in ("heater", "cooler", "washer"):
                if type_name == "furniture" and kind in kinds.get(prop, ()) or name in self.props[prop]:
                    facts.append((prop, name))
            for prop in ("sharp", "sliceable", "toggleable"):
                if name in self.props[prop] or kind in kinds.get(prop, ()):
                    facts.append((prop, name))
            for prop in ("pickable", "openable"):
                if name in self.props[prop]:
                    facts.append((prop, name))
        facts += [("opened", name) for name, is_open in self.opened.items() if is_open]
        facts += [("beside", name, spot) for name, spot in self.beside.items()]
        return [f for f in facts if all(a in self.types for a in f[1:])]


def plan_steps(plan) -> list[tuple[str, str]]:
    parsed = plan if isinstance(plan, ParsedPlan) else parse_plan(plan)
    return [(s.action.strip().lower(), normalize_entity(s.argument)) for s in parsed.steps]


def infer_initial(plan, spec: PddlSpec, rename: bool = False) -> tuple[dict, list, list]:
    """(entities with types, initial facts, each step's argument as an entity name) of a plan."""
    steps = plan if isinstance(plan, list) and all(isinstance(s, tuple) for s in plan) else plan_steps(plan)
    walk = _Walk(steps, spec, rename)
    for index, (word, arg) in enumerate(steps):
        walk.step(index, word, arg)
    return dict(walk.types), walk.facts(), walk.out


def infer_alfred_scene(plan, spec: PddlSpec, domain: Domain) -> FactScene:
    """The scene an ALFRED-style reference plan implies in `domain` (read from `spec`), its goal the
    plan's net effect. Never raises."""
    entities, facts, _ = infer_initial(plan, spec)
    return with_net_effect_goal(FactScene(spec, entities, facts), plan, spec, domain)


def with_net_effect_goal(scene: FactScene, plan, spec: PddlSpec, domain: Domain) -> FactScene:
    """The scene with the goal a plan's valid steps achieve.

    Goal facts: what holds at the end and did not at the start, or was undone on the way and
    restored (the cloth cleaned and put back in its cabinet); must-not facts: what held at the start,
    is gone at the end and is not a place or a hand (a lamp switched off, a drawer closed), and what
    held neither at the start nor at the end but on the way (a cabinet opened and closed again, a
    faucet switched on and off): the plan restored it, so it is part of the task.
    """
    trace = simulate(plan, scene, domain)
    final = trace.final_state
    undone, done, state = set(), set(), scene.initial
    for result in trace.steps:
        if result.valid:
            undone |= state - result.state
            done |= result.state - state
            state = result.state
    kept = (final - scene.initial) | (final & scene.initial & undone)
    added = [f for f in kept if f[0] not in NOT_GOALS]
    removed = [f for f in scene.initial - final if f[0] not in IMPLIED_BY_OTHERS]
    if not added and not removed:
        added = [f for f in final - scene.initial if f[0] == "robot-at"]  # a search task: be there
    # tidying up is part of the task: what the plan opened and closed again stays closed
    restored = [f for f in done - final - scene.initial if f[0] not in IMPLIED_BY_OTHERS]
    facts = list(scene.statics | scene.initial)
    return FactScene(spec, scene.entities, facts, added, removed + restored)
