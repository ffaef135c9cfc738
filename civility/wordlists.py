"""Moderation word lists, as Coral (banned and suspect words) and Discourse (watched words) have them.

Two lists: an entry of ``reject`` rejects a comment, an entry of ``hold`` sends it to the moderators.
Entries are words or phrases; ``*`` inside a word stands for any letters (``kill*``, ``*hole``), and
a ``*`` on its own for any one word (``go back to *``).

Text and entries are read the same way (``fold``, ``_words``, ``_spellings``): NFKC and case folding, Unicode
confusables (Cyrillic and Greek look-alikes, from ``confusable-homoglyphs``), accents and "zalgo"
marks stripped from Latin letters, leetspeak (0→o, 1→i or l, 3→e, 4→a, 5→s, @→a, $→s) and
letters spaced out (``f.u.c.k``, ``f u c k``, ``f-u-c-k``). Matching is by whole words, so
``ass`` never matches ``class``, nor ``cunt`` ``Scunthorpe``. A run of one letter matches a run at
least as long (``fuck`` matches ``fuuuck``; ``ass`` does not match ``as``).

Speed: the text is folded once; each distinct word is looked up in dictionaries keyed by its
letters with repeats collapsed (exact words, and the literal start, end or middle of wildcard
words), so the cost grows with the text, not with the number of entries. ``bench/wordlists.py``
measures it.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import unicodedata
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache

from civility.errors import Conflict, Invalid, NotFound
from civility.store.db import Database
from civility.store.models import utcnow
from civility.store.wordlists import WordListRepository
from civility.text import TextError, normalise

KINDS = ("reject", "hold")
MAX_ENTRY_CHARS = 100
MAX_ENTRIES = 10_000
# An entry needs this many letters or digits: "*" or "a*" would hold nearly every comment.
MIN_ENTRY_LETTERS = 2
# How often a process asks the database whether the lists changed (a change made in this process
# is seen at once; one made elsewhere within this many seconds).
CHECK_INTERVAL_SECONDS = 2.0


# -- reading text ----------------------------------------------------------------------------------
_LEET = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s"})
# The leetspeak symbols are letters wherever they are ("@$$", "$hit"), so words may contain them.
_SYMBOLS = str.maketrans({"@": "a", "$": "s"})
# "1" is "i" or "l": a word with ones is tried both ways (all combinations up to this many ones).
_MAX_ONES = 3
# Combining marks after a Latin letter or digit ("fück", zalgo text) are dropped; marks elsewhere
# belong to their script and stay.
_LATIN_MARKS = re.compile(r"(?<=[a-z0-9])[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
# A word: letters and digits, any script ("@" and "$" are letters by then: see ``fold``).
_WORD = re.compile(r"[^\W_]+")
_ENTRY_WORD = re.compile(r"(?:[^\W_]|\*)+")
_NOT_WORD = re.compile(r"[\W_]")
# Words joined by up to three separators but no space: "f.u.c.k", "well-known", "don't".
_CHAIN = re.compile(r"[^\W_]+(?:(?:[^\w\s]|_){1,3}[^\W_]+)*")
# Single letters (not part of a longer word) with up to three separators between them: "f u c k",
# "f. u. c. k.", "f-u-c-k".
_LONE = r"(?<![^\W_])[^\W_](?![^\W_])"
_SPACED = re.compile(rf"{_LONE}(?:[\W_]{{1,3}}{_LONE})+")


@cache
def _confusables() -> dict[int, str]:
    """Each non-ASCII character that looks like one ASCII letter or digit -> that letter, from the
    maintained Unicode confusables data. A look-alike of "l" (or of both "i" and "l") maps to "1",
    which is read both ways like a typed one."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[int, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        targets = {g["c"].lower() for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()}
        readings = {t.translate(_LEET) for t in targets}  # "o" and "0" read alike
        if readings == {"l"}:
            # A stroke like "l" is as much a capital "I": "Ӏdiot".
            table[ord(char)] = "1"
        elif len(readings) == 1:
            # The letter if there is one; a digit stays a digit (numbers are not leetspeak).
            table[ord(char)] = min(targets, key=lambda t: (not t.isalpha(), t))
        elif len(readings) > 1 and readings <= {"i", "l", "1"}:
            table[ord(char)] = "1"
        # A look-alike of two different letters stays as it is.
    return table


