"""Loss on assistant turns only, computed from the messages themselves.

transformers' ``return_assistant_tokens_mask`` (and trl's ``assistant_only_loss``) needs a chat
template with ``{% generation %}`` markers; most templates have none, and the mask then silently
covers nothing or everything. Here each assistant turn is located in the rendered conversation by
rendering the conversation up to that turn (``add_generation_prompt=True``) and through it, and
finding the message's content in between; the end-of-turn token that the template writes right
after the content (``<|im_end|>``, ``</s>``, ``<|eot_id|>``...) is trained too, so the model learns
to stop. Token labels come from the tokenizer's character offsets, so it works with any template
and any fast tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE = -100


class MaskingError(ValueError):
    """An assistant turn could not be found in the rendered conversation."""


@dataclass
class Rendered:
    text: str
    spans: list[tuple[int, int]]  # character spans of the trained text
    has_end_token: bool


def _render(tokenizer, messages, template, *, add_generation_prompt=False) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def special_token_strings(tokenizer) -> list[str]:
    tokens = set(tokenizer.all_special_tokens)
    for token in tokenizer.added_tokens_decoder.values():
        if token.special:
            tokens.add(token.content)
    return sorted((t for t in tokens if t), key=len, reverse=True)


def _end_of_turn(text: str, pos: int, specials: list[str]) -> int | None:
    """End of the special token that closes the turn at ``pos`` (whitespace may come first)."""
    probe = pos
    while probe < len(text) and text[probe] in " \t\r\n":
        probe += 1
    for token in specials:
        if text.startswith(token, probe):
            return probe + len(token)
    return None


def render_conversation(tokenizer, messages: list[dict], template: str | None) -> Rendered:
    """The rendered conversation and the character spans of every assistant turn (content plus
    its end-of-turn token)."""
    full = _render(tokenizer, messages, template)
    specials = special_token_strings(tokenizer)
    spans: list[tuple[int, int]] = []
    cursor = 0
    has_end = True
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        content = message.get("content") or ""
        lo, hi = cursor, len(full)
        before = _render(tokenizer, messages[:i], template, add_generation_prompt=True)
        through = _render(tokenizer, messages[: i + 1], template)
        if full.startswith(through) and through.startswith(before) and len(before) >= cursor:
            lo, hi = len(before), len(through)
        start, needle = -1, content
        for needle in (content, content.strip()):
            if needle:
                start = full.find(needle, lo, hi)
                if start < 0:
                    start = full.find(needle, cursor)  # the template renders prefixes differently
                if start >= 0:
                    break
        if start < 0:
            raise MaskingError(f"assistant message {i} does not appear in the text the chat "
                               "template renders (does the template change message content?)")
        end = start + len(needle)
        closed = _end_of_turn(full, end, specials)
        if closed is None:
            has_end = False
        else:
            end = closed
        spans.append((start, end))
        cursor = end
    return Rendered(full, spans, has_end)


def tokenize_conversation(tokenizer, messages: list[dict], template: str | None
                          ) -> tuple[list[int], list[int], bool]:
    """``(input_ids, labels, has_end_token)``: labels are ``-100`` outside assistant turns."""
    rendered = render_conversation(tokenizer, messages, template)
    enc = tokenizer(rendered.text, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]
    labels = [IGNORE] * len(ids)
    spans = rendered.spans
    j = 0
    for k, (s, e) in enumerate(enc["offset_mapping"]):
        if e <= s:
            continue
        while j < len(spans) and spans[j][1] <= s:
            j += 1
        if j < len(spans) and s < spans[j][1] and e > spans[j][0]:
            labels[k] = ids[k]
    return ids, labels, rendered.has_end_token
