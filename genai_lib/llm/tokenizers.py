"""Tokenizers: text -> a list of integer ids -> the same text.

A language model sees integers, not text. This module holds the two tokenizers of the book:

* :class:`CharTokenizer` gives every character of the training text its own id, the classic
  choice for a small character-level model (about 80 ids for Shakespeare).
* :class:`BPETokenizer` is byte-level byte-pair encoding as in GPT-2 (Sennrich et al. 2016;
  Radford et al. 2019): start from the 256 possible bytes of UTF-8 and repeatedly give the most
  frequent adjacent pair of tokens a new id of its own.

Both round-trip any Unicode string exactly, ``decode(encode(s)) == s``, including characters
never seen in training: the BPE tokenizer because every string is a sequence of bytes and every
byte is a token; the character tokenizer because it keeps 256 *byte-fallback* tokens (the idea of
SentencePiece's ``byte_fallback``) and spells an unseen character as its UTF-8 bytes.

Both have the same surface: ``train(text, vocab_size)`` (returns the tokenizer, so
``BPETokenizer().train(text, 512)`` reads naturally), ``encode``, ``decode``, ``vocab_size``,
``token_bytes(id)`` for viewers, and ``save``/``load`` as JSON. :func:`load_tokenizer` reads
either kind back.
"""

from __future__ import annotations

import heapq
import json
import numbers
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genai_lib._checks import check_bool

__all__ = ["CharTokenizer", "BPETokenizer", "load_tokenizer", "token_spans", "SPLIT_PATTERN", "merge_pair"]

_FORMAT_VERSION = 1

