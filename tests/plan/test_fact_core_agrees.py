"""The general fact core runs the guide's domain too: navigate_pick_place written in PDDL gives the
same verdicts as the guide's specialised core, step by step, on random scenes and plans."""

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harp.plan import Domain, Scene, cost_to_go, optimal_length, simulate

GUIDE = Domain.load("navigate_pick_place")
FACTS = Domain.load(Path(__file__).parent / "data" / "navigate_pick_place.pddl.yaml")
PLACES = ["table", "red table", "basket", "box"]
THINGS = ["apple", "cup", "pear"]


def as_facts(scene: Scene):
    entities = {"start": "origin", **{p: "location" for p in scene.locations}, **{o: "thing" for o in scene.objects}}
    init = [["robot-at", scene.robot], ["hand-empty"]] + [["at", o, p] for o, p in scene.objects.items()]
    goal = [["at", o, t] for o, t in scene.goal.items()]
    return FACTS.scene_from_dict({"entities": entities, "init": init, "goal": goal})


@st.composite
def scenes_and_plans(draw):
    objects = {o: draw(st.sampled_from(PLACES)) for o in draw(st.lists(st.sampled_from(THINGS), min_size=1,
                                                                         max_size=2, unique=True))}
    goal = {o: draw(st.sampled_from(PLACES)) for o in draw(st.lists(st.sampled_from(list(objects)), min_size=1,
                                                                      unique=True))}
    scene = Scene.from_dict({"robot": "start", "locations": PLACES, "objects": objects, "goal": goal})
    steps = draw(st.lists(st.tuples(st.sampled_from(["Navigate", "Pick", "Place", "Grab"]),
                                    st.sampled_from(PLACES + THINGS + ["start", "moon"])), max_size=8))
    return scene, [f"{a}({b})" for a, b in steps]


@settings(max_examples=150, deadline=None)
@given(scenes_and_plans())
def test_the_pddl_version_of_the_guide_domain_agrees(pair):
    scene, plan = pair
    facts = as_facts(scene)
    guide_trace, fact_trace = simulate(plan, scene, GUIDE), simulate(plan, facts, FACTS)
    assert [(r.valid, r.error, r.wasted) for r in guide_trace.steps] == \
        [(r.valid, r.error, r.wasted) for r in fact_trace.steps]
    assert guide_trace.completed == fact_trace.completed
    assert optimal_length(scene, GUIDE) == optimal_length(facts, FACTS)
    assert [cost_to_go(r.state, scene, GUIDE) for r in guide_trace.steps] == \
        [cost_to_go(r.state, facts, FACTS) for r in fact_trace.steps]
