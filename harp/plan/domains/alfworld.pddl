; HARP's reading of ALFWorld's PDDL domain (tests/data/alfworld/domain.pddl, as every game.tw-pddl holds it;
; ALFWorld, https://github.com/alfworld/alfworld, MIT License, Copyright (c) 2020 Mohit Shridhar et al.:
; tests/data/alfworld/LICENSE), for `load_domain("alfworld")`: the same actions with these text fixes,
; none changing what a step may do or does in a problem of the ALFWorld games, as ALFWorld's engine
; judges it (tests/data/alfworld/README.md):
; 1. lower-cased (PDDL is case-insensitive, Fast Downward reads it lower-cased, HARP's fact core
;    lower-cases the predicates of a scene);
; 2. the stray comma in examineObject's (exists (?l - location, ?r - receptacle) ...) removed;
; 3. the type `object` renamed `thing`: the pddl package (0.5.1) refuses `object` declared as a type;
; 4. the type constants the actions name (sinktype, ..., butterknifetype) declared as constants:
;    the games declare them in each problem, which the pddl package does not accept;
; 5. :action-costs, (:functions ...) and every (increase (total-cost) N) removed: HARP counts steps,
;    and the walkthroughs are optimal in steps;
; 6. ToggleObject's conditional effect (on <-> off) split into toggleobjecton and toggleobjectoff,
;    with the same precondition plus (not (ison ?o)) or (ison ?o): HARP reads add and delete lists;
; 7. gotolocation requires (not (= ?lstart ?lend)): Fast Downward, which ALFWorld's engine runs, drops
;    an action whose effects its precondition already holds, so going where the robot stands is
;    rejected ("Nothing happens."); without this HARP would accept it.
(define (domain alfred)
 (:requirements
    :adl
        :typing
 )
 (:types
  agent
  location
  receptacle
  thing
  rtype
  otype
  )


 (:constants sinktype sinkbasintype microwavetype fridgetype - rtype knifetype butterknifetype - otype)
 (:predicates
    (atlocation ?a - agent ?l - location)                     ; true if the agent is at the location
    (receptacleatlocation ?r - receptacle ?l - location)      ; true if the receptacle is at the location (constant)
    (objectatlocation ?o - thing ?l - location)              ; true if the object is at the location
    (openable ?r - receptacle)                                ; true if a receptacle is openable
    (opened ?r - receptacle)                                  ; true if a receptacle is opened
    (inreceptacle ?o - thing ?r - receptacle)                ; object ?o is in receptacle ?r
    (isreceptacleobject ?o - thing)                          ; true if the object can have things put inside it
    (inreceptacleobject ?innerobject - thing ?outerobject - thing)                ; object ?innerobject is inside object ?outerobject
    (isreceptacleobjectfull ?o - thing)                      ; true if the receptacle object contains something
    (wasinreceptacle ?o - thing ?r - receptacle)             ; object ?o was or is in receptacle ?r now or some time in the past
    (checked ?r - receptacle)                                 ; whether the receptacle has been looked inside/visited
    (examined ?l - location)                                  ; todo
    (receptacletype ?r - receptacle ?t - rtype)               ; the type of receptacle (cabinet vs cabinet|01|2...)
    (cancontain ?rt - rtype ?ot - otype)                      ; true if receptacle can hold object
    (objecttype ?o - thing ?t - otype)                       ; the type of object (apple vs apple|01|2...)
    (holds ?a - agent ?o - thing)                            ; object ?o is held by agent ?a
    (holdsany ?a - agent)                                     ; agent ?a holds an object
    (holdsanyreceptacleobject ?a - agent)                        ; agent ?a holds a receptacle object
    (full ?r - receptacle)                                    ; true if the receptacle has no remaining space
    (isclean ?o - thing)                                     ; true if the object has been clean in sink
    (cleanable ?o - thing)                                   ; true if the object can be placed in a sink
    (ishot ?o - thing)                                       ; true if the object has been heated up
    (heatable ?o - thing)                                    ; true if the object can be heated up in a microwave
    (iscool ?o - thing)                                      ; true if the object has been cooled
    (coolable ?o - thing)                                    ; true if the object can be cooled in the fridge
    (pickupable ?o - thing)                                   ; true if the object can be picked up
    (moveable ?o - thing)                                      ; true if the object can be moved
    (toggleable ?o - thing)                                  ; true if the object can be turned on/off
    (ison ?o - thing)                                        ; true if the object is on
    (istoggled ?o - thing)                                   ; true if the object has been toggled
    (sliceable ?o - thing)                                   ; true if the object can be sliced
    (issliced ?o - thing)                                    ; true if the object is sliced
 )


;; all actions are specified such that the final arguments are the ones used
;; for performing actions in unity.


(:action look
    :parameters (?a - agent ?l - location)
    :precondition
        (and
            (atlocation ?a ?l)
        )
    :effect
        (and
            (checked ?l)
        )
)

(:action inventory
    :parameters (?a - agent)
    :precondition
        ()
    :effect
        (and
            (checked ?a)
        )
)

(:action examinereceptacle
    :parameters (?a - agent ?r - receptacle)
    :precondition
        (and
            (exists (?l - location)
                (and
                    (atlocation ?a ?l)
                    (receptacleatlocation ?r ?l)
                )
            )
        )
    :effect
        (and
            (checked ?r)
        )
)

(:action examineobject
    :parameters (?a - agent ?o - thing)
    :precondition
        (or
            ;(exists (?l - location)
            ;    (and
            ;        (atlocation ?a ?l)
            ;        (objectatlocation ?o ?l)
            ;    )
            ;)
            (exists (?l - location ?r - receptacle)
                (and
                    (atlocation ?a ?l)
                    (receptacleatlocation ?r ?l)
                    ; (objectatlocation ?o ?l)
                    (inreceptacle ?o ?r)
                    (or (not (openable ?r)) (opened ?r))  ; receptacle is opened if it is openable.
              )
            )
            (holds ?a ?o)
        )
    :effect
        (and
            (checked ?o)
        )
)

;; agent goes to receptacle
 (:action gotolocation
    :parameters (?a - agent ?lstart - location ?lend - location ?r - receptacle)
    :precondition (and
                    (atlocation ?a ?lstart)
                    (receptacleatlocation ?r ?lend)
                    ;(exists (?r - receptacle) (receptacleatlocation ?r ?lend))
                    (not (= ?lstart ?lend))  ; fix 7
                  )
    :effect (and
                (not (atlocation ?a ?lstart))
                (atlocation ?a ?lend)
                ; (forall (?r - receptacle)
                ;     (when (and (receptacleatlocation ?r ?lend)
                ;                (or (not (openable ?r)) (opened ?r)))
                ;         (checked ?r)
                ;     )
                ; )
                ; (increase (total-cost) (distance ?lstart ?lend))
            )
 )

;; agent opens receptacle
 (:action openobject
    :parameters (?a - agent ?l - location ?r - receptacle)
    :precondition (and
            (openable ?r)
            (atlocation ?a ?l)
            (receptacleatlocation ?r ?l)
            (not (opened ?r))
            )
    :effect (and
                (opened ?r)
                (checked ?r)
            )
 )
;; agent closes receptacle
 (:action closeobject
    :parameters (?a - agent ?l - location ?r - receptacle)
    :precondition (and
            (openable ?r)
            (atlocation ?a ?l)
            (receptacleatlocation ?r ?l)
            (opened ?r)
            )
    :effect (and
                (not (opened ?r))
            )

 )

 ;; agent picks up object from a receptacle
 (:action pickupobject
    :parameters (?a - agent ?l - location ?o - thing ?r - receptacle)
    :precondition
        (and
            (pickupable ?o)
            (atlocation ?a ?l)
            (receptacleatlocation ?r ?l)
            ; (objectatlocation ?o ?l)
            (inreceptacle ?o ?r)
            (not (holdsany ?a))  ; agent's hands are empty.
            ;(not (holdsanyreceptacleobject ?a))
            (or (not (openable ?r)) (opened ?r))  ; receptacle is opened if it is openable.
            ;(not (isreceptacleobject ?o))
        )
    :effect
        (and
            (not (inreceptacle ?o ?r))
            (holds ?a ?o)
            (holdsany ?a)
            (not (objectatlocation ?o ?l))
            ;(not (full ?r))
        )
 )


; ;; agent picks up object from a receptacle
; (:action pickupobjectfromreceptacleobject
;    :parameters (?a - agent ?l - location ?o - thing ?outerr - thing ?r - receptacle)
;    :precondition
;        (and
;            (atlocation ?a ?l)
;            (receptacleatlocation ?r ?l)
;            (inreceptacle ?o ?r)
;            (pickupable ?o)
;            (not (holdsany ?a))  ; agent's hands are empty.
;            (not (holdsanyreceptacleobject ?a))
;            (or (not (openable ?r)) (opened ?r))  ; receptacle is opened if it is openable.
;            (not (isreceptacleobject ?o))
;            (isreceptacleobject ?outerr)
;            (inreceptacleobject ?o ?outerr)
;        )
;    :effect
;        (and
;            (not (inreceptacle ?o ?r))
;            (holds ?a ?o)
;            (holdsany ?a)
;            (not (objectatlocation ?o ?l))
;            (not (full ?r))
;            (increase (total-cost) 1)
;
;            (not (inreceptacleobject ?o ?outerr))
;            (not (isreceptacleobjectfull ?outerr))
;        )
; )
;
; ;; agent picks up object from a receptacle
; (:action pickupemptyreceptacleobject
;    :parameters (?a - agent ?l - location ?o - thing ?r - receptacle)
;    :precondition
;        (and
;            (atlocation ?a ?l)
;            (receptacleatlocation ?r ?l)
;            ; (objectatlocation ?o ?l)
;            (inreceptacle ?o ?r)
;            (pickupable ?o)
;            (not (holdsany ?a))  ; agent's hands are empty.
;            (not (holdsanyreceptacleobject ?a))
;            (or (not (openable ?r)) (opened ?r))  ; receptacle is opened if it is openable.
;            (isreceptacleobject ?o)
;            (not (isreceptacleobjectfull ?o))
;        )
;    :effect
;        (and
;            (not (inreceptacle ?o ?r))
;            (holds ?a ?o)
;            (holdsany ?a)
;            (not (objectatlocation ?o ?l))
;            (not (full ?r))
;            (increase (total-cost) 1)
;            (holdsanyreceptacleobject ?a)
;        )
; )
;
; ;; agent picks up object from a receptacle
; (:action pickupfullreceptacleobject
;    :parameters (?a - agent ?l - location ?o - thing ?outerr - thing ?r - receptacle)
;    :precondition
;        (and
;            (atlocation ?a ?l)
;            (receptacleatlocation ?r ?l)
;            (inreceptacle ?outerr ?r)
;            (pickupable ?outerr)
;            (not (holdsany ?a))  ; agent's hands are empty.
;            (not (holdsanyreceptacleobject ?a))
;            (or (not (openable ?r)) (opened ?r))  ; receptacle is opened if it is openable.
;            (not (isreceptacleobject ?o))
;            (isreceptacleobject ?outerr)
;            (inreceptacleobject ?o ?outerr)
;        )
;    :effect
;        (and
;            (not (inreceptacle ?o ?r))
;            (not (inreceptacle ?outerr ?r))
;            (holds ?a ?outerr)
;            (holdsany ?a)
;            (not (objectatlocation ?o ?l))
;            (not (objectatlocation ?outerr ?l))
;            (not (full ?r))
;            (increase (total-cost) 1)
;            (holdsanyreceptacleobject ?a)
;        )
; )


;; agent puts down an object
 (:action putobject
    :parameters (?a - agent ?l - location ?o - thing ?r - receptacle ?ot - otype ?rt - rtype)
    :precondition (and
            (holds ?a ?o)
            (atlocation ?a ?l)
            (receptacleatlocation ?r ?l)
            (or (not (openable ?r)) (opened ?r))    ; receptacle is opened if it is openable
            ;(not (full ?r))
            (objecttype ?o ?ot)
            (receptacletype ?r ?rt)
            (cancontain ?rt ?ot)
            ;(not (holdsanyreceptacleobject ?a))
            )
    :effect (and
                (inreceptacle ?o ?r)
                (objectatlocation ?o ?l)
                ;(full ?r)
                (not (holds ?a ?o))
                (not (holdsany ?a))
            )
 )

;;; agent puts down an object
; (:action putobjectinreceptacleobject
;    :parameters (?a - agent ?l - location ?ot - otype ?o - thing ?outero - thing ?outerr - receptacle)
;    :precondition (and
;            (atlocation ?a ?l)
;            (objectatlocation ?outero ?l)
;            (isreceptacleobject ?outero)
;            (not (isreceptacleobject ?o))
;            (objecttype ?o ?ot)
;            (holds ?a ?o)
;            (not (holdsanyreceptacleobject ?a))
;            (inreceptacle ?outero ?outerr)
;            (not (isreceptacleobjectfull ?outero))
;            )
;    :effect (and
;                (inreceptacleobject ?o ?outero)
;                (inreceptacle ?o ?outerr)
;                (not (holds ?a ?o))
;                (not (holdsany ?a))
;                (objectatlocation ?o ?l)
;                (isreceptacleobjectfull ?outero)
;                (increase (total-cost) 1)
;            )
; )
;
;;; agent puts down an object
; (:action putemptyreceptacleobjectinreceptacle
;    :parameters (?a - agent ?l - location ?ot - otype ?o - thing ?r - receptacle)
;    :precondition (and
;            (atlocation ?a ?l)
;            (receptacleatlocation ?r ?l)
;            (or (not (openable ?r)) (opened ?r))    ; receptacle is opened if it is openable
;            (not (full ?r))
;            (objecttype ?o ?ot)
;            (holds ?a ?o)
;            (holdsanyreceptacleobject ?a)
;            (isreceptacleobject ?o)
;            (not (isreceptacleobjectfull ?o))
;            )
;    :effect (and
;                (inreceptacle ?o ?r)
;                (objectatlocation ?o ?l)
;                (full ?r)
;                (not (holds ?a ?o))
;                (not (holdsany ?a))
;                (not (holdsanyreceptacleobject ?a))
;                (increase (total-cost) 1)
;            )
; )
;
;;; agent puts down a receptacle object in a receptacle
; (:action putfullreceptacleobjectinreceptacle
;    :parameters (?a - agent ?l - location ?ot - otype ?innero - thing ?outero - thing ?r - receptacle) ; ?rt - rtype)
;    :precondition (and
;            (atlocation ?a ?l)
;            (receptacleatlocation ?r ?l)
;            (objecttype ?outero ?ot)
;            (holds ?a ?outero)
;            (holdsanyreceptacleobject ?a)
;            (isreceptacleobject ?outero)
;            (isreceptacleobjectfull ?outero)
;            (inreceptacleobject ?innero ?outero)
;            )
;    :effect (and
;                (not (holdsany ?a))
;                (not (holdsanyreceptacleobject ?a))
;                (objectatlocation ?outero ?l)
;                (objectatlocation ?innero ?l)
;                (inreceptacle ?outero ?r)
;                (inreceptacle ?innero ?r)
;                (not (holds ?a ?outero))
;                (increase (total-cost) 1)
;            )
; )