# GPT-2 first splits text into chunks (words with their leading space, numbers, runs of
# punctuation, whitespace) and never merges across chunk boundaries, so "dog." and "dog!" share
# the token " dog". GPT-2's pattern uses \p{L} and \p{N} from the third-party `regex` module; this
# is the same idea in the standard library's `re`: [^\W\d_] is "a letter", \d "a digit". The last
# alternative is never reached in practice; it guarantees that every character lands in some
# chunk, so no text can be lost between the chunks.
SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+|[\s\S]"""


# -- shared checks ----------------------------------------------------------------------------


def _ids_tensor(ids: list[int]) -> torch.Tensor:
    """A list of ids as a 1-D int64 tensor, through numpy (torch.tensor converts a list element by element)."""
    return torch.from_numpy(np.array(ids, dtype=np.int64))


def _check_text(text: Any, name: str = "text") -> str:
    """Return ``text`` after checking it is a str that UTF-8 can encode (no lone surrogates)."""
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"{name} contains the lone surrogate {text[err.start]!r} at index {err.start}; "
            f"that is not Unicode text and has no UTF-8 encoding"
        ) from err
    return text


def _check_ids(ids: Any, vocab_size: int, name: str = "ids") -> list[int]:
    """Return ``ids`` (list, tuple, 1-D tensor or array of ints) as a list of ints in range."""
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise TypeError(f"{name} must be a 1-D integer tensor, got shape {tuple(ids.shape)} and {ids.dtype}")
        ids = ids.tolist()
    elif isinstance(ids, np.ndarray):
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"{name} must be a 1-D integer array, got shape {ids.shape} and {ids.dtype}")
        ids = ids.tolist()
    elif isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"{name} must be a sequence of int token ids, got {type(ids).__name__}")
    out = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"{name} must contain only ints, got {type(i).__name__} {i!r}")
        if not 0 <= i < vocab_size:
            raise ValueError(f"{name} holds the unknown token id {i}; valid ids are 0..{vocab_size - 1}")
        out.append(int(i))
    return out


def _check_vocab_size(vocab_size: Any, minimum: int) -> int:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, numbers.Integral):
        raise TypeError(f"vocab_size must be an int >= {minimum}, got {type(vocab_size).__name__}")
    if vocab_size < minimum:
        raise ValueError(f"vocab_size must be >= {minimum}, got {vocab_size}")
    return int(vocab_size)


def _read_json(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("type") != kind:
        found = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"path={str(path)!r} holds a {found!r} tokenizer, not a {kind!r}")
    if data.get("version") != _FORMAT_VERSION:
        raise ValueError(
            f"path={str(path)!r} has format version {data.get('version')!r}; "
            f"this library reads version {_FORMAT_VERSION}"
        )
    return data


def _write_json(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # ensure_ascii keeps the file plain ASCII whatever characters the vocabulary holds.
    path.write_text(json.dumps(data, ensure_ascii=True, indent=1), encoding="utf-8")
    return path


# -- characters -------------------------------------------------------------------------------


class CharTokenizer:
    """One id per character of the training text, plus 256 byte-fallback ids.

    Ids ``0 .. n_chars - 1`` are the characters, sorted by code point (for Shakespeare id 0 is
    ``"\\n"``); with ``byte_fallback`` the ids ``n_chars .. n_chars + 255`` stand for the bytes
    0x00..0xFF, and a character outside the vocabulary is encoded as its UTF-8 bytes, so every
    string round-trips. Without it, encoding an unknown character raises ValueError.

    Args:
        chars: the characters of the vocabulary (each a single character, no repeats); usually
            left empty and filled by :meth:`train`.
        byte_fallback: keep the 256 byte tokens (default True).
    """

    def __init__(self, chars: Iterable[str] = (), *, byte_fallback: bool = True) -> None:
        if not isinstance(byte_fallback, bool):
            raise TypeError(f"byte_fallback must be a bool, got {type(byte_fallback).__name__}")
        if isinstance(chars, str):
            chars = list(chars)
        chars = list(chars)
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"chars must hold single characters, got {ch!r}")
            _check_text(ch, "chars")
        if len(set(chars)) != len(chars):
            raise ValueError("chars must not repeat a character")
        self.byte_fallback = byte_fallback
        self._set_chars(chars)

    def _set_chars(self, chars: list[str]) -> None:
        self.chars = list(chars)
        self._stoi = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        """The number of ids: characters, plus 256 when byte fallback is on."""
        return len(self.chars) + (256 if self.byte_fallback else 0)

    def train(self, text: str, vocab_size: int | None = None) -> CharTokenizer:
        """Set the vocabulary to the characters of ``text`` and return ``self``.

        Args:
            text: the training text (non-empty).
            vocab_size: the total number of ids wanted, byte-fallback ids included; only the
                ``vocab_size - 256`` most frequent characters are kept (ties go to the smaller
                code point) and the rest are spelled in bytes. None keeps every character.
        """
        text = _check_text(text)
        if not text:
            raise ValueError("text must not be empty: there are no characters to learn")
        counts = Counter(text)
        if vocab_size is not None:
            reserved = 256 if self.byte_fallback else 0
            vocab_size = _check_vocab_size(vocab_size, reserved + 1)
            kept = sorted(counts, key=lambda ch: (-counts[ch], ch))[: vocab_size - reserved]
        else:
            kept = list(counts)
        self._set_chars(sorted(kept))
        return self

    def encode(self, text: str, *, as_tensor: bool = False) -> list[int] | torch.Tensor:
        """Return the ids of ``text``: one per known character, its UTF-8 bytes otherwise.

        With ``as_tensor=True`` the ids come back as a 1-D int64 tensor, built without the Python
        list that ``torch.tensor(tok.encode(text))`` converts element by element (about ten times
        faster for a whole corpus).
        """
        text = _check_text(text)
        check_bool(as_tensor, "as_tensor")
        try:  # the fast path: every character is in the vocabulary
            stoi = self._stoi
            ids = [stoi[ch] for ch in text]
            return _ids_tensor(ids) if as_tensor else ids
        except KeyError:
            pass
        ids, offset = [], len(self.chars)
        for index, ch in enumerate(text):
            i = self._stoi.get(ch)
            if i is not None:
                ids.append(i)
            elif self.byte_fallback:
                ids.extend(offset + b for b in ch.encode("utf-8"))
            else:
                raise ValueError(
                    f"text holds {ch!r} at index {index}, which is not in the vocabulary; "
                    f"train on text that contains it or use byte_fallback=True"
                )
        return _ids_tensor(ids) if as_tensor else ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Return the text of ``ids``; runs of byte tokens are decoded as UTF-8 together.

        A run of bytes that is not valid UTF-8 (possible only for ids that :meth:`encode` did not
        produce, e.g. sampled ones) becomes U+FFFD, the replacement character.
        """
        ids = _check_ids(ids, self.vocab_size)
        n, chars = len(self.chars), self.chars
        if all(i < n for i in ids):
            return "".join(chars[i] for i in ids)
        parts: list[str] = []
        pending = bytearray()
        for i in ids:
            if i >= n:
                pending.append(i - n)
                continue
            if pending:
                parts.append(pending.decode("utf-8", errors="replace"))
                pending.clear()
            parts.append(chars[i])
        if pending:
            parts.append(pending.decode("utf-8", errors="replace"))
        return "".join(parts)

    def token_bytes(self, token_id: int) -> bytes:
        """Return the UTF-8 bytes that ``token_id`` stands for (for tokenization viewers)."""
        (token_id,) = _check_ids([token_id], self.vocab_size, "token_id")
        if token_id < len(self.chars):
            return self.chars[token_id].encode("utf-8")
        return bytes([token_id - len(self.chars)])

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable state that :meth:`save` writes."""
        return {
            "type": "CharTokenizer",
            "version": _FORMAT_VERSION,
            "byte_fallback": self.byte_fallback,
            "chars": self.chars,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the tokenizer to ``path`` as JSON and return the path."""
        return _write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> CharTokenizer:
        """Read a tokenizer written by :meth:`save`."""
        data = _read_json(path, "CharTokenizer")
        return cls(data["chars"], byte_fallback=data["byte_fallback"])

    def __repr__(self) -> str:
        return (
            f"CharTokenizer(n_chars={len(self.chars)}, byte_fallback={self.byte_fallback}, "
            f"vocab_size={self.vocab_size})"
        )


