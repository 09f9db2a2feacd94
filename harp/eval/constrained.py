"""Constrained decoding: a logits processor that only lets the model write well-formed plans.

The plan grammar is `Action(Argument)` steps joined by `,` or `, `, then end of sequence, where
Action is one of the domain's action names exactly as written and Argument is a non-empty run of
name characters (letters, digits, spaces, `-'_/.&`). A refusal (`Infeasible(X)`, harp/plan/refusal.py)
is a whole plan: allowed only as the first step, and then only the end may follow, so a sampled
refusal is never spoilt by steps after it (H-PRM reads those as an unknown action). Which entities
exist is left to the model: the grammar guarantees the format, not the plan, so H-PRM's higher
levels still measure the model.

How it works: a character-level automaton with a handful of states (a prefix of an action name,
inside an argument, after a step, after a comma) is lifted to the tokenizer's vocabulary once per
state — each token's text is walked through the automaton from that state, giving the token's
destination state or a rejection. The result is cached as a (states x vocabulary) table, so a
decoding step costs one gather, one comparison and one `masked_fill` for the whole batch. A shortest-path pass over the lifted automaton gives, per state, the
fewest tokens that can still finish a plan; with `max_new_tokens` known, a token is only allowed
when the plan can still be closed within the budget, so a constrained plan is never cut off.

Unlike vLLM/TRL structured outputs (regex-guided decoding), this works with plain
`model.generate` on any device, which is what the CPU demo and tests use.
"""

from __future__ import annotations

from collections import deque

from harp.plan.refusal import REFUSAL_ACTION

NAME_PUNCTUATION = set(" -'_/.&")

FIRST = ("first", "")  # the plan's first step: an action or the refusal
START = ("act", "")  # a later step: an action
ARG_EMPTY = ("arg0",)
ARG = ("arg",)
CLOSED = ("closed",)
REFUSAL_ARG_EMPTY = ("refusal0",)
REFUSAL_ARG = ("refusal",)
REFUSED = ("refused",)  # after the refusal's `)`: only the end
COMMA = ("comma",)
DONE = ("done",)
NO_WAY = 2**15 - 1  # cost of a forbidden token (int16 table: half the memory traffic of int32)


def _name_char(char: str) -> bool:
    return char.isalnum() or char in NAME_PUNCTUATION


class PlanGrammar:
    """The character automaton over plans for a list of action names (and, optionally, the refusal word)."""

    def __init__(self, action_names: list[str], refusal: str | None = None):
        if not action_names:
            raise ValueError("the domain has no actions")
        self.action_names = list(action_names)
        self.refusal = refusal
        self._actions = set(action_names)
        self._prefixes = {name[:i] for name in action_names for i in range(len(name) + 1)}
        first_words = [*action_names, refusal] if refusal else action_names
        self._first_prefixes = {name[:i] for name in first_words for i in range(len(name) + 1)}

    def step(self, state: tuple, char: str) -> tuple | None:
        """The state after reading `char`, or None when the grammar forbids it."""
        kind = state[0]
        if kind in ("first", "act"):
            prefix = state[1]
            if char == "(":
                if prefix in self._actions:
                    return ARG_EMPTY
                return REFUSAL_ARG_EMPTY if kind == "first" and prefix == self.refusal else None
            extended = prefix + char
            prefixes = self._first_prefixes if kind == "first" else self._prefixes
            return (kind, extended) if extended in prefixes else None
        if kind in ("arg0", "refusal0"):
            # An argument starts with a visible name character, never a space or `)`.
            if not _name_char(char) or char.isspace():
                return None
            return ARG if kind == "arg0" else REFUSAL_ARG
        if kind in ("arg", "refusal"):
            if char == ")":
                return CLOSED if kind == "arg" else REFUSED
            return state if _name_char(char) else None
        if kind == "closed":
            return COMMA if char == "," else None
        if kind == "comma":
            if char == " ":
                return START
            return self.step(START, char)
        return None

    def walk(self, state: tuple, text: str) -> tuple | None:
        """The state after reading `text`, or None."""
        for char in text:
            state = self.step(state, char)
            if state is None:
                return None
        return state

    def accepts(self, text: str) -> bool:
        """Whether `text` is a complete plan under this grammar."""
        return self.walk(FIRST, text) in (CLOSED, REFUSED)


