"""The planning domain, pure Python with no ML imports: plan language, domains, scenes, simulator, planner.

From the bottom up: the plan language (names.py, parser.py); the contract every engine keeps
(protocols.py); what runs on any engine (simulator.py, planner.py); the checks domain YAMLs share
(domain_yaml.py); the guide's engine (scene.py, guide.py) and the PDDL fact engine (pddl_domain.py,
facts.py, fact_search.py, alfred.py, fact_domain.py); and the one loader (loader.py). No module
imports one above it (tests/test_layering.py).
"""

from harp.plan.fact_domain import FactDomain
from harp.plan.facts import FactScene, FactState
from harp.plan.guide import ActionSpec, GuideDomain
from harp.plan.loader import available_domains, load_domain
from harp.plan.names import display_name, normalize_entity
from harp.plan.parser import FormatError, ParsedPlan, Step, format_plan, parse_plan
from harp.plan.planner import cost_to_go, optimal_length, optimal_plan, search
from harp.plan.protocols import Domain, PlanningBudgetExceeded, Scene, Search, State, StepOutcome, StepResult, Trace
from harp.plan.scene import GuideScene, GuideState, infer_scene
from harp.plan.simulator import scene_for, simulate

__all__ = [
    "ActionSpec",
    "Domain",
    "FactDomain",
    "FactScene",
    "FactState",
    "FormatError",
    "GuideDomain",
    "GuideScene",
    "GuideState",
    "ParsedPlan",
    "PlanningBudgetExceeded",
    "Scene",
    "Search",
    "State",
    "Step",
    "StepOutcome",
    "StepResult",
    "Trace",
    "available_domains",
    "cost_to_go",
    "display_name",
    "format_plan",
    "infer_scene",
    "load_domain",
    "normalize_entity",
    "optimal_length",
    "optimal_plan",
    "parse_plan",
    "scene_for",
    "search",
    "simulate",
]