;; agent cleans some object
 (:action cleanobject
    :parameters (?a - agent ?l - location ?r - receptacle ?o - thing)
    :precondition (and
            (cleanable ?o)
            (or
                (receptacletype ?r sinktype)
                (receptacletype ?r sinkbasintype)
            )
            (atlocation ?a ?l)
            (receptacleatlocation ?r ?l)
            (holds ?a ?o)
            )
    :effect (and
                (isclean ?o)
            )
 )


;; agent heats-up some object
 (:action heatobject
    :parameters (?a - agent ?l - location ?r - receptacle ?o - thing)
    :precondition (and
            (heatable ?o)
            (or
                (receptacletype ?r microwavetype)
            )
            (atlocation ?a ?l)
            (receptacleatlocation ?r ?l)
            (holds ?a ?o)
            )
    :effect (and
                (ishot ?o)
                (not (iscool ?o))
            )
 )

;; agent cools some object
 (:action coolobject
    :parameters (?a - agent ?l - location ?r - receptacle ?o - thing)
    :precondition (and
            (coolable ?o)
            (or
                (receptacletype ?r fridgetype)
            )
            (atlocation ?a ?l)
            (receptacleatlocation ?r ?l)
            (holds ?a ?o)
            )
    :effect (and
                (iscool ?o)
                (not (ishot ?o))
            )
 )


