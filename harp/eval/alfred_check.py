"""How H-PRM judges real expert plans: ALFRED demonstrations and broken copies of them.

    .venv/bin/python -m harp.eval.alfred_check [tests/plan/data/alfred_high_level_plans.jsonl]
    .venv/bin/python -m harp.eval.alfred_check --alfworld [tests/data/alfworld]   # ALFWorld's walkthroughs

Each expert plan is imported (harp/data/alfred_import.py) and scored against the scene its own
plan implies; it should come out valid, complete and optimal. Each is then broken three ways, every
way it can be: a step dropped, two neighbouring different steps swapped, a `Place` into another
receptacle of the scene (of another kind). A broken copy should total less than the expert's plan. It
prints the shares, how many plans needed the importer's held-object repair (`meta.repaired`), and
for each rejected plan why, with a shorter plan when the planner found one. Pure Python; the CI test
(tests/plan/test_alfred.py) asserts the shares, the README lists the plans it rejects.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from harp.data.alfred_import import convert, read_alfred
from harp.plan import load_domain
from harp.plan.facts import kind_of
from harp.plan.names import display_name, normalize_entity
from harp.plan.parser import parse_plan
from harp.plan.planner import optimal_plan
from harp.rewards.hprm import HPRM

DEFAULT_PATH = "tests/plan/data/alfred_high_level_plans.jsonl"


@dataclass
class ExpertFigures:
    experts: int = 0
    accepted: int = 0  # valid, complete and optimal
    broken: int = 0
    broken_lower: int = 0
    rejected: list = field(default_factory=list)  # (id, error type, why, a shorter plan or None)
    not_lower: list = field(default_factory=list)  # (id, broken plan, its error type)
    repaired: list = field(default_factory=list)  # (id, accepted, broken copies, of them lower)

    def lines(self) -> list[str]:
        return [
            f"expert plans valid, complete and optimal: {self.accepted}/{self.experts} "
            f"({self.accepted / max(self.experts, 1):.1%})",
            f"broken copies scored lower: {self.broken_lower}/{self.broken} "
            f"({self.broken_lower / max(self.broken, 1):.1%})",
            f"plans with a Heat/Cool/Clean argument repaired to the held object: {len(self.repaired)} "
            f"({sum(r[1] for r in self.repaired)} accepted; their broken copies lower: "
            f"{sum(r[3] for r in self.repaired)}/{sum(r[2] for r in self.repaired)})",
        ]


def broken_copies(plan: list[str], receptacles: list[str]) -> list[list[str]]:
    """Every dropped step, every swap of neighbouring different steps, every wrong `Place` target."""
    copies = [plan[:i] + plan[i + 1 :] for i in range(len(plan))]
    for i in range(len(plan) - 1):
        if plan[i] != plan[i + 1]:
            copies.append(plan[:i] + [plan[i + 1], plan[i]] + plan[i + 2 :])
    for i, step in enumerate(parse_plan(plan).steps):
        if step.action.lower() == "place":
            for other in receptacles:  # another kind: "Desk" at desk 2 means that desk, not a wrong one
                if kind_of(other) != kind_of(normalize_entity(step.argument)):
                    copies.append(plan[:i] + [f"Place({display_name(other)})"] + plan[i + 1 :])
    return copies


def not_lower_copies(hprm: HPRM, record: dict, expert_total: float) -> tuple[int, list]:
    """(how many broken copies of the record's plan there are, those of them that do not total less
    than the expert's plan, each with its score)."""
    scene = hprm.scene(record)
    receptacles = [f[1] for f in sorted(scene.statics) if f[0] == "receptacle"]  # ALFRED's domain says so
    receptacles = receptacles or sorted(
        n for n, kind in scene.entities.items() if kind == "receptacle"
    )  # ALFWorld's types
    copies = broken_copies(record["plan"], receptacles)
    scored = [(copy, hprm.score(copy, record)) for copy in copies]
    return len(copies), [(copy, score) for copy, score in scored if score.total >= expert_total]


def expert_figures(path: str = DEFAULT_PATH) -> ExpertFigures:
    """ALFRED's expert plans of `path`, each judged against the scene it implies."""
    domain = load_domain("alfred")
    return judge(domain, (convert(row, domain) for row in read_alfred(path)))


def alfworld_figures(folder: str) -> ExpertFigures:
    """ALFWorld's walkthroughs of the games in `folder`, each judged against its game's scene."""
    from pathlib import Path

    from harp.data.alfworld_import import alfworld_records

    return judge(load_domain("alfworld"), alfworld_records([Path(folder)]))


def judge(domain, records) -> ExpertFigures:
    """Each record's plan scored by H-PRM, and its broken copies against it."""
    hprm = HPRM(domain)
    figures = ExpertFigures()
    for record in records:
        expert = hprm.score(record["plan"], record)
        scene = hprm.scene(record)
        figures.experts += 1
        if expert.error_type is None:
            figures.accepted += 1
        else:
            reasons = [r for r in expert.step_reasons if r] or [e.message for e in expert.format_errors]
            why = reasons[0] if reasons else f"{expert.plan_length} steps where {expert.known_length} suffice"
            shorter = (
                _spelled_as(optimal_plan(scene, domain), record["plan"]) if expert.error_type == "inefficient" else None
            )
            figures.rejected.append((record["id"], expert.error_type, why, shorter))
        count, not_lower = not_lower_copies(hprm, record, expert.total)
        figures.not_lower += [(record["id"], ", ".join(copy), score.error_type) for copy, score in not_lower]
        figures.broken += count
        figures.broken_lower += count - len(not_lower)
        if (record.get("meta") or {}).get("repaired"):
            figures.repaired.append((record["id"], expert.error_type is None, count, count - len(not_lower)))
    return figures


def _spelled_as(plan, reference: list[str]):
    """`plan` with its names written as the reference writes them (`SinkBasin`, not `Sinkbasin`)."""
    if plan is None:
        return None
    spelling = {normalize_entity(s.argument): s.argument for s in parse_plan(reference).steps}
    return [f"{s.action}({spelling.get(normalize_entity(s.argument), s.argument)})" for s in parse_plan(plan).steps]


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--alfworld"]:
        figures = alfworld_figures(args[1] if len(args) > 1 else "tests/data/alfworld")
    else:
        figures = expert_figures(args[0] if args else DEFAULT_PATH)
    for line in figures.lines():
        print(line)
    for trial, kind, why, shorter in figures.rejected:
        print(f"rejected: {trial}: {kind}: {why}" + (f"; shorter: {', '.join(shorter)}" if shorter else ""))
    for trial, *_ in figures.repaired:
        print(f"repaired: {trial}")
    for trial, plan, kind in figures.not_lower[:20]:
        print(f"not lower: {trial}: {kind}: {plan}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
