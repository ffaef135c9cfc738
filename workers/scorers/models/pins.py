"""The manifest: which Detoxify models exist and what each of their files is pinned to."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from workers.scorers.models.errors import ModelError

CHECKPOINT_BASE = "https://github.com/unitaryai/detoxify/releases/download/"
HF_ENDPOINT = "https://huggingface.co"
# Tests (only) may replace or add models with pins of their own: a JSON file, see load_test_manifest.
TEST_MANIFEST_VARIABLE = "CIVILITY_TEST_MODEL_MANIFEST"
# torch.hub's check_hash: the hex between the last '-' and the '.' of a file name starts its SHA-256.
_TORCH_HUB_HASH = re.compile(r"-([a-f0-9]*)\.")


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
