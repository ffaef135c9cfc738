"""`civility models` and `CIVILITY_SCORER=auto`'s pull, against a mirror on 127.0.0.1 serving a tiny model.

The model is a Detoxify-format checkpoint with random weights plus a Hugging Face config and vocabulary, made
here; its pins come from a test-only manifest (CIVILITY_TEST_MODEL_MANIFEST), as the real pins are for files
no test can download. Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from civility.config import Settings
from civility.infra.presence import live_workers
from tests.helpers import ROOT, bearer, free_port, post, wait_until
from workers.scorers import load_scorer, models
from workers.scorers.detoxify_scorer import weights_available

REPO = "civility-test/tiny-bert"
REVISION = "0123456789abcdef0123456789abcdef01234567"
CLOSED = "http://127.0.0.1:9"  # the "upstream" of the test manifest: nothing listens there


# -- a mirror on 127.0.0.1 -----------------------------------------------------------------------
class Mirror:
    """Serves ``files`` by path (HEAD, GET, Range) and records every request, proxy requests included."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.requests: list[tuple[str, str, str | None]] = []
        self.corrupt: set[str] = set()
        self.cut_after: dict[str, int] = {}  # path -> bytes the next GET sends before hanging up
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_CONNECT(self):  # an HTTPS request through us as a proxy
                mirror.requests.append(("CONNECT", self.path, None))
                self.send_error(502)

            def do_HEAD(self):
                self.answer(body=False)

            def do_GET(self):
                self.answer(body=True)

            def answer(self, body: bool) -> None:
                path = self.path.lstrip("/")
                wanted = self.headers.get("Range")
                mirror.requests.append((self.command, path, wanted))
                if path not in mirror.files:
                    self.send_error(404)
                    return
                data = mirror.files[path]
                if path in mirror.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                start = int(wanted.split("=")[1].split("-")[0]) if wanted else 0
                if start >= len(data) > 0:
                    self.send_error(416)
                    return
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if not body:
                    return
                cut = mirror.cut_after.pop(path, None) if self.command == "GET" else None
                if cut is not None:
                    self.wfile.write(data[start:start + cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data[start:])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def gets(self, path: str) -> list[str | None]:
        """The Range header of every GET of ``path``."""
        return [r for method, p, r in self.requests if method == "GET" and p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """The files of a tiny model in the mirror layout, and a manifest pinning them."""
    from workers.scorers.synthetic import build_checkpoint

    root = tmp_path_factory.mktemp("tiny-model")
    checkpoint = build_checkpoint(root, hf_name=REPO).read_bytes()
    digest = hashlib.sha256(checkpoint).hexdigest()
    name = f"tiny_original-{digest[:8]}.ckpt"  # torch.hub's convention, checked like the real ones
    files = {f"detoxify/{name}": checkpoint}
    hf_files = []
    for file in ("config.json", "vocab.txt", "tokenizer_config.json"):
        data = (root / "hf" / file).read_bytes()
        files[f"huggingface/{REPO}/{file}"] = data
        # tokenizer_config.json stays unpinned, as upstream Hugging Face files are: recorded at the pull
        pin = {} if file == "tokenizer_config.json" else {"sha256": hashlib.sha256(data).hexdigest(),
                                                          "size": len(data)}
        hf_files.append({"name": file, **pin})
    hf_files.append({"name": "tokenizer.json", "optional": True})  # not in the mirror: absent, optional
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps({"models": {"original": {
        "checkpoint": {"name": name, "url": f"{CLOSED}/detoxify/{name}", "sha256": digest, "size": len(checkpoint)},
        "huggingface": {"repo": REPO, "revision": REVISION, "endpoint": CLOSED, "files": hf_files}}}}))
    return {"files": files, "manifest": str(manifest), "checkpoint": f"detoxify/{name}", "name": name,
            "sha256": digest}


@pytest.fixture
def mirror(tiny_model):
    served = Mirror(tiny_model["files"])
    yield served
    served.close()


@pytest.fixture
def caches(tmp_path, monkeypatch, tiny_model):
    """Empty torch.hub and Hugging Face caches and the test pins, here and for child processes."""
    env = {"TORCH_HOME": str(tmp_path / "torch"), "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"), models.TEST_MANIFEST_VARIABLE: tiny_model["manifest"]}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CIVILITY_MODEL_MIRROR", raising=False)
    return env


