"""Cost per message of seal, open and rekey (3 sections, 5 recipients), beside the raw primitives.

    .venv/bin/python -m bench.envelope [--n 2000]

Prints a table and writes bench/results/envelope.json. The primitives are measured in the same run, so the
overhead above them (Avro, framing, dict work) can be read off directly. Ed25519 is measured through both
``cryptography`` and PyNaCl (libsodium), which the envelope uses (``jigsaw/wire/ed25519.py``), so the
reason for that choice is re-measured on every run; the floors below use the PyNaCl rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from devkit.testkit.wire import contact, identity, incidents, intel_body, make_world
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.ed25519 import SigningKey
from jigsaw.wire.envelope import SectionInput, Withhold

RESULTS = Path(__file__).parent / "results" / "envelope.json"
R = "R-bench"


def per_call_us(fn: Callable[[], object], n: int, repeats: int = 5) -> float:
    """Median over ``repeats`` runs of the mean cost of one call, in microseconds."""
    fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    n = ap.parse_args().n

    world = make_world(SchemaRegistry.load())
    for extra in ("health-mash", "partner-hub"):
        world.add(extra, "SUBSCRIBER")
    recipients = ["broker", "csc-mash", "police-mash", "health-mash", "partner-hub"]
    sections = [
        SectionInput("identity", identity()),
        SectionInput("police_incidents", incidents()),
        SectionInput("contact", contact()),
    ]
    police, broker, csc = world.party("police.devon"), world.party("broker"), world.party("csc-mash")

    def seal() -> bytes:
        return police.seal(
            kind="INTEL", referral_id=R, body=intel_body(), sections=sections, recipients=recipients
        )

    sealed = seal()
    verified = broker.verify(sealed, R.encode())
    release = broker.rekey(verified, "csc-mash", {}, decision_id="D", policy_version="v")
    withhold = {("police_incidents", "S1"): Withhold("x", "R1")}

    plain = os.urandom(400)
    key, nonce = AESGCM(AESGCM.generate_key(bit_length=256)), os.urandom(12)
    ct = key.encrypt(nonce, plain, b"aad")
    sk = Ed25519PrivateKey.generate()
    sig = sk.sign(plain)
    pk = sk.public_key()
    # The same seed through the wrapper the envelope uses, so both libraries sign and verify the same bytes.
    nacl_sk = SigningKey.from_private_bytes(sk.private_bytes_raw())
    nacl_pk = nacl_sk.public_key()
    assert nacl_sk.sign(plain) == sig, "PyNaCl and cryptography disagree on an Ed25519 signature"
    xa, xb = X25519PrivateKey.generate(), X25519PrivateKey.generate().public_key()

    rows = [
        ("seal (3 sections, 5 recipients)", per_call_us(seal, n)),
        ("open (as broker)", per_call_us(lambda: broker.open(sealed, R.encode()), n)),
        ("verify (broker, no decryption)", per_call_us(lambda: broker.verify(sealed, R.encode()), n)),
        (
            "rekey (one subscriber, after verify)",
            per_call_us(
                lambda: broker.rekey(verified, "csc-mash", withhold, decision_id="D", policy_version="v"), n
            ),
        ),
        ("open release (as subscriber)", per_call_us(lambda: csc.open(release, R.encode()), n)),
        ("primitive: AES-256-GCM encrypt 400 B", per_call_us(lambda: key.encrypt(nonce, plain, b"aad"), n)),
        ("primitive: AES-256-GCM decrypt 400 B", per_call_us(lambda: key.decrypt(nonce, ct, b"aad"), n)),
        ("primitive: Ed25519 sign (cryptography)", per_call_us(lambda: sk.sign(plain), n)),
        ("primitive: Ed25519 sign (PyNaCl, used)", per_call_us(lambda: nacl_sk.sign(plain), n)),
        ("primitive: Ed25519 verify (cryptography)", per_call_us(lambda: pk.verify(sig, plain), n)),
        ("primitive: Ed25519 verify (PyNaCl, used)", per_call_us(lambda: nacl_pk.verify(sig, plain), n)),
        ("primitive: X25519 exchange", per_call_us(lambda: xa.exchange(xb), n)),
    ]
    prim = dict(rows)
    floor_seal = (
        3 * prim["primitive: AES-256-GCM encrypt 400 B"] * 6 + prim["primitive: Ed25519 sign (PyNaCl, used)"]
    )
    floor_open = (
        3 * prim["primitive: AES-256-GCM decrypt 400 B"] * 2
        + prim["primitive: Ed25519 verify (PyNaCl, used)"]
    )

    print(f"\nenvelope costs, {platform.processor() or platform.machine()}, n={n}, record {len(sealed)} B\n")
    print(f"{'operation':<44}{'µs/call':>10}")
    for name, us in rows:
        print(f"{name:<44}{us:>10.1f}")
    print(
        f"\nseal: primitives floor {floor_seal:.1f} µs (18 AES-GCM ops + 1 sign, KEKs cached); "
        f"overhead {prim['seal (3 sections, 5 recipients)'] - floor_seal:.1f} µs"
    )
    print(
        f"open: primitives floor {floor_open:.1f} µs (6 AES-GCM ops + 1 verify); "
        f"overhead {prim['open (as broker)'] - floor_open:.1f} µs"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"n": n, "record_bytes": len(sealed), "us_per_call": prim}, indent=2))
    print(
        f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
    )


if __name__ == "__main__":
    main()
