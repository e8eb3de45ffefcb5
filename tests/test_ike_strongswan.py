"""
iked against a real strongSwan (charon 5.9.8 from Debian), with its AUTH
signatures made by a real nssd.  nssd and iked run in the host's namespace;
the stacks name the test's network namespace (C{Namespace}), where iked
makes their IKE sockets and charon runs: all on 127.0.0.1 there, charon on
ports 4600/4601, iked's NSS stack on 5500 and its local-ring stack on 5502.

iked's certificate is the example job's C{Client1 cert} (RSA-2048,
client1.example), generated inside the security database: its private
key exists nowhere but in nssd's key ring.  strongSwan's certificate comes
from a CA of its own, which the test adds to nssd's ring as a CERTAUTH
certificate, so that nssd (not iked) decides whether to trust it.
"""

from __future__ import annotations

import io
import os
import pwd
import signal
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.trial.unittest import TestCase

from nsstwisted.cli.ipsec import run as ipsec
from nsstwisted.cli.racf import run as nss_racf
from tests.daemons import (
    LISTENING,
    DaemonProcess,
    SecuritySetup,
    build_security,
    racf,
    spawn_twistd,
    twistd_args,
    write_nssd_config,
)
from tests.softhsm import SoftToken, new_token
from tests.strongswan import (
    Charon,
    Child,
    Connection,
    NetworkNamespace,
    TestPki,
    child_sas,
    parse_vici_raw,
    strongswan_available,
)
from tests.test_nssd_tokens import token_lines

ME = pwd.getpwuid(os.getuid()).pw_name.upper()
CHARON_PORT = 4600
IKED_PORT = 5500
LOCAL_PORT = 5502

POLICY = """\
KeyExchangeRule strongswan-peer
{{
  LocalSecurityEndpoint
  {{
    Identity   Fqdn client1.example
    Location   127.0.0.1
    IkePort    {iked}
  }}
  RemoteSecurityEndpoint
  {{
    Identity   Fqdn strongswan.iked.test
    Location   127.0.0.1
    IkePort    {charon}
  }}
  KeyExchangeActionRef  ike-cert
}}
KeyExchangeAction ike-cert
{{
  HowToInitiate   IKEv2
  HowToRespond    IKEv2
  HowToAuthPeers  DsSignature
  KeyExchangeOffer
  {{
    HowToEncrypt          AES_CBC KeyLength 128
    HowToAuthMsgs         HMAC_SHA2_256_128
    PseudoRandomFunction  HMAC_SHA2_256
    DHGroup               Group31
    RefreshLifetimeProposed 480
  }}
}}
LocalDynVpnRule host-host
{{
  IpSourceAddr        10.2.0.0/24
  IpDestAddr          10.1.0.0/24
  KeyExchangeRuleRef  strongswan-peer
  IpDynVpnActionRef   esp-gcm
}}
IpDynVpnAction esp-gcm
{{
  HowToEncap  Tunnel
  IpDataOffer
  {{
    HowToEncrypt  AES_GCM_16 KeyLength 128
    RefreshLifetimeProposed 240
  }}
}}
"""


def _move_into_token(setup: SecuritySetup, token: SoftToken) -> None:
    """
    Give CLIENT1 a successor of its certificate whose key (ECDSA P-256) is
    made in C{token}, and roll it over into the old one's place: the ring's
    certificate for client1.example then signs in the token.
    """
    err = io.StringIO()
    tokenOptions = ["--pkcs11-module", token.module, "--pkcs11-pin-file", token.pinFile]
    for command in (
        "RACDCERT ID(CLIENT1) REKEY(LABEL('Client1 cert')) WITHLABEL('Client1 hsm') "
        f"NISTECC(TOKEN({token.label})) SIZE(256) SIGNWITH(CERTAUTH LABEL('NSS CA'))",
        "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.CLIENT1$HSM.HOST UACC(NONE)",
        "PERMIT EZB.NSSCERT.NSSSYS.CLIENT1$HSM.HOST CLASS(SERVAUTH) ID(CLIENT1) "
        "ACCESS(READ)",
        "RACDCERT ID(CLIENT1) ROLLOVER(LABEL('Client1 cert')) NEWLABEL('Client1 hsm')",
        "SETROPTS RACLIST(SERVAUTH) REFRESH",
    ):
        arguments = ["--database", setup.database, "--stash", setup.stash]
        if nss_racf([*arguments, *tokenOptions, command], io.StringIO(), err):
            raise RuntimeError(f"{command}: {err.getvalue()}")


