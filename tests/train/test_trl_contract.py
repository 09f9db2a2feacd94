"""The TRL internals `HarpGRPOTrainer` overrides, pinned as they were in TRL 1.16.0.

TRL's maintainers will not take per-step rewards into `GRPOTrainer`, so FTCA and negatives in a group
override five private methods (listed in harp/train/grpo_trainer.py's docstring). A TRL release that
renames one, changes its arguments or what it returns would otherwise fail deep in a training step, or
worse, silently skip our override. This test fails first, naming what moved.
"""

import inspect

import trl
from trl import GRPOTrainer

from harp.train.grpo_trainer import TRL_WRITTEN_AGAINST, HarpGRPOTrainer

# method -> the parameters (after self) our override relies on, in order
OVERRIDDEN = {
    "_get_train_sampler": ["dataset"],
    "_generate": ["prompts"],
    "_generate_and_score_completions": ["inputs"],
    "_compute_loss": ["model", "inputs"],
    "_get_per_token_logps_and_entropies": ["model", "input_ids", "attention_mask", "logits_to_keep"],
    "log": ["logs", "start_time"],
}


def test_trl_is_the_version_the_overrides_were_written_against():
    assert trl.__version__ == TRL_WRITTEN_AGAINST, (
        f"TRL {trl.__version__}, but HarpGRPOTrainer was written against {TRL_WRITTEN_AGAINST}: "
        "recheck every method in OVERRIDDEN, then update TRL_WRITTEN_AGAINST"
    )


def test_every_overridden_trl_method_still_exists_with_the_arguments_we_use():
    for name, leading in OVERRIDDEN.items():
        assert hasattr(GRPOTrainer, name), f"TRL's GRPOTrainer no longer has {name}"
        assert name in vars(HarpGRPOTrainer), f"{name} is listed here but no longer overridden"
        params = list(inspect.signature(getattr(GRPOTrainer, name)).parameters)[1:]
        assert params[: len(leading)] == leading, f"{name}{inspect.signature(getattr(GRPOTrainer, name))}"
    private = {
        n for n in vars(HarpGRPOTrainer) if n.startswith("_") and not n.startswith("__") and hasattr(GRPOTrainer, n)
    }
    assert private == {n for n in OVERRIDDEN if n.startswith("_")}, "a TRL method is overridden but not pinned here"


def test_the_tensors_we_rewrite_are_the_ones_trl_produces_and_reads():
    """`_generate` returns the 8 values we rebuild for negatives; the batch carries `advantages`,
    `completion_ids`, `completion_mask` and `ref_per_token_logps` by those names."""
    generate = inspect.getsource(GRPOTrainer._generate)
    assert (
        "return prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, images, tool_images"
        in generate
    )
    score = inspect.getsource(GRPOTrainer._generate_and_score_completions)
    for key in ("advantages", "completion_ids", "completion_mask", "ref_per_token_logps"):
        assert f'"{key}"' in score, f"TRL's batch no longer names {key}"
    loss = inspect.getsource(GRPOTrainer._compute_loss)
    for key in ("advantages", "ref_per_token_logps", "_get_per_token_logps_and_entropies"):
        assert key in loss, f"TRL's _compute_loss no longer reads {key}"