def fold(text: str) -> str:
    """Case, compatibility forms, look-alikes and accents folded away; "@" and "$" read as "a" and
    "s"; separators and digits kept."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        # Look-alikes in both cases: "НАТЕ" (Cyrillic capitals) reads "hate", though "нате" does not.
        table = _confusables()
        text = unicodedata.normalize("NFD", text).translate(table).casefold().translate(table)
        text = unicodedata.normalize("NFC", _LATIN_MARKS.sub("", text))
    return text.casefold().translate(_SYMBOLS)


@dataclass(frozen=True)
class _Spelling:
    """One way to read a word: its letters, the letters with repeats collapsed, and the repeat counts."""

    letters: str
    skeleton: str
    runs: tuple[int, ...]


def _collapse(letters: str) -> _Spelling:
    skeleton, runs = [], []
    for char, group in itertools.groupby(letters):
        skeleton.append(char)
        runs.append(len(list(group)))
    return _Spelling(letters, "".join(skeleton), tuple(runs))


@lru_cache(maxsize=1 << 15)
def _spellings_cached(word: str) -> tuple[_Spelling, ...]:
    return _spellings(word)


def _spellings(word: str) -> tuple[_Spelling, ...]:
    """Every reading of a folded word: leetspeak undone (not in numbers: "455" is a room), and each
    "1" read as "i" and as "l"."""
    if word.isdigit() and word.isascii():
        return (_collapse(word),)
    word = word.translate(_LEET)
    ones = word.count("1")
    if not ones:
        return (_collapse(word),)
    if ones > _MAX_ONES:
        choices: Iterable[tuple[str, ...]] = [("i",) * ones, ("l",) * ones]
    else:
        choices = itertools.product("il", repeat=ones)
    readings = []
    for choice in choices:
        parts = word.split("1")
        readings.append("".join(itertools.chain.from_iterable(zip(parts, (*choice, ""), strict=True))))
    return tuple(_collapse(r) for r in dict.fromkeys(readings))


def _words(folded: str) -> tuple[list[list[str]], set[str]]:
    """The word sequences to match phrases on, and extra single words from letters spaced out.

    Sequences: the words as written ("well", "known"), and, where words are joined by short
    separators without spaces, joined too ("wellknown", "fuck" from "f.u.c.k"). A separator is a
    word boundary, so "bad-ass" has the word "ass" but "class" has not.

    Extra words: single letters separated by short gaps ("f u c k", "a.s.s") read as one word,
    also without their first and/or last letter, so that a lone "a" does not hide a spaced-out
    word ("you are a f u c k"). Not every part of the run: "c l a s s" is "class", never "ass".
    """
    split = _WORD.findall(folded)
    chains = _CHAIN.findall(folded)
    sequences = [split] if len(chains) == len(split) else [split, [_NOT_WORD.sub("", c) for c in chains]]
    extras: set[str] = set()
    for run in _SPACED.finditer(folded):
        word = _NOT_WORD.sub("", run.group())
        extras.update(w for w in (word, word[1:], word[:-1], word[1:-1]) if len(w) > 1)
    return sequences, extras


# -- entries -----------------------------------------------------------------------------------------
@dataclass
class _Pattern:
    """One word of an entry: a literal word, a word with ``*`` in it, or ``*`` alone (any one word)."""

    text: str
    exact: _Spelling | None = None
    # Skeletons of a wildcard word's literal start, end and longest middle piece ("" if none).
    prefix: str = ""
    suffix: str = ""
    middle: str = ""
    _regex: re.Pattern[str] | None = None

    @classmethod
    def of(cls, word: str) -> _Pattern:
        if "*" not in word:
            return cls(word, exact=_collapse(word))
        pieces = word.split("*")
        inner = sorted((_collapse(p).skeleton for p in pieces[1:-1] if p), key=len)
        return cls(word, prefix=_collapse(pieces[0]).skeleton, suffix=_collapse(pieces[-1]).skeleton,
                   middle=inner[-1] if inner else "")

    def strength(self) -> int:
        """How selective a lookup on this word is: an exact word beats any literal piece."""
        if self.exact is not None:
            return 1000 + len(self.exact.skeleton)
        return max(len(self.prefix), len(self.suffix), len(self.middle))

    def regex(self) -> re.Pattern[str]:
        # Compiled on first use: most wildcard entries are never near a candidate word. A run of
        # n letters matches n or more ("kill*" is k+i+l{2,}.*).
        if self._regex is None:
            parts = []
            for piece in self.text.split("*"):
                spelled = _collapse(piece)
                parts.append("".join(re.escape(c) + ("+" if n == 1 else f"{{{n},}}")
                                     for c, n in zip(spelled.skeleton, spelled.runs, strict=True)))
            self._regex = re.compile(".*".join(parts))
        return self._regex

    def matches(self, spelling: _Spelling) -> bool:
        if self.exact is not None:
            return (spelling.skeleton == self.exact.skeleton
                    and all(a >= b for a, b in zip(spelling.runs, self.exact.runs, strict=True)))
        return self.regex().fullmatch(spelling.letters) is not None

    def matches_word(self, word: str) -> bool:
        return any(self.matches(s) for s in _spellings_cached(word))


@dataclass(eq=False)  # compared and hashed by identity
class _Rule:
    """One reading of one entry: its words, the one looked up (``anchor``), and the reason it gives."""

    order: int  # the entry's position (reject entries first): reasons come in list order
    kind: str
    reason: str
    patterns: list[_Pattern]
    anchor: int = 0


def entry_words(entry: str) -> list[list[str]]:
    """The readings of an entry, each a list of words read like a text's ("k1ll": "kill" and "klll")."""
    readings: list[list[str]] = [[]]
    for word in _ENTRY_WORD.findall(fold(entry)):
        pieces = [[s.letters for s in _spellings(p)] if p else [""] for p in word.split("*")]
        options = ["*".join(combo) for combo in itertools.product(*pieces)]
        readings = [r + [o] for r in readings for o in options][:8]
    return [r for r in readings if r]


