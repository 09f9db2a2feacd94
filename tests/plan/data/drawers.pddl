; The guide's drawers domain written in PDDL (tests/plan/test_fact_core_agrees.py).
(define (domain drawers)
  (:requirements :strips :typing :negative-preconditions :disjunctive-preconditions)
  (:types location origin - place
          drawer - location
          thing)
  (:predicates (robot-at ?p - place) (at ?o - thing ?p - place) (holding ?o - thing) (hand-empty)
               (openable ?l - location) (opened ?l - location))
  (:action navigate
    :parameters (?to - location ?from - place)
    :precondition (robot-at ?from)
    :effect (and (not (robot-at ?from)) (robot-at ?to)))
  (:action pick
    :parameters (?o - thing ?p - place)
    :precondition (and (hand-empty) (robot-at ?p) (at ?o ?p) (or (not (openable ?p)) (opened ?p)))
    :effect (and (holding ?o) (not (hand-empty)) (not (at ?o ?p))))
  (:action place
    :parameters (?l - location ?o - thing)
    :precondition (and (holding ?o) (robot-at ?l) (or (not (openable ?l)) (opened ?l)))
    :effect (and (at ?o ?l) (hand-empty) (not (holding ?o))))
  (:action open
    :parameters (?d - drawer)
    :precondition (and (robot-at ?d) (not (opened ?d)))
    :effect (opened ?d))
  (:action close
    :parameters (?d - drawer)
    :precondition (and (robot-at ?d) (opened ?d))
    :effect (not (opened ?d))))
