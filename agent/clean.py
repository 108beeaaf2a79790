"""Turn a chat model's raw answer into a bare English prompt that fits CogVideoX's text encoder.

Chat models wrap answers in reasoning blocks, code fences, quotes and polite preambles; CogVideoX's
T5 encoder reads every one of those words and stops at 226 tokens. Everything here is a pure
function of strings.
"""

from __future__ import annotations

import re

# CogVideoX pipelines truncate the prompt at 226 T5 tokens.
TOKEN_LIMIT = 226
# Our token count is an estimate, so trimmed prompts stop a little short of the limit.
TOKEN_BUDGET = 216
# About 1.35 T5 sentencepiece tokens per English word (long and rare words split into pieces).
TOKENS_PER_WORD = 1.35
# Above this share of non-Latin letters a text is not English (T5 maps CJK to <unk>).
NON_LATIN_MAX_SHARE = 0.2

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_PUNCT = re.compile(r"[^\w\s'’]")

_THINK_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.S | re.I)
_THINK_OPEN = re.compile(r"^\s*<(?:think|thinking|reasoning)>", re.I)
# Some servers strip the opening tag of a reasoning model and leave only the closing one.
_THINK_CLOSE = re.compile(r"^.*?</(?:think|thinking|reasoning)>", re.S | re.I)

# Control characters and U+FFFD (a byte sequence that was not UTF-8): no prompt needs them.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")

_FENCED = re.compile(r"```[^\n`]*\n(.*?)```", re.S)
_FENCE_OPEN = re.compile(r"^\s*```[^\n`]*\n?")
_FENCE_CLOSE = re.compile(r"\n?```\s*$")

_INTERJECTION = re.compile(
    r"^(?:sure(?: thing)?|certainly|of course|okay|ok|absolutely|great|alright|no problem|got it)"
    r"\s*[!.:,]\s*",
    re.I,
)
_HERE_IS = re.compile(
    r"^(?:here(?:'s|’s| is| are)|below is|i(?:'ve| have) (?:written|created|crafted))\b"
    r"[^\n]{0,120}?(?::|\n)\s*",
    re.I,
)
_LABEL = re.compile(
    r"^(?:\*\*|__|#+\s*)?"
    r"(?:(?:final|enhanced|expanded|refined|improved|detailed|english|video|rewritten|optimi[sz]ed|"
    r"new|revised|cogvideox)\s+)*"
    r"(?:prompt|description|video prompt)\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*",
    re.I,
)
# While streaming, a text that starts like this may still turn out to be a preamble ("Sure! Here
# is..."): hold it back for a few words rather than flash it in the text box.
_MAYBE_PREAMBLE = re.compile(
    r"^(?:here|sure|certainly|of course|okay|ok|absolutely|great|alright|below|prompt|enhanced|"
    r"final|detailed|english|video|i've|i have)\b",
    re.I,
)
_PREAMBLE_MAX_WORDS = 15
_MARKDOWN_LINE = re.compile(r"^\s*(?:#+\s+|[-*•]\s+|\d+[.)]\s+|>\s*)", re.M)
_EMPHASIS = re.compile(r"\*\*|__")
_CHATTER = re.compile(
    r"^(?:note\b|notes\b|this prompt\b|i hope\b|hope this\b|let me know\b|feel free\b|"
    r"explanation\b|would you like\b|if you(?:'d| would) like\b|-{3,})",
    re.I,
)
_QUOTES = {
    '"': '"',
    "'": "'",
    "“": "”",
    "‘": "’",
    "「": "」",
    "『": "』",
    "«": "»",
    "„": "“",
    "`": "`",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]?\s+")


def estimate_tokens(text: str) -> int:
    """Estimate T5 tokens: ~1.35 per word, plus one per punctuation mark."""
    words = len(_WORD.findall(text))
    marks = len(_PUNCT.findall(text))
    return round(words * TOKENS_PER_WORD + marks)


