"""The general fact core runs the guide's domains too: navigate_pick_place and drawers written in
PDDL give the same verdicts as the guide's specialised core, step by step, on random scenes and plans,
and the same views of a scene to the stages (harp/plan/protocols.py, Scene)."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harp.plan import GuideScene, cost_to_go, load_domain, optimal_length, simulate

DATA = Path(__file__).parent / "data"
PAIRS = {
    "navigate_pick_place": (load_domain("navigate_pick_place"), load_domain(DATA / "navigate_pick_place.pddl.yaml")),
    "drawers": (load_domain("drawers"), load_domain(DATA / "drawers.pddl.yaml")),
}
PLACES = ["table", "red table", "basket"]
THINGS = ["apple", "cup", "pear"]


def as_facts(scene: GuideScene, domain):
    entities = {
        "start": "origin",
        **{p: "location" for p in scene.locations},
        **{d: "drawer" for d in scene.openable},
        **{o: "thing" for o in scene.objects},
    }
    init = [["robot-at", scene.robot], ["hand-empty"]] + [["at", o, p] for o, p in scene.objects.items()]
    init += [["openable", d] for d in scene.openable] + [
        ["opened", d] for d, is_open in scene.openable.items() if is_open
    ]
    goal = [["at", o, t] for o, t in scene.goal.items()]
    goal += [["opened", d] if is_open else ["not", "opened", d] for d, is_open in scene.goal_open.items()]
    return domain.scene_from_dict({"entities": entities, "init": init, "goal": goal})


@st.composite
def scenes_and_plans(draw, drawers: bool):
    openable = {"drawer": draw(st.booleans())} if drawers else {}
    places = PLACES + list(openable)
    objects = {
        o: draw(st.sampled_from(places))
        for o in draw(st.lists(st.sampled_from(THINGS), min_size=1, max_size=2, unique=True))
    }
    goal = {
        o: draw(st.sampled_from(places))
        for o in draw(st.lists(st.sampled_from(list(objects)), min_size=1, unique=True))
    }
    goal_open = {"drawer": draw(st.booleans())} if drawers and draw(st.booleans()) else {}
    scene = GuideScene("start", PLACES, objects, goal, openable, goal_open)
    actions = ["Navigate", "Pick", "Place", "Grab"] + (["Open", "Close"] if drawers else [])
    steps = draw(
        st.lists(st.tuples(st.sampled_from(actions), st.sampled_from(places + THINGS + ["start", "moon"])), max_size=8)
    )
    return scene, [f"{a}({b})" for a, b in steps]


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_the_pddl_version_of_a_guide_domain_agrees(name):
    guide, facts = PAIRS[name]

    @settings(max_examples=100, deadline=None)
    @given(scenes_and_plans(name == "drawers"))
    def check(pair):
        scene, plan = pair
        fact_scene = as_facts(scene, facts)
        guide_trace, fact_trace = simulate(plan, scene, guide), simulate(plan, fact_scene, facts)
        assert [(r.valid, r.error, r.wasted) for r in guide_trace.steps] == [
            (r.valid, r.error, r.wasted) for r in fact_trace.steps
        ]
        assert guide_trace.completed == fact_trace.completed
        assert optimal_length(scene, guide) == optimal_length(fact_scene, facts)
        assert [cost_to_go(r.state, scene, guide) for r in guide_trace.steps] == [
            cost_to_go(r.state, fact_scene, facts) for r in fact_trace.steps
        ]
        # what evaluation, negatives and the teacher's check read, through the mapping's `scene` roles
        assert (fact_scene.objects, fact_scene.goal, set(fact_scene.locations)) == (
            scene.objects,
            scene.goal,
            set(scene.locations),
        )
        assert fact_scene.goal_size() == scene.goal_size()
        assert fact_scene.goal_facts_met(fact_trace.final_state) == scene.goal_facts_met(guide_trace.final_state)

    check()
