; ALFRED's high-level actions (Shridhar et al., CVPR 2020) for HARP's plan language.
; The plan word, the written argument of each action and the failure reasons are in alfred.yaml.
; A place is a piece of furniture (a counter, a fridge) or the unnamed spot where an item stands;
; items stand in or on furniture or in movable receptacles (an apple in a pot on a counter).
(define (domain alfred)
  (:requirements :strips :typing :negative-preconditions :equality :disjunctive-preconditions
                 :existential-preconditions :derived-predicates)
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
    (near ?e - entity ?p - place))

  ; a place, what is in it, and what is in those
  (:derived (reach ?e - entity ?p - place)
    (or (= ?e ?p) (in ?e ?p) (exists (?m - item) (and (in ?e ?m) (in ?m ?p)))))

  ; what the robot can reach from a place: that, and the same of furniture beside the place (a cup
  ; standing by the sink: the robot that went to the cup puts it into the sink without moving)
  (:derived (near ?e - entity ?p - place)
    (or (reach ?e ?p) (exists (?f - furniture) (and (beside ?f ?p) (reach ?e ?f)))))

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
                       (or (not (openable ?r)) (opened ?r)))
    :effect (and (holding ?x) (not (hand-empty)) (not (in ?x ?r))))

  (:action place
    :parameters (?r - entity ?x - item ?p - place)
    :precondition (and (holding ?x) (robot-at ?p) (receptacle ?r) (not (= ?r ?x)) (near ?r ?p)
                       (or (not (openable ?r)) (opened ?r)))
    :effect (and (in ?x ?r) (hand-empty) (not (holding ?x))))

  (:action open
    :parameters (?r - entity ?p - place)
    :precondition (and (robot-at ?p) (openable ?r) (near ?r ?p) (not (opened ?r)))
    :effect (opened ?r))

  (:action close
    :parameters (?r - entity ?p - place)
    :precondition (and (robot-at ?p) (openable ?r) (near ?r ?p) (opened ?r))
    :effect (not (opened ?r)))

  (:action toggle-on
    :parameters (?x - entity ?p - place)
    :precondition (and (robot-at ?p) (toggleable ?x) (near ?x ?p) (not (on ?x)))
    :effect (on ?x))

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
    :precondition (and (holding ?k) (sharp ?k) (robot-at ?p) (sliceable ?x) (near ?x ?p) (not (sliced ?x)))
    :effect (and (sliced ?x) (not (heated ?x)) (not (cooled ?x)) (not (cleaned ?x))))
)
