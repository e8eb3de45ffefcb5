"""
The demo's IKE peer: a strongSwan charon with a throwaway CA of its own.

    python ike_peer.py WORK NSSCA.pem

writes WORK/peer-ca.pem (for nssd's ring) and WORK/strongswan/ with
strongswan.conf and swanctl/ (charon on 127.0.0.1 ports 4600/4601, the
peer of iked's stack TCPIPA at port 5500, identity ec1.example).
The peer's private key is strongSwan's own; iked's is in nssd's ring.
charon's only anchor for iked is nssd's root (NSSCA.pem): iked's
certificate is issued by an intermediate CA, which iked must send.
"""

from __future__ import annotations

import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.UTC)
# kernel-libipsec before kernel-netlink: a kernel without ESP needs it.
PLUGINS = (
    "random nonce openssl kdf pem pkcs1 pkcs8 x509 pubkey revocation constraints"
    " kernel-libipsec kernel-netlink socket-default vici"
)
SWANCTL_FOLDERS = (
    "x509 x509ca x509aa x509ocsp x509crl x509ac pubkey private rsa ecdsa bliss"
    " pkcs8 pkcs12"
).split()


def _certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    signer: rsa.RSAPrivateKey,
    ca: bool,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(hours=1))
        .not_valid_after(NOW + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        builder = (
            builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
            )
            .add_extension(
                x509.KeyUsage(
                    True, False, False, False, False, False, False, False, False
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [
                        ExtendedKeyUsageOID.SERVER_AUTH,
                        x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17"),
                    ]
                ),
                critical=False,
            )
        )
    return builder.sign(signer, hashes.SHA256())


def main(work: str, nssCa: str) -> None:
    caKey = rsa.generate_private_key(65537, 2048)
    caName = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "strongSwan demo CA")])
    ca = _certificate("strongSwan demo CA", caKey, caName, caKey, ca=True)
    key = rsa.generate_private_key(65537, 2048)
    certificate = _certificate("strongswan.example", key, caName, caKey, ca=False)
    pem = serialization.Encoding.PEM
    with open(os.path.join(work, "peer-ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    root = os.path.join(work, "strongswan")
    swanctl = os.path.join(root, "swanctl")
    for sub in SWANCTL_FOLDERS:
        os.makedirs(os.path.join(swanctl, sub), exist_ok=True)
    with open(os.path.join(swanctl, "x509", "strongswan.pem"), "wb") as f:
        f.write(certificate.public_bytes(pem))
    with open(os.path.join(swanctl, "x509ca", "nss-ca.pem"), "wb") as f:
        f.write(open(nssCa, "rb").read())
    descriptor = os.open(
        os.path.join(swanctl, "private", "strongswan.pem"),
        os.O_WRONLY | os.O_CREAT,
        0o600,
    )
    with os.fdopen(descriptor, "wb") as f:
        f.write(
            key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with open(os.path.join(root, "strongswan.conf"), "w") as f:
        f.write(f"""charon {{
  port = 4600
  port_nat_t = 4601
  load = {PLUGINS}
  install_routes = yes
  filelog {{
    demo {{
      path = {root}/charon.log
      time_format = %T
      default = 1
      ike = 1
      flush_line = yes
    }}
  }}
  plugins {{
    vici {{
      socket = unix://{root}/charon.vici
    }}
  }}
}}
swanctl {{
  socket = unix://{root}/charon.vici
  load = pem pkcs1 pkcs8 x509 pubkey revocation constraints
}}
""")
    with open(os.path.join(swanctl, "swanctl.conf"), "w") as f:
        f.write("""connections {
  iked {
    version = 2
    local_addrs = 127.0.0.1
    remote_addrs = 127.0.0.1
    local_port = 4600
    remote_port = 5500
    proposals = aes128-sha256-x25519
    mobike = no
    fragmentation = yes
    send_certreq = yes
    send_cert = always
    local {
      auth = pubkey
      certs = strongswan.pem
      id = strongswan.example
    }
    remote {
      auth = pubkey
      id = ec1.example
    }
    children {
      host-host {
        local_ts = 10.1.0.0/24
        remote_ts = 10.2.0.0/24
        esp_proposals = aes128gcm16
        start_action = none
      }
    }
  }
}
""")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
