"""The chat prompt every stage uses: a short system prompt stating the action space, then the image
and the task. SFT, GRPO, negatives, evaluation and `harp predict` all build prompts here, so a
model is always asked the same way it was trained.
"""

from __future__ import annotations


def system_prompt(domain) -> str:
    """One short paragraph: the output format and the domain's actions with their argument kinds.

    The refusal (`Infeasible(X)`, harp/plan/refusal.py) is not named: with a sentence naming it (and a
    changed negatives shuffle, since fixed) the demo's GRPO gain vanished (SFT 0.92, GRPO 0.92; without
    both, 0.86 -> 0.98 as before). Which of the two did it was not separated (docs/log.md)."""
    actions = ", ".join(f"{name}({spec.argument_kind})" for name, spec in domain.actions.items())
    return (
        "You are a robot task planner. Look at the scene and answer with one line: "
        f"comma-separated steps Action(Argument) using only {actions}."
    )


def build_messages(task: str, domain, plan_text: str | None = None) -> list[dict]:
    """Chat messages for one sample; with `plan_text` the assistant's answer is included (SFT).

    The image is a placeholder `{"type": "image"}`; the processor inserts the pixels.
    """
    messages = [
        {"role": "system", "content": [{"type": "text", "text": system_prompt(domain)}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": task}]},
    ]
    if plan_text is not None:
        messages.append({"role": "assistant", "content": [{"type": "text", "text": plan_text}]})
    return messages
