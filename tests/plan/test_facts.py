"""The general fact core on hand cases: each new action, nested and movable receptacles, two
instances of a kind, search and pick-up goals, user PDDL files and malformed ones."""

import pytest

from harp.errors import ConfigError, DataError
from harp.plan import load_domain, optimal_length, optimal_plan, simulate
from harp.rewards.hprm import HPRM


@pytest.fixture(scope="module")
def alfred():
    return load_domain("alfred")


def kitchen(alfred, goal, extra=()):
    """Robot at start; an apple and a knife on the counter, a pot on counter 2, a lamp, a fridge,
    a microwave and a sink."""
    return alfred.scene_from_dict(
        {
            "entities": {
                "start": "spot",
                "counter": "furniture",
                "counter 2": "furniture",
                "fridge": "furniture",
                "microwave": "furniture",
                "sink": "furniture",
                "desk": "furniture",
                "apple": "item",
                "knife": "item",
                "pot": "item",
                "lamp": "item",
            },
            "init": [
                ["robot-at", "start"],
                ["hand-empty"],
                ["in", "apple", "counter"],
                ["in", "knife", "counter"],
                ["in", "pot", "counter 2"],
                ["in", "lamp", "desk"],
                ["pickable", "apple"],
                ["pickable", "knife"],
                ["pickable", "pot"],
                ["receptacle", "counter"],
                ["receptacle", "counter 2"],
                ["receptacle", "pot"],
                ["receptacle", "fridge"],
                ["sharp", "knife"],
                ["sliceable", "apple"],
                ["toggleable", "lamp"],
                ["heater", "microwave"],
                ["cooler", "fridge"],
                ["washer", "sink"],
                ["openable", "fridge"],
                *extra,
            ],
            "goal": goal,
        }
    )


def reasons(plan, scene, domain):
    return [r.reason for r in simulate(plan, scene, domain).steps]


def test_toggle_heat_cool_clean_slice(alfred):
    scene = kitchen(alfred, [["on", "lamp"]])
    assert reasons("Navigate(Desk), Toggle(Lamp), Toggle(Lamp)", scene, alfred) == [None, None, None]
    assert simulate("Navigate(Desk), Toggle(Lamp)", scene, alfred).completed
    assert reasons("Navigate(Counter), Toggle(Lamp)", scene, alfred)[1] == "lamp is not where the robot is (counter)"
    scene = kitchen(alfred, [["heated", "apple"], ["sliced", "apple"]])
    plan = "Navigate(Counter), Pick(Knife), Slice(Apple), Place(Counter), Pick(Apple), Navigate(Microwave), Heat(Apple)"
    assert simulate(plan, scene, alfred).completed
    assert optimal_length(scene, alfred) == 7
    # slicing makes fresh slices: heating first does not give heated slices
    wrong = (
        "Navigate(Counter), Pick(Apple), Navigate(Microwave), Heat(Apple), Navigate(Counter), Place(Counter), "
        "Pick(Knife), Slice(Apple)"
    )
    trace = simulate(wrong, scene, alfred)
    assert trace.first_invalid is None and not trace.completed
    assert (
        reasons("Navigate(Counter), Pick(Apple), Heat(Apple)", scene, alfred)[2]
        == "the robot is at counter, not at a microwave"
    )
    assert reasons("Navigate(Counter), Slice(Apple)", scene, alfred)[1] == "the hand is empty"
    assert (
        reasons("Navigate(Counter), Pick(Apple), Slice(Apple)", scene, alfred)[2] == "apple cannot slice (hold a knife)"
    )
    assert (
        reasons("Navigate(Counter), Pick(Apple), Heat(Knife)", scene, alfred)[2]
        == "knife is not in the hand (it holds apple)"
    )
    for action, place, fact in (("Cool", "Fridge", "cooled"), ("Clean", "Sink", "cleaned")):
        scene = kitchen(alfred, [[fact, "apple"]])
        assert simulate(f"Navigate(Counter), Pick(Apple), Navigate({place}), {action}(Apple)", scene, alfred).completed
        assert optimal_length(scene, alfred) == 4


