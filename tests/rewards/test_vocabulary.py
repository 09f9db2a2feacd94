"""H-PRM's words are defined once (harp.rewards.vocabulary) and the config and H-PRM agree with them."""


def test_reward_words_are_defined_once_and_every_weight_key_is_a_config_field():
    import dataclasses

    from harp.config import RewardConfig
    from harp.rewards.hprm import RewardWeights
    from harp.rewards.vocabulary import COMPONENTS, WEIGHT_KEYS

    assert WEIGHT_KEYS == tuple(f"w_{name}" for name in COMPONENTS)
    assert [f.name for f in dataclasses.fields(RewardWeights)] == list(WEIGHT_KEYS)
    assert set(WEIGHT_KEYS) <= {f.name for f in dataclasses.fields(RewardConfig)}
