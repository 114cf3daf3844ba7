"""Server CA, transit certificates and the TLS 1.3 contexts of both data-plane ends."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rehost.agent.tls import pinned_client_context, set_tls12_floor
from rehost.privatefile import write_private

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """The server's CA: PEM certificate (given to agents) and PEM private key."""

    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True, slots=True)
class IssuedCert:
    """A leaf certificate with its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes


def load_or_create_ca(directory: Path, *, now: dt.datetime, common_name: str = "rehost CA") -> (
    CertificateAuthority
):
    """Load the CA from directory, creating it (EC P-256, key mode 0600) on first start."""
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    if cert_path.exists() and key_path.exists():
        return CertificateAuthority(cert_path.read_bytes(), key_path.read_bytes())
    directory.mkdir(parents=True, exist_ok=True)
    ca = create_ca(now=now, common_name=common_name)
    write_private(key_path, ca.key_pem)
    write_private(cert_path, ca.cert_pem)
    return ca


def create_ca(*, now: dt.datetime, common_name: str = "rehost CA") -> CertificateAuthority:
    """A fresh self-signed CA valid for 20 years."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365 * 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_transit_cert(
    ca: CertificateAuthority, names: Sequence[str], *, now: dt.datetime, days: int = 825
) -> IssuedCert:
    """A server certificate signed by ca for the given host names and IP addresses."""
    if not names:
        raise ValueError("a transit certificate needs at least one host name or IP")
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an EC key")
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return IssuedCert(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def transit_server_context(cert: IssuedCert) -> ssl.SSLContext:
    """Transit listener context: TLS 1.2 floor (ECDHE + AES-GCM), TLS 1.3 preferred."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    set_tls12_floor(ctx)
    # no session tickets: a ticket arriving after the handshake would wake a reader that polls
    # for ACKs and then block it inside SSL_read waiting for application data
    ctx.num_tickets = 0
    with tempfile.TemporaryDirectory(prefix="rehost-tls-") as tmp:
        cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        write_private(key_path, cert.key_pem)
        cert_path.write_bytes(cert.cert_pem)
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


def agent_client_context(ca_pem: bytes) -> ssl.SSLContext:
    """Client-side context trusting only the CA the agent stored at import."""
    return pinned_client_context(ca_pem)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