;; agent toggle object
 (:action toggleobjecton
    :parameters (?a - agent ?l - location ?o - thing ?r - receptacle)
    :precondition (and
            (toggleable ?o)
            (atlocation ?a ?l)
            (receptacleatlocation ?r ?l)
            (inreceptacle ?o ?r)
            (not (ison ?o))
            )
    :effect (and
                (ison ?o)
                (istoggled ?o)
            )
 )

 (:action toggleobjectoff
    :parameters (?a - agent ?l - location ?o - thing ?r - receptacle)
    :precondition (and
            (toggleable ?o)
            (atlocation ?a ?l)
            (receptacleatlocation ?r ?l)
            (inreceptacle ?o ?r)
            (ison ?o)
            )
    :effect (and
                (not (ison ?o))
                (istoggled ?o)
            )
 )


;; agent slices some object with a knife
 (:action sliceobject
    :parameters (?a - agent ?l - location ?co - thing ?ko - thing)
    :precondition
            (and
                (sliceable ?co)
                (or
                    (objecttype ?ko knifetype)
                    (objecttype ?ko butterknifetype)
                )
                (atlocation ?a ?l)
                (objectatlocation ?co ?l)
                (holds ?a ?ko)
            )
    :effect (and
                (issliced ?co)
            )
 )


(:action help
    :parameters (?a - agent)
    :precondition
        ()
    :effect
        (and
            (checked ?a)
        )
)
)
