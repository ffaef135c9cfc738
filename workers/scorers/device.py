"""Where a scorer runs and how much of the machine it takes: the device, its batch size, torch's threads.

``CIVILITY_DEVICE``: ``cpu``, ``cuda``, or ``auto`` (CUDA when torch sees a GPU, else the CPU). ``cuda`` on a
machine where torch sees none stops the worker with one line (no silent fall back to a much slower CPU).
"""

from __future__ import annotations

import os

from civility.config import PREFIX, ConfigError, Settings

# The batch size when CIVILITY_BATCH_SIZE is not set: a GPU amortises a call over many more texts.
DEFAULT_BATCH_SIZE = {"cpu": 16, "cuda": 64}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(requested: str) -> str:
    """``cpu`` or ``cuda`` for ``CIVILITY_DEVICE`` (imports torch, except for ``cpu``)."""
    if requested == "cpu":
        return "cpu"
    available = cuda_available()
    if requested == "cuda" and not available:
        raise ConfigError(f"{PREFIX}DEVICE=cuda: torch sees no CUDA device (torch.cuda.is_available() is False); "
                          f"set {PREFIX}DEVICE=cpu or auto")
    return "cuda" if available else "cpu"


def batch_size_for(settings: Settings, device: str) -> int:
    """``CIVILITY_BATCH_SIZE`` when it was set, else the device's default."""
    return settings.batch_size if settings.batch_size_explicit else DEFAULT_BATCH_SIZE[device]


def threads_for(settings: Settings, processes: int, cores: int | None = None) -> int:
    """Torch threads per scorer process: ``CIVILITY_TORCH_THREADS``, else the cores shared among the processes."""
    if settings.torch_threads:
        return settings.torch_threads
    return max(1, (cores or os.cpu_count() or 1) // max(1, processes))


def thread_env(threads: int) -> dict[str, str]:
    """What a scorer process's environment needs so that its OpenMP/MKL pools (sized at import) match."""
    return {f"{PREFIX}TORCH_THREADS": str(threads), **{v: str(threads) for v in THREAD_VARIABLES}}
