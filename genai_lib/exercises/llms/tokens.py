"""Checkers of Chapter 1, text as tokens (book/llms/tokens.md): bytes, byte-level BPE merges, bytes per
token, nats per token and per character.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; its worked
answer follows it, printed on request by :func:`genai_lib.exercises.llms.solution`.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Mapping
from typing import Any

from genai_lib.exercises._common import NEAR, ask, matches, near, number, report
from genai_lib.exercises.llms._solutions import SOLUTIONS
from genai_lib.llm.tokenizers import BPETokenizer, CharTokenizer

__all__ = [
    "check_byte_count",
    "check_first_merge",
    "check_smallest_vocabulary",
    "check_nats_per_char",
    "check_compare_tokenizers",
    "check_own_text",
]


BYTE_COUNT_TEXT = "Ay, marry — 'tis so"
FIRST_MERGE_TEXT = "to be or not to be"


def check_byte_count(answer: Any, text: str = BYTE_COUNT_TEXT) -> bool:
    """Exercise: the number of tokens the 256-id byte vocabulary (no merges) needs for ``text``."""
    value = number(answer)
    truth = len(text.encode("utf-8"))
    if value == truth:
        return report(True, f"{truth} tokens: one per UTF-8 byte.")
    if value == len(text):
        wide = [ch for ch in text if len(ch.encode("utf-8")) > 1]
        return report(False, f"that is the number of characters; {wide} take more than one byte each in UTF-8.")
    if value == len(text.replace(" ", "")) or value == len(text.split()):
        return report(False, "spaces are bytes too, and bytes are not words: every byte of the string is a token.")
    return report(
        False,
        f"{value:g} is not the number of UTF-8 bytes of {text!r}: how many bytes does each "
        "character take? ASCII takes one; look up the em dash.",
    )


def _as_byte(x: Any, name: str) -> int:
    if isinstance(x, str):
        b = x.encode("utf-8")
        if len(b) != 1:
            raise ValueError(f"{name} must be a single one-byte character, got {x!r}")
        return b[0]
    if isinstance(x, bytes) and len(x) == 1:
        return x[0]
    if isinstance(x, numbers.Integral) and not isinstance(x, bool) and 0 <= x < 256:
        return int(x)
    raise TypeError(f"{name} must be a one-character str, a 1-byte bytes or a byte value 0..255, got {x!r}")


def _first_merge(text: str) -> tuple[int, int]:
    tok = BPETokenizer(pattern=None).train(text, 257)
    (truth,) = list(tok.merges)
    return truth


def check_first_merge(answer: Any, text: str = FIRST_MERGE_TEXT) -> bool:
    """Exercise: the first merge byte-level BPE learns on ``text`` as one chunk, as a pair ``(a, b)``."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise TypeError(f"answer must be a pair (a, b) such as ('x', 'y'), got {answer!r}")
    pair = (_as_byte(answer[0], "answer[0]"), _as_byte(answer[1], "answer[1]"))
    truth = _first_merge(text)
    show = lambda p: tuple(bytes([v]).decode("utf-8") for v in p)  # noqa: E731
    if pair == truth:
        return report(True, f"{show(truth)}: one of the pairs that occur most often, and the smallest as bytes.")
    data = text.encode("utf-8")
    counts = Counter(zip(data, data[1:]))
    top = max(counts.values())
    if counts.get(pair, 0) == top:
        return report(
            False,
            f"{show(pair)} does occur {top} times, but so do others; the rule "
            "min(pairs, key=lambda p: (-pairs[p], p)) breaks the tie by comparing the pairs as "
            "byte values.",
        )
    if counts.get((pair[1], pair[0]), 0) == top:
        return report(
            False, f"{show(pair)} is a most frequent pair read backwards: a pair is (left, right) in reading order."
        )
    return report(
        False,
        f"{show(pair)} occurs {counts.get(pair, 0)} time(s); the most frequent pairs occur {top} "
        "times. Count every adjacent pair, spaces included.",
    )


def _bytes_per_token(tokenizers: Mapping[int, Any], text: str) -> dict[int, float]:
    n_bytes = len(text.encode("utf-8"))
    return {v: n_bytes / len(tok.encode(text)) for v, tok in sorted(tokenizers.items())}


