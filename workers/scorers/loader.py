"""Choosing the scorer: ``detoxify``, ``profanity``, or ``auto``.

``auto`` tries, in order:

1. Detoxify's weights, config and tokenizer already in the caches: Detoxify, loaded with no network call.
2. Else, with ``CIVILITY_MODEL_AUTO_PULL`` on (the default), if the source (``CIVILITY_MODEL_MIRROR``, else
   upstream) answers a probe within a few seconds: pull the model once, with progress in the log, then
   Detoxify. The worker takes no job meanwhile, so comments wait in the queue; the API stays up. The probe
   runs in a thread while the fallback loads, and its answer is remembered for an hour
   (``<torch hub>/civility/probe.json``), so an offline machine starts as fast as without it. With
   ``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) set by the operator, only a mirror is tried.
3. Else the profanity fallback, with a warning that says why.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from civility.config import ConfigError, Settings
from workers.scorers import models

log = logging.getLogger(__name__)

FALLBACK_WARNING = ("Detoxify weights are not available ({why}); scoring with the profanity fallback, "
                    "which only recognises offensive words. See README: Scoring models (civility models pull).")


# The packages of the `worker` extra each built-in scorer imports (module: distribution). The API's install
# (`pip install civility`) has none of them; a plugin scorer (module:factory) brings its own.
NEEDS = {
    "detoxify": {"torch": "torch", "transformers": "transformers", "detoxify": "detoxify"},
    "profanity": {"profanity_check": "alt-profanity-check"},
}
NEEDS["auto"] = NEEDS["detoxify"] | NEEDS["profanity"]


def check_installed(settings: Settings) -> None:
    """One line (a ConfigError) instead of an ImportError's traceback when the scorer's packages are missing."""
    needed = NEEDS.get(settings.scorer, {})
    missing = [package for module, package in needed.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigError(f"CIVILITY_SCORER={settings.scorer} needs {', '.join(missing)}, which this install lacks "
                          "(the API's alone): install the workers' extra, pip install 'civility[worker]'")


@dataclass(frozen=True)
class ScorerInfo:
    name: str
    version: str
    fallback: bool
    warning: str | None = None
    # How this scorer came to be chosen: "cached weights", "pulled from mirror ... at start", ...
    origin: str | None = None
    # Where it runs: "cpu" or "cuda" (Detoxify; None for scorers that do not say).
    device: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _detoxify(settings: Settings, cached: bool = False):
    from workers.scorers.detoxify_scorer import DetoxifyScorer
    from workers.scorers.device import batch_size_for, resolve_device

    device = resolve_device(settings.device)  # CIVILITY_DEVICE=cuda without a GPU: ConfigError, one line
    return DetoxifyScorer(settings.detoxify_model, settings.detoxify_checkpoint, batch_size_for(settings, device),
                          cached=cached, device=device, threads=settings.torch_threads)


def _plugin(settings: Settings):
    """``module:factory``: a scorer of the operator's own, built by ``factory(settings)``."""
    module_name, _, attribute = settings.scorer.partition(":")
    scorer = getattr(importlib.import_module(module_name), attribute)(settings)
    return scorer, ScorerInfo(scorer.name, scorer.version, bool(getattr(scorer, "fallback", False)),
                              origin=f"CIVILITY_SCORER={settings.scorer}")


