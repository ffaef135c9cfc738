"""Scorers: Detoxify loaded through its own code from a checkpoint built here, and the fallback."""

from __future__ import annotations

import pytest

from civility.config import Settings
from workers.scorers import load_scorer
from workers.scorers.detoxify_scorer import DetoxifyScorer, weights_available


@pytest.fixture(scope="module")
def detoxify_scorer(tiny_checkpoint):
    return DetoxifyScorer(checkpoint=str(tiny_checkpoint), batch_size=4)


def test_detoxify_returns_every_label_per_text_in_input_order(detoxify_scorer):
    texts = ["a much longer text than the others, so sorting by length moves it", "short", "mid length one"]
    results = detoxify_scorer.score(texts)
    assert len(results) == 3
    for scores in results:
        assert set(scores) == {"toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"}
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in scores.values())
    # Sorting by length inside the scorer must not reorder results: each text scores as it does alone.
    alone = [detoxify_scorer.score([t])[0] for t in texts]
    for batched, single in zip(results, alone, strict=True):
        assert batched == pytest.approx(single, abs=1e-4)


def test_detoxify_handles_a_single_text_where_predict_returns_plain_floats(detoxify_scorer):
    [scores] = detoxify_scorer.score(["just one"])
    assert isinstance(scores["toxicity"], float)


def test_detoxify_version_names_the_checkpoint(detoxify_scorer):
    assert detoxify_scorer.version.startswith("checkpoint-") and "/detoxify-" in detoxify_scorer.version


def test_auto_uses_detoxify_when_a_checkpoint_is_configured(tiny_checkpoint):
    scorer, info = load_scorer(Settings.from_env({}, scorer="auto", detoxify_checkpoint=str(tiny_checkpoint)))
    assert info.name == "detoxify" and info.fallback is False and info.warning is None


def test_auto_falls_back_offline_with_an_honest_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    settings = Settings.from_env({}, scorer="auto", model_auto_pull=False)  # tests/test_models.py pulls
    available, why = weights_available(settings)
    assert not available and "no cached weights" in why
    scorer, info = load_scorer(settings)
    assert info.name == "profanity" and info.fallback is True
    assert "profanity fallback" in info.warning and "fallback" in info.version


def test_the_fallback_gives_real_judgements():
    scorer, _ = load_scorer(Settings.from_env({}, scorer="profanity"))
    polite, rude = scorer.score(["Thank you for this careful reporting.", "fuck you, you stupid piece of shit"])
    assert polite["profanity"] < 0.3 < 0.7 < rude["profanity"]
