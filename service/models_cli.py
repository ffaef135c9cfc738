"""``civility models``: pull, list, verify, export and import Detoxify's model files (workers/scorers/models/)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from civility.config import DETOXIFY_MODELS, Settings
from workers.scorers import models


def _progress(verb: str = "pulling") -> models.Progress:
    if sys.stderr.isatty():
        return models.TqdmProgress()
    return models.LineProgress(lambda line: click.echo(line, err=True), interval=10.0, verb=verb)


def _size(value: int | None) -> str:
    if value is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024  # type: ignore[assignment]
    return ""


@click.group("models", cls=click.Group)
def models_group() -> None:
    """Detoxify's model files: pull, list, verify, export and import (air-gapped machines)."""


@models_group.command("pull")
@click.argument("model", required=False, type=click.Choice(DETOXIFY_MODELS))
def pull_command(model: str | None) -> None:
    """Download MODEL (default: CIVILITY_DETOXIFY_MODEL) from CIVILITY_MODEL_MIRROR or upstream, verified."""
    settings = Settings.from_env()
    model = model or settings.detoxify_model
    source = models.source_for(settings)
    click.echo(f"pulling {model} from {source.label} into {models.torch_hub_dir()} and {models.hf_hub_cache()}",
               err=True)
    report = models.pull(model, settings, _progress())
    absent = f"; not in this revision (optional): {', '.join(report.absent)}" if report.absent else ""
    click.echo(f"{model}: {len(report.fetched)} files fetched, {len(report.kept)} already installed and "
               f"verified{absent}")
    click.echo(f"{model} is installed: workers load it with no network call")


def _file_line(f: models.FileState) -> str:
    digest = f"sha256 {f.sha256[:16]}..." if f.sha256 else ""
    return f"  {f.state:<10} {f.id:<58} {_size(f.size):>10}  {digest:<26} {f.detail}".rstrip()


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def list_command(as_json: bool) -> None:
    """What is installed (sizes, digests, complete or not) and which scorer a worker would use, and why."""
    from workers.scorers.loader import plan

    settings = Settings.from_env()
    try:
        source = models.source_for(settings)
        source_info = {"key": source.key, "label": source.label, "error": None}
    except models.ModelError as exc:
        source_info = {"key": None, "label": None, "error": exc.message}
    states = [models.model_state(name) for name in models.manifest()]
    worker = plan(settings)
    if as_json:
        click.echo(json.dumps({
            "manifest": models.manifest_label(), "torch_hub_dir": str(models.torch_hub_dir()),
            "hf_hub_cache": str(models.hf_hub_cache()), "source": source_info,
            "configured_model": settings.detoxify_model, "worker": worker.as_dict(),
            "models": [s.as_dict() for s in states]}, indent=2))
        return
    click.echo(f"caches: torch.hub {models.torch_hub_dir()}, Hugging Face {models.hf_hub_cache()}")
    click.echo(f"pins: {models.manifest_label()}")
    click.echo(f"source: {source_info['label'] or source_info['error']}")
    click.echo(f"worker: {worker.scorer} ({worker.action}): {worker.reason}")
    for state in states:
        configured = "  (CIVILITY_DETOXIFY_MODEL)" if state.name == settings.detoxify_model else ""
        click.echo(f"\n{state.name}: {state.state}{configured}  [{state.hf_repo} @ {state.hf_revision}]")
        if state.state != "missing" or configured:
            for f in state.files:
                click.echo(_file_line(f))


@models_group.command("verify")
@click.argument("names", nargs=-1, type=click.Choice(DETOXIFY_MODELS))
def verify_command(names: tuple[str, ...]) -> None:
    """Hash installed files and check them against the pins (exit 1 on a mismatch, or a named model incomplete)."""
    chosen = list(names) or list(models.manifest())
    failed = False
    checked = 0
    for name in chosen:
        state = models.model_state(name, rehash=True)
        if state.state == "missing" and not names:
            continue
        checked += 1
        click.echo(f"{name}: {state.state}")
        for f in state.files:
            click.echo(_file_line(f))
        if state.state == "corrupt" or (names and state.state != "complete"):
            failed = True
    if not checked:
        click.echo("no model files installed (civility models pull)")
    if failed:
        raise click.ClickException("verification failed: `civility models pull MODEL` replaces what is missing "
                                   "or wrong")


@models_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.argument("names", nargs=-1, type=click.Choice(DETOXIFY_MODELS))
def export_command(file: Path, names: tuple[str, ...]) -> None:
    """Write MODELS (default: every complete one) into FILE, a tar with a manifest of digests."""
    chosen = list(names) or [n for n in models.manifest() if models.model_state(n).state == "complete"]
    if not chosen:
        raise click.ClickException("no complete model to export (civility models pull MODEL first)")
    exported = models.export(file, chosen)
    files = sum(len(e["files"]) for e in exported.values())
    click.echo(f"wrote {file}: {', '.join(exported)} ({files} files, {_size(file.stat().st_size)}); "
               f"copy it over and run `civility models import {file.name}`")


@models_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Install the models in FILE (from `civility models export`) after checking every file's digest."""
    installed = models.import_archive(file, _progress("importing"))
    click.echo(f"imported {', '.join(installed)} into {models.torch_hub_dir()} and {models.hf_hub_cache()}")