def hub_offline() -> bool:
    """The operator's HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE: no automatic pull from upstream then."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


@dataclass(frozen=True)
class Plan:
    """What a worker would do at start, decided without any network call (``civility models list``)."""

    scorer: str  # detoxify | profanity | a plugin
    action: str  # load | pull | probe | fallback
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan(settings: Settings) -> Plan:
    from workers.scorers.detoxify_scorer import weights_available

    if ":" in settings.scorer:
        return Plan(settings.scorer, "load", f"CIVILITY_SCORER={settings.scorer}: a scorer of your own")
    if settings.scorer == "profanity":
        return Plan("profanity", "load", "CIVILITY_SCORER=profanity")
    available, why = weights_available(settings)
    model = settings.detoxify_model
    if available:
        what = (f"CIVILITY_DETOXIFY_CHECKPOINT={settings.detoxify_checkpoint}" if settings.detoxify_checkpoint
                else f"{model}: weights, config and tokenizer are cached")
        return Plan("detoxify", "load", f"{what}; loads with no network call")
    explicit = settings.scorer == "detoxify"
    final = "detoxify" if explicit else "profanity"
    if settings.detoxify_checkpoint:
        return Plan(final, "fail" if explicit else "fallback", why)
    if not settings.model_auto_pull:
        return Plan(final, "fail" if explicit else "fallback", f"{why}; CIVILITY_MODEL_AUTO_PULL=0")
    try:
        source = models.source_for(settings)
    except models.ModelError as exc:
        return Plan(final, "fail" if explicit else "fallback", f"{why}; {exc}")
    if source.upstream and hub_offline() and not explicit:
        return Plan("profanity", "fallback", f"{why}; HF_HUB_OFFLINE=1 and no CIVILITY_MODEL_MIRROR: no automatic "
                                             "pull from upstream")
    if explicit:
        return Plan("detoxify", "pull", f"{why}; would pull {model} from {source.label} at start")
    cached = models.cached_probe(source)
    if cached is None:
        return Plan("detoxify or profanity", "probe",
                    f"{why}; would probe {source.label} ({models.PROBE_TIMEOUT:g} s, while the fallback loads), "
                    f"pull {model} from it if it answers, else use the profanity fallback")
    if cached["ok"]:
        return Plan("detoxify", "pull", f"{why}; {source.label} answered recently: would pull {model} at start")
    until = time.strftime("%H:%M:%S", time.localtime(float(cached["at"]) + models.PROBE_TTL))
    return Plan("profanity", "fallback", f"{why}; {source.label} did not answer ({cached['detail']}); "
                                         f"not asked again before {until}")


def _pull_at_start(settings: Settings, source: models.Source) -> tuple[str | None, str]:
    """Pull the configured model now. (None, origin) when it worked, else (why not, "")."""
    model = settings.detoxify_model
    log.warning("no cached Detoxify weights for %s: pulling them once from %s before scoring (a worker takes no "
                "comment meanwhile: they wait in the queue, the API stays up)", model, source.label)
    try:
        report = models.pull(model, settings, models.LineProgress(log.info))
    except models.ModelError as exc:
        models.remember_probe(source, False, f"pull failed: {exc}")
        log.error("pulling %s from %s failed: %s", model, source.label, exc)
        return f"pulling from {source.label} failed: {exc}", ""
    log.info("pulled %s from %s: %d files fetched, %d already here", model, source.label, len(report.fetched),
             len(report.kept))
    return None, f"pulled from {source.label} at start"


def load_scorer(settings: Settings):
    """Returns (scorer, info). Loads the model (and in ``auto`` may pull it first): call once per process."""
    from workers.scorers.profanity_scorer import ProfanityScorer

    if ":" in settings.scorer:
        return _plugin(settings)
    check_installed(settings)
    if settings.scorer == "profanity":
        scorer = ProfanityScorer()
        return scorer, ScorerInfo(scorer.name, scorer.version, True, origin="CIVILITY_SCORER=profanity")

    from workers.scorers.detoxify_scorer import offline_by_default, weights_available

    operator_offline = hub_offline()  # read before offline_by_default() sets it for this process
    available, why = weights_available(settings)
    origin = ("CIVILITY_DETOXIFY_CHECKPOINT" if settings.detoxify_checkpoint else "cached weights")
    if settings.scorer == "detoxify":
        if not available and not settings.detoxify_checkpoint:
            if not settings.model_auto_pull:
                raise models.ModelError(f"CIVILITY_SCORER=detoxify: {why}; run `civility models pull` "
                                        "(CIVILITY_MODEL_AUTO_PULL=0)")
            failed, origin = _pull_at_start(settings, models.source_for(settings))
            if failed:
                raise models.ModelError(f"CIVILITY_SCORER=detoxify: {why}; {failed}")
        if not settings.detoxify_checkpoint:
            offline_by_default()  # every file is in the caches now
        scorer = _detoxify(settings, cached=not settings.detoxify_checkpoint)
        return scorer, ScorerInfo(scorer.name, scorer.version, False, origin=origin, device=scorer.device)

    fallback = None
    if not available and not settings.detoxify_checkpoint:
        fallback, why, origin = _auto_pull(settings, why, operator_offline)
        available = fallback is None
    if available:
        offline_by_default()
        try:
            scorer = _detoxify(settings, cached=not settings.detoxify_checkpoint)
            return scorer, ScorerInfo(scorer.name, scorer.version, False, origin=origin, device=scorer.device)
        except ConfigError:
            raise  # CIVILITY_DEVICE=cuda without a GPU is the operator's to fix, not a reason to fall back
        except Exception as exc:  # noqa: BLE001 - any load failure falls back, loudly
            why = f"loading failed: {type(exc).__name__}: {exc}"
    warning = FALLBACK_WARNING.format(why=why)
    log.warning(warning)
    scorer = fallback or ProfanityScorer()
    return scorer, ScorerInfo(scorer.name, scorer.version, True, warning, origin="fallback")


def _auto_pull(settings: Settings, why: str, operator_offline: bool):
    """(the fallback scorer or None when the model was pulled, why, origin)."""
    from workers.scorers.profanity_scorer import ProfanityScorer

    if not settings.model_auto_pull:
        return ProfanityScorer(), f"{why}; automatic pull is off (CIVILITY_MODEL_AUTO_PULL=0)", ""
    try:
        source = models.source_for(settings)
    except models.ModelError as exc:
        return ProfanityScorer(), f"{why}; {exc}", ""
    if source.upstream and operator_offline:
        return ProfanityScorer(), (f"{why}; HF_HUB_OFFLINE=1 and no CIVILITY_MODEL_MIRROR, so no automatic pull "
                                   "(run `civility models pull` where the network allows)"), ""
    spec = models.spec_for(settings.detoxify_model)
    probe = models.BackgroundProbe(source, spec)
    fallback = ProfanityScorer()  # loads (about a second) while the probe waits for its answer
    reachable, detail = probe.result()
    if not reachable:
        return fallback, f"{why}; {source.label} did not answer ({detail})", ""
    failed, origin = _pull_at_start(settings, source)
    if failed:
        return fallback, f"{why}; {failed}", ""
    return None, why, origin
