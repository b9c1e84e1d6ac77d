"""TLS to the hub: a private CA of the fleet's own, the hub's certificate, the kiosks' pin.

``sigpad fleet init`` makes a CA (EC P-256), signs one server certificate for
the hub's host names and addresses with it, and throws the CA's private key
away: nobody, the operator included, can make another certificate that the
kiosks trust. The CA's certificate goes into every kiosk's credentials; a
kiosk's link trusts that CA only (not the system's CAs) and checks the host
name of its URL against the certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ...errors import ConfigError, FleetError
from .sealing import write_private_bytes

VALID_DAYS = 3650          # kiosks live long; a new certificate means `init` again (docs/fleet.md)
_ANY = {"0.0.0.0", "::", ""}


@dataclass(frozen=True)
class HubTLS:
    cert_file: Path
    key_file: Path
    ca_pem: str


def tls_hosts(url: str, listen: str, extra: list[str]) -> list[str]:
    """The names and addresses the hub's certificate is for: the kiosks' URL's host, the
    listening host (not a wildcard) and ``extra``, in that order, each once."""
    hosts = [urlsplit(url).hostname or "", listen.rpartition(":")[0].strip("[]"), *extra]
    out: list[str] = []
    for host in hosts:
        if host not in _ANY and host not in out:
            out.append(host)
    if not out:
        raise ConfigError(f"no host name for the hub's certificate in {url!r} or {listen!r}: use --tls-host")
    return out


def write_hub_tls(out: Path, hosts: list[str]) -> HubTLS:
    """A new CA, the hub's key and certificate under ``out/tls/`` (0600); the CA's key is not kept."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _server_certificate(key, ca_key, ca_cert, hosts)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    tls = HubTLS(out / "tls" / "hub.crt", out / "tls" / "hub.key", ca_pem.decode())
    write_private_bytes(tls.key_file, key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    write_private_bytes(tls.cert_file, cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    write_private_bytes(out / "tls" / "ca.crt", ca_pem)
    return tls


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigpad fleet"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _builder(subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))      # a kiosk's clock a little behind
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS)))


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = _name("sigpad fleet CA")
    usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False)
    return (_builder(name, name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


def _server_certificate(key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey,
                        ca: x509.Certificate, hosts: list[str]) -> x509.Certificate:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    return (_builder(_name(hosts[0]), ca.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))


def client_context(ca_pem: str) -> ssl.SSLContext:
    """What a kiosk's link trusts: the fleet's CA only, the host name checked, TLS 1.2 at least."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)      # check_hostname and CERT_REQUIRED by default
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cadata=ca_pem)
    except (ssl.SSLError, ValueError) as exc:
        raise FleetError(f"the fleet's CA certificate in the credentials is not usable: {exc}") from None
    return context