def _certificate_der(setup: SecuritySetup, label: str) -> bytes:
    from nsstwisted.security import SecurityDatabase
    from nsstwisted.security.keyring import CertificateOwner, KeyRingStore

    db = SecurityDatabase.open(setup.database, setup.stash)
    try:
        owner = CertificateOwner.user("CLIENT1")
        return KeyRingStore(db).get_certificate(owner, label).der
    finally:
        db.close()


def _decimal(spi: str) -> str:
    """strongSwan prints ESP SPIs in hex; IBM's report, in decimal."""
    return str(int(spi, 16))


def _installed(sas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        child
        for sa in sas
        if sa.get("state") == "ESTABLISHED"
        for child in child_sas(sa)
        if child.get("state") == "INSTALLED"
    ]


def trust_peer_ca(setup: SecuritySetup, caPem: bytes, *more: str) -> None:
    """
    Add strongSwan's CA (C{caPem}) to the database as the trusted CERTAUTH
    certificate 'Peer CA', then run the RACF commands C{more}, in one job.
    """
    caPath = os.path.join(setup.folder, "peer-ca.pem")
    with open(caPath, "wb") as f:
        f.write(caPem)
    racf(
        setup,
        f"RACDCERT CERTAUTH ADD('{caPath}') WITHLABEL('Peer CA') TRUST",
        *more,
    )


def iked_socket(setup: SecuritySetup) -> str:
    """Where L{write_iked_config}'s iked serves its management socket."""
    return f"{setup.sockets}/iked/ipsecmgmt"


def write_iked_config(
    setup: SecuritySetup,
    nssdPort: int,
    namespace: NetworkNamespace,
    policy: str,
    *,
    ikeConfig: str = "",
    localStack: bool = False,
    securityDatabase: bool = True,
) -> str:
    """
    Write the iked.conf of the strongSwan tests and the files it names; its
    path.  Stack TCPIPA is an NSS client as CLIENT1 of the nssd on
    C{nssdPort}, with the policy file C{policy} and its IKE sockets in
    C{namespace}.

    @param ikeConfig: more IkeConfig lines.
    @param localStack: add stack TCPIPB, which signs with iked's own ring
        (as iked.local, on L{LOCAL_PORT}).
    @param securityDatabase: name the security database (for iked's own
        ring).
    """
    with open(os.path.join(setup.folder, "ca.pem"), "wb") as f:
        f.write(setup.caPem)
    password = os.path.join(setup.folder, "client1.pw")
    with open(password, "w") as f:
        f.write("Cl1ent-One\n")
    os.chmod(password, 0o600)
    policyPath = os.path.join(setup.folder, "tcpipa.policy")
    with open(policyPath, "w") as f:
        f.write(policy)
    ikedConfig = os.path.join(setup.folder, "iked.conf")
    with open(ikedConfig, "w") as f:
        f.write(
            "IkeConfig\n{\n  SystemName NSSSYS\n"
            + (f'  SecurityDatabase "{setup.database}"\n' if securityDatabase else "")
            + f"  NetworkSecurityServer 127.0.0.1 Port {nssdPort}\n"
            "  NssWaitLimit 2\n" + ikeConfig + f'  CaFile "{setup.folder}/ca.pem"\n'
            f'  NmiSocket "{iked_socket(setup)}"\n'
            "}\n"
            "NssStackConfig TCPIPA\n{\n  ClientName CLIENT1\n"
            "  ServiceType Cert\n  ServiceType RemoteMgmt\n"
            "  UserID CLIENT1\n  AuthBy Password\n"
            f'  PasswordFile "{password}"\n'
            f'  PolicyFile "{policyPath}"\n'
            f"  Namespace {namespace.name}\n"
            "}\n"
        )
        if localStack:
            localPolicy = os.path.join(setup.folder, "tcpipb.policy")
            with open(localPolicy, "w") as policyFile:
                policyFile.write(
                    POLICY.format(iked=LOCAL_PORT, charon=CHARON_PORT)
                    .replace("client1.example", "iked.local")
                    .replace("strongswan-peer", "local-peer")
                    .replace("host-host", "local-host")
                    .replace("10.2.0.0/24", "10.3.0.0/24")
                )
            f.write(
                f'TcpipStack TCPIPB\n{{\n  PolicyFile "{localPolicy}"\n'
                f"  Namespace {namespace.name}\n}}\n"
            )
    return ikedConfig


