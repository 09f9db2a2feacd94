; The guide's navigate_pick_place domain written in PDDL, to check that the general fact core
; (harp/plan/facts.py) gives the same verdicts as the guide's specialised core (tests/plan/test_fact_core_agrees.py).
(define (domain navigate-pick-place)
  (:requirements :strips :typing)
  (:types location origin - place
          thing)
  (:predicates (robot-at ?p - place) (at ?o - thing ?p - place) (holding ?o - thing) (hand-empty))
  (:action navigate
    :parameters (?to - location ?from - place)
    :precondition (robot-at ?from)
    :effect (and (not (robot-at ?from)) (robot-at ?to)))
  (:action pick
    :parameters (?o - thing ?p - place)
    :precondition (and (hand-empty) (robot-at ?p) (at ?o ?p))
    :effect (and (holding ?o) (not (hand-empty)) (not (at ?o ?p))))
  (:action place
    :parameters (?l - location ?o - thing)
    :precondition (and (holding ?o) (robot-at ?l))
    :effect (and (at ?o ?l) (hand-empty) (not (holding ?o)))))
