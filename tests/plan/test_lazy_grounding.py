"""Grounding per state (harp/plan/facts.py) finds, by joining preconditions with the facts of a
state, exactly the bindings that enumerating every typed combination of entities would find."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from harp.plan import load_domain
from harp.plan.facts import FactState, grounding

ALFRED = load_domain("alfred")
FURNITURE = ["counter", "counter 2", "fridge", "sink", "microwave"]
ITEMS = ["apple", "apple 2", "knife", "pot", "lamp"]


@st.composite
def scenes_and_states(draw):
    """A small ALFRED scene (a movable pot, a spot beside furniture, openables) and any state of it."""
    furniture = draw(st.lists(st.sampled_from(FURNITURE), min_size=1, max_size=3, unique=True))
    items = draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True))
    places = ["start", "spot"] + furniture
    entities = {"start": "spot", "spot": "spot", **{f: "furniture" for f in furniture}, **{i: "item" for i in items}}
    statics = [["receptacle", f] for f in furniture] + [["pickable", i] for i in items]
    statics += [
        [p, x]
        for p, x in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(
                        ["openable", "heater", "cooler", "washer", "toggleable", "sharp", "sliceable", "receptacle"]
                    ),
                    st.sampled_from(furniture + items),
                ),
                max_size=6,
            )
        )
    ]
    if draw(st.booleans()):
        statics.append(["beside", furniture[0], "spot"])
    holding = draw(st.sampled_from([None] + items))
    facts = [["robot-at", draw(st.sampled_from(places))], ["holding", holding] if holding else ["hand-empty"]]
    for item in items:
        if item != holding:
            facts.append(["in", item, draw(st.sampled_from(places[1:] + items))])
    facts += [
        [p, x]
        for p, x in draw(
            st.lists(
                st.tuples(st.sampled_from(["opened", "on", "sliced", "heated"]), st.sampled_from(furniture + items)),
                max_size=4,
            )
        )
    ]
    scene = ALFRED.scene_from_dict({"entities": entities, "init": statics + facts, "goal": []})
    return scene, scene.initial


@settings(max_examples=60, deadline=None)
@given(scenes_and_states())
def test_joins_find_exactly_the_bindings_of_every_typed_combination(pair):
    scene, state = pair
    ground = grounding(scene, ALFRED.spec)
    view = ground.view(FactState(state))
    for schema in ground.schemas():
        types = dict(schema.parameters)
        params = [p for p, _ in schema.parameters]
        everything = set()
        for values in itertools.product(*(ground.typed(types[p]) for p in params)):
            binding = dict(zip(params, values))
            if all(ground.holds(node, binding, types, view) for node in ground.conjuncts(schema)):
                everything.add(values)
        assert set(ground.bindings(schema, {}, view)) == everything, schema.name