def add_local_peer(
    namespace: NetworkNamespace, charon: Charon, certificate: str
) -> None:
    """
    Give charon a connection to iked's local stack (TcpipStack, signing
    with iked's own key ring) on L{LOCAL_PORT}, from 10.3.0.1.
    """
    namespace.add_address("10.3.0.1/24")
    charon.connections.append(
        Connection(
            "iked-local",
            remote_port=LOCAL_PORT,
            local_id="strongswan.iked.test",
            remote_id="iked.local",
            local_certs=[certificate],
            proposals="aes128-sha256-x25519",
            children=[
                Child(
                    "local-host",
                    remote_ts="10.3.0.0/24",
                    esp_proposals="aes128gcm16",
                )
            ],
        )
    )


class StrongSwanSetup(TestCase):
    """
    What the tests against strongSwan share: nssd, iked and charon in a
    namespace (L{_start}), and the commands that drive and read them.
    """

    timeout = 240
    skip = strongswan_available()
    #: the network namespace's name carries it
    namespacePurpose = "iked"

    async def _start(
        self,
        localStack: bool = False,
        metrics: bool = False,
        *,
        policy: str = POLICY,
        ikeConfig: str = "",
        charonSettings: dict[str, Any] | None = None,
        connectionOptions: dict[str, Any] | None = None,
        childOptions: dict[str, Any] | None = None,
        token: SoftToken | None = None,
    ) -> None:
        """
        @param policy: the NSS stack's policy file, with C{{iked}} and
            C{{charon}} for the ports.
        @param ikeConfig: more IkeConfig lines.
        @param charonSettings: keyword arguments for L{Charon}.
        @param connectionOptions: more swanctl.conf settings of the
            connection, and C{childOptions} of its CHILD_SA.
        @param token: a SoftHSM2 token to which CLIENT1's certificate is
            moved before nssd starts: a successor whose key is made in the
            token takes its place (REKEY, then ROLLOVER), and nssd.conf
            names the token.
        """
        self.namespace = NetworkNamespace(self.namespacePurpose)
        self.addCleanup(self.namespace.delete)
        self.setup = setup = build_security(self)
        pki = TestPki()
        trust_peer_ca(
            setup,
            TestPki.cert_pem(pki.ca_cert),
            "RACDCERT ID(NSSD) CONNECT(CERTAUTH LABEL('Peer CA') RING(NSSRING) "
            "USAGE(CERTAUTH))",
            f"ADDUSER {ME}",
            f"PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.DISPLAY CLASS(SERVAUTH) ID({ME})",
            f"PERMIT EZB.NETMGMT.NSSSYS.*.IPSEC.CONTROL CLASS(SERVAUTH) ID({ME})",
            # iked's own ring, for stacks that are not NSS clients
            "ADDUSER IKED NOPASSWORD",
            "RACDCERT ID(IKED) GENCERT SUBJECTSDN(CN('iked.local')) SIZE(2048) "
            "WITHLABEL('IKED cert') SIGNWITH(CERTAUTH LABEL('NSS CA')) "
            "ALTNAME(DOMAIN('iked.local'))",
            "RACDCERT ID(IKED) ADDRING(KEYRING)",
            "RACDCERT ID(IKED) CONNECT(ID(IKED) LABEL('IKED cert') RING(KEYRING) "
            "USAGE(PERSONAL))",
            "RACDCERT ID(IKED) CONNECT(CERTAUTH LABEL('Peer CA') RING(KEYRING) "
            "USAGE(CERTAUTH))",
        )
        tokenLines: tuple[str, ...] = ()
        if token is not None:
            _move_into_token(setup, token)
            tokenLines = token_lines(token)
        # nssd, in the namespace
        nssdConfig = write_nssd_config(setup, *tokenLines)
        self.nssd = self._spawn(twistd_args(nssdConfig, "nssd"))
        match = await self.nssd.waitFor(LISTENING.pattern)
        nssdPort = int(match.group(1))
        # iked, in the namespace, as CLIENT1
        self.ikedSocket = iked_socket(setup)
        self.ikedConfig = ikedConfig = write_iked_config(
            setup,
            nssdPort,
            self.namespace,
            policy.format(iked=IKED_PORT, charon=CHARON_PORT),
            ikeConfig=("  MetricsPort 0\n" if metrics else "") + ikeConfig,
            localStack=localStack,
        )
        self.iked = self._spawn(twistd_args(ikedConfig, "iked"))
        await self.iked.waitFor(rb"EZD1138I Stack TCPIPA is connected")
        # charon
        self.charon = Charon(
            self.mktemp(),
            self.namespace,
            CHARON_PORT,
            CHARON_PORT + 1,
            **(charonSettings or {}),
        )
        self.addCleanup(self.charon.stop)
        from cryptography import x509

        self.charon.add_ca(x509.load_pem_x509_certificate(setup.caPem), "nss-ca")
        certificate = self.charon.add_identity(
            "strongswan", *pki.issue("strongswan.iked.test")
        )
        self.charon.connections.append(
            Connection(
                "iked",
                remote_port=IKED_PORT,
                local_id="strongswan.iked.test",
                remote_id="client1.example",
                local_certs=[certificate],
                proposals="aes128-sha256-x25519",
                children=[
                    Child(
                        "host-host",
                        esp_proposals="aes128gcm16",
                        options=childOptions or {},
                    )
                ],
                options=connectionOptions or {},
            )
        )
        if localStack:
            add_local_peer(self.namespace, self.charon, certificate)
        await self.charon.start()
        await self.charon.load()

    def _spawn(self, args: list[str]) -> DaemonProcess:
        """
        A daemon in the host's namespace: nssd on its loopback, iked with
        its stacks' IKE sockets in the test's namespace (C{Namespace}).
        """
        return spawn_twistd(self, args, stopSignal="TERM")

    async def _ipsec(self, *argv: str, through: str | None = None) -> str:
        out, err = io.StringIO(), io.StringIO()
        if through is None:
            args = [*argv, "--socket", self.ikedSocket]
        else:
            nssSocket = os.path.join(self.setup.sockets, "nssd", "nss")
            args = [*argv, "-z", through, "--socket", nssSocket]
        status = await ipsec(reactor, args, out, err)
        self.assertEqual((status, err.getvalue()), (0, ""), out.getvalue())
        return out.getvalue()

    async def _charon_children(self, count: int = 1) -> list[dict[str, Any]]:
        sas = await self.charon.wait_for_sas(
            lambda sas: len(_installed(sas)) == count,
            f"{count} INSTALLED CHILD_SA",
            timeout=20,
        )
        return _installed(sas)


