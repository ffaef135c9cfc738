"""Detoxify's model files: the pinned manifest, pulls (upstream or ``CIVILITY_MODEL_MIRROR``), verify,
export and import.

A Detoxify model is two things: a checkpoint (GitHub releases; Detoxify's loader keeps it in torch.hub's
cache, ``$TORCH_HOME/hub/checkpoints/``) and the config and tokenizer files of the Hugging Face model it
was trained from (the Hugging Face cache, ``$HF_HOME/hub/models--org--name/``). A pull writes both
exactly where torch.hub and huggingface_hub would, so ``Detoxify(...)`` then loads with no network.

Every file is checked before it is installed: against its full SHA-256 where we know it, else against
what is knowable (torch.hub's hash prefix in a checkpoint's file name). What we could not pin is
recorded at the first pull (``<torch hub>/civility/installed.json``), so ``verify`` still notices a
file that changed later. Nothing here imports torch, transformers or huggingface_hub.

Mirror layout (``CIVILITY_MODEL_MIRROR``, an http(s) base URL or a directory; an export unpacked is one):
``<mirror>/detoxify/<checkpoint file>`` and ``<mirror>/huggingface/<repo id>/<file>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import io
import json
import logging
import os
import re
import shutil
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

from civility.config import Settings
from civility.errors import DomainError

log = logging.getLogger(__name__)

CHECKPOINT_BASE = "https://github.com/unitaryai/detoxify/releases/download/"
HF_ENDPOINT = "https://huggingface.co"
# Tests (only) may replace or add models with pins of their own: a JSON file, see load_test_manifest.
TEST_MANIFEST_VARIABLE = "CIVILITY_TEST_MODEL_MANIFEST"

PROBE_TIMEOUT = 3.0  # seconds a source gets to answer before a worker starts with the fallback
PROBE_TTL = 3600  # how long a probe's answer is remembered
READ_TIMEOUT = 30.0  # one stalled read of a download
ATTEMPTS = 3  # tries per file within one pull, each resuming where the last stopped
CHUNK = 1 << 20
ARCHIVE_FORMAT = "civility-models"
# torch.hub's check_hash: the hex between the last '-' and the '.' of a file name starts its SHA-256.
_TORCH_HUB_HASH = re.compile(r"-([a-f0-9]*)\.")
_REVISION = re.compile(r"[A-Za-z0-9._-]{1,64}")


class ModelError(DomainError):
    """A pull, verify, export or import that cannot go on; the message is one line for an operator
    (the CLI prints it as ``Error: ...``)."""

    code, status_code = "model_files", 503


class NotFound(ModelError):
    """The source has no such file (404, or no file in a mirror directory)."""


# -- the manifest --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pin:
    sha256: str | None = None  # the full digest, where we know it
    size: int | None = None
    prefix: str | None = None  # torch.hub's hash prefix from the file name

    @property
    def kind(self) -> str:
        return "sha256" if self.sha256 else "prefix" if self.prefix else "none"


@dataclass(frozen=True)
class Artifact:
    id: str  # its path in a mirror and in an export: detoxify/<file> or huggingface/<repo>/<file>
    kind: str  # "checkpoint" or "huggingface"
    name: str  # the file name (in the repo, for Hugging Face files)
    url: str  # upstream
    pin: Pin
    optional: bool = False  # a Hugging Face file the repo may not have; loading works without it
    repo: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    checkpoint: Artifact
    hf_repo: str
    hf_revision: str
    hf_files: tuple[Artifact, ...]

    @property
    def artifacts(self) -> tuple[Artifact, ...]:
        return (self.checkpoint, *self.hf_files)


def _checkpoint(release: str, name: str, sha256: str | None = None, size: int | None = None,
                url: str | None = None) -> Artifact:
    match = _TORCH_HUB_HASH.search(name)
    pin = Pin(sha256=sha256, size=size, prefix=match.group(1) if match and match.group(1) else None)
    return Artifact(f"detoxify/{name}", "checkpoint", name, url or f"{CHECKPOINT_BASE}{release}/{name}", pin)


def _hf_files(repo: str, revision: str, files: list[tuple[str, bool]], endpoint: str = HF_ENDPOINT,
              pins: dict[str, Pin] | None = None) -> tuple[Artifact, ...]:
    return tuple(Artifact(f"huggingface/{repo}/{name}", "huggingface", name,
                          f"{endpoint.rstrip('/')}/{repo}/resolve/{revision}/{name}",
                          (pins or {}).get(name, Pin()), optional, repo)
                 for name, optional in files)


def _spec(name: str, checkpoint: Artifact, repo: str, revision: str, files: list[tuple[str, bool]]) -> ModelSpec:
    return ModelSpec(name, checkpoint, repo, revision, _hf_files(repo, revision, files))


# The pins. What is pinned and what could not be:
# - toxic_original-c1212f89.ckpt: its full SHA-256 and size, as published upstream.
# - the other checkpoints: only the 8 hex digits of their SHA-256 that torch.hub's file-name convention
#   carries (what torch.hub's own check_hash would test). Their full digests could not be learnt where
#   this was written (no network); record them here once fetched from a trusted connection.
# - Hugging Face files: the repository revision (a git commit, so upstream's content is fixed by it),
#   except albert-base-v2, whose commit we could not confirm ("main"). No per-file SHA-256 is pinned;
#   each file's digest is recorded at its first pull and checked by `civility models verify` after.
# tokenizer_config.json may be absent from a revision (optional); transformers loads without it.
_BERT = [("config.json", False), ("vocab.txt", False), ("tokenizer.json", False), ("tokenizer_config.json", True)]
_ROBERTA = [("config.json", False), ("vocab.json", False), ("merges.txt", False), ("tokenizer.json", False),
            ("tokenizer_config.json", True)]
_XLM_R = [("config.json", False), ("sentencepiece.bpe.model", False), ("tokenizer.json", False),
          ("tokenizer_config.json", True)]
_ALBERT = [("config.json", False), ("spiece.model", False), ("tokenizer.json", False),
           ("tokenizer_config.json", True)]

MODELS: dict[str, ModelSpec] = {
    "original": _spec(
        "original",
        _checkpoint("v0.1-alpha", "toxic_original-c1212f89.ckpt",
                    sha256="c1212f89ac23307ab33932ce29dc446a6e030fb3f384a500890bbe662b7b544a", size=438_021_897),
        "bert-base-uncased", "86b5e0934494bd15c9632b12f734a8a67f723594", _BERT),
    "unbiased": _spec("unbiased", _checkpoint("v0.3-alpha", "toxic_debiased-c7548aa0.ckpt"),
                      "roberta-base", "e2da8e2f811d1448a5b465c236feacd80ffbac7b", _ROBERTA),
    "multilingual": _spec("multilingual", _checkpoint("v0.4-alpha", "multilingual_debiased-0b549669.ckpt"),
                          "xlm-roberta-base", "e73636d4f797dec63c3081bb6ed5c7b0bb3f2089", _XLM_R),
    "original-small": _spec("original-small", _checkpoint("v0.1.2", "original-albert-0e1d6498.ckpt"),
                            "albert-base-v2", "main", _ALBERT),
    "unbiased-small": _spec("unbiased-small", _checkpoint("v0.1.2", "unbiased-albert-c8519128.ckpt"),
                            "albert-base-v2", "main", _ALBERT),
}


def load_test_manifest(path: str | Path) -> dict[str, ModelSpec]:
    """Models with test pins, for the test suite's tiny model served by a local mirror.

    ``{"models": {"original": {"checkpoint": {"name", "url", "sha256", "size"},
    "huggingface": {"repo", "revision", "endpoint", "files": [{"name", "sha256", "size", "optional"}]}}}}``
    """
    raw = json.loads(Path(path).read_text())
    specs = {}
    for name, entry in raw["models"].items():
        ck = entry["checkpoint"]
        hf = entry["huggingface"]
        files = [(f["name"], bool(f.get("optional"))) for f in hf["files"]]
        pins = {f["name"]: Pin(f.get("sha256"), f.get("size")) for f in hf["files"]}
        specs[name] = ModelSpec(name, _checkpoint("", ck["name"], ck.get("sha256"), ck.get("size"), ck["url"]),
                                hf["repo"], hf["revision"],
                                _hf_files(hf["repo"], hf["revision"], files, hf.get("endpoint", HF_ENDPOINT), pins))
    return specs


def manifest() -> dict[str, ModelSpec]:
    path = os.environ.get(TEST_MANIFEST_VARIABLE)
    if not path:
        return MODELS
    return {**MODELS, **load_test_manifest(path)}


def manifest_label() -> str:
    path = os.environ.get(TEST_MANIFEST_VARIABLE)
    return f"test manifest {path} ({TEST_MANIFEST_VARIABLE}; tests only)" if path else "built-in pins"


def spec_for(name: str) -> ModelSpec:
    specs = manifest()
    if name not in specs:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(specs)}")
    return specs[name]


# -- where the caches are ------------------------------------------------------------------------
def torch_hub_dir() -> Path:
    """torch.hub.get_dir(), without importing torch when nobody has."""
    torch = sys.modules.get("torch")
    hub = getattr(torch, "hub", None) if torch is not None else None
    if hub is not None:
        return Path(hub.get_dir())
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return Path(os.path.expanduser(home)) / "hub"


def hf_hub_cache() -> Path:
    """huggingface_hub's cache folder, by its own precedence (HF_HUB_CACHE, HF_HOME/hub, XDG), read now."""
    xdg = os.getenv("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    home = os.path.expandvars(os.path.expanduser(os.getenv("HF_HOME", os.path.join(xdg, "huggingface"))))
    hub = os.getenv("HF_HUB_CACHE", os.getenv("HUGGINGFACE_HUB_CACHE", os.path.join(home, "hub")))
    return Path(os.path.expandvars(os.path.expanduser(hub)))


def state_dir() -> Path:
    return torch_hub_dir() / "civility"


def checkpoint_path(spec: ModelSpec) -> Path:
    return torch_hub_dir() / "checkpoints" / spec.checkpoint.name


def hf_repo_dir(repo: str) -> Path:
    # huggingface_hub's repo_folder_name for a model repo
    return hf_hub_cache() / "--".join(["models", *repo.split("/")])


def hf_ref(repo: str, ref: str = "main") -> str | None:
    path = hf_repo_dir(repo) / "refs" / ref
    return path.read_text().strip() if path.is_file() else None


def hf_cached_file(repo: str, name: str) -> Path | None:
    """The file transformers would load offline (refs/main -> snapshot), as try_to_load_from_cache finds it."""
    revision = hf_ref(repo) or "main"
    path = hf_repo_dir(repo) / "snapshots" / revision / name
    return path if path.is_file() else None


def _no_exist_marker(repo: str, revision: str, name: str) -> Path:
    return hf_repo_dir(repo) / ".no_exist" / revision / name


def installed_path(artifact: Artifact) -> Path | None:
    if artifact.kind == "checkpoint":
        path = torch_hub_dir() / "checkpoints" / artifact.name
        return path if path.is_file() else None
    assert artifact.repo is not None
    return hf_cached_file(artifact.repo, artifact.name)


def _part_path(artifact: Artifact, revision: str) -> Path:
    if artifact.kind == "checkpoint":
        return torch_hub_dir() / "checkpoints" / f"{artifact.name}.part"
    assert artifact.repo is not None
    # beside the blobs, so installing is a rename on one file system (huggingface_hub uses .incomplete)
    return hf_repo_dir(artifact.repo) / "blobs" / f"{revision}--{artifact.name}.part"


def missing_for_loading(spec: ModelSpec) -> str | None:
    """Why Detoxify could not load ``spec`` from the caches alone (checked in milliseconds), or None."""
    path = checkpoint_path(spec)
    if not path.is_file():
        return f"no cached weights at {path}"
    size = spec.checkpoint.pin.size
    if size is not None and path.stat().st_size != size:
        return f"cached weights at {path} are incomplete ({path.stat().st_size:,} of {size:,} bytes)"
    for artifact in spec.hf_files:
        # tokenizer.json is pulled (transformers prefers it) but a cache seeded without it still loads:
        # the tokenizer is then built from the vocabulary files.
        if artifact.optional or artifact.name == "tokenizer.json":
            continue
        if hf_cached_file(spec.hf_repo, artifact.name) is None:
            what = "config" if artifact.name == "config.json" else artifact.name
            return f"no cached Hugging Face {what} for {spec.hf_repo}"
    return None


# -- records of what we installed ----------------------------------------------------------------
def _records_path() -> Path:
    return state_dir() / "installed.json"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _records() -> dict[str, Any]:
    return _read_json(_records_path()).get("files", {})


def _save_records(records: dict[str, Any]) -> None:
    _write_json(_records_path(), {"files": records})


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One pull or import at a time per cache (several workers may start together on one machine)."""
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _mismatch(artifact: Artifact, sha256: str, size: int) -> str | None:
    """What is wrong with these bytes for ``artifact`` by its pin, or None."""
    pin = artifact.pin
    if pin.size is not None and size != pin.size:
        return f"{size:,} bytes where {pin.size:,} are pinned"
    if pin.sha256 and sha256 != pin.sha256:
        return f"sha256 {sha256[:16]}... does not match the pinned {pin.sha256[:16]}..."
    if pin.prefix and not sha256.startswith(pin.prefix):
        return f"sha256 {sha256[:16]}... does not start with {pin.prefix} (torch.hub's hash in the file name)"
    return None


# -- progress ------------------------------------------------------------------------------------
class Progress(Protocol):
    def start(self, label: str, total: int | None, done: int) -> None: ...
    def update(self, count: int) -> None: ...
    def finish(self) -> None: ...


class NoProgress:
    def start(self, label: str, total: int | None, done: int) -> None:
        pass

    def update(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


class LineProgress:
    """A line every ``interval`` seconds (a worker's log, a Docker build): no carriage returns."""

    def __init__(self, emit: Callable[[str], None], interval: float = 5.0, verb: str = "pulling"):
        self.emit = emit
        self.interval = interval
        self.verb = verb
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self.last = 0.0

    def start(self, label: str, total: int | None, done: int) -> None:
        self.label, self.total, self.done, self.last = label, total, done, time.monotonic()
        resumed = f", resuming at {done / 1e6:.1f} MB" if done else ""
        size = f" ({total / 1e6:.1f} MB{resumed})" if total else resumed
        self.emit(f"{self.verb} {label}{size}")

    def update(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            share = f"{100 * self.done / self.total:.0f}% " if self.total else ""
            self.emit(f"{self.verb} {self.label}: {share}({self.done / 1e6:.1f} MB)")

    def finish(self) -> None:
        pass


class TqdmProgress:
    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, label: str, total: int | None, done: int) -> None:
        from tqdm import tqdm

        self.finish()
        self.bar = tqdm(total=total, initial=done, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                        file=sys.stderr, leave=True)

    def update(self, count: int) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# -- sources: upstream, an http(s) mirror, a directory -------------------------------------------
def _user_agent() -> str:
    try:
        return f"civility/{package_version('civility')} (model pull)"
    except Exception:  # noqa: BLE001 - run from a checkout that was never installed
        return "civility (model pull)"


_USER_AGENT = _user_agent()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a probe needs an answer, not what it points to


_probe_opener = urllib.request.build_opener(_NoRedirect)


class Source:
    """Where pulls come from. ``key`` names it in the probe cache and in the records."""

    key = ""
    label = ""
    upstream = False

    def url_for(self, artifact: Artifact) -> str:
        raise NotImplementedError

    def fetch(self, artifact: Artifact, part: Path, progress: Progress) -> None:
        """Complete ``part`` (resuming it where it can); raises NotFound or ModelError."""
        raise NotImplementedError

    def probe_one(self, artifact: Artifact, timeout: float) -> str | None:
        """None if the source answers for ``artifact``, else why not."""
        raise NotImplementedError


class HttpSource(Source):
    def __init__(self, base: str | None):
        self.base = base.rstrip("/") if base else None
        self.upstream = base is None
        self.key = "upstream" if base is None else f"mirror {self.base}"
        self.label = "upstream (GitHub releases and huggingface.co)" if base is None else f"mirror {self.base}"

    def url_for(self, artifact: Artifact) -> str:
        return artifact.url if self.base is None else f"{self.base}/{artifact.id}"

    def probe_one(self, artifact: Artifact, timeout: float) -> str | None:
        request = urllib.request.Request(self.url_for(artifact), method="HEAD", headers={"User-Agent": _USER_AGENT})
        try:
            with _probe_opener.open(request, timeout=timeout):
                return None
        except urllib.error.HTTPError as exc:
            return None if exc.code < 400 else f"HTTP {exc.code} for {self.url_for(artifact)}"
        except (OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"

    def fetch(self, artifact: Artifact, part: Path, progress: Progress) -> None:
        url = self.url_for(artifact)
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(0.5 * attempt)
            try:
                if self._fetch_once(url, artifact, part, progress):
                    return
                problem = f"the connection closed after {part.stat().st_size:,} bytes"
            except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, timeouts, resets, 5xx
                problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            finally:
                progress.finish()
        kept = f"; {part.stat().st_size:,} bytes kept in {part.name} (pulling again resumes)" if part.exists() else ""
        raise ModelError(f"{artifact.id}: download from {url} failed: {problem}{kept}")

    def _fetch_once(self, url: str, artifact: Artifact, part: Path, progress: Progress) -> bool:
        offset = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": _USER_AGENT}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=READ_TIMEOUT)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and offset:
                return True  # the .part already holds every byte; verification decides
            if exc.code in (403, 404, 410):  # 403: what GitHub's and some object stores' CDNs say for a missing file
                raise NotFound(f"{artifact.id}: HTTP {exc.code} from {url}") from None
            if exc.code >= 500 or exc.code == 429:
                raise ConnectionError(f"HTTP {exc.code}") from None  # tried again
            raise ModelError(f"{artifact.id}: HTTP {exc.code} from {url}") from None
        with response:
            mode = "wb"
            if offset and response.status == 206:
                match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
                if match and int(match.group(1)) == offset:
                    mode = "ab"
            if mode == "wb":
                offset = 0
            length = response.headers.get("Content-Length")
            expected = offset + int(length) if length and length.isdigit() else artifact.pin.size
            progress.start(artifact.id, expected, offset)
            part.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(part, mode) as out:
                    _copy(response, out, progress, artifact, offset)
                    written = out.tell()
            except ModelError:  # more bytes than pinned: nothing worth resuming
                part.unlink(missing_ok=True)
                raise
        return expected is None or written >= expected


class DirectorySource(Source):
    def __init__(self, root: Path):
        self.root = root
        self.key = f"mirror {root}"
        self.label = f"mirror {root}"

    def url_for(self, artifact: Artifact) -> str:
        return str(self.root / artifact.id)

    def probe_one(self, artifact: Artifact, timeout: float) -> str | None:
        return None if (self.root / artifact.id).is_file() else f"no {self.root / artifact.id}"

    def fetch(self, artifact: Artifact, part: Path, progress: Progress) -> None:
        path = self.root / artifact.id
        if not path.is_file():
            raise NotFound(f"{artifact.id}: not in {self.root}")
        part.parent.mkdir(parents=True, exist_ok=True)
        progress.start(artifact.id, path.stat().st_size, 0)
        try:
            with open(path, "rb") as src, open(part, "wb") as out:
                _copy(src, out, progress, artifact, 0)
        except ModelError:
            part.unlink(missing_ok=True)
            raise
        finally:
            progress.finish()


def _copy(src: BinaryIO | Any, out: IO[Any], progress: Progress, artifact: Artifact, offset: int,
          digest: Any = None) -> None:
    limit = artifact.pin.size
    total = offset
    while chunk := src.read(CHUNK):
        total += len(chunk)
        if limit is not None and total > limit:
            raise ModelError(f"{artifact.id}: more than the pinned {limit:,} bytes")
        out.write(chunk)
        if digest is not None:
            digest.update(chunk)
        progress.update(len(chunk))


def source_for(settings: Settings) -> Source:
    mirror = settings.model_mirror
    if not mirror:
        return HttpSource(None)
    if re.match(r"https?://", mirror):
        return HttpSource(mirror)
    path = Path(mirror[len("file://"):] if mirror.startswith("file://") else mirror).expanduser()
    if not path.is_dir():
        raise ModelError(f"CIVILITY_MODEL_MIRROR: {mirror} is neither an http(s) URL nor a directory")
    return DirectorySource(path.resolve())


# -- probing a source, quickly, once an hour -----------------------------------------------------
def _probe_path() -> Path:
    return state_dir() / "probe.json"


def cached_probe(source: Source, now: float | None = None) -> dict[str, Any] | None:
    """The remembered answer for ``source`` if younger than PROBE_TTL: {"ok", "detail", "at"}."""
    entry = _read_json(_probe_path()).get(source.key)
    now = time.time() if now is None else now
    if isinstance(entry, dict) and 0 <= now - float(entry.get("at", 0)) < PROBE_TTL:
        return entry
    return None


def remember_probe(source: Source, ok: bool, detail: str) -> None:
    with contextlib.suppress(OSError):  # a read-only cache just means probing again next time
        entries = _read_json(_probe_path())
        entries[source.key] = {"ok": ok, "detail": detail, "at": time.time()}
        _write_json(_probe_path(), entries)


def probe(source: Source, spec: ModelSpec, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """Does ``source`` answer for the checkpoint and the Hugging Face config? Remembered for PROBE_TTL."""
    targets = [spec.checkpoint, next(a for a in spec.hf_files if a.name == "config.json")]
    answers: list[str | None] = [f"no answer within {timeout:g} s"] * len(targets)

    def ask(i: int) -> None:
        answers[i] = source.probe_one(targets[i], timeout)

    threads = [threading.Thread(target=ask, args=(i,), daemon=True) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 0.5
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    problems = [a for a in answers if a]
    ok = not problems
    detail = "answered" if ok else "; ".join(dict.fromkeys(problems))
    remember_probe(source, ok, detail)
    return ok, detail


class BackgroundProbe:
    """Probes in a daemon thread (or answers from the cache at once), so a start never waits on the network
    for longer than ``timeout``, and a machine that is offline remembers it for an hour."""

    def __init__(self, source: Source, spec: ModelSpec, timeout: float = PROBE_TIMEOUT):
        self.timeout = timeout
        self.answer: tuple[bool, str] | None = None
        cached = cached_probe(source)
        if cached is not None:
            self.answer = (bool(cached["ok"]), f"{cached['detail']} (remembered from "
                                              f"{time.strftime('%H:%M:%S', time.localtime(cached['at']))})")
            self.thread = None
            return
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, args=(source, spec), daemon=True, name="civility-probe")
        self.thread.start()

    def _run(self, source: Source, spec: ModelSpec) -> None:
        self.answer = probe(source, spec, self.timeout)

    def result(self) -> tuple[bool, str]:
        if self.thread is not None:
            self.thread.join(max(0.0, self.timeout + 1.0 - (time.monotonic() - self.started)))
        return self.answer or (False, f"no answer within {self.timeout:g} s")


# -- pull ----------------------------------------------------------------------------------------
@dataclass
class PullReport:
    model: str
    source: str
    fetched: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # already installed and verified
    absent: list[str] = field(default_factory=list)  # optional files the source does not have


def _record(records: dict[str, Any], artifact: Artifact, path: Path, sha256: str, revision: str | None,
            source: str) -> None:
    stat = path.stat()
    records[artifact.id] = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                            "revision": revision, "source": source, "at": int(time.time())}


def _recorded_digest(records: dict[str, Any], artifact: Artifact, path: Path, revision: str | None) -> str | None:
    """The digest recorded for this very file (same size and mtime, same revision), or None."""
    record = records.get(artifact.id)
    if not isinstance(record, dict) or record.get("revision") != revision:
        return None
    stat = path.stat()
    if record.get("size") == stat.st_size and record.get("mtime_ns") == stat.st_mtime_ns:
        return record.get("sha256")
    return None


def _target(artifact: Artifact, revision: str) -> Path:
    if artifact.kind == "checkpoint":
        return torch_hub_dir() / "checkpoints" / artifact.name
    assert artifact.repo is not None
    return hf_repo_dir(artifact.repo) / "snapshots" / revision / artifact.name


def _install(artifact: Artifact, part: Path, sha256: str, revision: str) -> Path:
    """Move a verified ``part`` into the cache layout torch.hub or huggingface_hub uses."""
    if artifact.kind == "checkpoint":
        target = _target(artifact, revision)
        os.replace(part, target)
        return target
    assert artifact.repo is not None
    repo_dir = hf_repo_dir(artifact.repo)
    blob = repo_dir / "blobs" / sha256
    os.replace(part, blob)
    link = _target(artifact, revision)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    try:
        link.symlink_to(os.path.relpath(blob, link.parent))
    except OSError:  # no symlinks here: huggingface_hub then keeps real files in the snapshot too
        shutil.copyfile(blob, link)
    with contextlib.suppress(FileNotFoundError):
        _no_exist_marker(artifact.repo, revision, artifact.name).unlink()
    return link


def _mark_absent(artifact: Artifact, revision: str) -> None:
    assert artifact.repo is not None
    marker = _no_exist_marker(artifact.repo, revision, artifact.name)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def _set_ref(repo: str, revision: str) -> None:
    refs = hf_repo_dir(repo) / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(revision)


def _already_installed(artifact: Artifact, revision: str, records: dict[str, Any]) -> bool:
    path = _target(artifact, revision)
    if not path.is_file():
        return artifact.optional and _no_exist_marker(artifact.repo or "", revision, artifact.name).is_file()
    sha256 = _recorded_digest(records, artifact, path, revision)
    if sha256 is None:
        sha256, _ = sha256_of(path)
    if _mismatch(artifact, sha256, path.stat().st_size):
        return False
    recorded = records.get(artifact.id)
    if isinstance(recorded, dict) and recorded.get("revision") == revision and recorded.get("sha256") != sha256:
        return False
    if artifact.id not in records:
        _record(records, artifact, path, sha256, revision if artifact.kind == "huggingface" else None, "found")
    return True


def pull(name: str, settings: Settings, progress: Progress | None = None) -> PullReport:
    """Fetch every file of model ``name`` not yet installed, verify each, install it; one line on failure."""
    spec = spec_for(name)
    source = source_for(settings)
    progress = progress or NoProgress()
    report = PullReport(name, source.label)
    with _locked():
        records = _records()
        try:
            for artifact in spec.artifacts:
                revision = spec.hf_revision
                record_revision = revision if artifact.kind == "huggingface" else None
                if _already_installed(artifact, revision, records):
                    report.kept.append(artifact.id)
                    continue
                part = _part_path(artifact, revision)
                resumed = part.exists()
                try:
                    source.fetch(artifact, part, progress)
                except NotFound as exc:
                    if artifact.optional:
                        _mark_absent(artifact, revision)
                        report.absent.append(artifact.id)
                        continue
                    raise ModelError(f"{exc} ({source.label} has no such file)") from None
                sha256, size = sha256_of(part)
                problem = _mismatch(artifact, sha256, size)
                if problem and resumed:  # the .part may be from another file: once more, from scratch
                    log.warning("%s: %s after resuming an earlier download; downloading it again", artifact.id,
                                problem)
                    part.unlink()
                    source.fetch(artifact, part, progress)
                    sha256, size = sha256_of(part)
                    problem = _mismatch(artifact, sha256, size)
                if problem:
                    part.unlink()
                    raise ModelError(f"{artifact.id} from {source.label}: {problem}; refused and deleted it")
                target = _install(artifact, part, sha256, revision)
                _record(records, artifact, target, sha256, record_revision, source.key)
                report.fetched.append(artifact.id)
            _set_ref(spec.hf_repo, spec.hf_revision)
        finally:
            _save_records(records)
    remember_probe(source, True, "pulled")
    return report


# -- inventory and verify ------------------------------------------------------------------------
@dataclass
class FileState:
    id: str
    kind: str
    state: str  # ok | mismatch | missing | partial | absent (optional, not upstream) | unverified
    path: str | None = None
    size: int | None = None
    sha256: str | None = None
    pin: str = "none"  # sha256 | prefix | none: what the code pins for it
    pinned_sha256: str | None = None
    revision: str | None = None
    optional: bool = False
    detail: str = ""


@dataclass
class ModelState:
    name: str
    state: str  # complete | partial | missing | corrupt
    files: list[FileState]
    hf_repo: str
    hf_revision: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _file_state(spec: ModelSpec, artifact: Artifact, records: dict[str, Any], rehash: bool) -> FileState:
    state = FileState(artifact.id, artifact.kind, "missing", pin=artifact.pin.kind,
                      pinned_sha256=artifact.pin.sha256, optional=artifact.optional)
    path = installed_path(artifact)
    revision = None
    if artifact.kind == "huggingface":
        assert artifact.repo is not None
        revision = hf_ref(artifact.repo) or "main"
        state.revision = revision
        if path is None and _no_exist_marker(artifact.repo, revision, artifact.name).is_file():
            state.state, state.detail = "absent", "not in this revision (optional)"
            return state
    if path is None:
        part = _part_path(artifact, spec.hf_revision)
        if part.is_file():
            state.state, state.size = "partial", part.stat().st_size
            state.detail = f"{state.size:,} bytes downloaded ({part.name}); pull again to resume"
        return state
    state.path = str(path)
    state.size = path.stat().st_size
    sha256 = None if rehash else _recorded_digest(records, artifact, path, revision)
    if sha256 is None:
        sha256, _ = sha256_of(path)
    state.sha256 = sha256
    problem = _mismatch(artifact, sha256, state.size)
    record = records.get(artifact.id)
    if problem:
        state.state, state.detail = "mismatch", problem
    elif isinstance(record, dict) and record.get("revision") == revision and record.get("sha256") not in (None,
                                                                                                         sha256):
        state.state = "mismatch"
        state.detail = f"sha256 {sha256[:16]}... differs from {record['sha256'][:16]}... recorded when it was pulled"
    elif artifact.pin.sha256:
        state.state, state.detail = "ok", "matches the pinned sha256"
    elif isinstance(record, dict) and record.get("revision") == revision:
        state.state = "ok"
        state.detail = ("matches torch.hub's prefix and the digest recorded at pull" if artifact.pin.prefix
                        else "matches the digest recorded at pull (no upstream pin)")
    else:
        state.state = "unverified"
        state.detail = ("matches torch.hub's prefix only; not pulled by civility" if artifact.pin.prefix
                        else "no pin and not pulled by civility: nothing to compare with")
    return state


def model_state(name: str, rehash: bool = False) -> ModelState:
    """What of model ``name`` is installed; ``rehash`` recomputes every digest (else recorded ones are trusted
    while a file keeps the size and mtime it had when recorded)."""
    spec = spec_for(name)
    records = _records()
    files = [_file_state(spec, a, records, rehash) for a in spec.artifacts]
    required = [f for f in files if not f.optional]
    if any(f.state == "mismatch" for f in files):
        overall = "corrupt"
    elif all(f.state in ("ok", "unverified") for f in required):
        overall = "complete"
    elif any(f.state in ("ok", "unverified", "partial") for f in files):
        overall = "partial"
    else:
        overall = "missing"
    return ModelState(name, overall, files, spec.hf_repo, spec.hf_revision)


# -- export and import ---------------------------------------------------------------------------
def export(destination: Path, names: list[str]) -> dict[str, Any]:
    """One tar (uncompressed: weights do not compress) laid out as a mirror, manifest.json first."""
    entries: dict[str, Any] = {}
    files: list[tuple[str, Path]] = []
    for name in names:
        state = model_state(name, rehash=True)
        if state.state != "complete":
            bad = [f"{f.id} ({f.state})" for f in state.files if f.state not in ("ok", "unverified", "absent")]
            raise ModelError(f"cannot export {name}: it is {state.state}: {', '.join(bad)}")
        revision = hf_ref(state.hf_repo) or "main"
        entries[name] = {"huggingface_repo": state.hf_repo, "huggingface_revision": revision,
                         "files": [{"path": f.id, "sha256": f.sha256, "size": f.size} for f in state.files
                                   if f.path],
                         "absent": [f.id for f in state.files if f.state == "absent"]}
        files += [(f.id, Path(f.path).resolve()) for f in state.files if f.path]
    document = json.dumps({"format": ARCHIVE_FORMAT, "version": 1, "created": int(time.time()),
                           "models": entries}, indent=1).encode()
    destination = Path(destination)
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime, info.mode = len(document), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(document))
            for arcname, path in files:
                member = tar.gettarinfo(str(path), arcname=arcname)
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                with open(path, "rb") as handle:
                    tar.addfile(member, handle)
        os.replace(tmp, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return entries


def _archive_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.getmember("manifest.json")
    except KeyError:
        raise ModelError("not a civility models archive: no manifest.json") from None
    if not member.isreg() or member.size > 1 << 20:
        raise ModelError("not a civility models archive: manifest.json is not a small file")
    handle = tar.extractfile(member)
    assert handle is not None
    try:
        document = json.loads(handle.read())
    except ValueError:
        raise ModelError("not a civility models archive: manifest.json is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != ARCHIVE_FORMAT:
        raise ModelError("not a civility models archive: unknown manifest format")
    return document


def import_archive(source: Path, progress: Progress | None = None) -> list[str]:
    """Check every file of the archive against the code's pins and the archive's digests, then install."""
    progress = progress or NoProgress()
    try:
        tar = tarfile.open(source, "r:*")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise ModelError(f"cannot read {source}: {exc}") from None
    staged: list[tuple[Artifact, Path, str, str, str]] = []  # artifact, part, sha256, revision, model
    absent: list[tuple[Artifact, str]] = []
    try:
        with tar:
            document = _archive_manifest(tar)
            models = document.get("models")
            if not isinstance(models, dict) or not models:
                raise ModelError("the archive names no models")
            for name, entry in models.items():
                spec = spec_for(name)
                revision = str(entry.get("huggingface_revision", ""))
                if entry.get("huggingface_repo") != spec.hf_repo or not _REVISION.fullmatch(revision):
                    raise ModelError(f"{name}: the archive's Hugging Face repo or revision is not {spec.hf_repo}")
                known = {a.id: a for a in spec.artifacts}
                listed = {f.get("path"): f for f in entry.get("files", []) if isinstance(f, dict)}
                for artifact in spec.artifacts:
                    if artifact.id in entry.get("absent", []) and artifact.optional:
                        absent.append((artifact, revision))
                    elif artifact.id not in listed:
                        raise ModelError(f"{name}: the archive lacks {artifact.id}")
                for path, listed_file in listed.items():
                    found = known.get(str(path))
                    if found is None:
                        raise ModelError(f"{name}: the archive holds {path!r}, which is no file of {name}")
                    if any(s[0].id == path for s in staged):
                        continue  # a Hugging Face file two models share
                    staged.append((found, *_stage(tar, found, listed_file, revision, progress), name))
            with _locked():
                records = _records()
                for artifact, part, sha256, revision, _ in staged:
                    target = _install(artifact, part, sha256, revision)
                    _record(records, artifact, target, sha256,
                            revision if artifact.kind == "huggingface" else None, f"archive {Path(source).name}")
                for artifact, revision in absent:
                    _mark_absent(artifact, revision)
                for name, entry in models.items():
                    _set_ref(spec_for(name).hf_repo, str(entry["huggingface_revision"]))
                _save_records(records)
            staged = []
            return list(models)
    except (tarfile.TarError, EOFError) as exc:
        raise ModelError(f"cannot read {source}: {type(exc).__name__}: {exc}") from None
    finally:
        for _, part, *_rest in staged:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()


def _stage(tar: tarfile.TarFile, artifact: Artifact, listed: dict[str, Any], revision: str,
           progress: Progress) -> tuple[Path, str, str]:
    """Copy one member to its .part beside its destination, checking it on the way; (part, sha256, revision)."""
    try:
        member = tar.getmember(artifact.id)
    except KeyError:
        raise ModelError(f"the archive lacks {artifact.id}") from None
    if not member.isreg():
        raise ModelError(f"{artifact.id} in the archive is not a regular file")
    if member.size != listed.get("size"):
        raise ModelError(f"{artifact.id}: {member.size:,} bytes, the archive's manifest says {listed.get('size')}")
    part = _part_path(artifact, revision)
    part.parent.mkdir(parents=True, exist_ok=True)
    handle = tar.extractfile(member)
    assert handle is not None
    digest = hashlib.sha256()
    progress.start(artifact.id, member.size, 0)
    try:
        with open(part, "wb") as out:
            _copy(handle, out, progress, artifact, 0, digest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        progress.finish()
    sha256 = digest.hexdigest()
    problem = _mismatch(artifact, sha256, member.size)
    if not problem and sha256 != listed.get("sha256"):
        problem = f"sha256 {sha256[:16]}... does not match the archive's manifest"
    if problem:
        part.unlink()
        raise ModelError(f"{artifact.id} in {os.fsdecode(tar.name or '')}: {problem}; refused the archive")
    return part, sha256, revision
