"""Comment text: Unicode normalisation rules and the safe HTML rendering served beside the plain body."""

from __future__ import annotations

import html
import re
import unicodedata

import nh3
from linkify_it import LinkifyIt
from linkify_it.main import Match

from civility.errors import Invalid

MAX_BODY_CHARS = 5000
MAX_NAME_CHARS = 64
MAX_NOTE_CHARS = 500  # report notes and moderators' reasons

# Bidi embeddings/overrides/isolates can make a comment display differently from what it says
# ("Trojan Source"); zero-width spaces and BOMs hide text from filters. Both are removed.
# ZWJ/ZWNJ (U+200D/U+200C) are kept: emoji sequences and several scripts need them.
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)], None
)
# C0/C1 controls other than tab and newline are dropped; NUL is rejected outright because it is
# never typed by a person and truncates text in some downstream tools.
_CONTROLS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Letters that render as nothing (Hangul fillers, the braille blank): a text of only these is empty.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


class TextError(ValueError):
    """The text cannot be accepted; the message is shown to the author."""


def normalise(text: str, *, single_line: bool = False) -> str:
    if "\x00" in text:
        raise TextError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TextError("must be valid Unicode (no lone surrogates)") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text).translate(_INVISIBLE)
    text = unicodedata.normalize("NFC", text)
    if single_line:
        text = " ".join(text.split())
    return text.strip()


def has_visible_text(text: str) -> bool:
    """Whether anything would show: not only spaces, format characters, marks or blank letters."""
    return any(unicodedata.category(c)[0] not in "ZCM" and c not in _BLANK_LETTERS for c in text)


def clean(field: str, value: str, max_chars: int, *, single_line: bool = False) -> str:
    """Normalise a reader's or moderator's text, then check it: visible, and at most ``max_chars``
    characters once normalised. Problems are 422s that name the field."""
    try:
        value = normalise(value, single_line=single_line)
    except TextError as exc:
        raise Invalid(f"invalid {field}", {field: [str(exc)]}) from exc
    if not 1 <= len(value) <= max_chars:
        raise Invalid(f"invalid {field}", {field: [f"must be 1 to {max_chars} characters"]})
    if not has_visible_text(value):
        raise Invalid(f"invalid {field}", {field: ["must contain visible text"]})
    return value


def clean_optional(field: str, value: str | None, max_chars: int) -> str | None:
    """Like ``clean`` for an optional note: nothing, or nothing visible, is None."""
    if value is None:
        return None
    try:
        normalised = normalise(value)
    except TextError as exc:
        raise Invalid(f"invalid {field}", {field: [str(exc)]}) from exc
    return clean(field, normalised, max_chars) if has_visible_text(normalised) else None


# Only explicit http(s) links: no "example.org" or e-mail guessing. linkify-it keeps quotes and
# trailing punctuation outside a link and balanced parentheses inside it (Foo_(bar)).
_LINKS = LinkifyIt(options={"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})
_LINK_SCHEMAS = frozenset({"http:", "https:"})


def links(text: str) -> list[Match]:
    """The http(s) links in ``text``, in order (each with ``index``, ``last_index`` and ``url``)."""
    if "://" not in text:
        return []
    return [m for m in _LINKS.match(text) or [] if m.schema.lower() in _LINK_SCHEMAS]


def _linked(paragraph: str) -> str:
    """Escaped text with its links as anchors; matched on the raw text, so escaping cannot bend them."""
    parts, end = [], 0
    for link in links(paragraph):
        parts.append(html.escape(paragraph[end:link.index], quote=True))
        href, label = html.escape(link.url, quote=True), html.escape(link.text, quote=True)
        parts.append(f'<a href="{href}">{label}</a>')
        end = link.last_index
    parts.append(html.escape(paragraph[end:], quote=True))
    return "".join(parts)


def render_html(body: str) -> str:
    """Escaped paragraphs with line breaks and ``http(s)`` links; nh3 cleans the result as a backstop."""
    paragraphs = [p for p in re.split(r"\n\s*\n", body) if p.strip()]
    rendered = "".join("<p>" + _linked(p.strip()).replace("\n", "<br>") + "</p>" for p in paragraphs)
    return nh3.clean(
        rendered,
        tags={"p", "br", "a"},
        attributes={"a": {"href"}},
        url_schemes={"http", "https"},
        link_rel="nofollow ugc noopener",
    )


def text_outside_links(body: str) -> str:
    """What is left of ``body`` once its links are taken out (the spam heuristics read it)."""
    kept, end = [], 0
    for link in links(body):
        kept.append(body[end:link.index])
        end = link.last_index
    kept.append(body[end:])
    return "".join(kept)
