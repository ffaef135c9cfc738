"""Unicode rules and the safe HTML rendering."""

from html import escape as html_escape

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


@pytest.mark.parametrize("body,href,after", [
    ('"https://example.org/q"', "https://example.org/q", '</a>"</p>'),
    ("https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)", "</a></p>"),
    ("(see https://example.org/x).", "https://example.org/x", "</a>).</p>"),
    ("Read https://example.org/report, then decide!", "https://example.org/report", "</a>, then decide!</p>"),
    ("<https://example.org/x>", "https://example.org/x", "</a>&gt;</p>"),
])
def test_links_keep_quotes_and_trailing_punctuation_outside_and_parentheses_inside(body, href, after):
    html = render_html(body)
    assert f'<a href="{html_escape(href)}" rel="nofollow ugc noopener">{html_escape(href)}</a>' in html, html
    assert html.endswith(after), html
    assert ";" not in html.replace("&gt;", "").replace("&lt;", ""), html  # no stray characters


def test_only_explicit_http_links_are_linked():
    html = render_html("example.org, www.example.org, a@b.example and ftp://example.org stay text")
    assert "<a " not in html


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