def non_latin_share(text: str) -> float:
    """Share of letters outside the Latin script (CJK, Cyrillic, Kana, Hangul...), 0.0 to 1.0."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    # U+0000-U+024F: Basic Latin to Latin Extended-B, U+1E00-U+1EFF: Latin Extended Additional.
    latin = sum(1 for ch in letters if ord(ch) <= 0x24F or 0x1E00 <= ord(ch) <= 0x1EFF)
    return 1.0 - latin / len(letters)


def is_english(text: str) -> bool:
    """True when the text is (nearly) all Latin script; we cannot tell English from French."""
    return non_latin_share(text) <= NON_LATIN_MAX_SHARE


def echoes(text: str, source: str, words: int = 10) -> bool:
    """True when `text` repeats a run of `words` words of `source` (a model that printed its
    instructions instead of a prompt; shorter shared phrases happen by chance)."""
    def runs(value: str) -> set[tuple[str, ...]]:
        tokens = [word.lower() for word in _WORD.findall(value)]
        return {tuple(tokens[i : i + words]) for i in range(len(tokens) - words + 1)}

    return bool(runs(text) & runs(source))


def has_reasoning(text: str) -> bool:
    """True when the raw answer contains a reasoning block (used to explain an empty answer)."""
    return bool(re.search(r"</?(?:think|thinking|reasoning)>", text, re.I))


def clean(raw: str, *, partial: bool = False, truncated: bool = False) -> str:
    """Strip a chat answer down to the prompt itself.

    `partial`: the answer is still streaming; an unclosed reasoning block hides everything and
    nothing is trimmed yet. `truncated`: the model stopped at its token limit, so a dangling
    half sentence at the end is dropped.
    """
    text = _UNPRINTABLE.sub("", raw.replace("\r\n", "\n"))
    # 1. Reasoning blocks: complete ones, an unclosed leading one (still thinking or cut off),
    #    and a lone closing tag whose opening tag the server removed.
    text = _THINK_BLOCK.sub("", text)
    if _THINK_OPEN.match(text):
        return ""
    text = _THINK_CLOSE.sub("", text)
    # 2. Wrappers, repeated because models nest them ("Sure! Here it is:\n```\n"...").
    for _ in range(4):
        before = text
        text = _strip_fences(text)
        text = text.strip()
        text = _strip_preamble(text)
        text = _MARKDOWN_LINE.sub("", text)
        text = _EMPHASIS.sub("", text)
        text = _drop_trailing_chatter(text)
        text = _strip_quotes(text, partial=partial)
        if text == before:
            break
    # 3. One paragraph: T5 reads newlines as spaces anyway.
    text = " ".join(text.split())
    if partial:
        if _MAYBE_PREAMBLE.match(text) and len(text.split()) < _PREAMBLE_MAX_WORDS:
            return ""
        return text
    if truncated:
        text = _drop_unfinished_sentence(text)
    return trim_to_budget(text)


def trim_to_budget(text: str, budget: int = TOKEN_BUDGET) -> str:
    """Cut at the last sentence boundary that keeps the estimate within `budget` tokens."""
    if estimate_tokens(text) <= budget:
        return text
    kept: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if estimate_tokens(" ".join([*kept, sentence])) > budget:
            break
        kept.append(sentence)
    if kept:
        return " ".join(kept)
    # One overlong first sentence: cut by words and close it.
    words = text.split()
    while words and estimate_tokens(" ".join(words)) > budget - 1:
        words.pop()
    return " ".join(words).rstrip(",;:-") + "."


def _strip_fences(text: str) -> str:
    blocks = _FENCED.findall(text)
    if blocks:
        return max(blocks, key=len)
    text = _FENCE_OPEN.sub("", text)
    return _FENCE_CLOSE.sub("", text)


def _strip_preamble(text: str) -> str:
    text = _INTERJECTION.sub("", text, count=1)
    text = _HERE_IS.sub("", text, count=1)
    text = _LABEL.sub("", text, count=1)
    # A short first line that ends with a colon introduces what follows ("A prompt for you:").
    first, sep, rest = text.partition("\n")
    if sep and rest.strip() and first.rstrip().endswith((":", "：")) and len(first.split()) <= 15:
        text = rest
    return text.strip()


def _drop_trailing_chatter(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    while len(paragraphs) > 1 and _CHATTER.match(paragraphs[-1].strip()):
        paragraphs.pop()
    text = "\n\n".join(paragraphs)
    # The same chatter as a last sentence of the only paragraph.
    sentences = _SENTENCE_END.split(text.strip())
    while len(sentences) > 1 and _CHATTER.match(sentences[-1]):
        sentences.pop()
    return " ".join(sentences) if len(sentences) > 1 else text


def _strip_quotes(text: str, *, partial: bool) -> str:
    text = text.strip()
    while len(text) >= 2 and text[0] in _QUOTES:
        close = _QUOTES[text[0]]
        body = text[1:]
        # A period placed after the closing quote: "A boy drinks coffee.".
        if body.endswith(close + "."):
            body = body[:-1]
        if body.endswith(close) and close not in body[:-1]:
            text = body[:-1].strip()
        elif close not in body and (partial or text[0] != "'"):
            # An opening quote that never closes: still streaming, or the model forgot it.
            text = body.strip()
        else:
            break
    return text


def _drop_unfinished_sentence(text: str) -> str:
    if text.endswith((".", "!", "?", '"', "”")):
        return text
    sentences = _SENTENCE_END.split(text)
    if len(sentences) > 1:
        return " ".join(sentences[:-1])
    return text
