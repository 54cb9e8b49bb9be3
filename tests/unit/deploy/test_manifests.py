"""The Kubernetes manifests in deploy/kubernetes/jigsaw/, checked offline.

The built-in kinds against the Kubernetes API schemas kubernetes-validate bundles (strict: an unknown field
is an error, as kubectl's server-side field validation makes it); the PodMonitor, whose CRD is not pinned
here, field by field. Then what no schema sees: each service is wired to the port its probes and Prometheus
read, the policy is the repository's byte for byte, every subscriber and connector has its pod, the
Secrets hold nothing but placeholders, and the env each pod sets is what its settings class reads.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from connectors.sdk.config import ConnectorConfig, load_config
from devkit import image, manifests
from jigsaw.roster import load_roster
from services.broker.config import BrokerSettings
from services.hub.config import HubSettings

REPO = Path(__file__).resolve().parents[3]
OUT = REPO / "deploy" / "kubernetes" / "jigsaw"
POLICY_DIR = REPO / "deploy" / "policy"
CONNECTORS = sorted((REPO / "deploy" / "connectors").glob("*.yaml"))
ROSTER = load_roster(POLICY_DIR / "devon-mash.yaml")
KUBERNETES = ("1.30.0", kubernetes_validate.latest_version())
# What a Secret would give the env: JSON where the setting is JSON.
FROM_SECRET = {"JIGSAW_HUB__API_TOKENS": "{}"}
PLACEHOLDER = re.compile(r"^<placeholder: [^<>\n]+>$")
# Kinds the manifests may hold, and which of them kubectl knows without a CRD.
BUILT_IN = {"Deployment", "Service", "ConfigMap", "Secret"}


def _load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((OUT / name).read_text(encoding="utf-8")) if d is not None]


def _all() -> list[dict[str, Any]]:
    return [d for p in sorted(OUT.glob("*.yaml")) if p.name != "kustomization.yaml" for d in _load(p.name)]


def _of(kind: str) -> list[dict[str, Any]]:
    return [d for d in _all() if d["kind"] == kind]


def _by_name(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _of(kind)}


def _container(d: dict[str, Any]) -> dict[str, Any]:
    containers = d["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, d["metadata"]["name"]
    return dict(containers[0])


def _env(d: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in _container(d)["env"]}


def _port(c: dict[str, Any], ref: int | str) -> int:
    """The container port a probe or Service names, by number or name; fails if the container lacks it."""
    declared = {p["name"]: p["containerPort"] for p in c["ports"]}
    if isinstance(ref, int):
        assert ref in declared.values(), f"port {ref} is not declared: {declared}"
        return ref
    assert ref in declared, f"port {ref!r} is not declared: {declared}"
    return int(declared[ref])


def test_the_committed_manifests_are_what_the_generator_renders() -> None:
    rendered = manifests.render()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in OUT.glob("*.yaml")}
    assert sorted(on_disk) == sorted(rendered), "run `python -m devkit.manifests`"
    stale = [name for name, text in rendered.items() if on_disk[name] != text]
    assert not stale, f"{stale} differ from the generator's output: run `python -m devkit.manifests`"
    assert manifests.main(["--check"]) == 0


@pytest.mark.parametrize("version", KUBERNETES)
def test_every_built_in_resource_is_valid_kubernetes(version: str) -> None:
    resources = _all()
    assert {r["kind"] for r in resources} == BUILT_IN | {"PodMonitor"}
    for r in resources:
        if r["kind"] in BUILT_IN:
            kubernetes_validate.validate(r, version, strict=True)  # raises on the first problem


def test_strict_validation_would_see_a_misspelt_field() -> None:
    d = _of("Deployment")[0]
    d["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(d, KUBERNETES[-1], strict=True)


def test_the_pod_monitor_scrapes_every_pod_on_its_metrics_port() -> None:
    (pm,) = _load("podmonitor.yaml")
    assert (pm["apiVersion"], pm["kind"]) == ("monitoring.coreos.com/v1", "PodMonitor")
    assert set(pm) == {"apiVersion", "kind", "metadata", "spec"}
    assert "namespace" not in pm["metadata"]
    assert set(pm["spec"]) == {"selector", "podMetricsEndpoints"}
    assert set(pm["spec"]["selector"]) == {"matchLabels"}
    (endpoint,) = pm["spec"]["podMetricsEndpoints"]
    relabel = endpoint.pop("relabelings")
    assert endpoint == {"port": "metrics", "path": "/metrics", "interval": "30s"}
    wanted = pm["spec"]["selector"]["matchLabels"]
    deployments = _of("Deployment")
    for d in deployments:
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert wanted.items() <= labels.items(), d["metadata"]["name"]
        _port(_container(d), endpoint["port"])
    # The job and jigsaw_service the alert rules and dashboards read, from each pod's own labels, as
    # deploy/prometheus/prometheus.yml sets them.
    job, service = relabel
    assert (job["targetLabel"], job["replacement"]) == ("job", "jigsaw-$1")
    assert service == {
        "sourceLabels": ["__meta_kubernetes_pod_label_jigsaw_service"],
        "targetLabel": "jigsaw_service",
    }
    components = {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] for d in deployments
    }
    assert components == {"broker", "hub", "connector"}
    assert job["regex"] == "(broker|hub|connector)"


def test_each_pod_names_its_service_as_its_metrics_do() -> None:
    services = {d["spec"]["template"]["metadata"]["labels"]["jigsaw/service"] for d in _of("Deployment")}
    agencies = {p.stem for p in CONNECTORS}
    wanted = {"broker", *(f"hub-{s}" for s in ROSTER.subscriber_ids), *(f"connector-{a}" for a in agencies)}
    assert services == wanted


def test_the_kustomization_lists_every_resource_but_the_secrets_and_the_optional_pod_monitor() -> None:
    (k,) = _load("kustomization.yaml")
    assert (k["apiVersion"], k["kind"]) == ("kustomize.config.k8s.io/v1beta1", "Kustomization")
    files = {p.name for p in OUT.glob("*.yaml")} - {"kustomization.yaml"}
    # Applying placeholders over real Secrets would break every pod; the PodMonitor needs its CRD.
    assert sorted(k["resources"]) == sorted(files - {"secrets.yaml", "podmonitor.yaml"})
    assert not any("namespace" in d["metadata"] for d in _all())


def test_every_deployment_probes_live_and_ready_on_a_port_it_declares_and_serves() -> None:
    for d in _of("Deployment"):
        c = _container(d)
        live, ready = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"]
        assert (live["path"], ready["path"]) == ("/health/live", "/health/ready")
        port = _port(c, live["port"])
        assert _port(c, ready["port"]) == port
        scrape = d["spec"]["template"]["metadata"]["annotations"]
        assert scrape == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
        assert _served_metrics(d) == ("0.0.0.0", port), d["metadata"]["name"]  # noqa: S104


def _served_metrics(d: dict[str, Any]) -> tuple[str, int]:
    """Where the service itself will listen for /metrics and /health, read as the service reads it."""
    c = _container(d)
    if c["args"][0] == "connector":
        config = _connector_config(d)
        return config.metrics.host, config.metrics.port
    prefix = {"broker": "JIGSAW_BROKER__", "hub": "JIGSAW_HUB__"}[c["args"][0]]
    env = _env(d)
    return env[f"{prefix}METRICS__HOST"], int(env[f"{prefix}METRICS__PORT"])


def _connector_config(d: dict[str, Any]) -> ConnectorConfig:
    """The config file a connector Deployment runs: the ConfigMap item its --config path names."""
    c = _container(d)
    path = Path(c["args"][c["args"].index("--config") + 1])
    (mount,) = [m for m in c["volumeMounts"] if Path(m["mountPath"]) == path.parent]
    (volume,) = [v for v in d["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    data = _by_name("ConfigMap")[volume["configMap"]["name"]]["data"]
    return ConnectorConfig.model_validate(yaml.safe_load(data[path.name]))


def test_the_policy_config_map_is_the_repositorys_policy_byte_for_byte() -> None:
    data = _by_name("ConfigMap")["jigsaw-policy"]["data"]
    assert data == {p.name: p.read_text(encoding="utf-8") for p in POLICY_DIR.glob("*.yaml")}
    for d in _of("Deployment"):
        env = _env(d)
        for name in ("JIGSAW_BROKER__POLICY", "JIGSAW_HUB__POLICY"):
            if name in env:
                assert Path(env[name]).name in data
                mounted = [
                    m for m in _container(d)["volumeMounts"] if m["mountPath"] == str(Path(env[name]).parent)
                ]
                assert mounted
                assert "subPath" not in mounted[0], "a subPath mount never sees an edited ConfigMap"


def test_every_subscriber_of_the_roster_has_its_hub() -> None:
    hubs = {
        d["metadata"]["name"]: _container(d)["args"]
        for d in _of("Deployment")
        if _container(d)["args"][0] == "hub"
    }
    assert ROSTER.subscriber_ids[:1] == ("csc-mash",)
    assert {a[a.index("--subscriber") + 1] for a in hubs.values()} == set(ROSTER.subscriber_ids)
    services = _by_name("Service")
    for name in hubs:
        assert {p["name"] for p in services[name]["spec"]["ports"]} == {"api", "metrics"}


def test_every_connector_config_has_its_deployment_running_the_same_connector() -> None:
    deployed = {
        _connector_config(d).participant_id: _connector_config(d)
        for d in _of("Deployment")
        if _container(d)["args"][0] == "connector"
    }
    assert len(CONNECTORS) == 7
    for path in CONNECTORS:
        original = load_config(path)
        mine = deployed.pop(original.participant_id)
        same = ("agency", "connector", "source", "contacts", "match_threshold", "front_door", "partitions")
        assert {f: getattr(mine, f) for f in same} == {f: getattr(original, f) for f in same}, path.name
        assert mine.kafka.credentials == Path(
            f"{manifests.KAFKA_CREDENTIALS}/{original.participant_id}.kafka.json"
        )
    assert deployed == {}


def test_every_port_has_a_service_and_every_service_a_declared_port() -> None:
    services = _by_name("Service")
    for d in _of("Deployment"):
        s = services[d["metadata"]["name"]]
        assert s["spec"]["selector"] == d["spec"]["selector"]["matchLabels"]
        c = _container(d)
        assert {p["name"] for p in s["spec"]["ports"]} == {p["name"] for p in c["ports"]}
        for p in s["spec"]["ports"]:
            assert _port(c, p["targetPort"]) == p["port"]


def test_no_secret_carries_a_value_and_every_one_a_pod_needs_is_named() -> None:
    secrets = _by_name("Secret")
    for name, s in secrets.items():
        assert s["type"] == "Opaque", name
        assert "data" not in s, name
        bad = {k: v for k, v in s["stringData"].items() if not PLACEHOLDER.match(v)}
        assert not bad, f"{name} holds a value that is not a placeholder: {sorted(bad)}"
    needed: set[tuple[str, str | None]] = set()
    for d in _of("Deployment"):
        for v in d["spec"]["template"]["spec"]["volumes"]:
            if "secret" in v:
                items = v["secret"].get("items") or [{"key": None}]
                needed |= {(v["secret"]["secretName"], i["key"]) for i in items}
        for e in _container(d)["env"]:
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                needed.add((ref["name"], ref["key"]))
    for name, key in needed:
        if name == manifests.CLUSTER_CA_SECRET:
            continue  # Strimzi's own, made with the cluster
        assert name in secrets, name
        assert key is None or key in secrets[name]["stringData"], (name, key)


def test_each_pod_mounts_its_own_participants_keystore_and_credential() -> None:
    secrets = _by_name("Secret")
    for d in _of("Deployment"):
        participant = _participant(d)
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        keys = secrets[volumes["keys"]["secret"]["secretName"]]["stringData"]
        assert set(keys) == {f"{participant}.keystore.json", "root.pub"}
        kafka = secrets[volumes["kafka"]["secret"]["secretName"]]["stringData"]
        assert set(kafka) == {f"{participant}.kafka.json"}


def _participant(d: dict[str, Any]) -> str:
    args = _container(d)["args"]
    if args[0] == "connector":
        return _connector_config(d).participant_id
    if args[0] == "hub":
        return ROSTER.hub_for(args[args.index("--subscriber") + 1])
    return "broker"


def test_every_container_runs_the_image_make_image_builds_locked_down() -> None:
    uid, gid = (int(x) for x in image.USER.split(":"))
    for d in _of("Deployment"):
        pod, c = d["spec"]["template"]["spec"], _container(d)
        assert c["image"] == image.IMAGE
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (uid, gid)
        assert c["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert pod["automountServiceAccountToken"] is False
        assert set(c["resources"]) == {"requests", "limits"}
        writable = {m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")}
        assert writable == {manifests.STATE, "/tmp"}  # noqa: S108 - the pod's own emptyDir


@pytest.mark.parametrize("component", ["broker", "hub"])
def test_the_env_a_service_pod_sets_is_what_its_settings_read(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls, prefix = {"broker": (BrokerSettings, "JIGSAW_BROKER__"), "hub": (HubSettings, "JIGSAW_HUB__")}[
        component
    ]
    pods = [d for d in _of("Deployment") if _container(d)["args"][0] == component]
    assert pods
    for d in pods:
        for name in [n for n in os.environ if n.startswith("JIGSAW_")]:
            monkeypatch.delenv(name)
        env = {
            k: v if isinstance(v, str) else FROM_SECRET.get(k, "from-a-secret") for k, v in _env(d).items()
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = cls()
        # The CLI's own setting, read by `jigsaw` itself (apps/cli), not by the service's settings.
        assert env.pop("JIGSAW_LOG_FORMAT") == "json"
        for name, value in env.items():
            assert name.startswith(prefix)
            got: Any = settings
            for part in name.removeprefix(prefix).lower().split("__"):
                got = getattr(got, part)  # a misspelt variable names no field, and fails here
            if hasattr(got, "get_secret_value"):
                got = got.get_secret_value()
            assert (json.loads(value) if name in FROM_SECRET else value) == (
                got if name in FROM_SECRET else str(got)
            )
