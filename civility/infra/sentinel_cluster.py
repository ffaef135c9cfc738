"""A Redis master, one replica and one Sentinel as child processes on loopback (tests and benchmarks).

It is the production layout in miniature, so a failover can be caused and watched. Each process is
started and stopped by PID, like ``redis_server.RedisServer``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from redis import Redis

from civility.infra.redis_server import redis_server_binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen, timeout: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class SentinelCluster:
    def __init__(self, directory: str | os.PathLike, service: str = "civility", password: str | None = None,
                 down_after_ms: int = 1000, failover_timeout_ms: int = 3000):
        self.directory = Path(directory).resolve()
        self.service = service
        self.password = password
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.master_port, self.replica_port, self.sentinel_port = _free_port(), _free_port(), _free_port()
        self.processes: dict[str, subprocess.Popen] = {}

    def url(self, db: int = 0) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis+sentinel://{auth}127.0.0.1:{self.sentinel_port}/{self.service}/{db}"

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.directory / f"{name}.log"
        self.processes[name] = subprocess.Popen(
            [redis_server_binary(), *args, "--logfile", str(log)], cwd=self.directory,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def _data_node(self, name: str, port: int, *extra: str) -> None:
        auth = ["--requirepass", self.password, "--masterauth", self.password] if self.password else []
        node_dir = self.directory / name
        node_dir.mkdir(parents=True, exist_ok=True)
        self._spawn(name, ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir), "--save", "",
                           "--appendonly", "no", "--daemonize", "no", *auth, *extra])

    def start(self, timeout: float = 20.0) -> SentinelCluster:
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._data_node("master", self.master_port)
            self._data_node("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
            conf = self.directory / "sentinel.conf"  # Sentinel rewrites its config file as it learns
            lines = [f"port {self.sentinel_port}", "bind 127.0.0.1", f"dir {self.directory}",
                     f"sentinel monitor {self.service} 127.0.0.1 {self.master_port} 1",
                     f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}",
                     f"sentinel failover-timeout {self.service} {self.failover_timeout_ms}"]
            if self.password:
                lines += [f"requirepass {self.password}", f"sentinel auth-pass {self.service} {self.password}"]
            conf.write_text("\n".join(lines) + "\n")
            self._spawn("sentinel", [str(conf), "--sentinel"])
            self._wait(self._replica_known, timeout, "the Sentinel to see the master and its synced replica")
        except BaseException:
            self.stop()
            raise
        return self

    def client(self, port: int) -> Redis:
        return Redis(host="127.0.0.1", port=port, password=self.password, socket_connect_timeout=1, socket_timeout=2)

    def master_address(self) -> tuple[str, int] | None:
        """Where the Sentinel says the master is now."""
        with self.client(self.sentinel_port) as sentinel:
            found = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return (found[0].decode(), int(found[1])) if found else None

    def _replica_known(self) -> bool:
        with self.client(self.replica_port) as replica:
            if replica.info("replication").get("master_link_status") != "up":
                return False
        with self.client(self.sentinel_port) as sentinel:
            replicas = sentinel.execute_command("SENTINEL", "REPLICAS", self.service)
        return any(b"s_down" not in dict(zip(r[::2], r[1::2], strict=True)).get(b"flags", b"s_down")
                   for r in replicas)

    def kill_master(self) -> None:
        """SIGKILL the first master: whatever it had not yet sent to the replica is lost with it."""
        process = self.processes["master"]
        process.kill()
        process.wait()

    def wait_for_failover(self, timeout: float = 30.0) -> tuple[str, int]:
        self._wait(lambda: self.master_address() == ("127.0.0.1", self.replica_port), timeout,
                   "the Sentinel to promote the replica")
        return "127.0.0.1", self.replica_port

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if name != "master" and process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.directory}/{name}.log")
            try:
                if predicate():
                    return
            except Exception:  # noqa: BLE001 - still starting or switching over
                pass
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {timeout}s waiting for {what}; logs in {self.directory}")

    def stop(self) -> None:
        for process in self.processes.values():
            _stop(process)
