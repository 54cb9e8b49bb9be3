"""The local Kafka's certificate authority, its node certificate and the participants' client certificates.

Made once with ``cryptography`` and kept under the local Kafka's home (git ignores it). Kafka 4.0 reads PEM
keystores whose private key is unencrypted PKCS#8, so no keystore password exists to leak; the files are
0600 instead. Every certificate that a client dials carries SANs for ``localhost`` and ``127.0.0.1``, since
aiokafka always checks the host name. A client certificate's common name is the participant id, which the
broker's principal mapping rule turns into ``User:<id>``, the same principal as its SCRAM user.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jigsaw.files import private_dir, write_private

NODE_PRINCIPAL = "kafka-node"
CA_DAYS = 3650
LEAF_DAYS = 825
# A leaf this close to expiry is issued again at the next `up`.
RENEW_DAYS = 30


@dataclass(frozen=True)
class TlsFiles:
    """Where one local node keeps its TLS material."""

    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def node(self) -> Path:
        """The node's PEM keystore: its private key, then its certificate and the CA's."""
        return self.dir / "node.pem"

    def client_cert(self, principal: str) -> Path:
        return self.dir / "clients" / f"{principal}.cert.pem"

    def client_key(self, principal: str) -> Path:
        return self.dir / "clients" / f"{principal}.key.pem"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Jigsaw local"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca(files: TlsFiles) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    if files.ca.exists() and files.ca_key.exists():
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
        cert = x509.load_pem_x509_certificate(files.ca.read_bytes())
        if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc > _now():
            return key, cert
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("Jigsaw local Kafka CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(files.ca_key, _key_pem(key))
    write_private(files.ca, _cert_pem(cert))
    # A new CA makes every leaf signed by the old one useless: issue them all again.
    for stale in (files.node, *files.dir.glob("clients/*.pem")):
        stale.unlink(missing_ok=True)
    return key, cert


def _leaf(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], cn: str, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server:
        sans: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _fresh(path: Path) -> bool:
    try:
        pem = path.read_bytes()
    except OSError:
        return False
    cert = x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN CERTIFICATE-----") :])
    return cert.not_valid_after_utc > _now() + dt.timedelta(days=RENEW_DAYS)


def ensure_tls(files: TlsFiles, principals: list[str]) -> None:
    """The CA, the node's keystore and a client certificate for each principal, made where missing."""
    private_dir(files.dir)
    ca = _ca(files)
    ca_pem = _cert_pem(ca[1])
    if not _fresh(files.node):
        key, cert = _leaf(ca, NODE_PRINCIPAL, server=True)
        write_private(files.node, _key_pem(key) + _cert_pem(cert) + ca_pem)
    for principal in principals:
        if not _fresh(files.client_cert(principal)):
            key, cert = _leaf(ca, principal, server=False)
            write_private(files.client_key(principal), _key_pem(key))
            write_private(files.client_cert(principal), _cert_pem(cert) + ca_pem)