def civility(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env={**os.environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


def settings_for(**overrides) -> Settings:
    return Settings.from_env({}, **overrides)


def checkpoint_file(tiny_model) -> Path:
    return models.torch_hub_dir() / "checkpoints" / tiny_model["name"]


def comment_scored_by(client, token, comment_id) -> str | None:
    history = client.get(f"/api/v1/moderation/comments/{comment_id}/history", headers=bearer(token)).json["events"]
    scored = [e for e in history if e["action"] == "score"]
    return scored[-1]["actor"] if scored else None


# -- the real pins ---------------------------------------------------------------------------------
def test_the_real_pins_name_detoxifys_own_urls_and_torch_hub_prefixes():
    from detoxify.detoxify import MODEL_URLS

    assert {name: spec.checkpoint.url for name, spec in models.MODELS.items()} == MODEL_URLS
    for spec in models.MODELS.values():
        assert spec.checkpoint.pin.prefix and spec.checkpoint.pin.prefix in spec.checkpoint.name
        assert spec.hf_files[0].name == "config.json"
    original = models.MODELS["original"].checkpoint.pin
    assert original.sha256 == "c1212f89ac23307ab33932ce29dc446a6e030fb3f384a500890bbe662b7b544a"
    assert original.size == 438_021_897 and original.sha256.startswith(original.prefix)


# -- pull, then a real worker ----------------------------------------------------------------------
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_pull_installs_where_detoxify_looks_and_a_worker_then_scores_with_no_network_call(
        caches, mirror, tiny_model, client, settings_factory, worker_process, moderator_token, redis_client):
    pulled = civility("models", "pull", env={**caches, "CIVILITY_MODEL_MIRROR": mirror.url})
    assert pulled.returncode == 0, pulled.stderr
    assert "original is installed" in pulled.stdout

    # torch.hub's cache, and huggingface_hub's layout: refs/main -> snapshots/<revision>/<file> -> blobs/<sha256>
    assert checkpoint_file(tiny_model).read_bytes() == tiny_model["files"][tiny_model["checkpoint"]]
    repo_dir = Path(caches["HF_HUB_CACHE"]) / "models--civility-test--tiny-bert"
    assert (repo_dir / "refs" / "main").read_text() == REVISION
    config = repo_dir / "snapshots" / REVISION / "config.json"
    assert config.is_symlink() and config.resolve().parent == (repo_dir / "blobs").resolve()
    assert config.resolve().name == hashlib.sha256(config.read_bytes()).hexdigest()
    assert (repo_dir / ".no_exist" / REVISION / "tokenizer.json").is_file()
    assert not list(Path(caches["TORCH_HOME"]).rglob("*.part")) and not list(repo_dir.rglob("*.part"))

    # A worker with every source pointed at the mirror, which is also its HTTP(S) proxy: any request counts.
    before = len(mirror.requests)
    settings = settings_factory(scorer="auto")
    worker = worker_process(settings, **caches, CIVILITY_MODEL_MIRROR=mirror.url, CIVILITY_MODEL_AUTO_PULL="1",
                            HTTP_PROXY=mirror.url, HTTPS_PROXY=mirror.url, http_proxy=mirror.url,
                            https_proxy=mirror.url, NO_PROXY="", no_proxy="")
    [announced] = wait_until(lambda: live_workers(redis_client, settings), 90,
                             message=lambda: f"the worker's announcement\n{worker.output()}")
    assert announced["name"] == "detoxify" and announced["fallback"] is False and announced["warning"] is None
    assert announced["origin"] == "cached weights"
    comment_id = post(client, "Scored by the pulled model").json["id"]
    wait_until(lambda: comment_scored_by(client, moderator_token, comment_id), 60,
               message=lambda: f"a score\n{worker.output()}")
    assert comment_scored_by(client, moderator_token, comment_id) == "scorer:detoxify"
    assert mirror.requests[before:] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_without_weights_pulls_them_once_at_start_with_progress_in_its_log(
        caches, mirror, tiny_model, client, settings_factory, worker_process, moderator_token, redis_client):
    settings = settings_factory(scorer="auto")
    comment_id = post(client, "Waiting in the queue while the model is pulled").json["id"]
    worker = worker_process(settings, **caches, CIVILITY_MODEL_MIRROR=mirror.url)
    [announced] = wait_until(lambda: live_workers(redis_client, settings), 90,
                             message=lambda: f"the worker's announcement\n{worker.output()}")
    assert announced["name"] == "detoxify" and announced["fallback"] is False
    assert announced["origin"] == f"pulled from mirror {mirror.url} at start"
    wait_until(lambda: comment_scored_by(client, moderator_token, comment_id), 60,
               message=lambda: f"a score\n{worker.output()}")
    assert comment_scored_by(client, moderator_token, comment_id) == "scorer:detoxify"
    log = worker.output()
    assert f"pulling them once from mirror {mirror.url} before scoring" in log
    assert f"pulling {tiny_model['checkpoint']}" in log
    assert len(mirror.gets(tiny_model["checkpoint"])) == 1


# -- refusing, resuming, falling back --------------------------------------------------------------
def test_a_file_that_does_not_match_its_pin_is_refused_and_deleted(caches, mirror, tiny_model):
    mirror.corrupt.add(tiny_model["checkpoint"])
    refused = civility("models", "pull", env={**caches, "CIVILITY_MODEL_MIRROR": mirror.url})
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    [error] = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
    assert error.startswith(f"Error: {tiny_model['checkpoint']} from mirror {mirror.url}: sha256 ")
    assert error.endswith(f"does not match the pinned {tiny_model['sha256'][:16]}...; refused and deleted it")
    assert not list(Path(caches["TORCH_HOME"]).rglob("*.ckpt*"))  # neither the file nor a .part

    mirror.corrupt.clear()
    assert civility("models", "pull", env={**caches, "CIVILITY_MODEL_MIRROR": mirror.url}).returncode == 0


def test_an_interrupted_download_resumes_with_a_range_request(caches, mirror, tiny_model):
    path = tiny_model["checkpoint"]
    size = len(tiny_model["files"][path])
    mirror.cut_after[path] = size // 3  # the connection drops a third of the way through
    report = models.pull("original", settings_for(model_mirror=mirror.url))
    assert path in report.fetched
    assert mirror.gets(path) == [None, f"bytes={size // 3}-"]
    assert checkpoint_file(tiny_model).read_bytes() == tiny_model["files"][path]


def test_a_part_left_by_an_earlier_pull_is_resumed(caches, mirror, tiny_model):
    path = tiny_model["checkpoint"]
    data = tiny_model["files"][path]
    part = checkpoint_file(tiny_model).with_name(tiny_model["name"] + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])
    models.pull("original", settings_for(model_mirror=mirror.url))
    assert mirror.gets(path) == ["bytes=1000-"]
    assert checkpoint_file(tiny_model).read_bytes() == data and not part.exists()


def test_a_part_that_does_not_fit_is_thrown_away_and_the_file_fetched_again(caches, mirror, tiny_model):
    path = tiny_model["checkpoint"]
    part = checkpoint_file(tiny_model).with_name(tiny_model["name"] + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 1000)  # from some other file, or another version of this one
    models.pull("original", settings_for(model_mirror=mirror.url))
    assert mirror.gets(path) == ["bytes=1000-", None]
    assert checkpoint_file(tiny_model).read_bytes() == tiny_model["files"][path]


@pytest.fixture
def silent_mirror():
    """Accepts connections and never answers (a firewall that drops, a hung proxy)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_a_mirror_that_is_down_means_the_fallback_within_seconds_and_is_remembered(caches, kind, silent_mirror):
    url = f"http://127.0.0.1:{free_port()}" if kind == "refused" else silent_mirror
    settings = settings_for(scorer="auto", model_mirror=url)
    loaded: list = []
    threading.Thread(target=lambda: loaded.append(load_scorer(settings)), daemon=True).start()
    # The probe gives up after models.PROBE_TIMEOUT seconds; a download would wait far longer.
    wait_until(lambda: loaded, 15, message="the fallback")
    [(_, info)] = loaded
    assert info.name == "profanity" and info.fallback is True
    assert f"mirror {url} did not answer" in info.warning and "no cached weights" in info.warning
    remembered = models.cached_probe(models.source_for(settings))
    assert remembered is not None and remembered["ok"] is False
    # Within the hour the answer is remembered: the next start does not ask again.
    _, again = load_scorer(settings)
    assert "remembered from" in again.warning


def test_no_network_without_auto_pull_or_with_hub_offline_and_no_mirror(caches, mirror, monkeypatch):
    _, info = load_scorer(settings_for(scorer="auto", model_mirror=mirror.url, model_auto_pull=False))
    assert info.fallback and "CIVILITY_MODEL_AUTO_PULL=0" in info.warning
    assert mirror.requests == []

    def no_network(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    _, info = load_scorer(settings_for(scorer="auto"))
    assert info.fallback and "HF_HUB_OFFLINE=1 and no CIVILITY_MODEL_MIRROR" in info.warning


# -- export, import, list, verify ------------------------------------------------------------------
def test_export_and_import_move_a_model_to_an_air_gapped_machine(caches, mirror, tiny_model, tmp_path, monkeypatch):
    models.pull("original", settings_for(model_mirror=mirror.url))
    archive = tmp_path / "models.tar"
    models.export(archive, ["original"])
    with tarfile.open(archive) as tar:
        assert tar.getnames()[0] == "manifest.json"
        assert set(tar.getnames()[1:]) == set(tiny_model["files"])  # the mirror layout

    # "another machine": empty caches
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "gapped-torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "gapped-hf"))
    assert weights_available(settings_for())[0] is False
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.endswith("tokenizer_config.json"):  # unpinned here: the archive's digest catches it
                data = data.replace(b"true", b"fals")
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(models.ModelError, match="tokenizer_config.json .* does not match the archive's manifest"):
        models.import_archive(tampered)
    assert not [p for p in tmp_path.glob("gapped-*/**/*") if p.is_file() and p.name not in ("lock",)]

    assert models.import_archive(archive) == ["original"]
    assert weights_available(settings_for()) == (True, "")
    state = models.model_state("original", rehash=True)
    assert state.state == "complete" and {f.state for f in state.files} == {"ok", "absent"}

    # An export unpacked is a mirror directory.
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "third-torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "third-hf"))
    report = models.pull("original", settings_for(model_mirror=str(unpacked)))
    assert report.source == f"mirror {unpacked.resolve()}" and len(report.fetched) == 4


def test_list_and_verify_say_what_is_installed_and_which_scorer_a_worker_would_use(caches, mirror, tiny_model):
    env = {**caches, "CIVILITY_MODEL_MIRROR": mirror.url}
    before = json.loads(civility("models", "list", "--json", env=env).stdout)
    assert before["models"][0]["name"] == "original" and before["models"][0]["state"] == "missing"
    assert before["worker"]["action"] == "probe" and mirror.requests == []  # list asks no network

    assert civility("models", "pull", env=env).returncode == 0
    listed = json.loads(civility("models", "list", "--json", env=env).stdout)
    original = listed["models"][0]
    assert original["state"] == "complete" and listed["worker"] == {
        "scorer": "detoxify", "action": "load",
        "reason": "original: weights, config and tokenizer are cached; loads with no network call"}
    files = {f["id"]: f for f in original["files"]}
    checkpoint = files[tiny_model["checkpoint"]]
    assert checkpoint["state"] == "ok" and checkpoint["pin"] == "sha256"
    assert checkpoint["size"] == len(tiny_model["files"][tiny_model["checkpoint"]])
    assert checkpoint["sha256"] == hashlib.sha256(tiny_model["files"][tiny_model["checkpoint"]]).hexdigest()
    assert files[f"huggingface/{REPO}/tokenizer_config.json"]["detail"].startswith("matches the digest recorded")
    assert files[f"huggingface/{REPO}/tokenizer.json"]["state"] == "absent"
    text = civility("models", "list", env=env).stdout
    assert "original: complete  (CIVILITY_DETOXIFY_MODEL)" in text and "worker: detoxify (load)" in text

    verified = civility("models", "verify", env=env)
    assert verified.returncode == 0 and "original: complete" in verified.stdout
    with open(Path(caches["HF_HUB_CACHE"]) / "models--civility-test--tiny-bert" / "snapshots" / REVISION
              / "tokenizer_config.json", "ab") as handle:
        handle.write(b" ")
    broken = civility("models", "verify", env=env)
    assert broken.returncode == 1 and "original: corrupt" in broken.stdout
    assert f"mismatch   huggingface/{REPO}/tokenizer_config.json" in broken.stdout
    assert broken.stderr.strip().startswith("Error: verification failed")


def test_dev_describes_what_the_worker_reports():
    from service.devserver import describe_scorer

    assert describe_scorer({"name": "detoxify", "version": "original/detoxify-0.5.4", "fallback": False,
                            "warning": None, "origin": "pulled from upstream at start"}) == \
        "detoxify original/detoxify-0.5.4 (pulled from upstream at start)"
    fallback = describe_scorer({"name": "profanity", "version": "p (fallback)", "fallback": True,
                                "warning": "Detoxify weights are not available (...)", "origin": "fallback"})
    assert fallback.startswith("profanity p (fallback)\n") and "warning: Detoxify weights" in fallback
