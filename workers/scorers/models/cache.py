"""Where the caches are (torch.hub's and Hugging Face's), and the records of what we installed there."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.scorers.models.pins import Artifact, ModelSpec

CHUNK = 1 << 20


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
