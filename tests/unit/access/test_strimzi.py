"""The access plan as Strimzi resources, and the Kubernetes example, checked offline against the schemas
the cluster would check them against: the pinned Strimzi CRDs for Strimzi's kinds, the Kubernetes API's own
(bundled by kubernetes-validate) for the built-in kinds. Then what no schema can see: the users carry exactly
the plan's grants, and the topics the durability the cluster rests on.

CRD schemas are OpenAPI v3, which a JSON Schema validator reads as draft 4 once two differences are put back:
``nullable`` becomes a ``null`` type, and an object that lists its properties rejects any other (the API
server's strict field validation, kubectl's default, rejects unknown fields rather than pruning them). The
``x-kubernetes-validations`` CEL rules are not evaluated here; nothing Jigsaw renders comes near them.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import kubernetes_validate
import pytest
import yaml

from jigsaw.access.plan import Grant, Kind, Op, Pattern, Plan, plan
from jigsaw.access.strimzi import API_VERSION, is_resource_name, render, to_yaml, topic_resource_name
from jigsaw.roster import Roster, load_roster
from jigsaw.topics import Topics

REPO = Path(__file__).resolve().parents[3]
KUBE = REPO / "deploy" / "kubernetes"
CRDS = KUBE / "crds"
ROSTER = REPO / "deploy" / "policy" / "devon-mash.yaml"
STRIMZI_GROUP = "kafka.strimzi.io"
# The oldest Kubernetes the pinned Strimzi release supports, and the newest kubernetes-validate bundles.
KUBERNETES = ("1.30.0", kubernetes_validate.latest_version())
PATTERN = {Pattern.LITERAL: "literal", Pattern.PREFIXED: "prefix"}


def _openapi_to_jsonschema(node: Any) -> Any:
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if k not in ("properties", "nullable")}
    if "properties" in node:
        out["properties"] = {k: _openapi_to_jsonschema(v) for k, v in node["properties"].items()}
        if (
            node.get("type") == "object"
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
        if "enum" in node:
            out["enum"] = [*node["enum"], None]
    return out


def _load_crds() -> dict[tuple[str, str], jsonschema_rs.Draft4Validator]:
    validators = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        for version in crd["spec"]["versions"]:
            if version["served"]:
                schema = _openapi_to_jsonschema(version["schema"]["openAPIV3Schema"])
                api_version = f"{crd['spec']['group']}/{version['name']}"
                validators[(api_version, crd["spec"]["names"]["kind"])] = jsonschema_rs.Draft4Validator(
                    schema
                )
    return validators


CRD_VALIDATORS = _load_crds()


def crd_errors(resource: dict[str, Any]) -> list[str]:
    """What the cluster would refuse in ``resource``, by its CRD's schema for its apiVersion."""
    validator = CRD_VALIDATORS.get((resource.get("apiVersion", ""), resource.get("kind", "")))
    if validator is None:
        return [f"no pinned CRD serves {resource.get('apiVersion')} {resource.get('kind')}"]
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(resource)]
    name = resource.get("metadata", {}).get("name", "")
    if not is_resource_name(name):  # metadata is checked by the API server, not by the CRD's schema
        errors.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    return errors


def _example() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((KUBE / "kafka.yaml").read_text(encoding="utf-8")) if d]


def _is_strimzi(resource: dict[str, Any]) -> bool:
    return str(resource["apiVersion"]).startswith(f"{STRIMZI_GROUP}/")


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(ROSTER)


@pytest.fixture(scope="module", params=["", "t1"], ids=["no-prefix", "prefix-t1"])
def topics(request: pytest.FixtureRequest) -> Topics:
    return Topics(request.param)


@pytest.fixture(scope="module")
def the_plan(roster: Roster, topics: Topics) -> Plan:
    return plan(roster, topics)


