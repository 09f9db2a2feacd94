"""ValidationCallback's history: carried across a resume, not inherited by a fresh run in the same folder."""

import json
from types import SimpleNamespace

from harp.train.grpo_eval import HISTORY_FILE, ValidationCallback

OLD_BEST = {
    "step": 5,
    "train_reward": 0.9,
    "avg_reward": 0.99,
    "task_completion": 1.0,
    "format_accuracy": 1.0,
    "best": True,
}


def test_a_resume_keeps_the_history_a_fresh_run_starts_its_own(tmp_path):
    (tmp_path / HISTORY_FILE).write_text(
        json.dumps({**OLD_BEST, "step": 0, "best": False}) + "\n" + json.dumps(OLD_BEST) + "\n"
    )
    resumed = ValidationCallback([], None, None, tmp_path, 1)
    assert resumed.best() == OLD_BEST  # best/ carries across a resume

    fresh = ValidationCallback([], None, None, tmp_path, 1, fresh=True)
    assert fresh.history == [] and fresh.best() is None  # an old run's best must not block this run's best/
    evaluated = []
    fresh.evaluate = evaluated.append
    fresh.on_train_begin(None, SimpleNamespace(global_step=0, is_world_process_zero=True), None)
    assert evaluated == [0]  # this run's own SFT baseline, although the old history has a step 0
    assert not (tmp_path / HISTORY_FILE).exists()  # the old history is moved aside, not appended to
    assert json.loads((tmp_path / ("previous_" + HISTORY_FILE)).read_text().splitlines()[-1]) == OLD_BEST