# -- byte-pair encoding -----------------------------------------------------------------------


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids``, left to right, by ``new_id``.

    Occurrences do not overlap: ``merge_pair([5, 5, 5], (5, 5), 9) == [9, 5]``.
    """
    out, i, n = [], 0, len(ids)
    a, b = pair
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """Byte-level byte-pair encoding (Sennrich et al. 2016), as used by GPT-2 (Radford et al. 2019).

    The vocabulary starts as the 256 bytes; :meth:`train` then adds one token per *merge*: the
    most frequent adjacent pair ``(a, b)`` in the training text (ties go to the smallest pair)
    becomes token ``256 + k``, and every occurrence of the pair is replaced before the next count.
    :meth:`encode` replays the merges on new text in the order they were learned.

    Text is first split into chunks by ``pattern`` (default :data:`SPLIT_PATTERN`: words with their
    leading space, numbers, punctuation, whitespace), and merges never cross a chunk boundary.
    ``pattern=None`` treats the whole text as one chunk: fine for a paragraph, slow for a book.
    """

    def __init__(self, pattern: str | None = SPLIT_PATTERN) -> None:
        if pattern is not None and not isinstance(pattern, str):
            raise TypeError(f"pattern must be a regular expression string or None, got {type(pattern).__name__}")
        self.pattern = pattern
        self._regex = re.compile(pattern) if pattern is not None else None
        self._set_merges([])

    def _set_merges(self, merges: list[tuple[int, int]]) -> None:
        self.merges: dict[tuple[int, int], int] = {}  # pair -> new id, in the order learned
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]
        for a, b in merges:
            self.merges[(a, b)] = len(self.vocab)
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """256 byte tokens plus one token per merge."""
        return len(self.vocab)

    def _chunks(self, text: str) -> list[str]:
        return self._regex.findall(text) if self._regex is not None else [text]

    def train(self, text: str, vocab_size: int) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text`` (replacing any earlier ones); return ``self``.

        Training stops early, with a smaller vocabulary, when no adjacent pair is left to merge.
        The result equals the textbook loop (count all pairs, merge the most frequent, repeat);
        it is only faster: identical chunks are counted once, and after each merge only the
        chunks that contained the pair are re-counted (a heap finds the next most frequent pair).
        """
        text = _check_text(text)
        if not text:
            raise ValueError("text must not be empty: there are no pairs to learn")
        vocab_size = _check_vocab_size(vocab_size, 256)
        chunk_counts = Counter(self._chunks(text))
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        counts = list(chunk_counts.values())

        pair_counts: dict[tuple[int, int], int] = defaultdict(int)
        where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks that (may) hold it
        for w, (word, count) in enumerate(zip(words, counts)):
            for pair in zip(word, word[1:]):
                pair_counts[pair] += count
                where[pair].add(w)
        # A max-heap of (count, pair) by pushing (-count, pair); entries whose count is out of
        # date are skipped when popped. Popping the smallest (-count, pair) breaks ties by pair.
        heap = [(-c, pair) for pair, c in pair_counts.items()]
        heapq.heapify(heap)

        merges: list[tuple[int, int]] = []
        for new_id in range(256, vocab_size):
            while heap and pair_counts.get(heap[0][1], 0) != -heap[0][0]:
                heapq.heappop(heap)
            if not heap:
                break  # nothing left to merge: every chunk is a single token
            _, pair = heapq.heappop(heap)
            merges.append(pair)
            touched = set()
            for w in where.pop(pair):
                word, count = words[w], counts[w]
                for p in zip(word, word[1:]):
                    pair_counts[p] -= count
                    touched.add(p)
                word = words[w] = merge_pair(word, pair, new_id)
                for p in zip(word, word[1:]):
                    pair_counts[p] += count
                    where[p].add(w)
                    touched.add(p)
            for p in touched:
                if pair_counts[p] > 0:
                    heapq.heappush(heap, (-pair_counts[p], p))
                else:
                    del pair_counts[p]
        self._set_merges(merges)
        return self

    def truncated(self, vocab_size: int) -> BPETokenizer:
        """Return a new tokenizer that keeps only the first ``vocab_size - 256`` merges.

        Training is greedy (each merge depends only on the merges before it), so this is exactly
        the tokenizer that :meth:`train` with ``vocab_size`` on the same text would give: one
        training at the largest size yields every smaller size, as a vocabulary-size sweep needs.
        """
        vocab_size = _check_vocab_size(vocab_size, 256)
        if vocab_size > self.vocab_size:
            raise ValueError(f"vocab_size must be <= this tokenizer's vocab_size={self.vocab_size}, got {vocab_size}")
        tok = BPETokenizer(self.pattern)
        tok._set_merges(list(self.merges)[: vocab_size - 256])
        return tok

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            # The pair learned earliest is applied first, as in training.
            pair = min(zip(ids, ids[1:]), key=lambda p: self.merges.get(p, len(self.vocab)))
            if pair not in self.merges:
                break
            ids = merge_pair(ids, pair, self.merges[pair])
        return ids

    def encode(self, text: str, *, as_tensor: bool = False) -> list[int] | torch.Tensor:
        """Return the token ids of ``text`` (merges applied chunk by chunk, in learned order);
        a 1-D int64 tensor with ``as_tensor=True``."""
        text = _check_text(text)
        check_bool(as_tensor, "as_tensor")
        ids: list[int] = []
        cache = self._cache
        for chunk in self._chunks(text):
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = self._encode_chunk(chunk)
                if len(cache) < 200_000:  # bounded, so a long stream of new text cannot grow it forever
                    cache[chunk] = chunk_ids
            ids.extend(chunk_ids)
        return _ids_tensor(ids) if as_tensor else ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Return the text of ``ids``: their bytes joined and decoded as UTF-8.

        Bytes that are not valid UTF-8 (possible only for ids that :meth:`encode` did not produce)
        become U+FFFD, the replacement character.
        """
        ids = _check_ids(ids, self.vocab_size)
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        """Return the bytes that ``token_id`` stands for (for tokenization viewers)."""
        (token_id,) = _check_ids([token_id], self.vocab_size, "token_id")
        return self.vocab[token_id]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable state that :meth:`save` writes (merges in learned order)."""
        return {
            "type": "BPETokenizer",
            "version": _FORMAT_VERSION,
            "pattern": self.pattern,
            "merges": [list(pair) for pair in self.merges],
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the pattern and the merges, in order, to ``path`` as JSON; return the path."""
        return _write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`."""
        data = _read_json(path, "BPETokenizer")
        tok = cls(data["pattern"])
        merges = [tuple(pair) for pair in data["merges"]]
        for k, (a, b) in enumerate(merges):
            if not (0 <= a < 256 + k and 0 <= b < 256 + k):
                raise ValueError(f"path={str(path)!r}: merge {k} {(a, b)} refers to a token not yet defined")
        tok._set_merges(merges)
        return tok

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"


def token_spans(tokenizer: CharTokenizer | BPETokenizer, text: str) -> list[tuple[int, int, int]]:
    """Encode ``text`` and say which characters each token covers: ``[(id, start, end), ...]``.

    ``text[start:end]`` are the characters whose *first* UTF-8 byte lies in the token, so the
    spans tile the text in order. A byte-level token may hold only the later bytes of a
    character (an emoji split in two, say); its span is then empty, ``start == end``. For
    tokenization viewers, which colour each character by its token.
    """
    if not isinstance(tokenizer, (CharTokenizer, BPETokenizer)):
        raise TypeError(f"tokenizer must be a CharTokenizer or BPETokenizer, got {type(tokenizer).__name__}")
    text = _check_text(text)
    ids = tokenizer.encode(text)
    # byte offset at which each character starts, and (as a sentinel) the total length
    char_starts = np.cumsum([0] + [len(ch.encode("utf-8")) for ch in text])
    token_ends = np.cumsum([len(tokenizer.token_bytes(i)) for i in ids], dtype=np.int64)
    # the character starting at byte b belongs to the first token whose end lies beyond b
    owner = np.searchsorted(token_ends, char_starts[:-1], side="right")
    bounds = np.searchsorted(owner, np.arange(len(ids) + 1), side="left")
    return [(i, int(bounds[k]), int(bounds[k + 1])) for k, i in enumerate(ids)]


def load_tokenizer(path: str | os.PathLike) -> CharTokenizer | BPETokenizer:
    """Read a tokenizer of either kind from the JSON that its ``save`` wrote."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r} is not a tokenizer file")
    kind = json.loads(path.read_text(encoding="utf-8")).get("type")
    classes = {"CharTokenizer": CharTokenizer, "BPETokenizer": BPETokenizer}
    if kind not in classes:
        raise ValueError(f"path={str(path)!r} holds type {kind!r}; expected one of {sorted(classes)}")
    return classes[kind].load(path)
