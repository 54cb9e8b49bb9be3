"""The front door's person index: which referrals a person has been a subject of, across referrals.

A person is keyed by HMAC-SHA256, under a secret that never leaves the hub's store directory, of a
validated NHS number, or failing that of their normalised family name, given names and date of birth (so
twins, who share a surname and a birthday, are two people). A key made without an NHS number is only a
probable match (DOMAIN.md, "Matching order"): a flag resting on one says so, for a person to confirm. The
index holds
that key, referral ids and subject refs: never a name, a date of birth or an identifier, and a key is
meaningless without the hub's own secret (so it cannot be matched against another system's hashes).

It is built by the consumer from what is released to the front door's subscriber (the referral's identity
and NHS number sections, and those of a subject added mid-way), so a rebuild of the store rebuilds it.
What it answers, at read time:
- re-referral: a referral about the same child within 12 months of a previous one (children-in-need
  census, "re-referral within 12 months"; DOMAIN.md, "Re-referral");
- previous child removed: a parent or carer whose social-care history, in this referral or another they
  were a subject of, records a child removed from their care.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from jigsaw.bus.store import Conn
from jigsaw.files import private_dir

_KEY_BYTES = 32
_NHS = re.compile(r"[0-9]{10}")
PARENT_ROLES = frozenset({"PARENT", "CARER"})
CHILD_ROLES = frozenset({"CHILD", "SIBLING"})


def valid_nhs(text: str) -> str | None:
    """Ten digits passing the NHS number's modulus 11 check (NHS Data Model and Dictionary), separators
    removed; None otherwise. A repdigit passes the check but is a placeholder, never a person."""
    compact = re.sub(r"[\s-]+", "", text)
    if not _NHS.fullmatch(compact) or len(set(compact)) == 1:
        return None
    total = sum(int(d) * w for d, w in zip(compact[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 10:
        return None
    return compact if (0 if check == 11 else check) == int(compact[9]) else None


def normalise_name(name: str) -> str:
    """Case, accents, spaces, hyphens and apostrophes removed: O'Neill-Smith and oneill smith agree."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in folded if c.isalpha() and not unicodedata.combining(c))


def load_secret(path: Path) -> bytes:
    """The hub's person-index secret, made once (0600, in a 0700 directory) and read ever after."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) != _KEY_BYTES:
            raise ValueError(f"{path} is not a person-index secret") from None
        return secret
    secret = secrets.token_bytes(_KEY_BYTES)
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    return secret


class PersonIndex:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def at(cls, path: Path) -> PersonIndex:
        return cls(load_secret(path))

    def _mac(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def key(self, identity: dict[str, Any] | None, nhs: dict[str, Any] | None) -> str | None:
        found = self.person(identity, nhs)
        return found.key if found else None

    def person(self, identity: dict[str, Any] | None, nhs: dict[str, Any] | None) -> PersonKey | None:
        """The person's key from their Identity and NHS-number payloads, or None if neither a valid NHS
        number nor a family name, given names and a date of birth are known (an unborn child has none).
        Without a valid NHS number the key is ``probable``: names and a birthday are not an identifier."""
        for item in (nhs or {}).get("identifiers") or []:
            number = valid_nhs(str(item.get("value", ""))) if item.get("scheme") == "NHS" else None
            if number:
                return PersonKey(self._mac(f"nhs:{number}"), probable=False)
        names = [n for n in (identity or {}).get("names") or [] if n.get("family_name")]
        born = [d["date_of_birth"] for d in (identity or {}).get("details") or [] if d.get("date_of_birth")]
        if not names or not born:
            return None
        family = normalise_name(str(names[0]["family_name"]))
        given = normalise_name(str(names[0].get("given_names") or ""))
        dob = born[0].isoformat() if isinstance(born[0], date) else str(born[0])[:10]
        if not (family and given):
            return None
        return PersonKey(self._mac(f"name-dob:{family}|{given}|{dob}"), probable=True)


class PersonKey(NamedTuple):
    key: str
    probable: bool  # made from names and a date of birth, not a validated NHS number


class Found(NamedTuple):
    """A subject a person-index flag is about, and whether it rests on a probable match only."""

    subject_ref: str
    probable: bool


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _day(us: int) -> date:
    return datetime.fromtimestamp(us / 1e6, UTC).date()


_OTHER_REFERRALS = (
    "SELECT o.referral_id, o.subject_ref, o.received_at, max(p.probable, o.probable) FROM person_index p"
    " JOIN person_index o ON o.person_key = p.person_key AND o.referral_id != p.referral_id"
    " WHERE p.referral_id = ? AND p.subject_ref = ?"
)


def re_referred(conn: Conn, referral_id: str, roles: dict[str, str]) -> list[Found]:
    """The children of this referral who were the subject of another referral in the 12 months before
    this one was received (a referral after this one does not make this one a re-referral); probable
    when no match by NHS number shows it."""
    row = conn.execute(
        "SELECT received_at FROM referral_meta WHERE referral_id = ?", (referral_id,)
    ).fetchone()
    if row is None:
        return []
    received = row[0]
    since = _year_before(_day(received))
    found = []
    for ref, role in sorted(roles.items()):
        if role not in CHILD_ROLES:
            continue
        hits = [
            bool(probable)
            for _, _, at, probable in conn.execute(_OTHER_REFERRALS, (referral_id, ref))
            if at < received and _day(at) >= since
        ]
        if hits:
            found.append(Found(ref, probable=all(hits)))
    return found


def children_removed(conn: Conn, referral_id: str, roles: dict[str, str]) -> list[Found]:
    """The parents and carers of this referral whose social-care history, here or in another referral
    they were a subject of, records a child removed from their care; probable when only another
    referral's history shows it and the person is that referral's subject by a probable match only."""
    found = []
    for ref, role in sorted(roles.items()):
        if role not in PARENT_ROLES:
            continue
        if _removed(conn, referral_id, ref):
            found.append(Found(ref, probable=False))
            continue
        hits = [
            bool(probable)
            for rid, subject, _, probable in conn.execute(_OTHER_REFERRALS, (referral_id, ref))
            if _removed(conn, rid, subject)
        ]
        if hits:
            found.append(Found(ref, probable=all(hits)))
    return found


def _removed(conn: Conn, referral_id: str, subject_ref: str) -> bool:
    rows = conn.execute(
        "SELECT payload FROM sections WHERE referral_id = ? AND subject_ref = ?"
        " AND category = 'social_care_history' AND status = 'RELEASED'",
        (referral_id, subject_ref),
    )
    return any(json.loads(p or "{}").get("children_removed") for (p,) in rows)
