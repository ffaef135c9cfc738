"""Detoxify-format checkpoints with random weights, built locally.

The real weights come from GitHub releases and their configs from the Hugging Face hub. Tests and
benchmarks use these instead: the same file format and loading path, ``Detoxify(checkpoint=...)``,
with scores that mean nothing. ``tiny`` is for tests; ``bert-base`` has Detoxify ``original``'s
exact architecture, so it costs the same compute as the real model.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

ORIGINAL_CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]

SIZES = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=128),
    "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                      max_position_embeddings=512),
}


def _vocab() -> list[str]:
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    words = ("the a an and or but of to in on for with is are was were be you your i we they it this that "
             "not no yes good bad great article thanks idiot stupid hate love war prisoners news world "
             "government report said people").split()
    pieces = [f"##{c}" for c in string.ascii_lowercase + string.digits]
    return special + chars + words + pieces


def build_checkpoint(directory: str | Path, size: str = "tiny", vocab_size: int | None = None,
                     hf_name: str | None = None) -> Path:
    """Write ``hf/`` (config.json + vocab.txt) and ``checkpoint.ckpt`` under ``directory``.

    The checkpoint names its Hugging Face model by the path of ``hf/``, or by ``hf_name`` (a repo id, as
    Detoxify's real checkpoints do: ``bert-base-uncased``), to be found in the Hugging Face cache instead.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    directory = Path(directory)
    hf_dir = directory / "hf"
    hf_dir.mkdir(parents=True, exist_ok=True)
    vocab = _vocab()
    if vocab_size is not None and vocab_size > len(vocab):
        vocab += [f"tok{i}" for i in range(vocab_size - len(vocab))]
    (hf_dir / "vocab.txt").write_text("\n".join(vocab) + "\n")
    config = BertConfig(vocab_size=len(vocab), num_labels=len(ORIGINAL_CLASSES), **SIZES[size])
    config.save_pretrained(hf_dir)
    (hf_dir / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 512}))
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    path = directory / "checkpoint.ckpt"
    torch.save({
        "config": {
            "arch": {"args": {"model_type": hf_name or str(hf_dir), "model_name": "BertForSequenceClassification",
                              "tokenizer_name": "BertTokenizer", "num_classes": len(ORIGINAL_CLASSES)}},
            "dataset": {"args": {"classes": ORIGINAL_CLASSES}},
        },
        "state_dict": model.state_dict(),
    }, path)
    return path