def _letters(entry: str) -> int:
    return sum(len(word.replace("*", "")) for word in _ENTRY_WORD.findall(fold(entry)))


def reason(kind: str, entry: str) -> str:
    return f'word list ({kind}): "{entry}"'


@dataclass(frozen=True)
class WordListVerdict:
    """The reasons (``word list (hold): "vermin"``) of the entries a text matched, in list order."""

    reject: list[str]
    hold: list[str]


_Index = dict[str, list[tuple[_Rule, int]]]


class WordListMatcher:
    """Both lists compiled for matching. Built once per version of the lists; ``check`` only reads
    (wildcard regexes are compiled on first use, which is idempotent), so threads may share it."""

    def __init__(self, reject: Sequence[str] = (), hold: Sequence[str] = ()):
        self.reject, self.hold = list(reject), list(hold)
        self._exact: _Index = {}
        self._prefix: _Index = {}
        self._suffix: _Index = {}
        self._middle: _Index = {}
        order = 0
        for kind, entries in (("reject", self.reject), ("hold", self.hold)):
            for entry in entries:
                order += 1
                for words in entry_words(entry):
                    self._add(_Rule(order, kind, reason(kind, entry), [_Pattern.of(w) for w in words]))
        # Only the lengths some entry has are looked up.
        self._prefix_lengths = sorted({len(k) for k in self._prefix})
        self._suffix_lengths = sorted({len(k) for k in self._suffix})
        self._middle_lengths = sorted({len(k) for k in self._middle})

    def _add(self, rule: _Rule) -> None:
        strengths = [p.strength() for p in rule.patterns]
        if max(strengths) == 0:
            return  # nothing literal to look up (validation refuses such entries)
        rule.anchor = strengths.index(max(strengths))
        pattern = rule.patterns[rule.anchor]
        if pattern.exact is not None:
            index, key = self._exact, pattern.exact.skeleton
        else:
            index, key = max(((self._prefix, pattern.prefix), (self._suffix, pattern.suffix),
                              (self._middle, pattern.middle)), key=lambda pair: len(pair[1]))
        index.setdefault(key, []).append((rule, rule.anchor))

    def __bool__(self) -> bool:
        return bool(self._exact or self._prefix or self._suffix or self._middle)

    def _candidates(self, word: str) -> list[tuple[_Rule, int]]:
        """Rules whose looked-up word matches ``word``, with that word's position in the rule."""
        spellings = _spellings_cached(word)
        found: list[tuple[_Rule, int]] = []
        for spelling in spellings:
            skeleton = spelling.skeleton
            size = len(skeleton)
            found += self._exact.get(skeleton, ())
            for n in self._prefix_lengths:
                if n > size:
                    break
                found += self._prefix.get(skeleton[:n], ())
            for n in self._suffix_lengths:
                if n > size:
                    break
                found += self._suffix.get(skeleton[-n:], ())
            for n in self._middle_lengths:
                if n > size:
                    break
                for start in range(size - n + 1):
                    found += self._middle.get(skeleton[start:start + n], ())
        if not found:
            return found
        return [(rule, at) for rule, at in dict.fromkeys(found)
                if any(rule.patterns[at].matches(s) for s in spellings)]

    def check(self, text: str) -> WordListVerdict:
        if not self:
            return WordListVerdict([], [])
        sequences, extras = _words(fold(text))
        candidates: dict[str, list[tuple[_Rule, int]]] = {}
        matched: dict[int, _Rule] = {}
        for words in sequences:
            for position, word in enumerate(words):
                found = candidates.get(word)
                if found is None:
                    found = candidates[word] = self._candidates(word)
                for rule, at in found:
                    if rule.order not in matched and _matches_at(rule, words, position - at):
                        matched[rule.order] = rule
        # Spaced-out letters ("f u c k") are single words: only one-word entries apply to them.
        for word in extras - candidates.keys():
            for rule, _ in self._candidates(word):
                if len(rule.patterns) == 1:
                    matched.setdefault(rule.order, rule)
        rules = [matched[order] for order in sorted(matched)]
        return WordListVerdict([r.reason for r in rules if r.kind == "reject"],
                               [r.reason for r in rules if r.kind == "hold"])


