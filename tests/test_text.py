"""Unicode rules and the safe HTML rendering."""

import pytest

from civility.text import TextError, normalise, render_html


def test_html_escapes_markup_and_keeps_paragraphs():
    html = render_html('<script>alert(1)</script> & "quotes"\nline two\n\nsecond paragraph')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert html.startswith("<p>") and "<br>" in html and html.count("<p>") == 2


def test_links_are_nofollow_ugc_and_only_http():
    html = render_html("see https://example.org/a?b=1&c=2 and javascript:alert(1)")
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow ugc noopener">' in html
    assert 'href="javascript' not in html


def test_invisible_and_bidi_controls_are_removed_but_joiners_kept():
    assert normalise("a\u200bb\u202ec\ufeff") == "abc"
    family = "\U0001F469\u200d\U0001F467"
    assert normalise(family) == family


def test_nul_and_lone_surrogates_are_rejected():
    with pytest.raises(TextError):
        normalise("a\x00b")
    with pytest.raises(TextError):
        normalise("a\ud800b")


def test_text_is_nfc_normalised_and_trimmed():
    assert normalise("  cafe\u0301 \r\n") == "caf\u00e9"