def check_smallest_vocabulary(answer: Any, tokenizers: Mapping[int, Any], text: str, target: float = 2.5) -> bool:
    """Exercise: the smallest vocabulary size in ``tokenizers`` reaching ``target`` bytes per token on ``text``."""
    value = number(answer)
    if not isinstance(tokenizers, Mapping) or not tokenizers:
        raise TypeError("tokenizers must be the non-empty dict {vocabulary size: tokenizer} of the chapter")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    bpt = _bytes_per_token(tokenizers, text)
    reaching = [v for v, b in bpt.items() if b >= target]
    if not reaching:
        return report(False, f"no tokenizer here reaches {target} bytes per token")
    truth = min(reaching)
    if value == truth:
        return report(True, f"V = {truth} reaches {bpt[truth]:.2f} bytes per token.")
    if value in bpt:
        v = int(value)
        return report(
            False,
            f"V = {v} gives {bpt[v]:.2f} bytes per token"
            + (f", below {target}." if bpt[v] < target else ", but a smaller size also reaches it."),
        )
    return report(False, f"{value:g} is not one of the vocabulary sizes {list(bpt)}.")


def check_nats_per_char(
    answer: Any, tokenizer: BPETokenizer | CharTokenizer, text: str, *, nats_per_token: float
) -> bool:
    """Exercise: convert a loss in nats per token to nats per character on ``text`` (Eq. eq-tok-per-char)."""
    value = number(answer)
    nats_per_token = number(nats_per_token, "nats_per_token")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    n_tok, n_char = len(tokenizer.encode(text)), len(text)
    truth = nats_per_token * n_tok / n_char
    if matches(value, truth):
        return report(True, f"{truth:.3f} nats per character = {truth / math.log(2):.3f} bits per character.")
    if matches(value, nats_per_token):
        return report(False, "that is the loss per token; a character is not a token here.")
    if matches(value, nats_per_token * n_char / n_tok):
        return report(
            False,
            "the ratio is upside down: a token covers more than one character, so per character the loss is smaller.",
        )
    if matches(value, truth / math.log(2)):
        return report(False, "that is in bits; the question asks for nats.")
    if matches(value, nats_per_token * n_tok / len(text.encode("utf-8"))):
        return report(False, "that is per *byte*; the question asks per character (len(text)).")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:g} is not it: the total loss of the text is the same whether you count it per "
        "token or per character. Count both on this text with this tokenizer (Eq. (eq-tok-per-char)).",
    )


_COMPARE_TOKENIZERS = {
    "a": "model B: its loss is lower",
    "b": "model A: more nats per token means each token carries more information",
    "c": "neither, yet: convert both losses to nats per character, with each tokenizer's characters per token",
    "d": "the one whose tokenizer has the larger vocabulary, since it compresses the text better",
}


def check_compare_tokenizers(answer: Any) -> bool:
    """Multiple choice: on the same held-out text, model A (a BPE tokenizer) reaches 3.5 nats per token and model B
    (a character tokenizer) 1.6 nats per token. Which predicts the text better?
    Answer with a letter, e.g. ``check_compare_tokenizers("b")``."""
    return ask(
        answer,
        _COMPARE_TOKENIZERS,
        "c",
        "a token of one tokenizer is a different amount of text from a token of the other; per character, "
        "Eq. (eq-tok-per-char), the two losses are comparable.",
        {
            "a": "a BPE token stands for several characters, a character token for one: re-read 'What a "
            "token costs the model' before comparing the two numbers.",
            "b": "a larger loss is not better in itself; what differs is how much text each token covers: "
            "re-read Eq. (eq-tok-per-char).",
            "d": "compression says how long the sequences are, not how well a model predicts them: re-read "
            "'What a token costs the model'.",
        },
    )


