"""A local Kafka's files: each node's ports, its server.properties from the templates, and its storage
formatted with the cluster's one id."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from devkit.procs import port_free as _port_free
from jigsaw.credentials import KafkaCredential
from jigsaw.errors import KafkaLocalError
from jigsaw.files import private_dir
from jigsaw.serving import free_port

if TYPE_CHECKING:
    from devkit.localkafka.manager import LocalKafka


def new_cluster_id() -> str:
    """A random cluster id as Kafka's own ``Uuid.randomUuid`` makes one: base64url, never starting with
    a dash, which the storage tool's argument parser would take for an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def choose_ports(lk: LocalKafka, count: int) -> dict[int, dict[str, int]]:
    """Three loopback ports per node. One node keeps its ports while they stay free, else takes
    others; a cluster's are fixed once chosen, since every node names every controller's address."""
    nodes = (lk._read_state() or {}).get("nodes") or {}
    chosen: dict[int, dict[str, int]] = {}
    taken: set[int] = set()
    keys = ("port", "mtls_port", "controller_port")
    for node in range(1, count + 1):
        previous = nodes.get(str(node)) or {}
        running = lk.node_status(node, probe_it=False).running
        ports: dict[str, int] = {}
        for key in keys:
            port = int(previous.get(key, 0))
            if node == 1 and key == "port" and lk.s.port:
                if port != lk.s.port and not _port_free(lk.s.port):
                    raise KafkaLocalError(
                        f"port {lk.s.port} on 127.0.0.1 is taken by another process: stop it, or set "
                        "JIGSAW_LOCALKAFKA__PORT to a free port (0 picks one)"
                    )
                port = lk.s.port
            if port and not running and not _port_free(port):
                if count > 1 and lk._formatted(count):
                    raise KafkaLocalError(
                        f"port {port} of Kafka node {node} on 127.0.0.1 is taken by another process, and "
                        "a cluster's nodes keep their ports: stop that process, or "
                        "`jigsaw kafka down --purge` and start again"
                    )
                if node == 1 and key == "port" and lk.s.port:
                    raise KafkaLocalError(
                        f"port {port} on 127.0.0.1 is taken by another process: stop it, or set "
                        "JIGSAW_LOCALKAFKA__PORT to a free port (0 picks one)"
                    )
                port = 0
            while not port or port in taken:
                port = free_port()
            taken.add(port)
            ports[key] = port
        chosen[node] = ports
    return chosen


def write_configs(lk: LocalKafka, count: int) -> None:
    ports = choose_ports(lk, count)
    voters = ",".join(f"{n}@127.0.0.1:{p['controller_port']}" for n, p in ports.items())
    name = "insecure" if lk.s.insecure else "secure"
    transport_t = Template((lk.s.deploy_dir / f"{name}.properties.template").read_text())
    template = Template((lk.s.deploy_dir / "server.properties.template").read_text())
    private_dir(lk.s.home)  # credentials, keys and the metadata log's SCRAM hashes are under it
    state = lk._read_state() or {}
    state.update(count=count, secure=not lk.s.insecure)
    nodes = state.setdefault("nodes", {})
    for node, p in ports.items():
        values = {
            **p,
            "node_id": node,
            "voters": voters,
            "log_dirs": lk.data_dir(node, count),
            "node_keystore": lk.tls.node,
            "ca": lk.tls.ca,
            "replication": 3 if count >= 3 else 1,
            "min_isr": 2 if count >= 3 else 1,
        }
        transport = transport_t.substitute(values)
        lk._node_dir(node, count).mkdir(parents=True, exist_ok=True)
        (lk._node_dir(node, count) / "server.properties").write_text(
            template.substitute(values, transport=transport)
        )
        nodes.setdefault(str(node), {}).update(p)
        nodes[str(node)].setdefault("pid", 0)
    lk._write_state(state)
    state["bootstrap"] = lk._addresses("port")
    state["mtls_bootstrap"] = None if lk.s.insecure else lk._addresses("mtls_port")
    lk._write_state(state)


def format_storage(lk: LocalKafka, java: str, libs: Path, credentials: list[KafkaCredential]) -> None:
    """Format each node's storage that is new, all with one cluster id and a SCRAM user for each
    credential (KIP-900). The passwords are on the format tool's command line for the second it runs,
    where any local account could read them from /proc: the local Kafka is for one developer's machine.
    """
    new = [n for n in lk.node_ids() if not (lk.data_dir(n) / "meta.properties").exists()]
    if not new:
        return
    state = lk._read_state() or {}
    cluster_id = str(state.get("cluster_id") or formatted_id(lk) or new_cluster_id())
    if state.get("cluster_id") != cluster_id:
        state["cluster_id"] = cluster_id
        lk._write_state(state)
    for node in new:
        cmd = [
            java,
            "-cp",
            f"{libs}/*",
            f"-Dlog4j2.configurationFile={lk.log4j()}",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(lk.config_file(node)),
        ]
        for cred in credentials:
            secret = cred.password.get_secret_value()
            cmd += ["--add-scram", f"{cred.mechanism}=[name={cred.username},password={secret}]"]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            output = result.stdout + result.stderr
            for cred in credentials:
                output = output.replace(cred.password.get_secret_value(), "**********")
            raise KafkaLocalError(f"formatting Kafka storage of node {node} failed:\n{output}")


def formatted_id(lk: LocalKafka) -> str | None:
    """The cluster id a node's storage already has: a node re-formatted after its data was lost
    must join its cluster, not found another."""
    for node in lk.node_ids():
        meta = lk.data_dir(node) / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
    return None
