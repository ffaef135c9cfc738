"""Sources of model files (upstream, an http(s) mirror, a directory), and probing one quickly, once an hour."""

from __future__ import annotations

import contextlib
import http.client
import re
import threading
import time
import urllib.error
import urllib.request
from importlib.metadata import version as package_version
from pathlib import Path
from typing import IO, Any, BinaryIO

from civility.config import Settings
from workers.scorers.models.cache import CHUNK, _read_json, _write_json, state_dir
from workers.scorers.models.errors import ModelError, NotFound
from workers.scorers.models.pins import Artifact, ModelSpec
from workers.scorers.models.progress import Progress

PROBE_TIMEOUT = 3.0  # seconds a source gets to answer before a worker starts with the fallback
PROBE_TTL = 3600  # how long a probe's answer is remembered
READ_TIMEOUT = 30.0  # one stalled read of a download
ATTEMPTS = 3  # tries per file within one pull, each resuming where the last stopped


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
