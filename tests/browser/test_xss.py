"""Hostile comments and names, in the widget (on a host page without a CSP) and in the console.

Proof that nothing ran: no dialog, no console error, no request to the canary, no element in a
comment but p/br/http(s) links, every payload visible as plain text, and the layout intact.
"""

from __future__ import annotations

import re

from tests.browser.support import ABUSE, expect, item, new_article, only_article, sign_in, write


def body_payloads(canary: str) -> list[str]:
    return [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(2)>",
        f'<img src="{canary}/img3">',
        "<svg onload=alert(4)>",
        "<svg><script>alert(5)</script></svg>",
        '<a href="javascript:alert(6)">click me</a>',
        '<iframe src="javascript:alert(7)"></iframe>',
        '<iframe srcdoc="<script>alert(8)</script>"></iframe>',
        "<body onload=alert(9)>",
        f'<div style="background:url({canary}/css10)">styled</div>',
        f"<style>@import '{canary}/css11';</style>",
        f'<link rel=stylesheet href="{canary}/css12">',
        '"><script>alert(13)</script>',
        "'><img src=x onerror=alert(14)>",
        "</p></div></li></ol></section><h1>broken layout 15</h1>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(16)>",
        '<noscript><p title="</noscript><img src=x onerror=alert(17)>">',
        "<details open ontoggle=alert(18)>",
        "<input autofocus onfocus=alert(19)>",
        "<video><source onerror=alert(20)></video>",
        '<object data="javascript:alert(21)"></object>',
        f'<embed src="{canary}/embed22">',
        '<meta http-equiv="refresh" content="0;url=javascript:alert(23)">',
        f'<base href="{canary}/base24/">',
        '<form action="javascript:alert(25)"><button>go 25</button></form>',
        "javascript:alert(26)",
        'https://example.org/"onmouseover="alert(27)"',
        "https://example.org/<script>alert(28)</script>",
        "&lt;script&gt;alert(29)&lt;/script&gt;",
        "<scr<script>ipt>alert(30)</scr</script>ipt>",
        '<a href="jav&#x09;ascript:alert(31)">tab</a>',
        "{{constructor.constructor('alert(32)')()}}",
        "<img src=x:alert(33) onerror=eval(src)>",
        '<svg><a xlink:href="javascript:alert(34)"><text x="20" y="20">svg link 34</text></a></svg>',
        "<xmp><script>alert(35)</script></xmp>",
        '<!--<img src="--><img src=x onerror=alert(36)//">',
        "\u202eevil 37 override\u202c",
        "L" * 3000 + " 38",
        "<marquee onstart=alert(39)>marquee</marquee>",
        f'<img srcset="{canary}/srcset40 1x">',
        "<a href=\"https://example.org\" onclick=\"alert(41)\">https://example.org/41</a>",
    ]


def name_payloads(canary: str) -> list[str]:
    return [
        "<img src=x onerror=alert(101)>",
        "<script>alert(102)</script>",
        '"><svg onload=alert(103)>',
        "javascript:alert(104)",
        "<b onmouseover=alert(105)>bold</b>",
        f'<img src="{canary}/n106">',
    ]


SAFE_DOM = """root => {
  const bad = [];
  for (const body of root.querySelectorAll('.cv-body')) {
    for (const el of body.querySelectorAll('*')) {
      const ok = el.tagName === 'P' || el.tagName === 'BR' ||
        (el.tagName === 'A' && /^https?:\\/\\//.test(el.getAttribute('href')) && el.rel.includes('nofollow'));
      if (!ok || [...el.attributes].some(a => !['href', 'rel', 'target'].includes(a.name))) bad.push(el.outerHTML);
    }
  }
  for (const el of root.querySelectorAll('.cv-author, .cv-meta time, .cv-notice'))
    if (el.children.length) bad.push(el.outerHTML);
  const active = 'script, img, svg, iframe, object, embed, style, link, meta, base, video, math, details, marquee, h1';
  for (const el of root.querySelectorAll(active))
    bad.push(el.outerHTML);
  return bad;
}"""


