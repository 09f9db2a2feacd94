"""Constrained decoding: the grammar accepts plans and nothing else; generation obeys it, within budget."""

import pytest

from harp.eval.constrained import ARG, CLOSED, FIRST, REFUSED, START, PlanGrammar, PlanLogitsProcessor

ACTIONS = ["Navigate", "Pick", "Place"]


@pytest.mark.parametrize(
    "text",
    [
        "Navigate(White Table), Pick(Apple), Navigate(Basket), Place(Basket)",  # the guide's plan
        "Pick(Apple),Place(Basket)",  # comma without a space
        "Navigate(Kitchen counter 2)",  # digits and spaces in a name
        "Pick(O'Brien's cup)",  # apostrophes
    ],
)
def test_grammar_accepts_plans(text):
    assert PlanGrammar(ACTIONS).accepts(text)


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty plan
        "Navigate(Table) Pick(Apple)",  # missing comma
        "Navigate(Table",  # unclosed step
        "Pick()",  # empty argument
        "Pick( Apple)",  # argument starting with a space
        "Grab(Apple)",  # not a domain action
        "navigate(Table)",  # action names are written exactly
        "Navigate(Table),",  # trailing comma
        "Navigate(Table),  Pick(Apple)",  # two spaces
        "Plan: Navigate(Table)",  # stray text
        "Navigate(Table)\nPick(Apple)",  # a second line
    ],
)
def test_grammar_rejects_non_plans(text):
    assert not PlanGrammar(ACTIONS).accepts(text)


def test_grammar_states():
    grammar = PlanGrammar(ACTIONS)
    assert grammar.walk(START, "Pla") == ("act", "Pla")
    assert grammar.walk(START, "Place(B") == ARG
    assert grammar.walk(START, "Place(B)") == CLOSED
    assert grammar.walk(START, "Plx") is None


def test_a_refusal_is_a_whole_plan():
    grammar = PlanGrammar(ACTIONS, refusal="Infeasible")
    assert grammar.accepts("Infeasible(Apple)") and grammar.walk(FIRST, "Infeasible(Apple)") == REFUSED
    assert grammar.accepts("Navigate(Table), Pick(Apple)")
    for text in ("Infeasible(Apple), Navigate(Basket)", "Navigate(Table), Infeasible(Apple)", "Infeasible()"):
        assert not grammar.accepts(text), text
    assert not PlanGrammar(ACTIONS).accepts("Infeasible(Apple)")  # no refusal word: plans only


class CharTokenizer:
    """A tokenizer whose tokens are single characters plus a few words, and an end token."""

    def __init__(self):
        self.vocab = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ (),") + [
            "Navigate",
            "Pick(",
            "), ",
            "Apple)",
            "<end>",
            "<pad>",
        ]
        self.all_special_ids = [self.vocab.index("<end>"), self.vocab.index("<pad>")]

    def __len__(self):
        return len(self.vocab)

    def batch_decode(self, ids, **kwargs):
        return ["".join(self.vocab[i] for i in row) for row in ids]


def run_greedy(processor, scores_of, rows=2, steps=40, prompt_len=3):
    """Feed `processor` like `generate` does; scores_of(step) gives the raw logits (one row)."""
    import torch

    tokenizer = CharTokenizer()
    end = tokenizer.vocab.index("<end>")
    ids = torch.zeros((rows, prompt_len), dtype=torch.long)
    texts = [""] * rows
    finished = [False] * rows
    for step in range(steps):
        scores = scores_of(step).repeat(rows, 1)
        chosen = processor(ids, scores).argmax(dim=-1)
        for row, token in enumerate(chosen.tolist()):
            if not finished[row]:
                if token == end:
                    finished[row] = True
                else:
                    texts[row] += tokenizer.vocab[token]
        ids = torch.cat([ids, chosen[:, None]], dim=1)
        if all(finished):
            break
    return texts, finished