class StrongSwanTests(StrongSwanSetup):
    def test_strongswan_initiates(self) -> Deferred[None]:
        """
        strongSwan initiates; iked answers with an nssd signature and has
        nssd check strongSwan's certificate; both show the same SAs; then
        rekeys and deletes in both directions.
        """

        async def go() -> None:
            await self._start()
            await self.charon.initiate(child="host-host")
            (child,) = await self._charon_children()
            (sa,) = await self.charon.list_sas()
            self.assertEqual(sa["state"], "ESTABLISHED")
            self.assertEqual(sa["remote-id"], "client1.example")
            shown = await self._ipsec("-y", "display")
            self.assertIn(_decimal(child["spi-in"]), shown)
            self.assertIn(_decimal(child["spi-out"]), shown)
            ikeShown = await self._ipsec("-k", "display", through="CLIENT1")
            self.assertIn(sa["initiator-spi"], ikeShown.lower())
            # strongSwan rekeys the CHILD_SA, then the IKE SA
            await self.charon.rekey(child="host-host")
            sas = await self.charon.wait_for_sas(
                lambda sas: any(
                    c["spi-in"] != child["spi-in"] for c in _installed(sas)
                ),
                "a rekeyed CHILD_SA",
            )
            (newChild,) = _installed(sas)
            await self.charon.rekey(ike="iked")
            await self.charon.wait_for_sas(
                lambda sas: (
                    len(sas) == 1
                    and sas[0]["initiator-spi"] != sa["initiator-spi"]
                    and sas[0]["state"] == "ESTABLISHED"
                ),
                "a rekeyed IKE SA",
            )
            shown = await self._ipsec("-y", "display")
            self.assertIn(_decimal(newChild["spi-in"]), shown)
            # iked rekeys and deletes: -y refresh, -k refresh, -y deactivate
            await self._ipsec("-y", "refresh", "-a", "Y1")
            sas = await self.charon.wait_for_sas(
                lambda sas: any(
                    c["spi-in"] != newChild["spi-in"] for c in _installed(sas)
                ),
                "a CHILD_SA rekeyed by iked",
            )
            (before,) = sas
            await self._ipsec("-k", "refresh", "-a", "K1")
            await self.charon.wait_for_sas(
                lambda sas: (
                    len(sas) == 1
                    and sas[0]["responder-spi"] != before["responder-spi"]
                    and sas[0]["state"] == "ESTABLISHED"
                ),
                "an IKE SA rekeyed by iked",
            )
            await self._ipsec("-y", "deactivate", "-a", "Y1")
            await self.charon.wait_for_sas(
                lambda sas: not _installed(sas), "the CHILD_SA deleted by iked"
            )
            await self._ipsec("-k", "deactivate", "-a", "K1")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())

    def test_iked_initiates(self) -> Deferred[None]:
        """
        iked initiates (C{ipsec -y activate}); strongSwan deletes.
        """

        async def go() -> None:
            await self._start()
            await self._ipsec("-y", "activate", "-n", "host-host", through="CLIENT1")
            (child,) = await self._charon_children()
            (sa,) = await self.charon.list_sas()
            self.assertEqual(sa["state"], "ESTABLISHED")
            self.assertNotEqual(sa.get("initiator"), "yes")  # charon responded
            shown = await self._ipsec("-y", "display", through="CLIENT1")
            self.assertIn(_decimal(child["spi-in"]), shown)
            await self.charon.terminate(child="host-host")
            await self.charon.wait_for_sas(
                lambda sas: not _installed(sas), "the CHILD_SA deleted"
            )
            await self.charon.terminate(ike="iked")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())

    def test_no_private_key_on_the_iked_side(self) -> Deferred[None]:
        """
        After iked authenticated with CLIENT1's certificate, CLIENT1's
        private key is nowhere on iked's side: not in its memory (a prime
        of the RSA key, searched in every readable mapping of the iked
        process), and not in any file of its configuration folder.
        """
        from cryptography.hazmat.primitives.asymmetric import rsa

        from nsstwisted.security import SecurityDatabase
        from nsstwisted.security.keyring import CertificateOwner, KeyRingStore

        async def go() -> None:
            await self._start()
            await self.charon.initiate(child="host-host")
            await self._charon_children()
            db = SecurityDatabase.open(self.setup.database, self.setup.stash)
            try:
                store = KeyRingStore(db)
                record = store.get_certificate(
                    CertificateOwner.user("CLIENT1"), "Client1 cert"
                )
                with db.reading() as cursor:
                    key = store._private_key(cursor, record)
            finally:
                db.close()
            assert isinstance(key, rsa.RSAPrivateKey)
            numbers = key.private_numbers()
            secrets = [
                numbers.p.to_bytes(128, "big"),
                numbers.p.to_bytes(128, "little"),
                numbers.d.to_bytes(256, "big")[:64],
            ]
            pid = self.iked.transport.pid  # type: ignore[union-attr]
            found = _search_memory(pid, secrets)
            self.assertEqual(found, [], "a piece of CLIENT1's key is in iked's memory")
            # The same search finds the key in nssd, which holds it: the
            # method works.
            nssdPid = self.nssd.transport.pid  # type: ignore[union-attr]
            self.assertNotEqual(_search_memory(nssdPid, secrets), [])
            for name in os.listdir(self.setup.folder):
                path = os.path.join(self.setup.folder, name)
                if name.endswith((".db", ".sth")) or not os.path.isfile(path):
                    continue  # nssd's security database and stash
                with open(path, "rb") as f:
                    data = f.read()
                self.assertNotIn(b"PRIVATE KEY", data, path)

        return ensureDeferred(go())

    def test_local_key_ring_stack(self) -> Deferred[None]:
        """
        A stack that is not an NSS client (TCPIPB) signs with iked's own key
        ring (IKED/KEYRING in its SecurityDatabase) and checks strongSwan
        against that ring's CA, beside the NSS stack.
        """

        async def go() -> None:
            await self._start(localStack=True)
            await self.charon.initiate(child="local-host")
            await self.charon.initiate(child="host-host")
            await self._charon_children(2)
            sas = await self.charon.list_sas()
            self.assertEqual(
                sorted(sa["remote-id"] for sa in sas),
                ["client1.example", "iked.local"],
            )
            shown = await self._ipsec("-k", "display", "-p", "TCPIPB")
            self.assertIn("iked.local", shown)
            self.assertIn("local-peer", shown)
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())

    def test_certificate_rollover(self) -> Deferred[None]:
        """
        An iked stack signs with its certificate through RACF's renewal:
        after C{RACDCERT REKEY} (and nssd's refresh) it still negotiates
        with the old certificate, since the successor is on no ring; after
        C{ROLLOVER} and nssd's refresh, with the successor, with no change
        to iked or its policy file: iked names the certificate by its IKE
        identity, not by label.  The IKE SA made before the rollover stays
        up through it.  strongSwan trusts the successor because the same CA
        signed it; the certificates it received (its cache, in
        C{swanctl --list-certs}) show which one iked sent.
        """
        from nsstwisted.security import SecurityDatabase
        from nsstwisted.security.keyring import CertificateOwner, KeyRingStore
        from tests.test_nssd_twistd import process_pid

        def certificate(label: str) -> bytes:
            db = SecurityDatabase.open(self.setup.database, self.setup.stash)
            try:
                owner = CertificateOwner.user("CLIENT1")
                return KeyRingStore(db).get_certificate(owner, label).der
            finally:
                db.close()

        async def received() -> set[bytes]:
            out = await self.charon.swanctl("--list-certs", "--raw")
            return {
                bytes.fromhex(body["data"].removeprefix("0x"))
                for message, body in parse_vici_raw(out)
                if message == "list-cert event"
            }

        async def refresh_nssd() -> None:
            mark = len(self.nssd.output)
            racf(self.setup, "SETROPTS RACLIST(SERVAUTH) REFRESH")
            os.kill(process_pid(self.nssd), signal.SIGHUP)
            await self.nssd.waitFor(rb"DBG0011I configuration refreshed", mark)

        async def negotiate_anew() -> None:
            await self.charon.terminate(ike="iked")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            await self.charon.initiate(child="host-host")
            await self._charon_children()

        async def go() -> None:
            await self._start()
            old = certificate("Client1 cert")
            await self.charon.initiate(child="host-host")
            await self._charon_children()
            self.assertIn(old, await received())
            # The successor, by the CA that signed the old one, and the
            # profile of its label, which CLIENT1 may use.
            racf(
                self.setup,
                "RACDCERT ID(CLIENT1) REKEY(LABEL('Client1 cert')) "
                "WITHLABEL('Client1 2027') SIGNWITH(CERTAUTH LABEL('NSS CA'))",
                "RDEFINE SERVAUTH EZB.NSSCERT.NSSSYS.CLIENT1$2027.HOST UACC(NONE)",
                "PERMIT EZB.NSSCERT.NSSSYS.CLIENT1$2027.HOST CLASS(SERVAUTH) "
                "ID(CLIENT1) ACCESS(READ)",
            )
            new = certificate("Client1 2027")
            self.assertNotEqual(new, old)
            await refresh_nssd()
            # Until the rollover, the old certificate serves.
            await negotiate_anew()
            self.assertNotIn(new, await received())
            racf(
                self.setup,
                "RACDCERT ID(CLIENT1) ROLLOVER(LABEL('Client1 cert')) "
                "NEWLABEL('Client1 2027')",
            )
            await refresh_nssd()
            (sa,) = await self.charon.list_sas()
            self.assertEqual(sa["state"], "ESTABLISHED")
            # After it, iked initiates and sends the successor.
            await self.charon.terminate(ike="iked")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            await self._ipsec("-y", "activate", "-n", "host-host", through="CLIENT1")
            await self._charon_children()
            self.assertIn(new, await received())
            (sa,) = await self.charon.list_sas()
            self.assertEqual(
                (sa["state"], sa["remote-id"]), ("ESTABLISHED", "client1.example")
            )
            self.assertNotIn(b"Traceback", self.iked.output)

        return ensureDeferred(go())

    def test_token_key(self) -> Deferred[None]:
        """
        iked's stack signs IKE_AUTH through nssd with a key in a PKCS#11
        token (SoftHSM2): CLIENT1's certificate is one whose key was made in
        the token, and strongSwan accepts the signature both when it
        initiates and when iked does.
        """
        token = new_token(self)

        async def go() -> None:
            await self._start(token=token)
            await self.nssd.waitFor(
                rb"DBG0205I PKCS#11 token \S+ \(module [^)]+\): 1 keys of key ring"
                rb" NSSD/NSSRING sign in it"
            )
            await self.charon.initiate(child="host-host")
            await self._charon_children()
            (sa,) = await self.charon.list_sas()
            self.assertEqual(
                (sa["state"], sa["remote-id"]), ("ESTABLISHED", "client1.example")
            )
            await self.charon.terminate(ike="iked")
            await self.charon.wait_for_sas(lambda sas: not sas, "no IKE SA")
            await self._ipsec("-y", "activate", "-n", "host-host", through="CLIENT1")
            await self._charon_children()
            out = await self.charon.swanctl("--list-certs", "--raw")
            received = {
                bytes.fromhex(body["data"].removeprefix("0x"))
                for message, body in parse_vici_raw(out)
                if message == "list-cert event"
            }
            self.assertIn(_certificate_der(self.setup, "Client1 hsm"), received)
            self.assertNotIn(b"Traceback", self.iked.output)
            self.assertNotIn(b"DBG0206I", self.nssd.output)

        return ensureDeferred(go())

    def test_signature_latency_metric(self) -> Deferred[None]:
        """
        iked's C{iked_nss_signature_seconds} counts the SIGN request its
        NSS stack sent nssd for the AUTH of an IKE_AUTH strongSwan began,
        scraped over HTTP from the iked process.
        """
        from tests.test_nssd_metrics import fetch, parse, value

        async def go() -> None:
            await self._start(metrics=True)
            served = await self.iked.waitFor(rb"EZD1190I metrics served on (\S+)")
            url = served.group(1).decode()
            before = parse(await fetch(url))
            self.assertEqual(
                value(before, "iked_nss_signature_seconds_count", stack="TCPIPA"), 0
            )
            await self.charon.initiate(child="host-host")
            await self._charon_children()
            after = parse(await fetch(url))
            self.assertEqual(
                value(after, "iked_nss_signature_seconds_count", stack="TCPIPA"), 1
            )
            self.assertGreater(
                value(after, "iked_nss_signature_seconds_sum", stack="TCPIPA"), 0
            )

        return ensureDeferred(go())


def _search_memory(pid: int, needles: list[bytes]) -> list[str]:
    """Where in process C{pid}'s memory any of C{needles} occurs."""
    found = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1]:
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if end - start > 512 * 1024 * 1024:
                continue
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            for needle in needles:
                if needle in chunk:
                    found.append(f"{fields[0]} {fields[-1] if len(fields) > 5 else ''}")
    return found