def test_xss_payloads_never_run_in_the_widget_or_the_console(tab, open_tab, live):
    article = new_article("xss")
    canary = live.host.origin + "/canary"
    bodies, names = body_payloads(canary), name_payloads(canary)
    assert len(bodies) + len(names) >= 30
    posted = [live.post_comment(article, body, name=f"Tester {n}") for n, body in enumerate(bodies)]
    # Abusive text makes these land in the moderators' queue, so the console shows them first.
    posted += [live.post_comment(article, f"{ABUSE} {n}", name=name) for n, name in enumerate(names)]
    statuses = {c["id"]: live.wait_for(c["id"], "published", "flagged") for c in posted}
    held = [cid for cid, s in statuses.items() if s == "flagged"]
    assert len(held) >= len(names)

    # The console: hostile names and bodies are text, under a CSP that would report any attempt.
    console = open_tab()
    page = sign_in(console, live)
    only_article(page, article)
    expect(page.locator("#queue > li")).to_have_count(len(held))
    for name in names:
        expect(item(page, name).locator(".author")).to_have_text(name)
    assert page.evaluate("() => [...document.querySelectorAll('#queue .body, #queue .author')]"
                         ".filter(e => e.children.length).length") == 0
    page.get_by_label("Select all").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator("#notice")).to_have_text(f"Approved {len(held)} of {len(held)}.")
    assert console.dialogs == [] and console.errors == [], (console.dialogs, console.errors)

    # The widget, on a host page with no CSP of its own: the widget alone must keep it safe.
    tab.page.goto(live.host.url(article, csp=False))
    root = tab.page.locator(f'[data-civility-article="{article}"]')
    expect(root.locator(".cv-title")).to_have_text(f"{len(posted)} comments")
    more = root.get_by_role("button", name="Load more comments")
    for _ in range(5):
        if not more.is_visible():
            break
        more.click()
        expect(root.locator(".cv-more")).to_be_enabled()  # the page arrived (the button may be hidden now)
    expect(root.locator(".cv-list > .cv-c")).to_have_count(len(posted))
    # Two more through the widget's own form: the author's pending copy is rendered too.
    write(root, '<img src=x onerror=alert(201)><script>alert(202)</script>', name='<svg onload=alert(203)>')
    expect(root.locator(".cv-c", has_text="alert(202)").locator(".cv-author")).to_have_text("<svg onload=alert(203)>")
    for body in root.locator(".cv-body").all()[:10]:
        body.hover()

    text = root.inner_text()
    for marker in [f"alert({n})" for n in (1, 2, 4, 5, 6, 7, 9, 13, 14, 16, 18, 19, 20, 21, 25, 26, 27, 28, 30,
                                           32, 33, 35, 36, 39, 41, 101, 102, 103, 104, 105, 201)]:
        assert marker in text, f"{marker} is not shown as text"
    assert "broken layout 15" in text and "svg link 34" in text
    assert tab.page.evaluate(SAFE_DOM, root.element_handle()) == []
    assert tab.page.title() == "Host site"
    # No horizontal overflow: long words wrap inside the widget.
    assert tab.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    widths = root.evaluate("r => [r.scrollWidth, r.clientWidth]")
    assert widths[0] <= widths[1], widths

    assert tab.dialogs == [], tab.dialogs
    assert tab.errors == [], tab.errors
    assert not [p for p in live.host.requests if p.startswith("/canary")], live.host.requests
    expected = (live.base + "/widget.", live.base + "/api/v1/", live.host.origin + "/article")
    strays = [u for u in tab.requests + console.requests
              if not u.startswith(expected) and not u.startswith((live.base + "/moderate", live.base + "/static/"))]
    assert strays == [], strays
    assert re.search(r"\d+ comments", root.locator(".cv-title").inner_text())