def _matches_at(rule: _Rule, words: list[str], start: int) -> bool:
    if len(rule.patterns) == 1:
        return True  # the looked-up word is the whole entry, and it matched
    if start < 0 or start + len(rule.patterns) > len(words):
        return False
    return all(i == rule.anchor or pattern.matches_word(words[start + i]) for i, pattern in enumerate(rule.patterns))


# -- the lists, kept in the database ---------------------------------------------------------------
@dataclass(frozen=True)
class WordList:
    kind: str
    entries: list[str]
    version: int  # 0 for a list never changed
    updated_at: datetime | None
    updated_by: str | None


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"no word list named {kind!r}; the lists are {' and '.join(KINDS)}")
    return kind


def clean_entries(entries: Iterable[object]) -> list[str]:
    """Entries as stored: normalised like comment text, on one line, each 1 to ``MAX_ENTRY_CHARS``
    characters with at least ``MIN_ENTRY_LETTERS`` letters or digits; repeats (ignoring case) dropped.
    Problems are one ``Invalid`` naming each bad entry by its position."""
    cleaned: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(entries, 1):
        if len(problems) == 20:
            problems.append("… and maybe more")
            break
        if not isinstance(raw, str):
            problems.append(f"entry {number}: must be a string")
            continue
        try:
            entry = normalise(raw, single_line=True)
        except TextError as exc:
            problems.append(f"entry {number}: {exc}")
            continue
        if not entry:
            problems.append(f"entry {number}: must not be empty")
        elif len(entry) > MAX_ENTRY_CHARS:
            problems.append(f'entry {number} ("{entry[:20]}…"): must be at most {MAX_ENTRY_CHARS} characters')
        elif _letters(entry) < MIN_ENTRY_LETTERS:
            problems.append(f'entry {number} ("{entry}"): needs at least {MIN_ENTRY_LETTERS} letters or digits')
        else:
            cleaned.setdefault(entry.casefold(), entry)
    if problems:
        raise Invalid("invalid word list entries: " + "; ".join(problems), {"entries": problems})
    if len(cleaned) > MAX_ENTRIES:
        raise Invalid(f"too many entries: {len(cleaned):,}", {"entries": [f"at most {MAX_ENTRIES:,} per list"]})
    return list(cleaned.values())


def _list(repo: WordListRepository, kind: str) -> WordList:
    row = repo.version(kind)
    return WordList(kind, [e.entry for e in repo.entries(kind)], row.version if row else 0,
                    row.updated_at if row and row.version else None, row.updated_by if row else None)


def list_entries(db: Database, kind: str) -> WordList:
    _check_kind(kind)
    with db.read() as session:
        return _list(WordListRepository(session), kind)


