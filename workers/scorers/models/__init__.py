"""Detoxify's model files: the pinned manifest, pulls (upstream or ``CIVILITY_MODEL_MIRROR``), verify,
export and import.

A Detoxify model is two things: a checkpoint (GitHub releases; Detoxify's loader keeps it in torch.hub's
cache, ``$TORCH_HOME/hub/checkpoints/``) and the config and tokenizer files of the Hugging Face model it
was trained from (the Hugging Face cache, ``$HF_HOME/hub/models--org--name/``). A pull writes both
exactly where torch.hub and huggingface_hub would, so ``Detoxify(...)`` then loads with no network.

Every file is checked before it is installed: against its full SHA-256 where we know it, else against
what is knowable (torch.hub's hash prefix in a checkpoint's file name). What we could not pin is
recorded at the first pull (``<torch hub>/civility/installed.json``), so ``verify`` still notices a
file that changed later. Nothing here imports torch, transformers or huggingface_hub.

Mirror layout (``CIVILITY_MODEL_MIRROR``, an http(s) base URL or a directory; an export unpacked is one):
``<mirror>/detoxify/<checkpoint file>`` and ``<mirror>/huggingface/<repo id>/<file>``.

The package, a module a job: ``errors`` (ModelError), ``pins`` (the manifest), ``cache`` (where the
caches are, records of what was installed), ``progress``, ``sources`` (upstream, mirror, directory, and
the probe), ``pulling`` (pull), ``inventory`` (list and verify), ``archive`` (export and import).
"""

from workers.scorers.models.archive import export, import_archive
from workers.scorers.models.cache import (
    checkpoint_path,
    hf_cached_file,
    hf_hub_cache,
    missing_for_loading,
    torch_hub_dir,
)
from workers.scorers.models.errors import ModelError
from workers.scorers.models.inventory import FileState, model_state
from workers.scorers.models.pins import MODELS, TEST_MANIFEST_VARIABLE, manifest, manifest_label, spec_for
from workers.scorers.models.progress import LineProgress, Progress, TqdmProgress
from workers.scorers.models.pulling import pull
from workers.scorers.models.sources import (
    PROBE_TIMEOUT,
    PROBE_TTL,
    BackgroundProbe,
    Source,
    cached_probe,
    remember_probe,
    source_for,
)

__all__ = [
    "MODELS", "PROBE_TIMEOUT", "PROBE_TTL", "TEST_MANIFEST_VARIABLE", "BackgroundProbe", "FileState",
    "LineProgress", "ModelError", "Progress", "Source", "TqdmProgress", "cached_probe", "checkpoint_path",
    "export", "hf_cached_file", "hf_hub_cache", "import_archive", "manifest", "manifest_label",
    "missing_for_loading", "model_state", "pull", "remember_probe", "source_for", "spec_for", "torch_hub_dir",
]