def test_open_and_close_a_closed_container(alfred):
    scene = kitchen(alfred, [["in", "apple", "fridge"], ["not", "opened", "fridge"]])
    plan = "Navigate(Counter), Pick(Apple), Navigate(Fridge), Open(Fridge), Place(Fridge), Close(Fridge)"
    assert simulate(plan, scene, alfred).completed and optimal_length(scene, alfred) == 6
    assert (
        reasons("Navigate(Counter), Pick(Apple), Navigate(Fridge), Place(Fridge)", scene, alfred)[3]
        == "fridge is closed"
    )
    assert reasons("Navigate(Fridge), Close(Fridge)", scene, alfred)[1] == "fridge is closed"


def test_nested_and_movable_receptacles(alfred):
    # The pot stands on counter 2: place into it from there; carry it with the apple inside.
    scene = kitchen(alfred, [["in", "apple", "pot"], ["in", "pot", "fridge"]], [["opened", "fridge"]])
    plan = "Navigate(Counter), Pick(Apple), Navigate(Counter 2), Place(Pot), Pick(Pot), Navigate(Fridge), Place(Fridge)"
    assert simulate(plan, scene, alfred).completed
    assert optimal_length(scene, alfred) == 7
    assert (
        reasons("Navigate(Counter), Pick(Apple), Place(Pot)", scene, alfred)[2]
        == "pot is not where the robot is (counter)"
    )
    # Navigate(Pot) goes to where the pot stands; an object in the pot is within reach there.
    assert (
        reasons("Navigate(Counter), Pick(Apple), Navigate(Pot), Place(Pot), Pick(Apple)", scene, alfred) == [None] * 5
    )


def test_what_stands_in_a_pot_in_the_closed_fridge_is_out_of_reach_until_the_fridge_opens(alfred):
    scene = alfred.scene_from_dict(
        {
            "entities": {
                "start": "spot",
                "fridge": "furniture",
                "counter": "furniture",
                **{name: "item" for name in ("pot", "apple", "knife")},
            },
            "init": [
                ["robot-at", "start"],
                ["hand-empty"],
                ["in", "pot", "fridge"],
                ["in", "apple", "pot"],
                ["in", "knife", "counter"],
                *[["pickable", name] for name in ("pot", "apple", "knife")],
                *[["receptacle", name] for name in ("pot", "fridge", "counter")],
                ["openable", "fridge"],
                ["sharp", "knife"],
                ["sliceable", "apple"],
            ],
            "goal": [["in", "apple", "counter"]],
        }
    )
    shut = "apple is shut inside a closed container"
    assert reasons("Navigate(Fridge), Pick(Apple)", scene, alfred)[1] == shut
    assert reasons("Navigate(Fridge), Pick(Pot)", scene, alfred)[1] == "fridge is closed"
    assert reasons("Navigate(Counter), Pick(Knife), Navigate(Fridge), Slice(Apple)", scene, alfred)[3] == shut
    assert (
        reasons("Navigate(Counter), Pick(Knife), Navigate(Fridge), Place(Pot)", scene, alfred)[3]
        == "pot is shut inside a closed container"
    )
    plan = "Navigate(Fridge), Open(Fridge), Pick(Apple), Navigate(Counter), Place(Counter)"
    assert simulate(plan, scene, alfred).completed
    assert optimal_length(scene, alfred) == 5


def test_two_instances_of_a_kind(alfred):
    scene = alfred.scene_from_dict(
        {
            "entities": {"start": "spot", "bed": "furniture", "desk": "furniture", "book": "item", "book 2": "item"},
            "init": [
                ["robot-at", "start"],
                ["hand-empty"],
                ["in", "book", "desk"],
                ["in", "book 2", "bed"],
                ["pickable", "book"],
                ["pickable", "book 2"],
                ["receptacle", "desk"],
                ["receptacle", "bed"],
            ],
            "goal": [["in", "book", "bed"], ["in", "book 2", "desk"]],
        }
    )
    # "Book" is the first book within reach; "Book 2" names the second.
    trace = simulate("Navigate(Bed), Pick(Book)", scene, alfred)
    assert trace.steps[1].argument == "book 2"
    assert reasons("Navigate(Bed), Pick(Book 2), Navigate(Desk), Place(Desk), Pick(Book)", scene, alfred) == [None] * 5
    assert reasons("Navigate(Bed), Pick(Book 1)", scene, alfred)[1] == "book 1 is not an entity in the scene"
    assert optimal_length(scene, alfred) == 7  # fetch book 2 first, then carry book back to the bed


