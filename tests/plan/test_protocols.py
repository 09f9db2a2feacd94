"""A domain is whatever keeps the contract of harp/plan/protocols.py: a third engine written here (a
robot on a line of cells, its state a number) runs through the simulator, the planner's search and
H-PRM, which never ask which engine they hold."""

from dataclasses import dataclass

import pytest

from harp.errors import DataError
from harp.plan import StepOutcome, load_domain, optimal_plan, scene_for, search, simulate
from harp.plan.planner import GraphSearch
from harp.rewards.hprm import HPRM


@dataclass(frozen=True)
class Move:
    name: str = "Move"
    argument_kind: str = "cell"
    description: str = "Move to a neighbouring cell."


@dataclass(frozen=True)
class LineScene:
    cells: int
    initial: int
    target: int

    @property
    def objects(self):
        return {}

    @property
    def locations(self):
        return tuple(str(c) for c in range(self.cells))

    @property
    def goal(self):
        return {}

    missing = ()  # nothing the task asks for is absent

    def has(self, name):
        return name in self.locations

    def satisfied(self, state):
        return state == self.target

    def goal_facts_met(self, state):
        return int(state == self.target), 1

    def goal_size(self):
        return 1

    def to_dict(self):
        return {"cells": self.cells, "start": self.initial, "target": self.target}


class LineSearch(GraphSearch):
    def successors(self, state):
        return [("Move", str(c), c) for c in (state - 1, state + 1) if 0 <= c < self.scene.cells]


class LineDomain:
    name, description, path = "line", "A robot on a line of cells.", ""
    actions = {"Move": Move()}
    action_names = ["Move"]

    def canonical_action(self, name):
        return "Move" if name.strip().lower() == "move" else None

    def step(self, action, argument, state, scene):
        if self.canonical_action(action) is None:
            return StepOutcome(None, argument, f"unknown action '{action}'", "action", state)
        if argument not in scene.locations:
            return StepOutcome("Move", argument, f"{argument} is not a cell", "action", state)
        if abs(int(argument) - state) != 1:
            return StepOutcome("Move", argument, f"cell {argument} is not next to cell {state}", "transition", state)
        return StepOutcome("Move", argument, None, None, int(argument))

    def scene_from_dict(self, data, where="scene"):
        return LineScene(data["cells"], data["start"], data["target"])

    def infer_scene(self, plan):
        raise DataError("domain line: records need a scene")

    def new_search(self, scene):
        return LineSearch(scene, self)


LINE = LineDomain()
RECORD = {
    "task": "go to cell 3",
    "plan": ["Move(1)", "Move(2)", "Move(3)"],
    "scene": {"cells": 5, "start": 0, "target": 3},
}


def test_a_third_engine_runs_through_the_simulator_the_planner_and_h_prm():
    assert load_domain(LINE) is LINE  # a domain is taken as it is
    scene = scene_for(RECORD, LINE)
    assert simulate(RECORD["plan"], scene, LINE).completed
    assert search(scene, LINE).optimal_length == 3 and optimal_plan(scene, LINE) == ["Move(1)", "Move(2)", "Move(3)"]
    hprm = HPRM(LINE)
    assert hprm.score("Move(1), Move(2), Move(3)", RECORD).error_type is None
    detour = hprm.score("Move(1), Move(0), Move(1), Move(2), Move(3)", RECORD)
    assert detour.error_type == "inefficient" and detour.step_scores == [0.0, -2.0, 0.0, 0.0, 0.0]
    jump = hprm.score("Move(3)", RECORD)
    assert jump.error_type == "state_transition" and jump.step_reasons == ["cell 3 is not next to cell 0"]
    assert hprm.score("Fly(3)", RECORD).error_type == "action"
    with pytest.raises(DataError, match="records need a scene"):
        hprm.score("Move(1)", {"task": "t", "plan": ["Move(1)"]})
