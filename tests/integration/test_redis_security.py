"""Redis with AUTH and TLS, as Memorystore runs it: the client's password and CA checks against
a real redis-server of our own (not the shared local stack's plain one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.adapters.cache import RedisCache
from shared.devstack.procs import Stack, free_port, port_open
from shared.errors import ConfigError, DependencyUnavailableError

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-auth-string-4f1c9a"  # must never show in an error


def _redis(stack: Stack, tmp: Path, *args: str) -> int:
    port = free_port()
    tls = "--tls-port" in args
    argv = ["redis-server", "--port", "0" if tls else str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(tmp)]
    argv += [a.replace("{port}", str(port)) for a in args]
    stack.start(f"redis-{port}", argv, lambda: port_open(port), timeout_s=10)
    return port


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path / "logs") as started:
        yield started


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(
    path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None
) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return path


@pytest.fixture
def tls_redis(stack: Stack, tmp_path: Path) -> tuple[int, Path, Path]:
    """A TLS-only redis-server with AUTH: its port, its CA's PEM and another CA's PEM.

    Like Memorystore's, the server certificate names no IP address (a CN only).
    """
    ca_key, server_key, other_key = _key(), _key(), _key()
    ca = _cert("camwatch test CA", ca_key)
    server = _cert("redis-server", server_key, (ca, ca_key))
    ca_pem = _write(tmp_path / "ca.pem", ca)
    server_pem = _write(tmp_path / "server.pem", server, server_key)
    other_pem = _write(tmp_path / "other-ca.pem", _cert("another CA", other_key))
    port = _redis(
        stack,
        tmp_path,
        *("--tls-port", "{port}", "--tls-cert-file", str(server_pem)),
        *("--tls-key-file", str(server_pem.with_suffix(".key")), "--tls-ca-cert-file", str(ca_pem)),
        *("--tls-auth-clients", "no", "--requirepass", PASSWORD),
    )
    return port, ca_pem, other_pem


def test_auth_right_password_works(stack: Stack, tmp_path: Path) -> None:
    port = _redis(stack, tmp_path, "--requirepass", PASSWORD)
    cache = RedisCache.connect("127.0.0.1", port, 1.0, password=PASSWORD)
    cache.ping()
    cache.put_many({"k": "v"}, 60)
    assert cache.get("k") == "v"


@pytest.mark.parametrize(
    "password",
    [
        "not-the-password",  # WRONGPASS
        None,  # NOAUTH: the client sends no AUTH at all
    ],
)
def test_auth_refused_is_clear_and_keeps_the_password(
    stack: Stack, tmp_path: Path, password: str | None
) -> None:
    port = _redis(stack, tmp_path, "--requirepass", PASSWORD)
    cache = RedisCache.connect("127.0.0.1", port, 1.0, password=password)
    with pytest.raises(DependencyUnavailableError, match="AUTH refused") as caught:
        cache.ping()
    assert PASSWORD not in str(caught.value)
    assert "not-the-password" not in str(caught.value)
    assert caught.value.dependency == "redis"


def test_tls_with_the_server_ca_works(tls_redis: tuple[int, Path, Path]) -> None:
    port, ca_pem, _ = tls_redis
    cache = RedisCache.connect("127.0.0.1", port, 2.0, PASSWORD, tls=True, ca_file=str(ca_pem))
    cache.put_many({"k": "v"}, 60)
    assert cache.get("k") == "v"


def test_tls_with_another_ca_is_refused(tls_redis: tuple[int, Path, Path]) -> None:
    port, _, other_pem = tls_redis
    cache = RedisCache.connect("127.0.0.1", port, 2.0, PASSWORD, tls=True, ca_file=str(other_pem))
    with pytest.raises(DependencyUnavailableError, match="TLS failed") as caught:
        cache.ping()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_tls_with_the_system_cas_refuses_a_private_ca(tls_redis: tuple[int, Path, Path]) -> None:
    port, _, _ = tls_redis
    cache = RedisCache.connect("127.0.0.1", port, 2.0, PASSWORD, tls=True)
    with pytest.raises(DependencyUnavailableError, match="TLS failed"):
        cache.ping()


def test_plain_client_on_a_tls_port_fails_fast(tls_redis: tuple[int, Path, Path]) -> None:
    port, _, _ = tls_redis
    cache = RedisCache.connect("127.0.0.1", port, 0.5, PASSWORD)
    with pytest.raises(DependencyUnavailableError, match="redis"):
        cache.ping()


def test_missing_ca_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CAMWATCH_REDIS_CA_FILE"):
        RedisCache.connect("127.0.0.1", 6378, 1.0, tls=True, ca_file=str(tmp_path / "no.pem"))