class PlanLogitsProcessor:
    """A transformers `LogitsProcessor` that masks every token that would break the plan grammar.

    Args:
        tokenizer: the model's tokenizer (its vocabulary is lifted onto the grammar once).
        action_names: the domain's action names, exactly as they must be written.
        eos_token_ids: tokens that end a plan (the chat template's end-of-turn and end-of-text).
        max_new_tokens: the generation budget; when given, plans are always closed within it.
        refusal: the refusal word (`Infeasible`), allowed as a one-step plan; None: plans only.

    It follows each row of `input_ids` across decoding steps (a new `generate` call is detected
    when the rows no longer extend the previous ones), so one instance can serve many calls.
    """

    def __init__(
        self,
        tokenizer,
        action_names: list[str],
        eos_token_ids,
        max_new_tokens: int | None = None,
        refusal: str | None = None,
    ):
        if isinstance(eos_token_ids, int):
            eos_token_ids = [eos_token_ids]
        self.eos_token_ids = sorted({int(i) for i in eos_token_ids if i is not None})
        if not self.eos_token_ids:
            raise ValueError("constrained decoding needs at least one end-of-sequence token id")
        self.grammar = PlanGrammar(action_names, refusal)
        self.max_new_tokens = max_new_tokens
        self.vocab_size = len(tokenizer)
        self._texts = self._token_texts(tokenizer)
        self._by_first_char: dict[str, list[int]] = {}
        for token_id, text in enumerate(self._texts):
            if text and token_id not in self.eos_token_ids:
                self._by_first_char.setdefault(text[0], []).append(token_id)
        self._edges: dict[tuple, dict[int, tuple]] = {}
        self._build()
        self._state_index = [*self._edges, DONE]  # the cost table's rows
        self._row_of = {state: row for row, state in enumerate(self._state_index)}
        self._tables: dict[tuple, object] = {}  # (vocabulary width, device) -> cost table
        self._previous = None
        self._states: list[tuple] = []
        self._generated = 0

    @staticmethod
    def _token_texts(tokenizer) -> list[str]:
        """Each token id's text on its own ('' for ids the tokenizer cannot decode alone)."""
        ids = list(range(len(tokenizer)))
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        texts = tokenizer.batch_decode(
            [[i] for i in ids], skip_special_tokens=False, clean_up_tokenization_spaces=False
        )
        # Special tokens never appear inside a plan; a lone byte of a multi-byte character decodes
        # to U+FFFD and is rejected by the grammar anyway.
        return ["" if i in special else text for i, text in zip(ids, texts)]

    def _transitions(self, state: tuple) -> dict[int, tuple]:
        """token id -> destination state, for every token allowed in `state` (EOS -> DONE)."""
        edges: dict[int, tuple] = {}
        candidates = self._candidate_first_chars(state)
        for char in candidates:
            for token_id in self._by_first_char.get(char, ()):
                target = self.grammar.walk(state, self._texts[token_id])
                if target is not None:
                    edges[token_id] = target
        if state in (CLOSED, REFUSED):
            for token_id in self.eos_token_ids:
                edges[token_id] = DONE
        return edges

    def _candidate_first_chars(self, state: tuple) -> list[str]:
        return [char for char in self._by_first_char if self.grammar.step(state, char) is not None]

    def _build(self) -> None:
        """Lift the automaton onto the vocabulary; then fewest tokens from each state to DONE."""
        queue = deque([FIRST])
        while queue:
            state = queue.popleft()
            if state in self._edges or state == DONE:
                continue
            self._edges[state] = self._transitions(state)
            queue.extend(t for t in self._edges[state].values() if t not in self._edges)
        # Backwards BFS from DONE over the lifted edges: finish[state] = fewest tokens to end.
        reverse: dict[tuple, set] = {}
        for state, edges in self._edges.items():
            for target in edges.values():
                reverse.setdefault(target, set()).add(state)
        self._finish = {DONE: 0}
        queue = deque([DONE])
        while queue:
            state = queue.popleft()
            for previous in reverse.get(state, ()):
                if previous not in self._finish:
                    self._finish[previous] = self._finish[state] + 1
                    queue.append(previous)
        if FIRST not in self._finish:
            raise ValueError("the tokenizer cannot write a complete plan for these action names")

    def _cost_table(self, width: int, device):
        """(states x width) int16: 1 + fewest tokens to finish after each token, NO_WAY where forbidden.

        Row i belongs to self._state_index[i]; DONE's row allows only the end tokens (cost 0), so a
        finished row keeps emitting them while `generate` pads it.
        """
        import torch

        key = (width, str(device))
        if key not in self._tables:
            table = torch.full((len(self._state_index), width), NO_WAY, dtype=torch.int16)
            for row, state in enumerate(self._state_index):
                if state == DONE:
                    table[row, [i for i in self.eos_token_ids if i < width]] = 0
                    continue
                pairs = [
                    (token_id, 1 + self._finish[target])
                    for token_id, target in self._edges[state].items()
                    if target in self._finish and token_id < width
                ]  # a dead end could never finish
                if pairs:
                    ids, cost = zip(*pairs)
                    table[row, list(ids)] = torch.tensor(cost, dtype=torch.int16)
            self._tables[key] = table.to(device)
        return self._tables[key]

    def _advance(self, state: tuple, token_id: int) -> tuple:
        if state == DONE:
            return DONE
        return self._edges.get(state, {}).get(token_id, DONE)

    def __call__(self, input_ids, scores):
        import torch

        rows, length = input_ids.shape
        previous = self._previous
        continues = (
            previous is not None
            and previous.shape[0] == rows
            and previous.shape[1] + 1 == length
            and torch.equal(previous.to(input_ids.device), input_ids[:, :-1])
        )
        if continues:
            last = input_ids[:, -1].tolist()
            self._states = [self._advance(s, t) for s, t in zip(self._states, last)]
            self._generated += 1
        else:  # a new generate call: every row starts a plan
            self._states = [FIRST] * rows
            self._generated = 0
        self._previous = input_ids.detach().clone()

        allowed = self._allowed(self._states, self._generated, scores.shape[1], scores.device)
        return scores.masked_fill(~allowed, float("-inf"))

    def _allowed(self, states: list[tuple], generated: int, width: int, device):
        """(rows, width) bool: the tokens each row may take next, `generated` tokens into its plan.

        One gather and one comparison for the whole batch: a row may take a token when the plan can
        still be finished within the remaining budget after it."""
        import torch

        table = self._cost_table(width, device)
        index = torch.tensor([self._row_of[state] for state in states], device=device)
        cost = table[index]
        budget = NO_WAY - 1 if self.max_new_tokens is None else min(max(self.max_new_tokens - generated, 0), NO_WAY - 1)
        allowed = cost <= budget
        stuck = ~allowed.any(dim=1)
        if stuck.any():  # only when the budget is too small for any plan: take the shortest way out
            allowed[stuck] = cost[stuck] == cost[stuck].min(dim=1, keepdim=True).values
        return allowed

    def allowed_tokens(self, completion_ids, width: int):
        """(rows, T, width) bool: the tokens the grammar allowed at each position of these completions
        (a (rows, T) tensor of ids, each row a plan from its start), replayed as `__call__` masked them
        while they were sampled. A training step scores a constrained sample under the same mask
        (on-policy constrained GRPO, harp.train.grpo_trainer)."""
        import torch

        rows, length = completion_ids.shape
        states = [FIRST] * rows
        steps = []
        for t in range(length):
            steps.append(self._allowed(states, t, width, completion_ids.device))
            states = [self._advance(s, tok) for s, tok in zip(states, completion_ids[:, t].tolist())]
        if not steps:
            return torch.zeros((rows, 0, width), dtype=torch.bool, device=completion_ids.device)
        return torch.stack(steps, dim=1)


def plan_grammar(processor, domain, max_new_tokens: int | None = None) -> PlanLogitsProcessor:
    """The PlanLogitsProcessor for a processor (or tokenizer) and a Domain.

    A plan ends at the chat turn's end (`<|im_end|>`) or the tokenizer's EOS: the same ids
    harp.models.generate stops at, so an ended plan is never continued. A refusal is a plan in every domain.
    """
    tokenizer = getattr(processor, "tokenizer", processor)
    eos = {tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id}
    eos = [i for i in eos if isinstance(i, int) and i != tokenizer.unk_token_id]
    return PlanLogitsProcessor(tokenizer, domain.action_names, eos, max_new_tokens, REFUSAL_ACTION)


def plan_logits_processor(processor, domain, max_new_tokens: int | None = None):
    """A LogitsProcessorList holding `plan_grammar(...)`, for `generate`."""
    from transformers import LogitsProcessorList

    return LogitsProcessorList([plan_grammar(processor, domain, max_new_tokens)])
