"""Detoxify (Unitary's BERT-family toxicity models), run in length-sorted batches on the CPU or a GPU."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from importlib.metadata import version as package_version
from pathlib import Path

from civility.config import Settings
from workers.scorers import models

# Where Detoxify's own loader (torch.hub.load_state_dict_from_url) caches each model's weights, and the
# Hugging Face model whose config and tokenizer each checkpoint needs: see workers/scorers/models/pins.py.
WEIGHT_FILES = {name: spec.checkpoint.name for name, spec in models.MODELS.items()}
HF_MODELS = {name: spec.hf_repo for name, spec in models.MODELS.items()}


def cached_weights_path(model_type: str) -> Path:
    return models.checkpoint_path(models.spec_for(model_type))


def hf_config_cached(model_type: str) -> bool:
    return models.hf_cached_file(models.spec_for(model_type).hf_repo, "config.json") is not None


def weights_available(settings: Settings) -> tuple[bool, str]:
    """Whether Detoxify can load without the network, and if not, why (checked in milliseconds, imports nothing)."""
    if settings.detoxify_checkpoint:
        if Path(settings.detoxify_checkpoint).is_file():
            return True, ""
        return False, f"CIVILITY_DETOXIFY_CHECKPOINT {settings.detoxify_checkpoint} does not exist"
    why = models.missing_for_loading(models.spec_for(settings.detoxify_model))
    return why is None, why or ""


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


class DetoxifyScorer:
    name = "detoxify"
    fallback = False

    def __init__(self, model_type: str = "original", checkpoint: str | None = None, batch_size: int = 16,
                 cached: bool = False, device: str = "cpu", threads: int | None = None):
        """``checkpoint``: a file of the operator's (named by its digest in ``version``); ``cached``: load the
        pulled weights of ``model_type`` from torch.hub's cache by path, so that a missing file can never turn
        into a download (``version`` names the model, as it always has, and a device other than the CPU);
        ``device``: ``cpu`` or ``cuda`` (resolved already); ``threads``: torch's intra-op threads, set before
        the model loads (None: torch's default)."""
        import torch
        from detoxify import Detoxify

        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.device = device
        self.model_type = model_type
        self.batch_size = max(1, batch_size)
        path = str(cached_weights_path(model_type)) if cached and not checkpoint else checkpoint
        self.model = Detoxify(model_type=model_type, checkpoint=path, device=device)
        self.model.model.eval()
        self.labels = list(self.model.class_names)
        source = f"checkpoint-{_file_digest(checkpoint)}" if checkpoint else model_type
        # CPU scores keep the version they always had; another device may differ in the last digits.
        self.version = f"{source}/detoxify-{package_version('detoxify')}" + ("" if device == "cpu" else f"@{device}")

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        # Sorting by length keeps padding (wasted compute) small within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        results: list[dict[str, float] | None] = [None] * len(texts)
        with self._torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                predicted = self.model.predict([texts[i] for i in chunk])
                for j, i in enumerate(chunk):
                    # predict() returns plain floats instead of lists for a one-text batch.
                    results[i] = {label: float(v if isinstance(v, float) else v[j])
                                  for label, v in predicted.items()}
        return results  # type: ignore[return-value]


def offline_by_default() -> None:
    """Never let a missing file turn into minute-long hub timeouts once the model's files are in the caches."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
