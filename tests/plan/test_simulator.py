"""The simulator: per-step validity with reasons, the state after each step, wasted steps."""

from harp.plan import simulate


def test_guide_example_completes(npp, two_tables):
    trace = simulate("Navigate(White Table), Pick(Apple), Navigate(Basket), Place(Basket)", two_tables, npp)
    assert trace.completed and trace.first_invalid is None
    assert [r.valid for r in trace.steps] == [True] * 4
    assert trace.steps[1].state.holding == "apple"
    assert trace.final_state.location_of("apple") == "basket"


def test_place_before_pick_is_a_transition_error_with_a_reason(npp, two_tables):
    # The guide's state-transition negative: Navigate(Table), Place(Basket), Pick(Apple).
    trace = simulate(["Navigate(White Table)", "Place(Basket)", "Pick(Apple)"], two_tables, npp)
    assert [r.valid for r in trace.steps] == [True, False, True]
    assert trace.steps[1].error == "transition" and trace.steps[1].reason == "the hand is empty"
    assert trace.first_invalid == 1 and not trace.completed
    assert trace.steps[1].state == trace.steps[0].state  # an invalid step changes nothing


def test_action_errors(npp, two_tables):
    trace = simulate("Grab(Apple), Pick(Basket), Navigate(Moon), Navigate(Apple)", two_tables, npp)
    assert [r.error for r in trace.steps] == ["action"] * 4
    assert "unknown action 'Grab'" in trace.steps[0].reason
    assert trace.steps[1].reason == "Pick needs an object, but basket is a location"
    assert trace.steps[2].reason == "moon is not a location in the scene"
    assert trace.steps[3].reason == "Navigate needs a location, but apple is an object"


def test_pick_where_the_object_is_not(npp, two_tables):
    trace = simulate("Navigate(Red Table), Pick(Apple)", two_tables, npp)
    assert trace.steps[1].reason == "apple is at white table, but the robot is at red table"


def test_pick_with_full_hand(npp, two_tables):
    trace = simulate("Navigate(Red Table), Pick(Cup), Navigate(White Table), Pick(Apple)", two_tables, npp)
    assert trace.steps[3].reason == "the hand already holds cup"


def test_navigate_to_where_the_robot_is_is_legal_but_wasted(npp, two_tables):
    trace = simulate("Navigate(Basket), Navigate(Basket)", two_tables, npp)
    assert [(r.valid, r.wasted) for r in trace.steps] == [(True, False), (True, True)]


def test_drawer_must_be_open(drawers, drawer_scene):
    closed = simulate("Navigate(Drawer), Pick(Spoon)", drawer_scene, drawers)
    assert closed.steps[1].reason == "drawer is closed"
    ok = simulate(
        "Navigate(Drawer), Open(Drawer), Pick(Spoon), Close(Drawer), Navigate(Table), Place(Table)",
        drawer_scene,
        drawers,
    )
    assert ok.completed
    left_open = simulate(
        "Navigate(Drawer), Open(Drawer), Pick(Spoon), Navigate(Table), Place(Table)", drawer_scene, drawers
    )
    assert left_open.first_invalid is None and not left_open.completed  # goal says: drawer closed
    twice = simulate("Navigate(Drawer), Open(Drawer), Open(Drawer)", drawer_scene, drawers)
    assert twice.steps[2].reason == "drawer is already open"


def test_open_is_not_an_action_of_the_default_domain(npp, drawer_scene):
    trace = simulate("Navigate(Drawer), Open(Drawer)", drawer_scene, npp)
    assert trace.steps[1].error == "action"
