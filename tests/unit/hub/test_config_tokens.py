"""Tokens are configured as hashes, never as the tokens themselves, in the same JSON-in-env shape."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.hub.config import HubSettings, token_hash


def test_tokens_are_read_from_env_as_hashes_with_scopes_and_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = {
        "case-system": {"subscriber": "csc-mash", "sha256": token_hash("t"), "scopes": ["read", "triage"]}
    }
    monkeypatch.setenv("JIGSAW_HUB__API_TOKENS", json.dumps(tokens))
    t = HubSettings().api_tokens["case-system"]
    assert (t.sha256, sorted(t.scopes), t.name) == (token_hash("t"), ["read", "triage"], None)


def test_a_plaintext_token_in_config_is_refused_saying_how_to_hash_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JIGSAW_HUB__API_TOKENS", json.dumps({"x": {"subscriber": "csc-mash", "token": "t"}}))
    with pytest.raises(ValidationError, match=r"plaintext token.*sha256"):
        HubSettings()


@pytest.mark.parametrize("entry", [{"sha256": "abc"}, {"sha256": token_hash("t"), "scopes": ["admin"]}])
def test_a_bad_hash_or_an_unknown_scope_is_refused(entry: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HubSettings(api_tokens={"x": {"subscriber": "csc-mash", **entry}})  # type: ignore[dict-item]
