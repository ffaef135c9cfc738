"""``pull``: fetch each file of a model not yet installed, verify it, and install it where torch.hub or
huggingface_hub would; the installing steps are shared with an import."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from civility.config import Settings
from workers.scorers.models.cache import (
    _locked,
    _mismatch,
    _no_exist_marker,
    _part_path,
    _record,
    _recorded_digest,
    _records,
    _save_records,
    hf_repo_dir,
    sha256_of,
    torch_hub_dir,
)
from workers.scorers.models.errors import ModelError, NotFound
from workers.scorers.models.pins import Artifact, spec_for
from workers.scorers.models.progress import NoProgress, Progress
from workers.scorers.models.sources import remember_probe, source_for

log = logging.getLogger(__package__)  # the package's logger: workers.scorers.models, as log lines name it


@dataclass
class PullReport:
    model: str
    source: str
    fetched: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # already installed and verified
    absent: list[str] = field(default_factory=list)  # optional files the source does not have


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