@pytest.fixture(scope="module")
def rendered(the_plan: Plan) -> list[dict[str, Any]]:
    return render(the_plan, cluster="jigsaw", namespace="jigsaw")


def _users(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == "KafkaUser"}


def _acl_set(user: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {
        (acl["resource"]["type"], acl["resource"]["name"], acl["resource"]["patternType"], op)
        for acl in user["spec"]["authorization"]["acls"]
        for op in acl["operations"]
    }


def test_the_pinned_crds_are_the_files_source_md_names() -> None:
    source = (CRDS / "SOURCE.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"\| `([^`]+\.yaml)` \| `[^`]+` \| `([0-9a-f]{64})` \|", source))
    on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in CRDS.glob("*.yaml")}
    assert listed == on_disk
    assert {kind for _, kind in CRD_VALIDATORS} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    assert {api for api, _ in CRD_VALIDATORS} == {API_VERSION}, "the module renders the version they serve"


def test_every_rendered_resource_is_valid_against_its_pinned_crd(rendered: list[dict[str, Any]]) -> None:
    assert rendered
    problems = {f"{r['kind']}/{r['metadata']['name']}": crd_errors(r) for r in rendered}
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_rendered_yaml_reads_back_as_the_resources(rendered: list[dict[str, Any]]) -> None:
    text = to_yaml(rendered)
    assert list(yaml.safe_load_all(text)) == rendered
    assert text.count("\n---\n") == len(rendered) - 1


def test_every_strimzi_resource_of_the_example_is_valid_against_its_pinned_crd() -> None:
    strimzi = [r for r in _example() if _is_strimzi(r)]
    assert {r["kind"] for r in strimzi} >= {"Kafka", "KafkaNodePool"}
    problems = {f"{r['kind']}/{r['metadata']['name']}": crd_errors(r) for r in strimzi}
    assert {k: v for k, v in problems.items() if v} == {}


@pytest.mark.parametrize("version", KUBERNETES)
def test_every_built_in_resource_of_the_example_is_valid_kubernetes(version: str) -> None:
    built_in = [r for r in _example() if not _is_strimzi(r)]
    assert {r["kind"] for r in built_in} == {"Namespace", "NetworkPolicy"}
    for resource in built_in:
        kubernetes_validate.validate(resource, version, strict=True)  # raises on the first problem


def _one_user() -> dict[str, Any]:
    return copy.deepcopy(_users(render(plan(load_roster(ROSTER), Topics())))["police.devon"])


def _auth_plain(u: dict[str, Any]) -> None:
    u["spec"]["authentication"]["type"] = "plain"


def _steal(u: dict[str, Any]) -> None:
    u["spec"]["authorization"]["acls"][0]["operations"] = ["Read", "Steal"]


def _no_operations(u: dict[str, Any]) -> None:
    del u["spec"]["authorization"]["acls"][0]["operations"]


def _plan_word_for_prefix(u: dict[str, Any]) -> None:
    u["spec"]["authorization"]["acls"][0]["resource"]["patternType"] = "prefixed"


def _misspelt_field(u: dict[str, Any]) -> None:
    acl = u["spec"]["authorization"]["acls"][0]
    acl["hosts"] = acl.pop("host")  # optional, so only the ban on unknown fields catches it


def _bad_name(u: dict[str, Any]) -> None:
    u["metadata"]["name"] = "Police_Devon"


@pytest.mark.parametrize(
    "breakage", [_auth_plain, _steal, _no_operations, _plan_word_for_prefix, _misspelt_field, _bad_name]
)
def test_the_crd_validation_rejects_a_broken_kafka_user(breakage: Any) -> None:
    user = _one_user()
    assert crd_errors(user) == []
    breakage(user)
    assert crd_errors(user), f"{breakage.__name__} was accepted"