def test_inferred_goals_for_search_pick_up_and_toggle_tasks(alfred):
    search = alfred.infer_scene("Navigate(CounterTop)")
    assert search.goal_true == (("robot-at", "countertop"),)
    pick_up = alfred.infer_scene("Navigate(Sink), Pick(Sponge)")
    assert pick_up.goal_true == (("holding", "sponge"),)
    look = alfred.infer_scene("Navigate(Desk), Pick(Book), Navigate(DeskLamp), Toggle(DeskLamp)")
    assert look.goal_true == (("holding", "book"), ("on", "desklamp"))
    hprm = HPRM(alfred)
    for plan in ("Navigate(CounterTop)", "Navigate(Sink), Pick(Sponge)"):
        assert hprm.score(plan, {"plan": plan}).error_type is None
    assert hprm.score("Navigate(Sink)", {"plan": "Navigate(Sink), Pick(Sponge)"}).error_type == "task"
    # put back where it came from after cleaning: the restored placement is part of the goal
    clean = alfred.infer_scene(
        "Navigate(Cabinet), Pick(Cloth), Navigate(SinkBasin), Clean(Cloth), Navigate(Cabinet), Place(Cabinet)"
    )
    assert ("in", "cloth", "cabinet") in clean.goal_true and optimal_length(clean, alfred) == 6


def test_optimal_plan_is_deterministic_and_valid(alfred):
    scene = kitchen(alfred, [["in", "apple", "pot"], ["sliced", "apple"]])
    plan = optimal_plan(scene, alfred)
    assert plan == optimal_plan(scene, alfred) and simulate(plan, scene, alfred).completed


def test_a_user_pddl_file_by_path(tmp_path):
    path = tmp_path / "lights.pddl"
    path.write_text("""(define (domain lights)
  (:requirements :strips :typing :negative-preconditions)
  (:types lamp)
  (:predicates (lit ?l - lamp))
  (:action switch-on :parameters (?l - lamp) :precondition (not (lit ?l)) :effect (lit ?l))
  (:action switch-off :parameters (?l - lamp) :precondition (lit ?l) :effect (not (lit ?l))))""")
    domain = load_domain(path)
    assert domain.action_names == ["Switch_on", "Switch_off"]
    scene = domain.scene_from_dict(
        {"entities": {"a": "lamp", "b": "lamp"}, "init": [["lit", "b"]], "goal": [["lit", "a"], ["not", "lit", "b"]]}
    )
    assert optimal_plan(scene, domain) == ["Switch_on(A)", "Switch_off(B)"]
    assert simulate("Switch_on(B)", scene, domain).steps[0].reason == "(lit b) holds"
    hprm = HPRM(str(path))
    assert hprm.score("Switch_off(B), Switch_on(A)", {"plan": [], "scene": scene.to_dict()}).error_type is None
    with pytest.raises(DataError, match="cannot infer a scene from a plan"):
        hprm.score("Switch_on(A)", {"plan": ["Switch_on(A)"]})


def test_a_malformed_pddl_file_is_one_line_naming_file_and_line(tmp_path):
    path = tmp_path / "broken.pddl"
    path.write_text("(define (domain broken)\n  (:predicates (on ?x)\n  (:action go :parameters () :effect (on)))\n")
    with pytest.raises(ConfigError) as error:
        load_domain(path)
    message = str(error.value)
    assert message.startswith(f"{path}: line 3") and "\n" not in message


def test_a_malformed_fact_scene_names_the_key(alfred):
    with pytest.raises(DataError, match=r"scene.init\[0\]: unknown predicate 'flying'"):
        alfred.scene_from_dict({"entities": {"a": "item"}, "init": [["flying", "a"]], "goal": []})
    with pytest.raises(DataError, match="'b' is not in the scene's entities"):
        alfred.scene_from_dict({"entities": {"a": "item"}, "init": [["holding", "b"]], "goal": []})
