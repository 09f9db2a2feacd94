"""H-PRM's properties on the fact core (the alfred domain): range and the hierarchy's order."""

from hypothesis import given, settings
from hypothesis import strategies as st

from harp.rewards.hprm import COMPONENTS, ERROR_TYPES, HPRM, RewardWeights
from harp.rewards.vocabulary import ALL_ERROR_TYPES, error_level

HEAT = {
    "task": "Put a heated slice of apple on the counter",
    "plan": [
        "Navigate(CounterTop)",
        "Pick(Knife)",
        "Navigate(Apple)",
        "Slice(Apple)",
        "Navigate(SinkBasin)",
        "Place(SinkBasin)",
        "Navigate(CounterTop 2)",
        "Pick(Apple)",
        "Navigate(Microwave)",
        "Heat(Apple)",
        "Navigate(CounterTop)",
        "Place(CounterTop)",
    ],
}
MOVABLE = {
    "task": "Put the pen in a mug on the desk",
    "plan": [
        "Navigate(Desk)",
        "Pick(Pen)",
        "Navigate(Mug)",
        "Place(Mug)",
        "Pick(Mug)",
        "Navigate(Desk 2)",
        "Place(Desk 2)",
    ],
}
LOOK = {
    "task": "Look at the bowl under the lamp",
    "plan": ["Navigate(Desk)", "Pick(Bowl)", "Navigate(DeskLamp)", "Toggle(DeskLamp)"],
}
EXAMPLES = [HEAT, MOVABLE, LOOK]
EXTRA = [
    "Navigate(Fridge)",
    "Cool(Apple)",
    "Clean(Pen)",
    "Toggle(DeskLamp)",
    "Open(Fridge)",
    "Slice(Bowl)",
    "Place(Microwave)",
    "Pick(Knife)",
    "Grab(Apple)",
    "Pick(Desk)",
    "Heat(Mug)",
    "Navigate(Moon)",
]
_LEVEL = {None: len(ERROR_TYPES), **{kind: error_level(kind) for kind in ALL_ERROR_TYPES}}
ALFRED = HPRM("alfred")


@st.composite
def variants(draw):
    """An example and two completions made by editing its reference plan (so all levels occur)."""
    example = draw(st.sampled_from(EXAMPLES))
    completions = []
    for _ in range(2):
        steps = list(example["plan"])
        for _ in range(draw(st.integers(0, 3))):
            op = draw(st.sampled_from(["insert", "delete", "swap", "replace"]))
            i = min(draw(st.integers(0, len(steps))), max(len(steps) - 1, 0))
            if op == "insert":
                steps.insert(i, draw(st.sampled_from(EXTRA + steps)))
            elif steps and op == "delete":
                steps.pop(i)
            elif len(steps) > 1 and op == "swap":
                j = draw(st.integers(0, len(steps) - 1))
                steps[i], steps[j] = steps[j], steps[i]
            elif steps:
                steps[i] = draw(st.sampled_from(EXTRA))
        completions.append(draw(st.sampled_from([", ", ",", " , ", " "])).join(steps))  # " " breaks the format
    return example, completions


@settings(max_examples=150, deadline=None)
@given(variants(), st.tuples(*[st.floats(0.01, 1.0)] * 5))
def test_a_plan_failing_at_a_higher_level_always_scores_more(pair, weights):
    example, (first, second) = pair
    hprm = HPRM("alfred", RewardWeights(*weights))
    a, b = hprm.score(first, example), hprm.score(second, example)
    for breakdown in (a, b):
        assert -1.0 <= breakdown.total <= 1.0 and all(-1.0 <= getattr(breakdown, c) <= 1.0 for c in COMPONENTS)
        assert all(-3.0 <= s <= 0.0 for s in breakdown.step_scores)
        assert (breakdown.total == 1.0) == (breakdown.error_type is None)
    if _LEVEL[a.error_type] < _LEVEL[b.error_type]:
        assert a.total < b.total
    elif _LEVEL[a.error_type] > _LEVEL[b.error_type]:
        assert a.total > b.total


def test_the_references_are_optimal_and_steps_count_down():
    for example in EXAMPLES:
        breakdown = ALFRED.score(example["plan"], example)
        assert breakdown.error_type is None and breakdown.step_scores == [0.0] * len(example["plan"])
