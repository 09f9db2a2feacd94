; ALFRED's high-level actions (Shridhar et al., CVPR 2020) for HARP's plan language.
; The plan word, the written argument of each action and the failure reasons are in alfred.yaml.
; A place is a piece of furniture (a counter, a fridge) or the unnamed spot where an item stands;
; items stand in or on furniture or in movable receptacles (an apple in a pot on a counter).
;
; Two ways to heat, cool and clean, both valid. ALFRED's Heat, Cool and Clean are shorthand (one step,
; the item in the hand, at the microwave, fridge or sink). An AI2-THOR expert uses the simulator's
; physics, as ALFRED's own environment scores it (thor_env.py, update_states): switching on a faucet
; cleans what is in the sink basin it stands beside, switching on a microwave heats what is in it
; (a stove knob: what is in or on the burner it stands beside), closing the fridge cools what is in
; it; and as AI2-THOR has it, what is put onto a lit burner or under a running faucet is heated or
; cleaned too (conditional effects, forall/when, below). Each way is optimal in its own terms: a
; plan that uses none of the shorthand words is judged against the shortest plan without them
; (alfred.yaml, `shorthand`), so the physics steps are not waste; one that uses them against the
; shortest plan of all. Tidying up: a goal inferred from a plan keeps closed (off) what the plan
; opened (switched on) and closed (switched off) again (harp/plan/alfred.py).
(define (domain alfred)
  (:requirements :strips :typing :negative-preconditions :equality :disjunctive-preconditions
                 :existential-preconditions :derived-predicates :conditional-effects)
  (:types place item - entity
          furniture spot - place)
  (:predicates
    (robot-at ?p - place)
    (in ?x - item ?r - entity)
    (holding ?x - item)
    (hand-empty)
    (receptacle ?r - entity)
    (pickable ?x - item)
    (openable ?r - entity)
    (opened ?r - entity)
    (toggleable ?x - entity)
    (on ?x - entity)
    (heater ?p - place)
    (cooler ?p - place)
    (washer ?p - place)
    (sharp ?x - item)
    (sliceable ?x - item)
    (heated ?x - item)
    (cooled ?x - item)
    (cleaned ?x - item)
    (sliced ?x - item)
    (beside ?f - furniture ?p - place)
    (reach ?e - entity ?p - place)
    (near ?e - entity ?p - place)
    (enclosed ?e - entity)
    (running ?a - place))

  ; a place, what is in it, and what is in those
  (:derived (reach ?e - entity ?p - place)
    (or (= ?e ?p) (in ?e ?p) (exists (?m - item) (and (in ?e ?m) (in ?m ?p)))))

  ; what the robot can reach from a place: that, and the same of furniture beside the place (a cup
  ; standing by the sink: the robot that went to the cup puts it into the sink without moving)
  (:derived (near ?e - entity ?p - place)
    (or (reach ?e ?p) (exists (?f - furniture) (and (beside ?f ?p) (reach ?e ?f)))))

  ; shut inside a closed container, directly or in what stands in it (an apple in a pot in the
  ; closed fridge): out of reach of the hand until that is opened
  (:derived (enclosed ?e - entity)
    (exists (?c - entity)
      (and (openable ?c) (not (opened ?c))
           (or (in ?e ?c) (exists (?m - item) (and (in ?e ?m) (in ?m ?c)))))))

  ; an appliance runs while it, or the switch that stands beside it (the sink basin's faucet, the
  ; burner's knob), is on, and it is closed
  (:derived (running ?a - place)
    (and (not (opened ?a)) (or (on ?a) (exists (?s - furniture) (and (beside ?s ?a) (on ?s))))))

  (:action navigate
    :parameters (?to - furniture ?from - place)
    :precondition (robot-at ?from)
    :effect (and (not (robot-at ?from)) (robot-at ?to)))

  ; to the place the item is in, not to a spot beside it
  (:action navigate-to-item
    :parameters (?x - item ?to - place ?from - place)
    :precondition (and (robot-at ?from) (reach ?x ?to))
    :effect (and (not (robot-at ?from)) (robot-at ?to)))

  (:action pick
    :parameters (?x - item ?p - place ?r - entity)
    :precondition (and (hand-empty) (robot-at ?p) (pickable ?x) (in ?x ?r) (near ?x ?p)
                       (or (not (openable ?r)) (opened ?r)) (not (enclosed ?x)))
    :effect (and (holding ?x) (not (hand-empty)) (not (in ?x ?r))))

  ; what is put into a running heater or washer (a pan onto the lit burner) is heated or cleaned
  (:action place
    :parameters (?r - entity ?x - item ?p - place)
    :precondition (and (holding ?x) (robot-at ?p) (receptacle ?r) (not (= ?r ?x)) (near ?r ?p)
                       (or (not (openable ?r)) (opened ?r)) (not (enclosed ?r)))
    :effect (and (in ?x ?r) (hand-empty) (not (holding ?x))
                 (forall (?i - item)
                   (and (when (and (reach ?i ?x) (exists (?a - place) (and (heater ?a) (running ?a) (reach ?r ?a))))
                              (heated ?i))
                        (when (and (reach ?i ?x) (exists (?a - place) (and (washer ?a) (running ?a) (reach ?r ?a))))
                              (cleaned ?i))))))

  (:action open
    :parameters (?r - entity ?p - place)
    :precondition (and (robot-at ?p) (openable ?r) (near ?r ?p) (not (opened ?r)) (not (enclosed ?r)))
    :effect (opened ?r))

  ; closing the fridge cools what is in it
  (:action close
    :parameters (?r - entity ?p - place)
    :precondition (and (robot-at ?p) (openable ?r) (near ?r ?p) (opened ?r) (not (enclosed ?r)))
    :effect (and (not (opened ?r))
                 (forall (?i - item) (when (and (cooler ?r) (reach ?i ?r)) (cooled ?i)))))

  ; an appliance that opens runs closed (the microwave); switching on an appliance, or the switch that
  ; stands beside it (the sink basin's faucet, the burner's knob), heats or cleans what is in it
  (:action toggle-on
    :parameters (?x - entity ?p - place)
    :precondition (and (robot-at ?p) (toggleable ?x) (near ?x ?p) (not (on ?x))
                       (or (not (openable ?x)) (not (opened ?x))))
    :effect (and (on ?x)
                 (forall (?i - item)
                   (and (when (exists (?a - place) (and (heater ?a) (or (= ?a ?x) (beside ?x ?a)) (reach ?i ?a)))
                              (heated ?i))
                        (when (exists (?a - place) (and (washer ?a) (or (= ?a ?x) (beside ?x ?a)) (reach ?i ?a)))
                              (cleaned ?i))))))

  (:action toggle-off
    :parameters (?x - entity ?p - place)
    :precondition (and (robot-at ?p) (toggleable ?x) (near ?x ?p) (on ?x))
    :effect (not (on ?x)))

  (:action heat
    :parameters (?x - item ?p - place)
    :precondition (and (holding ?x) (robot-at ?p) (heater ?p))
    :effect (heated ?x))

  (:action cool
    :parameters (?x - item ?p - place)
    :precondition (and (holding ?x) (robot-at ?p) (cooler ?p))
    :effect (cooled ?x))

  (:action clean
    :parameters (?x - item ?p - place)
    :precondition (and (holding ?x) (robot-at ?p) (washer ?p))
    :effect (cleaned ?x))

  ; slicing makes fresh slices (ALFRED): heat, cool or clean them afterwards
  (:action slice
    :parameters (?x - item ?k - item ?p - place)
    :precondition (and (holding ?k) (sharp ?k) (robot-at ?p) (sliceable ?x) (near ?x ?p) (not (sliced ?x))
                       (not (enclosed ?x)))
    :effect (and (sliced ?x) (not (heated ?x)) (not (cooled ?x)) (not (cleaned ?x))))
)
