"""The word-list matcher: every obfuscation it undoes, the words it must leave alone, wildcards and
phrases, and the validation of entries. Fast: neither Redis nor a database."""

from __future__ import annotations

import pytest

from civility.errors import Invalid
from civility.wordlists import MAX_ENTRIES, WordListMatcher, WordListVerdict, clean_entries

VERMIN = 'word list (hold): "vermin"'


def held(text: str, *hold: str) -> list[str]:
    return WordListMatcher(hold=hold).check(text).hold


@pytest.mark.parametrize("text", [
    "You vermin.",
    "VERMIN!",                                # case
    "ｖｅｒｍｉｎ",                               # fullwidth (NFKC)
    "𝐯𝐞𝐫𝐦𝐢𝐧 and 𝖛𝖊𝖗𝖒𝖎𝖓",                       # mathematical letters (NFKC)
    "v\u0435rm\u0456n",                       # Cyrillic е and і
    "VΕRMΙΝ",                                 # Greek capitals
    "vérmin", "v̷e̸r̵m̶i̴n̷",                     # accents and zalgo marks on Latin letters
    "v3rm1n", "V3RM|N".replace("|", "1"),     # leetspeak: 3 -> e, 1 -> i
    "v.e.r.m.i.n", "v e r m i n", "v-e-r-m-i-n", "v_e_r_m_i_n", "v. e. r. m. i. n.",  # separators
    "you are a v e r m i n",                  # a lone "a" before the spaced-out word
    "verm\u200bin", "ver\u00admin",           # zero-width space, soft hyphen
    "vvveeeerrrmmmiiiinnnn", "vermiiiin",     # repeated letters
    "The vermin-like crowd",                  # a separator is a word boundary
])
def test_every_obfuscation_holds_with_the_entry_as_reason(text):
    assert held(text, "vermin") == [VERMIN]


@pytest.mark.parametrize("text,entry", [
    ("@$$", "ass"), ("a55", "ass"), ("a$$", "ass"), ("$h1t", "shit"), ("sh!t sh1t", "shit"),
    ("1diot", "idiot"), ("ki11", "kill"), ("k1ll", "kill"), ("0bsc3n3", "obscene"), ("4ss", "ass"),
    ("a.s.s", "ass"), ("bad-ass", "ass"), ("f.u.c.k", "fuck"), ("fuuuuuck", "fuck"), ("f u c k you", "fuck"),
    ("\u04c0diot", "idiot"),                  # a Cyrillic stroke reads as "I" or "l"
    ("\u041d\u0410\u0422\u0415", "hate"),     # Cyrillic capitals that look like HATE
])
def test_leetspeak_look_alikes_separators_and_repeats(text, entry):
    assert held(text, entry) == [f'word list (hold): "{entry}"']


@pytest.mark.parametrize("text,entry", [
    ("a class act", "ass"), ("Scunthorpe United", "cunt"), ("as I said", "ass"), ("passion, glass, assess", "ass"),
    ("c l a s s", "ass"), ("c.l.a.s.s", "ass"),   # spaced-out letters are one word, not every part of it
    ("room 455", "ass"), ("call 0800 4 55", "ass"),  # numbers are not leetspeak
    ("skill", "kill"), ("kilo", "kill"), ("killer", "kill"), ("shitake", "shit"),
    ("go back", "go back to *"), ("go back to", "go back to *"),  # "*" alone is one word, which must be there
    ("to go back", "back to *"),
])
def test_no_false_positives(text, entry):
    assert held(text, entry) == []


def test_wildcards_stand_for_letters_inside_a_word():
    m = WordListMatcher(hold=["kill*", "*hole", "*fuck*", "f*ck"])
    assert m.check("kill, killer, k1lling").hold == ['word list (hold): "kill*"']
    assert m.check("skill").hold == []
    assert m.check("what an a$$hole").hold == ['word list (hold): "*hole"']
    assert m.check("motherfuckers").hold == ['word list (hold): "*fuck*"']
    assert m.check("f*ck").hold == ['word list (hold): "f*ck"']
    assert m.check("fick").hold == ['word list (hold): "f*ck"']


def test_phrases_match_whole_words_in_order_across_punctuation():
    m = WordListMatcher(hold=["go back to *", "piece of shit"])
    assert m.check("Go back to where you came from").hold == ['word list (hold): "go back to *"']
    assert m.check("go... b4ck, to Africa!").hold == ['word list (hold): "go back to *"']
    assert m.check("what a piece of sh1t").hold == ['word list (hold): "piece of shit"']
    assert m.check("back to go, to back go").hold == []
    assert m.check("a piece of shitake").hold == []


def test_reject_and_hold_reasons_in_list_order_each_once():
    m = WordListMatcher(reject=["kill yourself"], hold=["vermin", "kill*", "idiot"])
    verdict = m.check("idiot vermin, k1ll y0urs3lf, vermin again")
    assert verdict == WordListVerdict(reject=['word list (reject): "kill yourself"'],
                                      hold=['word list (hold): "vermin"', 'word list (hold): "kill*"',
                                            'word list (hold): "idiot"'])


def test_entries_are_normalised_like_text_and_named_as_typed():
    assert held("vermin", "V3RMIN") == ['word list (hold): "V3RMIN"']
    assert held("vermin", "vеrmin") == ['word list (hold): "vеrmin"']  # a Cyrillic е in the entry
    assert held("ass", "@ss") == ['word list (hold): "@ss"']


def test_an_empty_matcher_finds_nothing():
    assert WordListMatcher().check("vermin") == WordListVerdict([], [])
    assert WordListMatcher(hold=["vermin"]).check("") == WordListVerdict([], [])


def test_hostile_text_is_checked_without_error():
    m = WordListMatcher(hold=["vermin", "kill*", "go back to *"])
    for text in ["1" * 5000, "a " * 2500, "@" * 5000, "\u0301" * 5000, "v\u0301" * 2500, "k1" * 2500, "\ud800x"]:
        assert isinstance(m.check(text), WordListVerdict)


def test_entries_are_cleaned_and_repeats_dropped():
    assert clean_entries(["  vermin ", "Vermin", "go  back\tto *", "kill*"]) == ["vermin", "go back to *", "kill*"]


@pytest.mark.parametrize("entries,message", [
    ([""], "entry 1: must not be empty"),
    (["ok", "   "], "entry 2: must not be empty"),
    (["x" * 101], "must be at most 100 characters"),
    (["*"], 'entry 1 ("*"): needs at least 2 letters or digits'),
    (["a*"], 'entry 1 ("a*"): needs at least 2 letters or digits'),
    (["* *"], "needs at least 2 letters or digits"),
    (["a\x00b"], "entry 1: must not contain NUL characters"),
    (["\ud800ab"], "entry 1: must be valid Unicode (no lone surrogates)"),
    ([42], "entry 1: must be a string"),
])
def test_invalid_entries_are_named(entries, message):
    with pytest.raises(Invalid) as raised:
        clean_entries(entries)
    assert any(message in m for m in raised.value.details["entries"]), raised.value.details
    assert message in raised.value.message


def test_at_most_ten_thousand_entries():
    assert len(clean_entries([f"word{n}" for n in range(MAX_ENTRIES)])) == MAX_ENTRIES
    with pytest.raises(Invalid, match="too many entries"):
        clean_entries([f"word{n}" for n in range(MAX_ENTRIES + 1)])
