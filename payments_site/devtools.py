"""Local setup used by ``make run`` and the tests: a ``.env`` with a fresh secret key, and a
self-signed TLS certificate for localhost. Never used by production settings.

    python -m payments_site.devtools dotenv .env
    python -m payments_site.devtools cert .run/tls
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_dotenv(path: Path) -> bool:
    """Create ``path`` with a random SECRET_KEY unless it exists. Returns True if created."""
    if path.exists():
        return False
    path.write_text(
        "# Written once by `make run`; see .env.example for every variable.\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    )
    path.chmod(0o600)
    return True


def write_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for localhost/127.0.0.1/::1, created once, kept 1 year."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "localhost.crt", directory / "localhost.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "dotenv":
        write_dotenv(Path(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "cert":
        write_cert(Path(argv[1]))
        return 0
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
