"""The keystore (encrypted at rest), key rotation, the directory and the `jigsaw keys` commands."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from apps.cli import cli
from jigsaw.errors import BadSignature, ConfigError, RevokedKey, UnknownSender
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory, issue_key_record
from jigsaw.wire.keys import KekCache, Keystore, ParticipantKeys


def _store(tmp_path: Path, passphrase: str = "correct horse") -> Keystore:
    return Keystore(tmp_path, SecretStr(passphrase), scrypt_n=2**12)


def test_keystore_round_trips_and_keeps_private_keys_encrypted_at_rest(tmp_path: Path) -> None:
    keys = ParticipantKeys.generate("police.devon", "AGENCY_CONNECTOR", "police")
    keys.rotate()
    path = _store(tmp_path).save(keys)

    loaded = _store(tmp_path).load("police.devon")
    assert sorted(loaded.generations) == [1, 2]
    assert loaded.current.sign_kid == keys.current.sign_kid
    raw = path.read_bytes()
    for gen in keys.generations.values():
        assert base64.b64encode(gen.sign.private_bytes_raw()) not in raw
        assert gen.sign.private_bytes_raw() not in raw
    assert path.stat().st_mode & 0o077 == 0, "readable by its owner only"


def test_a_wrong_passphrase_or_an_edited_public_part_cannot_open_the_keystore(tmp_path: Path) -> None:
    _store(tmp_path).save(ParticipantKeys.generate("broker", "BROKER"))
    with pytest.raises(ConfigError, match="passphrase is wrong"):
        _store(tmp_path, "wrong").load("broker")
    path = tmp_path / "broker.keystore.json"
    doc = json.loads(path.read_text())
    doc["public"]["role"] = "ADMIN"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError):
        _store(tmp_path).load("broker")


def test_the_directory_takes_only_root_signed_records_and_a_revocation_is_final(
    registry: SchemaRegistry,
) -> None:
    root = ParticipantKeys.generate("admin.root", "ADMIN")
    impostor = ParticipantKeys.generate("admin.root", "ADMIN")
    keys = ParticipantKeys.generate("health.devon", "AGENCY_CONNECTOR", "health")
    public = keys.current.public_record()
    directory = KeyDirectory(registry, root.current.sign.public_key())

    _, forged = issue_key_record(
        registry, impostor, public, participant_id="health.devon", role="AGENCY_CONNECTOR", agency="health"
    )
    with pytest.raises(UnknownSender):
        directory.apply(forged)
    _, good = issue_key_record(
        registry, root, public, participant_id="health.devon", role="AGENCY_CONNECTOR", agency="health"
    )
    assert directory.apply(good).kex_kid == keys.current.kex_kid
    with pytest.raises(BadSignature):
        directory.apply(good[:-1] + bytes([good[-1] ^ 1]))

    _, revoked = issue_key_record(
        registry,
        root,
        public,
        participant_id="health.devon",
        role="AGENCY_CONNECTOR",
        agency="health",
        revoked=True,
        revocation_reason="SUPERSEDED",
    )
    directory.apply(revoked)
    directory.apply(good)  # replaying the older record must not un-revoke
    with pytest.raises(RevokedKey):
        directory.current("health.devon")


def test_kek_cache_is_bounded() -> None:
    cache = KekCache(maxsize=2, ttl_s=60)
    me = ParticipantKeys.generate("a", "AGENCY_CONNECTOR").current
    for i in range(5):
        peer = ParticipantKeys.generate(f"p{i}", "SUBSCRIBER").current
        cache.get(me, peer.kex.public_key(), peer.kex_kid, "a", f"p{i}", wrapper_is_self=True)
    assert len(cache._cache) == 2
    assert cache.misses == 5


def test_keys_commands_init_rotate_and_show(tmp_path: Path) -> None:
    env = {"JIGSAW_KEYS__DIR": str(tmp_path), "JIGSAW_KEYS__PASSPHRASE": "pw"}
    runner = CliRunner()
    first = runner.invoke(cli, ["keys", "init", "admin.root", "--role", "ADMIN"], env=env)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "root.pub").exists()
    runner.invoke(cli, ["keys", "init", "csc-mash", "--role", "SUBSCRIBER"], env=env)
    rotated = runner.invoke(cli, ["keys", "init", "csc-mash", "--role", "SUBSCRIBER"], env=env)
    assert "rotated to epoch 2" in rotated.output
    shown = runner.invoke(cli, ["keys", "show", "csc-mash"], env={"JIGSAW_KEYS__DIR": str(tmp_path)})
    assert [g["epoch"] for g in json.loads(shown.output)["generations"]] == [1, 2]
    no_pass = runner.invoke(
        cli, ["keys", "init", "x", "--role", "HUB"], env={"JIGSAW_KEYS__DIR": str(tmp_path)}
    )
    assert no_pass.exit_code == 1
    assert "JIGSAW_KEYS__PASSPHRASE" in no_pass.output


def test_a_revocation_survives_compaction_and_a_compromise_is_never_downgraded(
    registry: SchemaRegistry,
) -> None:
    root = ParticipantKeys.generate("admin.root", "ADMIN")
    keys = ParticipantKeys.generate("police.devon", "AGENCY_CONNECTOR", "police")
    public = keys.current.public_record()

    def issue(**kw: object) -> tuple[bytes, bytes]:
        return issue_key_record(registry, root, public, participant_id="police.devon",
                                role="AGENCY_CONNECTOR", agency="police", **kw)  # type: ignore[arg-type]  # fmt: skip

    published = issue()
    compromised = issue(revoked=True, revocation_reason="KEY_COMPROMISE")
    superseded = issue(revoked=True, revocation_reason="SUPERSEDED")
    republished = issue()
    assert compromised[0] != published[0], "a revocation has its own compacted key"
    # What compaction leaves: the last record per key, in any order a fresh reader may meet them.
    compacted = {k: v for k, v in [published, compromised, superseded, republished]}
    directory = KeyDirectory(registry, root.current.sign.public_key())
    for value in compacted.values():
        directory.apply(value)
    with pytest.raises(RevokedKey):
        directory.signer("police.devon", keys.current.sign_kid, 0)
    again = KeyDirectory(registry, root.current.sign.public_key())
    for value in (compromised[1], superseded[1], republished[1]):
        again.apply(value)
    with pytest.raises(RevokedKey):
        again.signer("police.devon", keys.current.sign_kid, 0)  # created long before: still refused
