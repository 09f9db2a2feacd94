"""Recipes: whole-pipeline compositions of the stages, above every stage they compose.

`demo.py` (`harp demo`: data -> SFT -> negatives -> GRPO -> evaluation in .demo/), `experiment.py`
(the learning benchmark, `benchmarks/learning.py`), `pretrain.py` (`harp model pretrain`: the grounded
tiny model rebuilt by two runs of the SFT stage) and `verify.py` (`harp model pretrain --verify`).
No stage imports a recipe.
"""
