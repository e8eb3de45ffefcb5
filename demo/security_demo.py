"""
The library side of the demonstration: what nssd will ask of the security
database, asked directly.
"""

import shutil
import sys
import time

from nsstwisted.security import (
    AccessLevel,
    KeyRingStore,
    Logon,
    ProfileStore,
    ResourceClass,
    SecurityDatabase,
    SignatureScheme,
    TamperedEntryError,
    UserRegistry,
    generate_passticket,
    map_label,
    stash_path,
    verify,
)
from nsstwisted.security.passticket import parse_key


def main(path: str) -> None:
    database = SecurityDatabase.open(path, stash_path(path), create=False)
    logon = Logon(database)
    users = UserRegistry(database)

    print("-- password logons for CLIENT1 (revocation after 3 failures)")
    right = "Cl1ent-One"  # the example job's password
    for password in ["wrong", right, "bad1", "bad2", "bad3", right]:
        result = logon.with_password("CLIENT1", password)
        extra = " (this failure revoked the user)" if result.revokedNow else ""
        print(
            f"   {'right' if password == right else 'wrong'} password:"
            f" {result.outcome.value}{extra}"
        )
    users.alter_user("CLIENT1", resume=True)
    print(
        f"   after ALTUSER CLIENT1 RESUME: "
        f"{logon.with_password('CLIENT1', right).outcome.value}"
    )

    print("-- PassTicket logon for CLIENT2 (key from PTKTDATA profile NSSD)")
    ticket = generate_passticket(
        "CLIENT2", "NSSD", parse_key("E001193519561977"), int(time.time())
    )
    for use in ("first use: ", "second use:"):
        outcome = logon.with_passticket("CLIENT2", "NSSD", ticket).outcome
        print(f"   {use} {outcome.value}")
    old = generate_passticket(
        "CLIENT2", "NSSD", parse_key("E001193519561977"), int(time.time()) - 601
    )
    print(
        f"   601 s old:  {logon.with_passticket('CLIENT2', 'NSSD', old).outcome.value}"
    )

    print("-- SERVAUTH decisions from the in-memory snapshot")
    snapshot = ProfileStore(database).snapshot()
    checks = [
        ("CLIENT1", "EZB.NSS.NSSSYS.CLIENT1.IPSEC.CERT"),
        ("CLIENT1", "EZB.NSS.NSSSYS.CLIENT2.IPSEC.CERT"),
        ("CLIENT2", f"EZB.NSSCERT.NSSSYS.{map_label('Client2 cert')}.HOST"),
        ("CLIENT2", f"EZB.NSSCERT.NSSSYS.{map_label('NSS CA')}.CERTAUTH"),
        ("IPSECOP", "EZB.NETMGMT.NSSSYS.CLIENT2.IPSEC.CONTROL"),
        ("CLIENT1", "EZB.NETMGMT.NSSSYS.NSSSYS.NSS.DISPLAY"),
    ]
    for user, resource in checks:
        d = snapshot.authorize(user, ResourceClass.SERVAUTH, resource, AccessLevel.READ)
        print(
            f"   {user:8} READ {resource:45} rc {d.result.value}"
            f" ({'ALLOW' if d.allowed else 'DENY'}) profile {d.profile}"
        )

    print("-- a signature made with CLIENT2's key on NSSD/NSSRING")
    keyrings = KeyRingStore(database)
    data = b"IKE_SA_INIT octets | nonce | prf(SK_pi, IDi')"
    signature = keyrings.sign(
        "NSSD", "NSSRING", "Client2 cert", data, SignatureScheme.ECDSA_SHA256
    )
    entry = keyrings.ring("NSSD", "NSSRING").entry("Client2 cert")
    ok = verify(
        entry.record.certificate.public_key(),
        data,
        signature,
        SignatureScheme.ECDSA_SHA256,
    )
    print(
        f"   {len(signature)}-byte ECDSA signature, verifies with the certificate: {ok}"
    )

    database.close()
    print("-- a tampered key entry is refused (in a copy of the database)")
    copy = path + ".tampered"
    shutil.copyfile(path, copy)
    database = SecurityDatabase.open(copy, stash_path(path), create=False)
    keyrings = KeyRingStore(database)
    with database.transaction() as cursor:
        (blob,) = cursor.execute(
            "SELECT sealed_key FROM certificates WHERE label = 'Client1 cert'"
        ).fetchone()
        cursor.execute(
            "UPDATE certificates SET sealed_key = ? WHERE label = 'Client1 cert'",
            (blob[:-1] + bytes([blob[-1] ^ 0x01]),),
        )
    try:
        keyrings.sign("NSSD", "NSSRING", "Client1 cert", data)
    except TamperedEntryError as e:
        print(f"   {e}")
    database.close()


if __name__ == "__main__":
    main(sys.argv[1])
