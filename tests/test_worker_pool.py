"""`civility worker --processes N`: N scorer processes under one supervisor; the device and thread split."""

from __future__ import annotations

import os
import signal

import pytest

from civility.config import ConfigError, Settings
from civility.infra.presence import live_workers
from tests.helpers import ABUSE, bearer, descendants, post, process_alive, wait_until
from workers.scorers import device as device_module
from workers.scorers.device import batch_size_for, resolve_device, thread_env, threads_for


def test_torch_threads_are_shared_among_the_processes_unless_set():
    unset = Settings.from_env({})
    assert threads_for(unset, 1, cores=8) == 8
    assert threads_for(unset, 3, cores=8) == 2
    assert threads_for(unset, 4, cores=2) == 1  # never 0
    assert threads_for(Settings.from_env({"CIVILITY_TORCH_THREADS": "3"}), 4, cores=2) == 3
    assert thread_env(2) == {"CIVILITY_TORCH_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}


@pytest.mark.parametrize("gpu", [False, True])
def test_device_choice_and_its_batch_size(monkeypatch, gpu):
    monkeypatch.setattr(device_module, "cuda_available", lambda: gpu)
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if gpu else "cpu")
    if gpu:
        assert resolve_device("cuda") == "cuda"
    else:
        with pytest.raises(ConfigError, match="CIVILITY_DEVICE=cuda: torch sees no CUDA device"):
            resolve_device("cuda")
    unset = Settings.from_env({})
    assert not unset.batch_size_explicit
    assert batch_size_for(unset, "cpu") == 16 and batch_size_for(unset, "cuda") == 64
    explicit = Settings.from_env({"CIVILITY_BATCH_SIZE": "8"})
    assert explicit.batch_size_explicit and batch_size_for(explicit, "cuda") == 8
    assert batch_size_for(Settings.from_env({}, batch_size=4), "cuda") == 4


def test_detoxify_runs_on_the_resolved_device_and_says_so(tiny_checkpoint, monkeypatch):
    from workers.scorers import load_scorer

    monkeypatch.setattr(device_module, "cuda_available", lambda: False)
    settings = Settings.from_env({}, scorer="detoxify", detoxify_checkpoint=str(tiny_checkpoint), device="auto",
                                 torch_threads=1)
    scorer, info = load_scorer(settings)
    assert info.device == "cpu" and scorer.device == "cpu" and scorer.batch_size == 16
    assert "@" not in info.version  # CPU scores keep their version
    assert info.as_dict()["device"] == "cpu"
    import torch

    assert torch.get_num_threads() == 1
    with pytest.raises(ConfigError, match="CIVILITY_DEVICE=cuda"):  # auto does not hide it behind the fallback
        load_scorer(Settings.from_env({}, scorer="auto", detoxify_checkpoint=str(tiny_checkpoint), device="cuda"))


def test_cuda_without_a_gpu_stops_the_worker_with_one_line(settings, tiny_checkpoint, worker_process):
    if device_module.cuda_available():
        pytest.skip("this machine has a GPU")
    worker = worker_process(settings, CIVILITY_SCORER="detoxify", CIVILITY_DETOXIFY_CHECKPOINT=str(tiny_checkpoint),
                            CIVILITY_DEVICE="cuda")
    assert worker.process.wait(60) != 0
    assert "Error: CIVILITY_DEVICE=cuda: torch sees no CUDA device" in worker.output()
    assert "Traceback" not in worker.output()


def _scored(client, token, comment_id):
    return client.get(f"/api/v1/comments/{comment_id}", headers=bearer(token)).json["status"] == "flagged"


def test_two_processes_score_survive_a_crash_and_stop_without_leftovers(client, settings, worker_process,
                                                                        redis_client, moderator_token):
    pool = worker_process(settings, "--processes", "2")

    def announced_pids():
        return {w["pid"] for w in live_workers(redis_client, settings) if process_alive(w["pid"])}

    def two(without: int | None = None):
        pids = announced_pids()
        return pids if len(pids) == 2 and without not in pids else None

    first = wait_until(two, 90,
                       message=lambda: f"two scorer processes to announce themselves\n{pool.output()}")
    assert first <= descendants(pool.process.pid)
    names = {w["worker"] for w in live_workers(redis_client, settings)}
    assert len(names) == 2  # each its own RQ worker
    ids = [post(client, ABUSE, name=f"Reader {i}").json["id"] for i in range(4)]
    wait_until(lambda: all(_scored(client, moderator_token, i) for i in ids), 60,
               message=lambda: f"the comments to be scored\n{pool.output()}")

    victim = sorted(first)[0]
    os.kill(victim, signal.SIGKILL)
    after = wait_until(lambda: two(without=victim), 90,
                       message=lambda: f"the killed scorer to be replaced\n{pool.output()}")
    assert first - {victim} <= after
    assert "exited with code -9; restarting it" in pool.output()
    ids = [post(client, ABUSE, name=f"Later {i}").json["id"] for i in range(4)]
    wait_until(lambda: all(_scored(client, moderator_token, i) for i in ids), 60,
               message=lambda: f"the comments posted after the crash to be scored\n{pool.output()}")

    family = descendants(pool.process.pid)
    assert after <= family
    pool.process.send_signal(signal.SIGTERM)
    assert pool.process.wait(60) == 0, pool.output()
    wait_until(lambda: not any(process_alive(p) for p in family | {victim}), 20,
               message="every scorer process (and RQ's schedulers) to exit")
