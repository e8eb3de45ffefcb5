"""
The strongSwan fixtures (L{tests.strongswan}) prove themselves before iked's
interoperability tests rely on them: two real charons in one namespace,
certificate authentication, rekeying both ways and deletion, plus the
pieces that need no daemon (the raw-format parser, the settings writer, the
vici codec and the PKI).

The daemon tests skip where strongSwan or root is missing; CI installs
strongSwan (C{.ci/run}), so they run there.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from tests.strongswan import (
    CHARON_PLUGINS,
    IKE_INTERMEDIATE,
    Charon,
    Child,
    CommandFailed,
    Connection,
    NetworkNamespace,
    Psk,
    RawFormatError,
    TestPki,
    child_sas,
    decode_vici,
    encode_vici,
    parse_vici_raw,
    render_settings,
    strongswan_available,
)

# Captured from `swanctl --list-sas --raw` on strongSwan 5.9.8 (moon, the
# initiator, after one initiate), with a second SA whose identities are
# distinguished names, and the chatter swanctl prints around the messages.
SAMPLE = """\
list-sa event {peer {uniqueid=1 version=2 state=ESTABLISHED local-host=127.0.0.1 \
local-port=4601 local-id=moon.iked.test remote-host=127.0.0.1 remote-port=5500 \
remote-id=sun.iked.test initiator=yes initiator-spi=cbb07fdfb8b480de \
responder-spi=889351ed266c49c9 nat-remote=yes nat-any=yes encr-alg=AES_CBC \
encr-keysize=128 integ-alg=HMAC_SHA2_256_128 prf-alg=PRF_HMAC_SHA2_256 \
dh-group=CURVE_25519 established=0 rekey-time=13760 child-sas {net-1 {name=net \
uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP encap=yes \
spi-in=a705c7e0 spi-out=c9a84559 encr-alg=AES_GCM_16 encr-keysize=128 bytes-in=0 \
packets-in=0 bytes-out=0 packets-out=0 rekey-time=3405 life-time=3960 \
install-time=0 local-ts=[10.1.0.0/24] remote-ts=[10.2.0.0/24]}}}}
list-sa event {dn {uniqueid=2 state=CONNECTING \
local-id=O=nsstwisted tests, CN=moon.iked.test \
remote-id=O=nsstwisted tests, CN=sun.iked.test tasks-queued=[IKE_VENDOR IKE_INIT] \
child-sas {}}}
list-sas reply {}
no IKE_SAs found
"""


class RawFormatTests(TestCase):
    """
    C{parse_vici_raw}: the only way the fixtures read charon's state, so a
    misparse would make every interoperability assertion wrong.
    """

    def test_listSas(self) -> None:
        messages = parse_vici_raw(SAMPLE)
        self.assertEqual(
            [name for name, _ in messages],
            ["list-sa event", "list-sa event", "list-sas reply"],
        )
        sa = messages[0][1]["peer"]
        self.assertEqual(sa["state"], "ESTABLISHED")
        self.assertEqual(sa["initiator-spi"], "cbb07fdfb8b480de")
        self.assertEqual(sa["dh-group"], "CURVE_25519")
        [child] = child_sas(sa)
        self.assertEqual(child["name"], "net")
        self.assertEqual(child["state"], "INSTALLED")
        self.assertEqual(child["spi-in"], "a705c7e0")
        self.assertEqual(child["local-ts"], ["10.1.0.0/24"])
        self.assertEqual(child["remote-ts"], ["10.2.0.0/24"])
        self.assertEqual(messages[2][1], {})

    def test_distinguishedNames(self) -> None:
        """
        swanctl prints values unquoted; a DN's spaces and "=" stay in the
        value, which ends at the next lower-case key.
        """
        sa = parse_vici_raw(SAMPLE)[1][1]["dn"]
        self.assertEqual(sa["local-id"], "O=nsstwisted tests, CN=moon.iked.test")
        self.assertEqual(sa["remote-id"], "O=nsstwisted tests, CN=sun.iked.test")
        self.assertEqual(sa["tasks-queued"], ["IKE_VENDOR", "IKE_INIT"])
        self.assertEqual(sa["child-sas"], {})
        self.assertEqual(child_sas(sa), [])

    def test_emptyValueAndList(self) -> None:
        [(name, body)] = parse_vici_raw("x reply {a= b=[] c {d=1}}")
        self.assertEqual(name, "x reply")
        self.assertEqual(body, {"a": "", "b": [], "c": {"d": "1"}})

    def test_malformed(self) -> None:
        for text in [
            "list-sa event {peer {state=ESTABLISHED}",
            "list-sa event {peer {list=[a b}}",
            "list-sa event {peer}",
            "list-sa event {a=1} trailing",
        ]:
            self.assertRaises(RawFormatError, parse_vici_raw, text)


class SettingsTests(TestCase):
    def test_render(self) -> None:
        """
        One setting per line; values that are not plain tokens are quoted
        so that a DN or a plugin list stays one value.
        """
        text = render_settings(
            {
                "charon": {
                    "port": 4600,
                    "install_routes": True,
                    "mobike": False,
                    "load": "random nonce",
                    "plugins": {"vici": {"socket": "unix:///tmp/x/charon.vici"}},
                },
                "id": 'O=a "b", CN=c',
                "proposals": ["aes128-sha256-x25519", "aes128gcm16"],
                "empty": {},
            }
        )
        self.assertEqual(
            text,
            "charon {\n"
            "  port = 4600\n"
            "  install_routes = yes\n"
            "  mobike = no\n"
            '  load = "random nonce"\n'
            "  plugins {\n"
            "    vici {\n"
            "      socket = unix:///tmp/x/charon.vici\n"
            "    }\n"
            "  }\n"
            "}\n"
            'id = "O=a \\"b\\", CN=c"\n'
            'proposals = "aes128-sha256-x25519, aes128gcm16"\n'
            "empty {\n"
            "}\n",
        )

    def test_newlineRefused(self) -> None:
        self.assertRaises(ValueError, render_settings, {"secret": "a\nb"})

    def test_connectionOptionsOverride(self) -> None:
        settings = Connection(
            "c",
            remote_port=5500,
            local_id="a",
            remote_id="b",
            children=[Child("net", options={"mode": "transport"})],
            options={"mobike": True, "remote": {"auth": "psk"}},
        ).settings(4600)
        self.assertEqual(settings["local_port"], 4600)
        self.assertEqual(settings["mobike"], True)
        self.assertEqual(settings["remote"], {"auth": "psk", "id": "b"})
        self.assertEqual(settings["children"]["net"]["mode"], "transport")


class ViciCodecTests(TestCase):
    def test_roundTrip(self) -> None:
        message = {
            "child": "net",
            "timeout": -1,
            "init-limits": False,
            "ts": ["10.1.0.0/24", "10.2.0.0/24"],
            "section": {"inner": {"key": "value"}, "empty": {}},
        }
        self.assertEqual(
            decode_vici(encode_vici(message)),
            {
                "child": "net",
                "timeout": "-1",
                "init-limits": "no",
                "ts": ["10.1.0.0/24", "10.2.0.0/24"],
                "section": {"inner": {"key": "value"}, "empty": {}},
            },
        )

    def test_wireFormat(self) -> None:
        self.assertEqual(
            encode_vici({"a": "b", "l": ["x"], "s": {}}),
            b"\x03\x01a\x00\x01b" + b"\x04\x01l\x05\x00\x01x\x06" + b"\x01\x01s\x02",
        )


class PkiTests(TestCase):
    def test_leaf(self) -> None:
        """
        A leaf carries what strongSwan checks against the IKE identity and
        what the lab certificates had, and is signed by the CA.
        """
        pki = TestPki(self.mktemp())
        cert, key = pki.issue("iked.iked.test")
        self.assertIsInstance(key, rsa.RSAPrivateKey)
        self.assertEqual(key.key_size, 2048)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        self.assertEqual(
            san.value.get_values_for_type(x509.DNSName), ["iked.iked.test"]
        )
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(usage.digital_signature)
        self.assertFalse(usage.key_cert_sign)
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(list(eku), [ExtendedKeyUsageOID.SERVER_AUTH, IKE_INTERMEDIATE])
        self.assertEqual(cert.issuer, pki.ca_cert.subject)
        public = pki.ca_cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        hash_algorithm = cert.signature_hash_algorithm
        assert hash_algorithm is not None
        public.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            hash_algorithm,
        )
        self.assertEqual(x509.load_der_x509_certificate(pki.cert_der(cert)), cert)

    def test_ecdsaAndAddress(self) -> None:
        pki = TestPki()
        cert, key = pki.issue("10.1.0.1", key_type="ecdsa")
        self.assertIsInstance(key, ec.EllipticCurvePrivateKey)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        self.assertEqual(
            [str(a) for a in san.value.get_values_for_type(x509.IPAddress)],
            ["10.1.0.1"],
        )
        self.assertRaises(ValueError, pki.issue, "x", key_type="dsa")

    def test_files(self) -> None:
        """
        The CA is written as PEM for other tools (nss-racf) to import; keys
        are readable by their owner only.
        """
        directory = self.mktemp()
        pki = TestPki(directory)
        assert pki.ca_cert_path is not None and pki.ca_key_path is not None
        with open(pki.ca_cert_path, "rb") as f:
            self.assertEqual(x509.load_pem_x509_certificate(f.read()), pki.ca_cert)
        self.assertEqual(stat.S_IMODE(os.stat(pki.ca_key_path).st_mode), 0o600)
        cert, key = pki.issue("a.test")
        _, keyPath = TestPki.write(directory, "a", cert, key)
        assert keyPath is not None
        with open(keyPath, "rb") as f:
            self.assertIn(b"BEGIN PRIVATE KEY", f.read())


def _rootReason() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


class NetworkNamespaceTests(TestCase):
    skip = _rootReason()

    def test_lifecycle(self) -> None:
        namespace = NetworkNamespace("harness")
        self.addCleanup(namespace.delete)
        self.assertRegex(namespace.name, r"^nsst-harness-[0-9a-f]{6}$")
        addresses = namespace.run(["ip", "-brief", "address", "show", "lo"])
        self.assertIn("UNKNOWN", addresses)  # lo is up
        self.assertIn("10.1.0.1/24", addresses)
        self.assertIn("10.2.0.1/24", addresses)
        self.assertRaises(CommandFailed, namespace.run, ["false"])
        namespace.delete()
        namespace.delete()
        self.assertRaises(CommandFailed, namespace.run, ["true"])


# A fresh namespace has every port free, so fixed ports cannot collide with
# anything on the host or in another test; they also match the notes' lab.
MOON_PORTS = (4600, 4601)
SUN_PORTS = (5500, 5501)
MOON_ID = "moon.iked.test"
SUN_ID = "sun.iked.test"


def _installed(sa: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in child_sas(sa) if c["state"] == "INSTALLED"]


def _established(sas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [sa for sa in sas if sa["state"] == "ESTABLISHED"]


class TwoCharonTests(TestCase):
    """
    Two charons on 127.0.0.1 in one namespace: moon initiates, sun
    responds, as strongSwan will face iked.
    """

    skip = strongswan_available()
    timeout = 60

    def pair(self, auth: str = "pubkey") -> tuple[Charon, Charon]:
        namespace = NetworkNamespace("harness")
        self.addCleanup(namespace.delete)
        pki = TestPki()
        charons = []
        for name, ports, me, peer, remotePort, local, remote in [
            ("moon", MOON_PORTS, MOON_ID, SUN_ID, SUN_PORTS[0], "10.1", "10.2"),
            ("sun", SUN_PORTS, SUN_ID, MOON_ID, MOON_PORTS[0], "10.2", "10.1"),
        ]:
            charon = Charon(self.mktemp(), namespace, *ports, name=name)
            self.addCleanup(charon.stop)
            certs: list[str] = []
            if auth == "pubkey":
                charon.add_ca(pki.ca_cert)
                certs.append(charon.add_identity(name, *pki.issue(me)))
            else:
                charon.secrets.append(Psk([me, peer], "harness secret"))
            charon.connections.append(
                Connection(
                    "peer",
                    remote_port=remotePort,
                    local_id=me,
                    remote_id=peer,
                    local_auth=auth,
                    local_certs=certs,
                    remote_auth=auth,
                    proposals="aes128-sha256-x25519",
                    children=[
                        Child(
                            "net",
                            local_ts=f"{local}.0.0/24",
                            remote_ts=f"{remote}.0.0/24",
                            esp_proposals="aes128gcm16",
                        )
                    ],
                )
            )
            charons.append(charon)
        return charons[0], charons[1]

    async def up(self, moon: Charon, sun: Charon) -> None:
        await moon.start()
        await sun.start()
        await moon.load()
        await sun.load()
        await moon.initiate(child="net")

    def test_certificatesRekeyTerminate(self) -> Deferred[None]:
        """
        Certificate authentication with pinned proposals brings up the IKE
        and CHILD SAs on both sides; a CHILD rekey gives new ESP SPIs, an
        IKE rekey a new IKE SPI that keeps the child, and terminating the
        IKE SA leaves nothing on either side.
        """
        moon, sun = self.pair()

        async def go() -> None:
            await self.up(moon, sun)
            [mine] = await moon.list_sas()
            [theirs] = await sun.list_sas()
            for sa in (mine, theirs):
                self.assertEqual(sa["name"], "peer")
                self.assertEqual(sa["state"], "ESTABLISHED")
                self.assertEqual(
                    (sa["encr-alg"], sa["encr-keysize"], sa["integ-alg"]),
                    ("AES_CBC", "128", "HMAC_SHA2_256_128"),
                )
                self.assertEqual(sa["prf-alg"], "PRF_HMAC_SHA2_256")
                self.assertEqual(sa["dh-group"], "CURVE_25519")
                # libipsec fakes NAT detection: IKE moves to port_nat_t.
                self.assertEqual(sa["nat-any"], "yes")
                [child] = child_sas(sa)
                self.assertEqual(child["state"], "INSTALLED")
                self.assertEqual(child["encr-alg"], "AES_GCM_16")
                self.assertEqual(child["encap"], "yes")
            self.assertEqual(mine["initiator"], "yes")
            self.assertEqual(mine["local-port"], str(MOON_PORTS[1]))
            self.assertEqual(mine["initiator-spi"], theirs["initiator-spi"])
            self.assertEqual(mine["responder-spi"], theirs["responder-spi"])
            [myChild], [theirChild] = child_sas(mine), child_sas(theirs)
            self.assertEqual(myChild["spi-in"], theirChild["spi-out"])
            self.assertEqual(myChild["local-ts"], theirChild["remote-ts"])

            # CHILD rekey: charon only queues it, so wait for the new SPIs.
            old = {myChild["spi-in"], myChild["spi-out"]}

            def childRekeyed(sas: list[dict[str, Any]]) -> bool:
                return any(
                    c["spi-in"] not in old and c["spi-out"] not in old
                    for sa in _established(sas)
                    for c in _installed(sa)
                )

            await moon.rekey(child="net")
            [mine] = await moon.wait_for_sas(childRekeyed, "a rekeyed CHILD_SA")
            [theirs] = await sun.wait_for_sas(childRekeyed, "a rekeyed CHILD_SA")
            [myChild], [theirChild] = _installed(mine), _installed(theirs)
            self.assertEqual(myChild["spi-in"], theirChild["spi-out"])
            self.assertEqual(myChild["spi-out"], theirChild["spi-in"])

            # IKE rekey: a new IKE_SA (new SPIs) that inherits the child.
            oldIke = mine["initiator-spi"]

            def ikeRekeyed(sas: list[dict[str, Any]]) -> bool:
                return any(
                    sa["initiator-spi"] != oldIke and _installed(sa)
                    for sa in _established(sas)
                ) and all(sa["initiator-spi"] != oldIke for sa in sas)

            await moon.rekey(ike="peer")
            [mine] = await moon.wait_for_sas(ikeRekeyed, "a rekeyed IKE_SA")
            [theirs] = await sun.wait_for_sas(ikeRekeyed, "a rekeyed IKE_SA")
            self.assertEqual(mine["initiator-spi"], theirs["initiator-spi"])
            self.assertEqual(mine["responder-spi"], theirs["responder-spi"])
            self.assertEqual(
                _installed(mine)[0]["spi-in"], myChild["spi-in"], "child kept"
            )

            await moon.terminate(ike="peer")
            self.assertEqual(await moon.list_sas(), [])
            await sun.wait_for_sas(lambda sas: not sas, "no SAs on sun")

        return Deferred.fromCoroutine(go())

    def test_psk(self) -> Deferred[None]:
        """
        PSK secrets are written and loaded too (C{Psk}), and an IKE_SA can
        be named by its connection rather than its child.
        """
        moon, sun = self.pair(auth="psk")

        async def go() -> None:
            await moon.start()
            await sun.start()
            await moon.load()
            await sun.load()
            output = await moon.initiate(child="net", ike="peer")
            self.assertIn("authentication of 'moon.iked.test' (myself) with", output)
            [theirs] = await sun.list_sas(ike="peer")
            self.assertEqual(theirs["state"], "ESTABLISHED")
            self.assertEqual(len(_installed(theirs)), 1)
            self.assertIn("pre-shared key", sun.log_text())

        return Deferred.fromCoroutine(go())

    def test_startFailureShowsLog(self) -> Deferred[None]:
        """
        When charon cannot start, the failure says so at once and carries
        the tail of charon's log, rather than waiting out the timeout.
        """
        namespace = NetworkNamespace("harness")
        self.addCleanup(namespace.delete)
        charon = Charon(
            self.mktemp(),
            namespace,
            *MOON_PORTS,
            name="broken",
            settings={"load": CHARON_PLUGINS + " nosuchplugin!"},
        )
        self.addCleanup(charon.stop)

        async def go() -> None:
            with self.assertRaises(CommandFailed) as caught:
                await charon.start(timeout=10)
            message = str(caught.exception)
            self.assertIn("charon 'broken': exited with code", message)
            self.assertIn("loading critical plugin 'nosuchplugin' failed", message)

        return Deferred.fromCoroutine(go())
