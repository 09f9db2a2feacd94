"""The planning domain, pure Python with no ML imports: plan language, domain, scenes, simulator, planner."""

from harp.plan.domain import ActionSpec, Domain, available_domains
from harp.plan.names import display_name, normalize_entity
from harp.plan.parser import FormatError, ParsedPlan, Step, format_plan, parse_plan
from harp.plan.planner import cost_to_go, optimal_length, optimal_plan
from harp.plan.scene import Scene, State, infer_scene, scene_for
from harp.plan.simulator import StepResult, Trace, simulate

__all__ = [
    "ActionSpec", "Domain", "FormatError", "ParsedPlan", "Scene", "State", "Step", "StepResult", "Trace",
    "available_domains", "cost_to_go", "display_name", "format_plan", "infer_scene", "normalize_entity",
    "optimal_length", "optimal_plan", "parse_plan", "scene_for", "simulate",
]