def check_own_text(own: Any, other: Any, text: str) -> bool:
    """Change-and-run: ``own``, a BPE tokenizer trained on ``text`` itself, against ``other``, one of the same
    vocabulary size trained on other text. Measures both on ``text`` in bytes per token, Eq. (eq-tok-bpt)."""
    for name, tok in (("own", own), ("other", other)):
        if not callable(getattr(tok, "encode", None)) or not isinstance(getattr(tok, "vocab_size", None), int):
            raise TypeError(
                f"{name} must be a trained tokenizer (with encode and vocab_size), got {type(tok).__name__}"
            )
    if not isinstance(text, str) or not text:
        raise TypeError(f"text must be a non-empty str, got {type(text).__name__}")
    if own.vocab_size != other.vocab_size:
        return report(
            False,
            f"the two tokenizers have {own.vocab_size} and {other.vocab_size} ids: train yours with the same "
            "vocabulary size as the other, so that only the training text differs.",
        )
    n_bytes = len(text.encode("utf-8"))
    mine, theirs = n_bytes / len(own.encode(text)), n_bytes / len(other.encode(text))
    if mine <= theirs * 1.01:
        return report(
            False,
            f"this tokenizer compresses the text to {mine:.2f} bytes per token, no better than the other's "
            f"{theirs:.2f}: was it trained on this text itself? Pass the tokenizer you trained on it first.",
        )
    return report(
        True,
        f"{mine:.2f} against {theirs:.2f} bytes per token (+{100 * (mine / theirs - 1):.0f} %): the merges "
        "learned on a text fit that text best.",
    )


# -- the solutions, printed on request ------------------------------------------------------------


@SOLUTIONS.add("check_byte_count")
def _() -> tuple[str, str]:
    n = len(BYTE_COUNT_TEXT.encode("utf-8"))
    return (
        f"{n}: len({BYTE_COUNT_TEXT!r}.encode('utf-8'))",
        f"One token per UTF-8 byte. The string has {len(BYTE_COUNT_TEXT)} characters; all are ASCII (one byte "
        "each) except the em dash '—', which takes three bytes.",
    )


@SOLUTIONS.add("check_first_merge")
def _() -> tuple[str, str]:
    return (
        "(' ', 'b')",
        "In 't o ␣ b e ␣ o r ␣ n o t ␣ t o ␣ b e' four pairs occur twice: ('t', 'o'), ('o', ' '), (' ', 'b') "
        "and ('b', 'e'); every other pair once ('not' gives 'n o' and 'o t'). The tie-break compares pairs as "
        "byte values, and the space (32) sorts before every letter. In code: s = text.encode(); "
        "c = Counter(zip(s, s[1:])); min(c, key=lambda p: (-c[p], p)) gives (32, 98). A deterministic tie-break "
        "keeps two runs of the same training from learning different vocabularies.",
    )


@SOLUTIONS.add("check_smallest_vocabulary")
def _() -> tuple[str, str]:
    return (
        "answer = min(v for v in VOCAB_SIZES if bytes_per_token(tokenizers[v], held_out) >= 2.5)  # 2048",
        "Compute the bytes per token of every tokenizer on the held-out text and keep the smallest vocabulary "
        "that reaches 2.5. On the book's held-out plays 1,024 ids fall just short and 2,048 reach it; "
        "larger vocabularies shorten the text further, with diminishing returns.",
    )


@SOLUTIONS.add("check_nats_per_char")
def _() -> tuple[str, str]:
    return (
        "n_tok, n_char = len(tokenizers[1024].encode(held_out)), len(held_out); answer = 3.5 * n_tok / n_char "
        "(about 1.50)",
        "The total loss of the text is the loss per token times the number of tokens; dividing it by the "
        "number of characters gives the loss per character, Eq. (eq-tok-per-char). Per character, models with "
        "different tokenizers can be compared directly.",
    )


@SOLUTIONS.add("check_compare_tokenizers")
def _() -> tuple[str, str]:
    return (
        f"(c) {_COMPARE_TOKENIZERS['c']}",
        "Nats per token measure a different unit for each tokenizer: a BPE token covers several characters. "
        "Divide by the characters per token, Eq. (eq-tok-per-char), and both losses are nats per character "
        "of the same text; here A's 3.5 nats per token is fewer nats per character than B's 1.6 as soon as "
        "its tokens average more than about 2.2 characters. Compression alone says nothing about prediction.",
    )


@SOLUTIONS.add("check_own_text")
def _() -> tuple[str, str]:
    return (
        "own = llm.BPETokenizer().train(held_out, 1024); ex.check_own_text(own, tokenizers[1024], held_out)",
        "A BPE tokenizer's merges are the most frequent pairs of its training text: trained on the held-out "
        "plays, it learns their names, words and spellings, and compresses them better than a tokenizer of "
        "the same size trained on the other plays. It is the gap of the chapter's figure (training text against "
        "held-out text) seen from the other side: compression measured on a tokenizer's own training text "
        "flatters it.",
    )
