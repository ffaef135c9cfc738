"""Inventory and verify: what of a model is installed, and whether each file matches its pin or record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from workers.scorers.models.cache import (
    _mismatch,
    _no_exist_marker,
    _part_path,
    _recorded_digest,
    _records,
    hf_ref,
    installed_path,
    sha256_of,
)
from workers.scorers.models.pins import Artifact, ModelSpec, spec_for


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