def test_processor_forces_a_plan_out_of_noise():
    import torch

    tokenizer = CharTokenizer()
    processor = PlanLogitsProcessor(
        tokenizer, ACTIONS, eos_token_ids=[tokenizer.vocab.index("<end>")], max_new_tokens=30
    )
    generator = torch.Generator().manual_seed(0)
    texts, finished = run_greedy(processor, lambda step: torch.randn(1, len(tokenizer), generator=generator), steps=30)
    assert all(finished)  # closed within the 30-token budget
    assert all(PlanGrammar(ACTIONS).accepts(text) for text in texts), texts


def test_processor_keeps_preferred_tokens_when_they_fit():
    import torch

    tokenizer = CharTokenizer()
    end = tokenizer.vocab.index("<end>")
    wanted = ["Pick(", "Apple)", "<end>"]
    processor = PlanLogitsProcessor(tokenizer, ACTIONS, eos_token_ids=[end])

    def scores_of(step):
        scores = torch.zeros(1, len(tokenizer))
        scores[0, tokenizer.vocab.index(wanted[min(step, 2)])] = 5.0
        return scores

    texts, finished = run_greedy(processor, scores_of)
    assert texts == ["Pick(Apple)", "Pick(Apple)"] and all(finished)


def test_processor_resets_for_a_new_generate_call():
    import torch

    tokenizer = CharTokenizer()
    processor = PlanLogitsProcessor(
        tokenizer, ACTIONS, eos_token_ids=[tokenizer.vocab.index("<end>")], max_new_tokens=20
    )
    first, _ = run_greedy(
        processor, lambda step: torch.zeros(1, len(tokenizer)) + torch.arange(len(tokenizer)) % 7, steps=20
    )
    second, _ = run_greedy(
        processor, lambda step: torch.zeros(1, len(tokenizer)) + torch.arange(len(tokenizer)) % 7, steps=20
    )
    assert first == second and PlanGrammar(ACTIONS).accepts(first[0])


def test_processor_ends_a_sampled_refusal():
    """A model that wants to go on after its refusal (as the SFT models did, sampled) is made to stop."""
    import torch

    tokenizer = CharTokenizer()
    wanted = "Infeasible(Apple), Pick(Apple)"
    processor = PlanLogitsProcessor(
        tokenizer, ACTIONS, eos_token_ids=[tokenizer.vocab.index("<end>")], max_new_tokens=40, refusal="Infeasible"
    )

    def scores_of(step):
        scores = torch.zeros(1, len(tokenizer))
        if step < len(wanted):
            scores[0, tokenizer.vocab.index(wanted[step])] = 5.0
        return scores

    texts, finished = run_greedy(processor, scores_of)
    assert texts == ["Infeasible(Apple)"] * 2 and all(finished)


def test_processor_needs_an_end_token():
    with pytest.raises(ValueError, match="end-of-sequence"):
        PlanLogitsProcessor(CharTokenizer(), ACTIONS, eos_token_ids=[])


def test_the_masks_a_sampled_plan_was_drawn_under_are_replayed_exactly():
    """allowed_tokens(ids) gives, at every position, the mask __call__ applied while those ids were sampled
    (budget included), so a training step can score a constrained sample under its own mask."""
    import torch

    tokenizer = CharTokenizer()
    end = tokenizer.vocab.index("<end>")
    processor = PlanLogitsProcessor(tokenizer, ACTIONS, eos_token_ids=[end], max_new_tokens=25, refusal="Infeasible")
    generator = torch.Generator().manual_seed(3)
    ids = torch.zeros((4, 2), dtype=torch.long)
    masks = []
    for _ in range(25):
        masked = processor(ids, torch.randn(4, len(tokenizer), generator=generator) * 3)
        masks.append(torch.isfinite(masked))
        chosen = torch.multinomial(masked.softmax(-1), 1, generator=generator)
        ids = torch.cat([ids, chosen], dim=1)
    completions = ids[:, 2:]
    replayed = processor.allowed_tokens(completions, len(tokenizer))
    assert replayed.shape == (4, 25, len(tokenizer))
    assert torch.equal(replayed, torch.stack(masks, dim=1))
    assert (replayed.sum(-1) == 1).any()  # some tokens were forced: a mask that changes a log-prob
