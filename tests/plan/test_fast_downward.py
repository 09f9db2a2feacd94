"""Fast Downward certifies the optimum where HARP's own search cannot (harp/plan/fast_downward.py): its
answer equals HARP's where HARP's search certifies one, and it makes every ALFWorld walkthrough scored
optimal with an exact optimum."""

import json
from pathlib import Path

import pytest

from harp.data.alfworld_import import import_alfworld
from harp.plan import fast_downward, load_domain, search
from harp.rewards.hprm import HPRM

GAMES = Path(__file__).resolve().parents[1] / "data" / "alfworld"
pytestmark = pytest.mark.skipif(fast_downward.driver() is None, reason="up-fast-downward is not installed")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    out = tmp_path_factory.mktemp("alfworld") / "alfworld.jsonl"
    import_alfworld([GAMES], out)
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_fast_downward_agrees_with_harp_where_harp_s_search_certifies_the_optimum(records):
    domain = load_domain("alfworld")
    compared = 0
    for record in records[:12]:  # look_at and pick_and_place games, most within HARP's budgets
        scene = domain.scene_from_dict(record["scene"])
        graph = search(scene, domain)
        if graph.certified_by is None and graph.exact:
            certified, length = fast_downward.optimal_length(scene, domain.spec)
            assert certified and length == graph.optimal_length == len(record["plan"]), record["id"]
            compared += 1
    assert compared >= 3


def test_where_harp_s_search_passes_its_budget_fast_downward_certifies_the_walkthrough_optimal(records):
    hprm = HPRM("alfworld")
    two = next(r for r in records if r["id"].startswith("pick_two_obj_and_place-Newspaper"))
    graph = search(hprm.scene(two), hprm.domain)
    assert graph.certified_by == "Fast Downward" and graph.optimal_length == len(two["plan"]) == 8
    best = hprm.score(two["plan"], two)
    assert (best.error_type, best.exact, best.optimal_length) == (None, True, 8)  # V along an optimal plan is exact
    longer = hprm.score(two["plan"][:4] + ["Navigate(Dresser 1)"] + two["plan"][4:], two)
    assert longer.error_type == "inefficient" and longer.known_length == 8


def test_no_plan_at_all_is_certified_and_an_unwritable_name_is_left_to_harp():
    domain = load_domain("alfworld")
    scene = domain.scene_from_dict(
        {
            "entities": {"agent 1": "agent", "desk 1": "receptacle", "loc 1": "location"},
            "init": [["atlocation", "agent 1", "loc 1"], ["receptacleatlocation", "desk 1", "loc 1"]],
            "goal": ["exists", ["?o", "-", "thing"], ["inreceptacle", "?o", "desk 1"]],
        }
    )
    assert fast_downward.optimal_length(scene, domain.spec) == (True, None)  # nothing to put there
    assert fast_downward.pddl_task(scene, domain.spec) is not None
