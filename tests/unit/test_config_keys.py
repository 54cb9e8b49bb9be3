"""The keystore settings build the key directory with the configured clock skew."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from jigsaw.config import KeystoreSettings
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.keys import ParticipantKeys


def _settings(tmp_path: Path, **extra: object) -> KeystoreSettings:
    root = ParticipantKeys.generate("admin.root", "ADMIN")
    (tmp_path / "root.pub").write_text(base64.b64encode(root.current.sign_public).decode())
    return KeystoreSettings(dir=tmp_path, **extra)  # type: ignore[arg-type]


def test_the_directory_takes_the_configured_skew(tmp_path: Path) -> None:
    registry = SchemaRegistry.load()
    assert _settings(tmp_path).directory(registry).max_clock_skew_us == 300_000_000
    assert _settings(tmp_path, max_clock_skew_s=30).directory(registry).max_clock_skew_us == 30_000_000


def test_an_unbounded_skew_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        _settings(tmp_path, max_clock_skew_s=86_400)
