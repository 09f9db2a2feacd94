"""H-PRM: a table of hand-checked plans, the hierarchy's order, step scores and properties."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harp.config import RewardConfig
from harp.rewards.hprm import COMPONENTS, ERROR_TYPES, HPRM, RewardWeights
from harp.rewards.vocabulary import ALL_ERROR_TYPES, error_level

GUIDE = {
    "task": "Put the apple on the table into the basket",
    "plan": ["Navigate(Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"],
}
# A synthetic record: a distractor cup on the red table, a second receptacle (box).
SCENE = {
    "task": "Put the apple into the basket",
    "plan": GUIDE["plan"],
    "scene": {
        "robot": "start",
        "locations": ["table", "red table", "basket", "box"],
        "objects": {"apple": "table", "cup": "red table"},
        "goal": {"apple": "basket"},
    },
}
TWO = {
    "task": "Put the apple and the cup into the box",
    "plan": [
        "Navigate(Table)",
        "Pick(Apple)",
        "Navigate(Box)",
        "Place(Box)",
        "Navigate(Red Table)",
        "Pick(Cup)",
        "Navigate(Box)",
        "Place(Box)",
    ],
}
DRAWER = {
    "task": "Put the apple in the drawer and close it",
    "plan": [],
    "scene": {
        "locations": ["table"],
        "objects": {"apple": "table"},
        "openable": {"drawer": False},
        "goal": {"apple": "drawer"},
        "goal_open": {"drawer": False},
    },
}

# (example, completion, error_type, components (format, action, transition, task, efficiency), total)
CASES = {
    # the guide's perfect example
    "guide_optimal": (
        GUIDE,
        "Navigate(Table), Pick(Apple), Navigate(Basket), Place(Basket)",
        None,
        (1, 1, 1, 1, 1),
        1.0,
    ),
    # case, spacing, articles and the records' list form change nothing
    "case_space_variant": (
        GUIDE,
        "navigate( the table ),PICK(apple) , Navigate(basket),place(BASKET)",
        None,
        (1, 1, 1, 1, 1),
        1.0,
    ),
    # guide negative 1, format: a missing comma (1 error, 4 steps -> 1 - 2/5), nothing above credited
    "format_missing_comma": (
        GUIDE,
        "Navigate(Table) Pick(Apple), Navigate(Basket), Place(Basket)",
        "format",
        (0.6, -1, -1, -1, -1),
        -0.84,
    ),
    # format: unbalanced parenthesis
    "format_parenthesis": (
        GUIDE,
        "Navigate(Table, Pick(Apple), Navigate(Basket), Place(Basket)",
        "format",
        (0.6, -1, -1, -1, -1),
        -0.84,
    ),
    # guide negative 2, action: an unknown action (3 of 4 steps valid actions -> 0.5)
    "unknown_action": (
        GUIDE,
        "Navigate(Table), Grab(Apple), Navigate(Basket), Place(Basket)",
        "action",
        (1, 0.5, -1, -1, -1),
        -0.425,
    ),
    # action: an entity that is not in the scene
    "unknown_entity": (
        SCENE,
        "Navigate(Table), Pick(Banana), Navigate(Basket), Place(Basket)",
        "hallucination",
        (1, 0.5, -1, -1, -1),
        -0.425,
    ),
    # guide negative 3, state transition: Place before Pick (first violation at step 1 of 3, 2 violations:
    # Pick(Apple) after it is valid, so just 1 violation -> 2*(1/3)/1 - 1)
    "state_transition": (
        GUIDE,
        "Navigate(Table), Place(Basket), Pick(Apple)",
        "state_transition",
        (1, 1, -1 / 3, -1, -1),
        -0.1333,
    ),
    # guide negative 4, inefficient: one redundant step (2*4/5 - 1 = 0.6)
    "inefficient": (
        GUIDE,
        "Navigate(Table), Pick(Apple), Navigate(Table), Navigate(Basket), Place(Basket)",
        "inefficient",
        (1, 1, 1, 1, 0.6),
        0.94,
    ),
    # wrong object: the cup goes into the basket, the apple stays (progress 0 -> task -1)
    "wrong_object": (
        SCENE,
        "Navigate(Red Table), Pick(Cup), Navigate(Basket), Place(Basket)",
        "task",
        (1, 1, 1, -1, -1),
        0.2,
    ),
    # wrong receptacle: the apple goes into the box (V 4 -> 3, progress 1/4 -> task -0.5)
    "wrong_receptacle": (
        SCENE,
        "Navigate(Table), Pick(Apple), Navigate(Box), Place(Box)",
        "task",
        (1, 1, 1, -0.5, -1),
        0.325,
    ),
    # incomplete: stops before placing (V 4 -> 1, progress 3/4 -> task 0.5)
    "incomplete": (GUIDE, "Navigate(Table), Pick(Apple), Navigate(Basket)", "task", (1, 1, 1, 0.5, -1), 0.575),
    # empty and whitespace-only completions are unparseable: the minimum everywhere
    "empty": (GUIDE, "", "format", (-1, -1, -1, -1, -1), -1.0),
    "whitespace": (GUIDE, "  \n\t ", "format", (-1, -1, -1, -1, -1), -1.0),
    "prose": (GUIDE, "I would pick up the apple.", "format", (-1, -1, -1, -1, -1), -1.0),
    # two objects, inferred scene: optimal, and with the second object forgotten (V 8 -> 4: task 0)
    "two_objects": (TWO, ", ".join(TWO["plan"]), None, (1, 1, 1, 1, 1), 1.0),
    "two_objects_half": (TWO, ", ".join(TWO["plan"][:4]), "task", (1, 1, 1, 0, -1), 0.45),
    # the drawers domain: open before placing, close at the end
    "drawer_optimal": (
        DRAWER,
        "Navigate(Table), Pick(Apple), Navigate(Drawer), Open(Drawer), Place(Drawer), Close(Drawer)",
        None,
        (1, 1, 1, 1, 1),
        1.0,
    ),
    # the drawers domain: placing into the closed drawer is a transition error (3 of 4 steps before it)
    "drawer_closed": (
        DRAWER,
        "Navigate(Table), Pick(Apple), Navigate(Drawer), Place(Drawer)",
        "state_transition",
        (1, 1, 0.5, -1, -1),
        0.075,
    ),
}


def scorer(example):
    return HPRM("drawers" if example is DRAWER else "navigate_pick_place")


@pytest.mark.parametrize("name", list(CASES))
def test_hand_checked_cases(name):
    example, completion, error_type, components, total = CASES[name]
    b = scorer(example).score(completion, example)
    assert b.error_type == error_type
    assert [getattr(b, c) for c in COMPONENTS] == pytest.approx(components, abs=1e-4)
    assert b.total == pytest.approx(total, abs=1e-4)
    assert b.completed == (error_type in (None, "inefficient"))


def test_the_hierarchy_orders_plans():
    ladder = [
        "empty",
        "format_missing_comma",
        "unknown_action",
        "state_transition",
        "wrong_object",
        "inefficient",
        "guide_optimal",
    ]
    hprm = HPRM()
    totals = []
    for name in ladder:
        example, completion = CASES[name][:2]
        totals.append(hprm.score(completion, example).total)
    assert totals == sorted(totals) and len(set(totals)) == len(totals)


@pytest.mark.parametrize(
    "weights", [RewardWeights(), RewardWeights(1, 1, 1, 1, 1), RewardWeights(0.5, 0.1, 0.1, 0.1, 0.2)]
)
def test_the_worst_plan_of_a_level_beats_the_best_of_the_level_below(weights):
    hprm = HPRM(weights=weights)
    worst_action = hprm.score("Grab(Apple), Grab(Apple), Grab(Apple)", GUIDE).total
    best_format = hprm.score("Navigate(Table), Pick(Apple), Navigate(Basket), Place(Basket).", GUIDE).total
    worst_transition = hprm.score("Place(Basket), Place(Basket)", GUIDE).total
    best_action = hprm.score("Navigate(Table), Pick(Apple), Navigate(Basket), Place(Basket), Fly(Moon)", GUIDE).total
    assert best_format < worst_action <= best_action and best_action < worst_transition


def test_step_scores_say_which_step_went_wrong():
    b = HPRM().score(
        "Navigate(Table), Navigate(Table), Place(Basket), Pick(Apple), Navigate(Basket), Place(Basket)", GUIDE
    )
    # optimal, wasted (no progress), invalid (empty hand), then optimal again
    assert b.step_scores == [0.0, -1.0, -3.0, 0.0, 0.0, 0.0]
    assert b.step_reasons[2] == "the hand is empty"
    assert [r is None for r in b.step_reasons] == [True, True, False, True, True, True]
    harmful = HPRM().score("Navigate(Table), Pick(Apple), Place(Table)", GUIDE)
    assert harmful.step_scores == [0.0, 0.0, -2.0]  # putting the apple back moves away from the goal


def test_steps_carry_spans_into_the_completion():
    text = "Navigate(Table),  Pick(Apple)"
    b = HPRM().score(text, GUIDE)
    assert [text[slice(*s.span)] for s in b.steps] == ["Navigate(Table)", "Pick(Apple)"]


def test_weights_from_the_config_and_to_dict():
    weights = RewardWeights.from_config(RewardConfig(w_format=0, w_action=0, w_transition=0, w_task=1, w_efficiency=0))
    b = HPRM(weights=weights).score("Navigate(Table), Pick(Apple), Navigate(Basket)", GUIDE)
    assert b.total == pytest.approx(b.task)
    data = b.to_dict()
    assert data["error_type"] == "task" and data["optimal_length"] == 4 and data["plan_length"] == 3
    assert data["steps"][0] == {"step": "Navigate(Table)", "span": [0, 15], "score": 0.0, "valid": True, "reason": None}


def test_negative_weights_are_rejected():
    with pytest.raises(ValueError):
        RewardWeights(w_format=-1)


def test_a_prebuilt_scene_on_the_example_is_used():
    from harp.data.records import Record
    from harp.plan import GuideScene

    example = Record(GUIDE)
    example.resolved_scene = GuideScene.from_dict(SCENE["scene"])  # as harp.data.records.resolve_scene sets it
    assert HPRM().score("Navigate(Red Table), Pick(Cup)", example).error_type == "task"  # cup exists here


_plan_text = st.lists(
    st.tuples(
        st.sampled_from(["Navigate", "Pick", "Place", "Grab", "navigate", ""]),
        st.sampled_from(["Table", "Apple", "Basket", "Red Table", "Cup", "Box", ""]),
    ),
    max_size=10,
).map(lambda steps: ", ".join(f"{a}({b})" for a, b in steps))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), _plan_text), st.sampled_from([GUIDE, SCENE, TWO]))
def test_total_and_components_stay_in_range(completion, example):
    b = HPRM().score(completion, example)
    assert -1.0 <= b.total <= 1.0
    assert all(-1.0 <= getattr(b, c) <= 1.0 for c in COMPONENTS)
    assert len(b.step_scores) == len(b.steps) == len(b.step_reasons) == b.plan_length
    assert all(-3.0 <= s <= 0.0 for s in b.step_scores)
    assert (b.total == 1.0) == (b.error_type is None)


_EXTRA_STEPS = [
    "Navigate(Table)",
    "Navigate(Box)",
    "Place(Box)",
    "Pick(Cup)",
    "Navigate(Red Table)",
    "Grab(Apple)",
    "Pick(Basket)",
    "Place(Basket)",
]


@st.composite
def _variants_of_one_reference(draw):
    """An example and two completions made by editing its reference plan (so all levels occur)."""
    example = draw(st.sampled_from([GUIDE, SCENE, TWO]))
    completions = []
    for _ in range(2):
        steps = list(example["plan"])
        for _ in range(draw(st.integers(0, 3))):
            op = draw(st.sampled_from(["insert", "delete", "swap", "replace"]))
            i = draw(st.integers(0, len(steps)))
            if op == "insert":
                steps.insert(i, draw(st.sampled_from(_EXTRA_STEPS + steps[:1])))
            elif steps and op == "delete":
                steps.pop(min(i, len(steps) - 1))
            elif len(steps) > 1 and op == "swap":
                j = draw(st.integers(0, len(steps) - 1))
                i = min(i, len(steps) - 1)
                steps[i], steps[j] = steps[j], steps[i]
            elif steps:
                steps[min(i, len(steps) - 1)] = draw(st.sampled_from(_EXTRA_STEPS))
        completions.append(draw(st.sampled_from([", ", ",", " , ", ", ", " "])).join(steps))  # " " breaks the format
    return example, completions


_LEVEL = {None: len(ERROR_TYPES), **{kind: error_level(kind) for kind in ALL_ERROR_TYPES}}


@settings(max_examples=300, deadline=None)
@given(_variants_of_one_reference(), st.tuples(*[st.floats(0.01, 1.0)] * 5))
def test_a_plan_failing_at_a_higher_level_always_scores_more(variants, weights):
    example, (first, second) = variants
    hprm = HPRM(weights=RewardWeights(*weights))
    a, b = hprm.score(first, example), hprm.score(second, example)
    if _LEVEL[a.error_type] < _LEVEL[b.error_type]:
        assert a.total < b.total
    elif _LEVEL[a.error_type] > _LEVEL[b.error_type]:
        assert a.total > b.total
