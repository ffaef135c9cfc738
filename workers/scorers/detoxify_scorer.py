"""Detoxify (Unitary's BERT-family toxicity models), run in length-sorted batches on the CPU."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from importlib.metadata import version as package_version
from pathlib import Path

from civility.config import Settings

# Where Detoxify's own loader (torch.hub.load_state_dict_from_url) caches each model's weights.
WEIGHT_FILES = {
    "original": "toxic_original-c1212f89.ckpt",
    "unbiased": "toxic_debiased-c7548aa0.ckpt",
    "multilingual": "multilingual_debiased-0b549669.ckpt",
    "original-small": "original-albert-0e1d6498.ckpt",
    "unbiased-small": "unbiased-albert-c8519128.ckpt",
}
# The Hugging Face model whose config and tokenizer each checkpoint needs.
HF_MODELS = {
    "original": "bert-base-uncased",
    "unbiased": "roberta-base",
    "multilingual": "xlm-roberta-base",
    "original-small": "albert-base-v2",
    "unbiased-small": "albert-base-v2",
}


def cached_weights_path(model_type: str) -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHT_FILES[model_type]


def hf_config_cached(model_type: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(HF_MODELS[model_type], "config.json")
    return isinstance(found, str)


def weights_available(settings: Settings) -> tuple[bool, str]:
    """Whether Detoxify can load without the network, and if not, why (checked in milliseconds)."""
    if settings.detoxify_checkpoint:
        if Path(settings.detoxify_checkpoint).is_file():
            return True, ""
        return False, f"CIVILITY_DETOXIFY_CHECKPOINT {settings.detoxify_checkpoint} does not exist"
    weights = cached_weights_path(settings.detoxify_model)
    if not weights.is_file():
        return False, f"no cached weights at {weights}"
    if not hf_config_cached(settings.detoxify_model):
        return False, f"no cached Hugging Face config for {HF_MODELS[settings.detoxify_model]}"
    return True, ""


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


class DetoxifyScorer:
    name = "detoxify"
    fallback = False

    def __init__(self, model_type: str = "original", checkpoint: str | None = None, batch_size: int = 16):
        import torch
        from detoxify import Detoxify

        self._torch = torch
        self.model_type = model_type
        self.batch_size = max(1, batch_size)
        self.model = Detoxify(model_type=model_type, checkpoint=checkpoint, device="cpu")
        self.model.model.eval()
        self.labels = list(self.model.class_names)
        source = f"checkpoint-{_file_digest(checkpoint)}" if checkpoint else model_type
        self.version = f"{source}/detoxify-{package_version('detoxify')}"

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
    """Never let a missing file turn into minute-long hub timeouts when weights were pre-seeded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
