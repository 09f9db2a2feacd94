"""Worst-case planning time: scenes with 1..50 goal objects among ten tables.

    .venv/bin/python benchmarks/planner_budget.py

For each size: CPU seconds to plan the scene and score its reference plan with H-PRM (fresh
caches), whether the search stayed exact or stopped at STATE_BUDGET states, and the ALFRED
importer's expert plans scored end to end. Not a test: nothing is asserted.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harp.plan import GuideScene, load_domain  # noqa: E402
from harp.plan.planner import STATE_BUDGET, search  # noqa: E402
from harp.rewards.hprm import HPRM  # noqa: E402


def main() -> None:
    domain = load_domain("navigate_pick_place")
    tables = [f"table {i}" for i in range(10)]
    print(f"state budget: {STATE_BUDGET} states per scene")
    for count in (1, 2, 3, 4, 5, 10, 50):
        objects = {f"thing {i}": tables[i % 10] for i in range(count)}
        goal = {obj: tables[(i + 3) % 10] for i, obj in enumerate(objects)}
        scene = {"robot": "start", "locations": tables, "objects": objects, "goal": goal}
        plan = []
        for obj, target in goal.items():
            plan += [f"Navigate({objects[obj]})", f"Pick({obj})", f"Navigate({target})", f"Place({target})"]
        search.cache_clear()
        start = time.process_time()
        breakdown = HPRM(domain).score(plan, {"plan": plan, "scene": scene})
        seconds = time.process_time() - start
        exact = search(GuideScene.from_dict(scene), domain).exact
        print(
            f"{count:3d} goal objects: {seconds:6.3f} s  {'exact' if exact else 'budget hit, estimated'}"
            f"  error_type={breakdown.error_type}"
        )
    start = time.process_time()
    from harp.eval.alfred_check import expert_figures

    figures = expert_figures(str(Path(__file__).resolve().parents[1] / "tests/plan/data/alfred_high_level_plans.jsonl"))
    print(
        f"ALFRED: {figures.experts} experts + {figures.broken} broken copies scored in "
        f"{time.process_time() - start:.1f} s; " + "; ".join(figures.lines())
    )


if __name__ == "__main__":
    main()
