"""``KafkaConnection.librdkafka``: the one connection configuration in librdkafka's names.

librdkafka checks every property name and value when a client is created, and loads the
CA, the client certificate and its key then, so building a real confluent-kafka consumer
from each security protocol's configuration proves the mapping without a broker.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from streams.kafka.connection import KafkaConnection

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _pem_pair(
    name: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None
) -> tuple[x509.Name, ec.EllipticCurvePrivateKey, bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=36_500))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return subject, key, certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tls")
    ca_name, ca_key, ca_pem, _ = _pem_pair("skillstream test CA")
    _, _, client_pem, client_key = _pem_pair("skillstream client", (ca_name, ca_key))
    files = {"ca": ca_pem, "cert": client_pem, "key": client_key}
    for name, content in files.items():
        (folder / f"{name}.pem").write_bytes(content)
    return {name: folder / f"{name}.pem" for name in files}


def _consumer(config: dict[str, object]) -> Consumer:
    return Consumer({**config, "group.id": "skillstream-test"})


def test_plaintext_names_the_servers_client_and_timeout() -> None:
    kafka = KafkaConnection(
        bootstrap_servers="b1:9092, b2:9092", client_id="lms", request_timeout_ms=5_000
    )
    config = kafka.librdkafka("restore")
    assert config == {
        "bootstrap.servers": "b1:9092,b2:9092",
        "client.id": "lms-restore",
        "socket.timeout.ms": 5_000,
        "security.protocol": "PLAINTEXT",
    }
    _consumer(config).close()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_over_tls_carries_the_mechanism_credentials_and_ca(
    tls_files: dict[str, Path], mechanism: str
) -> None:
    kafka = KafkaConnection(
        bootstrap_servers="broker:9094",
        security_protocol="SASL_SSL",
        sasl_mechanism=mechanism,  # type: ignore[arg-type]
        sasl_username="skillstream",
        sasl_password="s3cret",  # type: ignore[arg-type]
        ssl_cafile=tls_files["ca"],
    )
    config = kafka.librdkafka()
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == mechanism
    assert (config["sasl.username"], config["sasl.password"]) == ("skillstream", "s3cret")
    assert config["ssl.ca.location"] == str(tls_files["ca"])
    assert config["ssl.endpoint.identification.algorithm"] == "https"
    assert "s3cret" not in repr(kafka)
    _consumer(config).close()


def test_sasl_without_tls_sets_no_tls_property() -> None:
    kafka = KafkaConnection(
        bootstrap_servers="broker:9093",
        security_protocol="SASL_PLAINTEXT",
        sasl_username="skillstream",
        sasl_password="s3cret",  # type: ignore[arg-type]
    )
    config = kafka.librdkafka()
    assert not any(name.startswith("ssl.") for name in config)
    assert config["sasl.mechanism"] == "PLAIN"
    _consumer(config).close()


def test_mutual_tls_carries_the_client_certificate_and_key(tls_files: dict[str, Path]) -> None:
    kafka = KafkaConnection(
        bootstrap_servers="broker:9093",
        security_protocol="SSL",
        ssl_cafile=tls_files["ca"],
        ssl_certfile=tls_files["cert"],
        ssl_keyfile=tls_files["key"],
        ssl_check_hostname=False,
    )
    config = kafka.librdkafka()
    assert config["ssl.certificate.location"] == str(tls_files["cert"])
    assert config["ssl.key.location"] == str(tls_files["key"])
    assert config["ssl.endpoint.identification.algorithm"] == "none"
    assert not any(name.startswith("sasl.") for name in config)
    _consumer(config).close()


def test_tls_without_a_ca_file_trusts_the_systems_cas() -> None:
    config = KafkaConnection(bootstrap_servers="broker:9093", security_protocol="SSL").librdkafka()
    assert config["ssl.ca.location"] == "probe"


def test_a_ca_file_librdkafka_cannot_read_fails_when_the_client_is_made(tmp_path: Path) -> None:
    """What makes the tests above able to fail: librdkafka loads the files at creation."""
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    config = KafkaConnection(
        bootstrap_servers="broker:9093", security_protocol="SSL", ssl_cafile=garbage
    ).librdkafka()
    with pytest.raises(KafkaException, match=r"ssl\.ca\.location"):
        _consumer(config)