def test_the_crd_validation_rejects_a_broken_kafka_topic_and_an_old_api_version() -> None:
    topic = render(plan(load_roster(ROSTER), Topics()))[-1]
    assert topic["kind"] == "KafkaTopic"
    assert crd_errors(topic) == []
    assert crd_errors({**topic, "spec": {**topic["spec"], "replicas": 0}})
    assert crd_errors({**topic, "apiVersion": f"{STRIMZI_GROUP}/v1beta2"}), "1.x serves v1 only"


def test_an_openapi_nullable_field_admits_null_and_nothing_else() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "enum": ["x"], "nullable": True}}}
    validator = jsonschema_rs.Draft4Validator(_openapi_to_jsonschema(schema))
    assert [validator.is_valid({"a": v}) for v in ("x", None, "y", 1)] == [True, True, False, False]
    assert not validator.is_valid({"b": "x"}), "an object that lists its properties has no others"


@pytest.mark.parametrize(
    "breakage",
    [
        lambda p: p["spec"].update(podSelecter=p["spec"].pop("podSelector")),
        lambda p: p["spec"]["ingress"][0]["ports"][0].update(port=[9093]),
        lambda p: p["spec"].update(policyTypes="Ingress"),
    ],
    ids=["misspelt-field", "port-as-list", "policy-types-not-a-list"],
)
def test_the_kubernetes_validation_rejects_a_broken_network_policy(breakage: Any) -> None:
    policy = copy.deepcopy(next(r for r in _example() if r["kind"] == "NetworkPolicy"))
    kubernetes_validate.validate(policy, KUBERNETES[-1], strict=True)
    breakage(policy)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(policy, KUBERNETES[-1], strict=True)


def test_each_participant_is_one_kafka_user_with_exactly_its_grants(
    the_plan: Plan, rendered: list[dict[str, Any]]
) -> None:
    users = _users(rendered)
    assert len(users) == len([r for r in rendered if r["kind"] == "KafkaUser"]) == len(the_plan.principals)
    assert set(users) == set(the_plan.principals)
    for pid, user in users.items():
        expected = {(g.kind.value, g.name, PATTERN[g.pattern], g.op.value) for g in the_plan.of(pid)}
        assert _acl_set(user) == expected, pid
        acls = user["spec"]["authorization"]["acls"]
        resources = [tuple(acl["resource"].values()) for acl in acls]
        assert len(resources) == len(set(resources)), f"{pid}: one rule per resource"
        assert all(acl["host"] == "*" and acl["type"] == "allow" for acl in acls)
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}


def test_the_hubs_rebuild_groups_are_prefix_rules(the_plan: Plan, rendered: list[dict[str, Any]]) -> None:
    prefixed = {(g.principal, g.name) for g in the_plan.grants if g.pattern is Pattern.PREFIXED}
    assert prefixed, "the plan has prefixed grants to render"
    found = {
        (name, acl["resource"]["name"])
        for name, user in _users(rendered).items()
        for acl in user["spec"]["authorization"]["acls"]
        if acl["resource"]["patternType"] == "prefix"
    }
    assert found == prefixed


def test_no_connector_can_write_another_agencys_intelligence(
    roster: Roster, topics: Topics, rendered: list[dict[str, Any]]
) -> None:
    users = _users(rendered)
    connectors = {pid: p for pid, p in roster.participants.items() if p.role == "AGENCY_CONNECTOR"}
    assert len(connectors) >= 2
    for pid, participant in connectors.items():
        writes = {name for kind, name, _, op in _acl_set(users[pid]) if kind == "topic" and op == "Write"}
        assert topics.intel(participant.agency) in writes
        others = {topics.intel(a) for a in roster.agencies if a != participant.agency}
        assert not writes & others, pid
        assert not any(p == "prefix" for _, _, p, _ in _acl_set(users[pid])), "no wildcard to slip through"