def add_entries(db: Database, kind: str, entries: Sequence[str], actor: str | None) -> tuple[WordList, list[str]]:
    """Add entries to a list; returns the list and the entries that were new to it."""
    wanted = clean_entries(entries)
    with db.transaction() as session:
        repo = WordListRepository(session)
        row = repo.version(_check_kind(kind), for_update=True)
        present = {e.entry.casefold() for e in repo.entries(kind)}
        added = [e for e in wanted if e.casefold() not in present]
        if len(present) + len(added) > MAX_ENTRIES:
            raise Invalid(f"the {kind} list would have {len(present) + len(added):,} entries",
                          {"entries": [f"at most {MAX_ENTRIES:,} per list"]})
        if added and row is not None:
            now = utcnow()
            repo.add(kind, added, actor, now)
            repo.bump(row, actor, now)
        result = _list(repo, kind)
    _forget(db)
    return result, added


def remove_entries(db: Database, kind: str, entries: Sequence[str], actor: str | None) -> tuple[WordList, list[str]]:
    """Remove entries (matched ignoring case); returns the list and the entries that were removed."""
    keys = set()
    for raw in entries:
        try:
            keys.add(normalise(raw, single_line=True).casefold())
        except TextError:
            continue  # never stored, so never there
    with db.transaction() as session:
        repo = WordListRepository(session)
        row = repo.version(_check_kind(kind), for_update=True)
        gone = [e for e in repo.entries(kind) if e.entry.casefold() in keys]
        if gone and row is not None:
            repo.remove(kind, [e.id for e in gone])
            repo.bump(row, actor, utcnow())
        result = _list(repo, kind)
    _forget(db)
    return result, [e.entry for e in gone]


def replace_entries(db: Database, kind: str, entries: Sequence[object], actor: str | None,
                    version: int | None = None) -> WordList:
    """Make a list exactly ``entries``. With ``version``, only if the list is still at that version
    (409 otherwise: somebody else changed it since it was read). Entries kept keep their history."""
    wanted = clean_entries(entries)
    with db.transaction() as session:
        repo = WordListRepository(session)
        row = repo.version(_check_kind(kind), for_update=True)
        assert row is not None  # created by for_update
        if version is not None and version != row.version:
            raise Conflict(f"the {kind} list changed since version {version} (now {row.version}, by "
                           f"{row.updated_by or 'someone'}); reload it and try again",
                           {"version": row.version, "updated_by": row.updated_by})
        existing = repo.entries(kind)
        keep = set(wanted)
        gone = [e.id for e in existing if e.entry not in keep]
        new = [e for e in wanted if e not in {x.entry for x in existing}]
        if gone or new:
            now = utcnow()
            repo.remove(kind, gone)
            repo.add(kind, new, actor, now)
            repo.bump(row, actor, now)
        result = _list(repo, kind)
    _forget(db)
    return result


# -- the matcher each process uses -------------------------------------------------------------------
@dataclass
class _Compiled:
    matcher: WordListMatcher
    versions: dict[str, int]
    checked: float


_compiled: weakref.WeakKeyDictionary[Database, _Compiled] = weakref.WeakKeyDictionary()
_compiling = threading.Lock()


def current_matcher(db: Database) -> WordListMatcher:
    """This process's matcher for ``db``'s lists. The database is the record: at most every
    ``CHECK_INTERVAL_SECONDS`` one small query compares the lists' versions with the compiled
    ones, and a change made by any process is compiled in."""
    compiled = _compiled.get(db)
    if compiled is not None and time.monotonic() - compiled.checked < CHECK_INTERVAL_SECONDS:
        return compiled.matcher
    with _compiling:
        compiled = _compiled.get(db)
        if compiled is not None and time.monotonic() - compiled.checked < CHECK_INTERVAL_SECONDS:
            return compiled.matcher
        with db.read() as session:
            repo = WordListRepository(session)
            versions = repo.versions()
            if compiled is not None and versions == compiled.versions:
                compiled.checked = time.monotonic()
                return compiled.matcher
            # Read after the versions: at worst the entries are newer, and the next check reloads.
            rows = repo.all_entries()
        matcher = WordListMatcher([e for k, e in rows if k == "reject"], [e for k, e in rows if k == "hold"])
        _compiled[db] = _Compiled(matcher, versions, time.monotonic())
        return matcher


def _forget(db: Database) -> None:
    """A change made in this process is seen by its next check, without waiting."""
    with _compiling:
        _compiled.pop(db, None)
