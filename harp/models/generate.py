"""Batched plan generation from (image, task) pairs: the one place every stage asks a model for plans.

Negatives, GRPO's evaluation, `harp predict` and the evaluator all call `generate_plans`, so the
prompt (harp.models.prompt), the padding side (left: new tokens follow every prompt directly) and
the decoding (special tokens dropped, whitespace stripped) are the same everywhere.
"""

from __future__ import annotations

from pathlib import Path

from harp.data.images import open_image
from harp.models.prompt import build_messages


def prompt_text(processor, task: str, domain) -> str:
    """The chat-formatted prompt for one task, ending with the assistant's turn opener."""
    return processor.apply_chat_template(build_messages(task, domain), add_generation_prompt=True, tokenize=False)


def encode_prompts(processor, images, tasks, domain):
    """Processor inputs (left-padded tensors, pixel values) for a batch of (image, task) pairs."""
    texts = [prompt_text(processor, task, domain) for task in tasks]
    return processor(
        images=[_as_image(image) for image in images],
        text=texts,
        padding=True,
        padding_side="left",
        return_tensors="pt",
    )


def generate_plans(
    model,
    processor,
    images,
    tasks,
    domain,
    *,
    max_new_tokens: int = 64,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    num_return_sequences: int = 1,
    logits_processor=None,
    batch_size: int = 8,
    progress: bool = False,
) -> list[list[str]]:
    """Plans for each (image, task): a list of `num_return_sequences` completions per pair, in input order.

    `images` are PIL images or paths. Greedy by default; seed torch before sampling for repeatable
    draws. `logits_processor` (a LogitsProcessorList) is passed to `generate`, e.g. for constrained
    decoding.
    """
    import torch
    from tqdm.auto import tqdm

    if len(images) != len(tasks):
        raise ValueError(f"generate_plans: {len(images)} images but {len(tasks)} tasks")
    tokenizer = processor.tokenizer
    eos_ids = [i for i in {tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id} if isinstance(i, int)]
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_p": top_p}
        if do_sample
        else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    )
    results: list[list[str]] = []
    starts = range(0, len(tasks), batch_size)
    for start in tqdm(starts, desc="generating", unit="batch", disable=not progress):
        batch = encode_prompts(processor, images[start : start + batch_size], tasks[start : start + batch_size], domain)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(model.dtype)
        with torch.no_grad():
            output = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                num_return_sequences=num_return_sequences,
                logits_processor=logits_processor,
                eos_token_id=eos_ids,
                pad_token_id=tokenizer.pad_token_id,
                **sampling,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        texts = [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
        for i in range(0, len(texts), num_return_sequences):
            results.append(texts[i : i + num_return_sequences])
    return results


def _as_image(image):
    if isinstance(image, (str, Path)):
        return open_image(image)  # a missing file is a one-line DataError
    return image
