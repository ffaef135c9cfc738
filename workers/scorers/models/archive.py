"""Export and import: one tar laid out as a mirror, for a machine with no network."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tarfile
import time
from pathlib import Path
from typing import Any

from workers.scorers.models.cache import _locked, _mismatch, _part_path, _record, _records, _save_records, hf_ref
from workers.scorers.models.errors import ModelError
from workers.scorers.models.inventory import model_state
from workers.scorers.models.pins import Artifact, spec_for
from workers.scorers.models.progress import NoProgress, Progress
from workers.scorers.models.pulling import _install, _mark_absent, _set_ref
from workers.scorers.models.sources import _copy

ARCHIVE_FORMAT = "civility-models"
_REVISION = re.compile(r"[A-Za-z0-9._-]{1,64}")


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