def test_every_topic_is_one_kafka_topic_with_its_partitions_and_the_durability_floor(
    the_plan: Plan, rendered: list[dict[str, Any]]
) -> None:
    kafka_topics = [r for r in rendered if r["kind"] == "KafkaTopic"]
    by_topic = {r["spec"]["topicName"]: r for r in kafka_topics}
    assert len(by_topic) == len(kafka_topics) == len(the_plan.topics)
    for spec in the_plan.topics:
        resource = by_topic[spec.name]
        assert resource["spec"]["replicas"] == 3
        assert resource["spec"]["partitions"] == spec.partitions
        assert resource["spec"]["config"] == {**spec.config, "min.insync.replicas": "2"}
        assert resource["metadata"]["name"] == topic_resource_name(spec.name)


def test_users_come_first_and_every_resource_is_labelled_for_its_cluster(the_plan: Plan) -> None:
    resources = render(the_plan, cluster="other", namespace="ns")
    kinds = [r["kind"] for r in resources]
    assert kinds == sorted(kinds, key=lambda k: k != "KafkaUser")
    assert all(r["metadata"]["labels"] == {"strimzi.io/cluster": "other"} for r in resources)
    assert all(r["metadata"]["namespace"] == "ns" for r in resources)
    assert all("namespace" not in r["metadata"] for r in render(the_plan))
    assert render(the_plan) == render(the_plan), "deterministic"


def test_a_topic_name_kubernetes_refuses_is_folded_apart_from_its_neighbours() -> None:
    names = ["jigsaw.keys.v1", "Jigsaw_Keys", "jigsaw-keys", "jigsaw_keys", "_x..y.", "__", "a" * 249]
    folded = [topic_resource_name(n) for n in names]
    assert folded[0] == "jigsaw.keys.v1", "a valid name is kept"
    assert folded[2] == "jigsaw-keys", "a valid name is kept"
    assert all(is_resource_name(f) for f in folded)
    assert len(set(folded)) == len(folded)


def test_a_participant_id_that_cannot_be_a_resource_name_is_refused() -> None:
    grant = Grant("Police_Devon", Kind.TOPIC, "jigsaw.keys.v1", Op.READ)
    bad = Plan("", ("Police_Devon",), (grant,), ())
    with pytest.raises(ValueError, match="Police_Devon"):
        render(bad)
    with pytest.raises(ValueError, match="label"):
        render(Plan("", (), (), ()), cluster="Not_A_Cluster")


def test_the_example_cluster_is_three_kraft_nodes_behind_scram_over_tls() -> None:
    example = {r["kind"]: r for r in _example()}
    kafka, pool, policy = example["Kafka"], example["KafkaNodePool"], example["NetworkPolicy"]
    assert pool["spec"]["replicas"] == 3
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    assert pool["spec"]["storage"]["type"] == "persistent-claim"
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    spec = kafka["spec"]["kafka"]
    assert spec["version"].startswith("4.")
    assert all(lst["tls"] and lst["authentication"] == {"type": "scram-sha-512"} for lst in spec["listeners"])
    assert spec["authorization"] == {"type": "simple", "superUsers": ["admin"]}
    config = spec["config"]
    assert config["min.insync.replicas"] == 2
    assert config["default.replication.factor"] == 3
    assert config["auto.create.topics.enable"] is False
    assert set(kafka["spec"]["entityOperator"]) == {"topicOperator", "userOperator"}
    # The policy lets Jigsaw's pods reach exactly the client listener, as the listener's own peers do.
    jigsaw_pods = {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "jigsaw"}}}
    assert policy["spec"]["ingress"] == [
        {
            "from": [jigsaw_pods],
            "ports": [{"protocol": "TCP", "port": lst["port"]} for lst in spec["listeners"]],
        }
    ]
    assert all(lst["networkPolicyPeers"] == [jigsaw_pods] for lst in spec["listeners"])
    assert policy["spec"]["podSelector"]["matchLabels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert {r["metadata"].get("namespace") for r in _example() if r["kind"] != "Namespace"} == {"jigsaw"}
