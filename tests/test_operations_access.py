"""/metrics and the detail of /readyz: for the metrics token or an allowed network only; metric
labels from fixed sets, so made-up methods and paths cannot grow them."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, bearer, raw_request, running_gunicorn, status_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

OUTSIDER = {"REMOTE_ADDR": "198.51.100.23"}
TOKEN = "a-metrics-token-for-prometheus"


def test_metrics_need_an_allowed_network_or_the_token(app_factory):
    client = app_factory(metrics_token=TOKEN).test_client()
    assert client.get("/metrics").status_code == 200  # loopback is allowed by default
    assert_error(client.get("/metrics", environ_base=OUTSIDER), 403, "forbidden")
    assert_error(client.get("/metrics", environ_base=OUTSIDER, headers=bearer("wrong")), 403, "forbidden")
    allowed = client.get("/metrics", environ_base=OUTSIDER, headers=bearer(TOKEN))
    assert allowed.status_code == 200 and b"civility_http_requests_total" in allowed.data


def test_configured_networks_replace_loopback(app_factory):
    client = app_factory(metrics_networks=("10.0.0.0/8", "2001:db8::/32")).test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::5"}).status_code == 200
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", environ_base=OUTSIDER).status_code == 403


def test_public_readyz_says_only_whether_it_is_ready(client):
    public = client.get("/readyz", environ_base=OUTSIDER)
    assert public.status_code == 503 and public.json == {"status": "not_ready"}  # no worker runs here
    detailed = client.get("/readyz").json
    assert detailed["checks"]["database"] == {"ok": True} and "scorer" in detailed


def test_made_up_methods_and_paths_do_not_grow_the_metrics(client):
    for n in range(200):
        client.open("/healthz", method=f"MABCDEF{n}")
        client.get(f"/no/such/path/{n}")
    text = client.get("/metrics").get_data(as_text=True)
    assert "MABCDEF" not in text and "/no/such/path" not in text
    series = [line for line in text.splitlines() if line.startswith("civility_http_requests_total{")]
    assert len(series) < 10, series
    assert any('method="other"' in line for line in series)


def test_made_up_methods_leave_every_gunicorn_workers_metrics_small(settings, tmp_path):
    """The finding as reported: `curl -X MABCDEF…` against gunicorn grew /metrics in every worker."""
    def metrics_size() -> int:
        # Several scrapes, so that both workers answer at least one.
        return max(len(raw_request(server.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
                   for _ in range(8))

    with running_gunicorn(settings, tmp_path / "gunicorn.log", workers=2) as server:
        for _ in range(30):
            raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        before = metrics_size()
        for n in range(600):
            answer = raw_request(server.port, f"MABCDEF{n} /api/v1/x{n} HTTP/1.1\r\nHost: x\r\n"
                                              f"Connection: close\r\n\r\n".encode())
            assert status_of(answer) < 500
        after = metrics_size()
        public = raw_request(server.port, b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert after < before + 3000, (before, after)
    assert b'"checks"' in public  # loopback may see the detail


def test_metrics_are_refused_to_other_networks_on_a_real_server(settings, tmp_path):
    with running_gunicorn(settings, tmp_path / "gunicorn.log", CIVILITY_METRICS_NETWORKS="10.0.0.0/8",
                          CIVILITY_METRICS_TOKEN=TOKEN) as server:
        def get(path: str, *headers: str) -> bytes:
            extra = "".join(f"{h}\r\n" for h in headers)
            return raw_request(server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
                               .encode())

        assert status_of(get("/metrics")) == 403
        assert status_of(get("/metrics", f"Authorization: Bearer {TOKEN}")) == 200
        readyz = get("/readyz")
        assert b'"checks"' not in readyz and b'"status"' in readyz
