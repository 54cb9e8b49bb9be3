"""What every section of a decoded envelope must look like, checked before anything is unwrapped.

A section is sealed (ciphertext and wrapped keys) or, in a release only, withheld (a notice and nothing
else). The sender's signature covers a sealed section whole: its nonce and digest are signed, and the
ciphertext is checked against that digest here. The broker's stamp covers the withheld notices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from jigsaw.errors import CiphertextCorrupt, DuplicateSection, ForgedWithheld, PayloadInvalid

NONCE = 12


def check_sections(env: Mapping[str, Any]) -> None:
    """Structure alone: no key is needed. A withheld notice outside a release is no one's word, and would
    let whoever wrote it suppress a section and show a reason of their own in its place."""
    pairs = [(s["category"], s["subject_ref"]) for s in env["sections"]]
    if len(set(pairs)) != len(pairs):
        raise DuplicateSection("a section appears twice in one message")
    for s in env["sections"]:
        name, notice = s["category"], s["withheld"]
        if notice is None:
            if s["ciphertext"] is None:
                raise PayloadInvalid(f"section {name} has neither ciphertext nor a withheld notice")
            if len(s["nonce"]) != NONCE:
                raise CiphertextCorrupt(f"section {name} has a {len(s['nonce'])}-byte nonce")
        elif env["release"] is None:
            raise ForgedWithheld(f"section {name} is marked withheld in a message no broker released")
        elif s["ciphertext"] is not None or s["wrapped_keys"]:
            raise ForgedWithheld(f"section {name} is marked withheld but still carries its data")
        elif not (notice["reason"] and notice["rule_id"]):
            raise ForgedWithheld(f"section {name}'s withheld notice names no reason or rule")


def check_digests(env: Mapping[str, Any]) -> None:
    # Here rather than when a key is unwrapped: a corrupt section found only at re-keying would be held
    # as valid, and fail, dead-lettering an innocent trigger, each time its referral changed.
    for s in env["sections"]:
        if s["ciphertext"] is not None and hashlib.sha256(s["ciphertext"]).digest() != s["digest"]:
            raise CiphertextCorrupt(f"section {s['category']} does not match its signed digest")
