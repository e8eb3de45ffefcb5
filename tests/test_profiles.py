"""
Tests for L{nsstwisted.security.profiles}: profiles, access lists, class
options, and the snapshot's authorization decisions.
"""

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.accessor import AccessorEnvironment
from nsstwisted.security.errors import (
    AlreadyExistsError,
    InvalidValueError,
    NotFoundError,
)
from nsstwisted.security.profiles import (
    AccessLevel,
    AuthorizationResult,
    ProfileSnapshot,
    ProfileStore,
    ResourceClass,
)
from nsstwisted.security.users import UserRegistry
from tests.fixtures import new_database

SERVAUTH = ResourceClass.SERVAUTH
CERT = "EZB.NSS.SYS1.CLIENT1.IPSEC.CERT"


class ProfileTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.database = new_database(self)
        self.users = UserRegistry(self.database)
        self.profiles = ProfileStore(self.database)
        self.users.add_group("nssgrp")
        self.users.add_group("other")
        self.users.add_user("client1", defaultGroup="nssgrp")
        self.users.add_user("client2")
        self.users.add_user("admin")
        self.profiles.set_options(activate=[SERVAUTH], generic=[SERVAUTH])

    def check(self, userid: str, resource: str, level: AccessLevel = AccessLevel.READ):
        return self.profiles.snapshot().authorize(userid, SERVAUTH, resource, level)


class DefinitionTests(ProfileTestCase):
    def test_defineAndGet(self) -> None:
        self.profiles.define(SERVAUTH, CERT.lower(), owner="admin", data="cert svc")
        profile = self.profiles.get(SERVAUTH, CERT)
        self.assertEqual(profile.name, CERT)
        self.assertEqual(profile.uacc, AccessLevel.NONE)
        self.assertEqual(profile.owner, "ADMIN")
        self.assertFalse(profile.generic)
        self.assertEqual(profile.data, "cert svc")

    def test_duplicate(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.assertRaises(
            AlreadyExistsError, self.profiles.define, SERVAUTH, CERT, owner="admin"
        )

    def test_alterAndDelete(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.alter(SERVAUTH, CERT, uacc=AccessLevel.READ)
        self.assertEqual(self.profiles.get(SERVAUTH, CERT).uacc, AccessLevel.READ)
        self.profiles.delete(SERVAUTH, CERT)
        self.assertRaises(NotFoundError, self.profiles.get, SERVAUTH, CERT)
        self.assertRaises(NotFoundError, self.profiles.delete, SERVAUTH, CERT)

    def test_keyOnlyInPtktdata(self) -> None:
        self.assertRaises(
            InvalidValueError,
            self.profiles.define,
            SERVAUTH,
            CERT,
            owner="admin",
            passTicketKey=b"12345678",
        )
        self.assertRaises(
            InvalidValueError,
            self.profiles.define,
            ResourceClass.PTKTDATA,
            "NSS*",
            owner="admin",
            passTicketKey=b"12345678",
        )
        self.assertRaises(
            InvalidValueError,
            self.profiles.define,
            ResourceClass.PTKTDATA,
            "NSSD.GROUP1",
            owner="admin",
            passTicketKey=b"12345678",
        )

    def test_keyIsSealed(self) -> None:
        self.profiles.define(
            ResourceClass.PTKTDATA,
            "NSSD",
            owner="admin",
            passTicketKey=bytes.fromhex("E001193519561977"),
        )
        with self.database.reading() as cursor:
            (sealed,) = cursor.execute("SELECT sealed_key FROM profiles").fetchone()
        self.assertNotIn(bytes.fromhex("E001193519561977"), sealed)
        self.assertTrue(
            self.profiles.get(ResourceClass.PTKTDATA, "NSSD").hasPassTicketKey
        )

    def test_permitUnknownId(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.assertRaises(
            NotFoundError,
            self.profiles.permit,
            SERVAUTH,
            CERT,
            ["client1", "nobody"],
            AccessLevel.READ,
        )
        # Atomic: client1 was not added either.
        self.assertEqual(self.profiles.get(SERVAUTH, CERT).accessList, ())

    def test_permitDelete(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.permit(SERVAUTH, CERT, ["client1"], AccessLevel.READ)
        self.profiles.permit(SERVAUTH, CERT, ["client1"], AccessLevel.UPDATE)
        self.assertEqual(
            self.profiles.get(SERVAUTH, CERT).accessList,
            (("CLIENT1", AccessLevel.UPDATE),),
        )
        self.profiles.permit(SERVAUTH, CERT, ["client1"], None)
        self.assertEqual(self.profiles.get(SERVAUTH, CERT).accessList, ())
        self.assertRaises(
            NotFoundError, self.profiles.permit, SERVAUTH, CERT, ["client1"], None
        )

    def test_parse(self) -> None:
        self.assertEqual(AccessLevel.parse("read"), AccessLevel.READ)
        self.assertRaises(InvalidValueError, AccessLevel.parse, "WRITE")
        self.assertEqual(ResourceClass.parse("servauth"), SERVAUTH)
        self.assertRaises(InvalidValueError, ResourceClass.parse, "FACILITY")


class DecisionTests(ProfileTestCase):
    def test_notProtected(self) -> None:
        decision = self.check("client1", CERT)
        self.assertEqual(decision.result, AuthorizationResult.NOT_PROTECTED)
        self.assertIsNone(decision.profile)
        self.assertFalse(decision.allowed)

    def test_classInactive(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.ALTER)
        self.profiles.set_options(deactivate=[SERVAUTH])
        self.assertEqual(
            self.check("client1", CERT).result, AuthorizationResult.NOT_PROTECTED
        )

    def test_uacc(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.READ)
        self.assertTrue(self.check("client2", CERT).allowed)
        decision = self.check("client2", CERT, AccessLevel.UPDATE)
        self.assertEqual(decision.result, AuthorizationResult.DENIED)
        self.assertEqual(decision.profile, CERT)
        self.assertEqual(decision.granted, AccessLevel.READ)

    def test_revokedUserPassesNoCheck(self) -> None:
        """
        A revoked user is refused whatever its access list entry, the UACC,
        or no profile at all would give (issue 22, item 4).
        """
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.READ)
        self.profiles.permit(SERVAUTH, CERT, ["client1"], AccessLevel.CONTROL)
        self.users.alter_user("client1", revoke=True)
        snapshot = self.profiles.snapshot()
        self.assertTrue(snapshot.is_revoked("Client1"))
        self.assertFalse(snapshot.is_revoked("client2"))
        decision = self.check("client1", CERT)
        self.assertEqual(decision.result, AuthorizationResult.DENIED)
        self.assertEqual(decision.profile, CERT)
        self.assertEqual(decision.granted, AccessLevel.NONE)
        unprotected = self.check("client1", "EZB.NOTHING.HERE")
        self.assertEqual(unprotected.result, AuthorizationResult.DENIED)
        self.assertTrue(self.check("client2", CERT).allowed)
        self.users.alter_user("client1", resume=True)
        self.assertTrue(self.check("client1", CERT).allowed)

    def test_levels(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.permit(SERVAUTH, CERT, ["client1"], AccessLevel.CONTROL)
        for level in AccessLevel:
            self.assertEqual(
                self.check("client1", CERT, level).allowed,
                level <= AccessLevel.CONTROL,
                level,
            )

    def test_userEntryBeatsGroup(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.permit(SERVAUTH, CERT, ["nssgrp"], AccessLevel.READ)
        self.profiles.permit(SERVAUTH, CERT, ["client1"], AccessLevel.NONE)
        self.assertFalse(self.check("client1", CERT).allowed)

    def test_highestGroupWins(self) -> None:
        self.users.connect("client1", "other")
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.permit(SERVAUTH, CERT, ["nssgrp"], AccessLevel.READ)
        self.profiles.permit(SERVAUTH, CERT, ["other"], AccessLevel.UPDATE)
        self.assertEqual(self.check("client1", CERT).granted, AccessLevel.UPDATE)

    def test_groupBeatsUacc(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.READ)
        self.profiles.permit(SERVAUTH, CERT, ["nssgrp"], AccessLevel.NONE)
        self.assertFalse(self.check("client1", CERT).allowed)
        self.assertTrue(self.check("client2", CERT).allowed)

    def test_starEntryForDefinedUsersOnly(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.permit(SERVAUTH, CERT, ["*"], AccessLevel.READ)
        self.assertTrue(self.check("client2", CERT).allowed)
        self.assertFalse(self.check("ghost", CERT).allowed)

    def test_mostSpecificGenericDecides(self) -> None:
        self.profiles.define(SERVAUTH, "EZB.NSS.**", owner="admin")
        self.profiles.define(SERVAUTH, "EZB.NSS.SYS1.*.IPSEC.CERT", owner="admin")
        self.profiles.permit(SERVAUTH, "EZB.NSS.**", ["client1"], AccessLevel.READ)
        decision = self.check("client1", CERT)
        self.assertEqual(decision.profile, "EZB.NSS.SYS1.*.IPSEC.CERT")
        self.assertFalse(decision.allowed)
        other = self.check("client1", "EZB.NSS.SYS1.CLIENT1.IPSEC.NETMGMT")
        self.assertEqual(other.profile, "EZB.NSS.**")
        self.assertTrue(other.allowed)

    def test_discreteBeatsGeneric(self) -> None:
        self.profiles.define(
            SERVAUTH, "EZB.NSS.**", owner="admin", uacc=AccessLevel.READ
        )
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.assertEqual(self.check("client2", CERT).profile, CERT)
        self.assertFalse(self.check("client2", CERT).allowed)

    def test_genericInactive(self) -> None:
        self.profiles.set_options(noGeneric=[SERVAUTH])
        self.profiles.define(
            SERVAUTH, "EZB.NSS.**", owner="admin", uacc=AccessLevel.READ
        )
        self.assertEqual(
            self.check("client2", CERT).result, AuthorizationResult.NOT_PROTECTED
        )

    def test_snapshotIsFrozenUntilRefresh(self) -> None:
        """
        Checks come from the snapshot: a change is invisible to it until a
        new snapshot is built, like a RACLISTed class before REFRESH.
        """
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        snapshot = self.profiles.snapshot()
        self.profiles.permit(SERVAUTH, CERT, ["client1"], AccessLevel.READ)
        self.assertFalse(
            snapshot.authorize("client1", SERVAUTH, CERT, AccessLevel.READ).allowed
        )
        self.assertTrue(self.check("client1", CERT).allowed)

    def test_snapshotMakesNoDatabaseCalls(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.READ)
        snapshot = self.profiles.snapshot()
        self.database.close()
        self.assertTrue(
            snapshot.authorize("client1", SERVAUTH, CERT, AccessLevel.READ).allowed
        )

    def test_refreshGeneration(self) -> None:
        self.assertEqual(self.profiles.generation(), 0)
        self.profiles.set_options(raclist=[SERVAUTH], refresh=True)
        self.assertEqual(self.profiles.generation(), 1)
        self.assertEqual(self.profiles.snapshot().generation, 1)
        self.assertIn(SERVAUTH, self.profiles.options().raclisted)

    def test_resourceCaseFolded(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.READ)
        self.assertTrue(self.check("client1", CERT.lower()).allowed)

    def test_onlyAsciiLettersAreRaised(self) -> None:
        """
        Letters outside ASCII are not raised the Unicode way onto the ASCII
        name of a profile: C{straße} is not C{STRASSE}, the ligature C{ﬁ} is
        not C{FI}, the dotless i (U+0131) is not C{I}, the long s (U+017F) is not
        C{S},
        so none of these resources is protected by CLIENT1's profiles.
        """
        for name in ("STRASSE", "FIREWALL", "CLIENT", "SITE"):
            resource = f"EZB.NSSCERT.SYS1.{name}.HOST"
            self.profiles.define(SERVAUTH, resource, owner="admin")
            self.profiles.permit(SERVAUTH, resource, ["client1"], AccessLevel.READ)
        for name in ("stra\u00dfe", "\ufb01rewall", "cl\u0131ent", "\u017fite"):
            resource = f"EZB.NSSCERT.SYS1.{name}.HOST"
            decision = self.check("client1", resource)
            self.assertEqual(
                decision.result, AuthorizationResult.NOT_PROTECTED, resource
            )
        self.assertTrue(self.check("client1", "EZB.NSSCERT.SYS1.strasse.HOST").allowed)

    def test_userIdNotRaisedOntoAnother(self) -> None:
        """
        A user ID is raised like a resource: C{client1} spelt with a dotless i
        (U+0131) is not CLIENT1 and holds none of its access.
        """
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.permit(SERVAUTH, CERT, ["client1"], AccessLevel.READ)
        self.assertTrue(self.check("client1", CERT).allowed)
        self.assertFalse(self.check("cl\u0131ent1", CERT).allowed)

    def test_nonAsciiProfileNameRefused(self) -> None:
        """
        A profile name is stored as it will be compared; one holding a
        character outside ASCII could protect no resource the NSS server
        builds, so it is refused rather than raised onto an ASCII name.
        """
        error = self.assertRaises(
            InvalidValueError,
            self.profiles.define,
            SERVAUTH,
            "EZB.NSSCERT.SYS1.STRA\u00dfE.HOST",
            owner="admin",
        )
        self.assertIn("outside ASCII", str(error))
        self.assertEqual(self.profiles.list(SERVAUTH), [])


class EnvironmentTests(ProfileTestCase):
    """
    Checks for a logged-on user take the environment its logon built: its
    groups and RESTRICTED attribute as they were then, whatever the
    snapshot, built earlier or later, says of them.
    """

    def test_connectionSeenThroughNewEnvironment(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.permit(SERVAUTH, CERT, ["other"], AccessLevel.READ)
        snapshot = self.profiles.snapshot()
        before = self.users.environment("client1")
        self.users.connect("client1", "other")
        after = self.users.environment("client1")
        self.assertEqual(after.groups, frozenset({"NSSGRP", "OTHER"}))
        # The profiles are the same snapshot; the new logon's environment
        # brings the connection, the old one does not.
        self.assertTrue(
            snapshot.authorize(
                "client1", SERVAUTH, CERT, AccessLevel.READ, environment=after
            ).allowed
        )
        self.assertFalse(
            snapshot.authorize(
                "client1", SERVAUTH, CERT, AccessLevel.READ, environment=before
            ).allowed
        )
        # Without an environment, the snapshot's own view of the user.
        self.assertFalse(
            snapshot.authorize("client1", SERVAUTH, CERT, AccessLevel.READ).allowed
        )

    def test_laterKnowsBest(self) -> None:
        """
        Of the session's environment and the snapshot, the later read
        decides whether the user is revoked or deleted: a REVOKE reaches an
        older session through the refreshed snapshot, a RESUME counts from
        the next logon without one.
        """
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.READ)

        def allowed(
            userid: str, snapshot: ProfileSnapshot, environment: AccessorEnvironment
        ) -> bool:
            return snapshot.authorize(
                userid, SERVAUTH, CERT, AccessLevel.READ, environment=environment
            ).allowed

        before = self.users.environment("client1")
        self.users.alter_user("client1", revoke=True)
        revoked = self.profiles.snapshot()
        self.assertFalse(allowed("client1", revoked, before))
        self.users.alter_user("client1", resume=True)
        self.assertTrue(allowed("client1", revoked, self.users.environment("client1")))
        old = self.users.environment("client2")
        self.assertTrue(allowed("client2", revoked, old))
        self.users.delete_user("client2")
        self.assertFalse(allowed("client2", self.profiles.snapshot(), old))

    def test_environmentMustBeTheUsers(self) -> None:
        snapshot = self.profiles.snapshot()
        self.assertRaises(
            ValueError,
            snapshot.authorize,
            "client2",
            SERVAUTH,
            CERT,
            AccessLevel.READ,
            environment=self.users.environment("client1"),
        )

    def test_undefinedUser(self) -> None:
        environment = self.users.environment("ghost")
        self.assertFalse(environment.defined)
        self.assertFalse(self.profiles.snapshot().is_defined("ghost"))
        self.assertTrue(self.profiles.snapshot().is_defined("Client1"))

    def test_revokedEnvironment(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.READ)
        snapshot = self.profiles.snapshot()
        self.users.alter_user("client2", revoke=True)
        decision = snapshot.authorize(
            "client2",
            SERVAUTH,
            CERT,
            AccessLevel.READ,
            environment=self.users.environment("client2"),
        )
        self.assertEqual(decision.result, AuthorizationResult.DENIED)

    def test_classOptionsSwappedIn(self) -> None:
        """
        L{ProfileSnapshot.with_options} keeps the profiles and takes the
        new class options: NOCLASSACT and NOGENERIC act at once.
        """
        self.profiles.define(
            SERVAUTH, "EZB.NSS.**", owner="admin", uacc=AccessLevel.READ
        )
        snapshot = self.profiles.snapshot()
        self.assertTrue(
            snapshot.authorize("client2", SERVAUTH, CERT, AccessLevel.READ).allowed
        )
        self.profiles.set_options(deactivate=[SERVAUTH])
        generation, options = self.profiles.status()
        self.assertEqual(generation, snapshot.generation)
        inactive = snapshot.with_options(options)
        self.assertEqual(
            inactive.authorize("client2", SERVAUTH, CERT, AccessLevel.READ).result,
            AuthorizationResult.NOT_PROTECTED,
        )
        self.profiles.set_options(activate=[SERVAUTH], noGeneric=[SERVAUTH])
        noGeneric = inactive.with_options(self.profiles.status()[1])
        self.assertIsNone(noGeneric.protecting_profile(SERVAUTH, CERT))
        # The original is untouched, its remembered answers included.
        self.assertEqual(snapshot.protecting_profile(SERVAUTH, CERT), "EZB.NSS.**")


class RestrictedTests(ProfileTestCase):
    """
    A RESTRICTED user reaches only what it or its groups are given by name:
    neither C{ID(*)} nor the UACC gives it anything.
    """

    def setUp(self) -> None:
        super().setUp()
        self.users.alter_user("client1", restricted=True)
        self.assertTrue(self.users.get_user("client1").restricted)

    def test_uaccNotForRestricted(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.READ)
        decision = self.check("client1", CERT)
        self.assertEqual(decision.result, AuthorizationResult.DENIED)
        self.assertEqual(decision.granted, AccessLevel.NONE)
        self.assertTrue(self.check("client2", CERT).allowed)

    def test_starEntryNotForRestricted(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.permit(SERVAUTH, CERT, ["*"], AccessLevel.READ)
        self.assertFalse(self.check("client1", CERT).allowed)
        self.assertTrue(self.check("client2", CERT).allowed)

    def test_namedAccessStillCounts(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        self.profiles.permit(SERVAUTH, CERT, ["nssgrp"], AccessLevel.READ)
        self.assertTrue(self.check("client1", CERT).allowed)
        self.profiles.permit(SERVAUTH, CERT, ["client1"], AccessLevel.UPDATE)
        self.assertEqual(self.check("client1", CERT).granted, AccessLevel.UPDATE)

    def test_norestricted(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", uacc=AccessLevel.READ)
        self.users.alter_user("client1", restricted=False)
        self.assertTrue(self.check("client1", CERT).allowed)


class WarningTests(ProfileTestCase):
    """
    A profile in WARNING mode allows what it would refuse and says so in
    the decision, which the caller logs.
    """

    def test_warningAllows(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", warning=True)
        self.assertTrue(self.profiles.get(SERVAUTH, CERT).warning)
        decision = self.check("client2", CERT)
        self.assertEqual(decision.result, AuthorizationResult.ALLOWED)
        self.assertTrue(decision.warning)
        self.assertEqual(decision.granted, AccessLevel.NONE)
        self.assertEqual(decision.profile, CERT)

    def test_enoughAccessIsNoWarning(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", warning=True)
        self.profiles.permit(SERVAUTH, CERT, ["client2"], AccessLevel.READ)
        decision = self.check("client2", CERT)
        self.assertTrue(decision.allowed)
        self.assertFalse(decision.warning)

    def test_nowarning(self) -> None:
        self.profiles.define(SERVAUTH, CERT, owner="admin", warning=True)
        self.profiles.alter(SERVAUTH, CERT, warning=False)
        self.assertFalse(self.check("client2", CERT).allowed)
        self.profiles.alter(SERVAUTH, CERT, warning=True)
        self.assertTrue(self.check("client2", CERT).warning)

    def test_notForRestrictedUndefinedOrRevoked(self) -> None:
        """
        Fail closed where RACF's documentation is silent: WARNING lets in
        neither a RESTRICTED user (who reaches only what it is given by
        name), nor an undefined one, nor a revoked one.
        """
        self.profiles.define(SERVAUTH, CERT, owner="admin", warning=True)
        self.users.alter_user("client1", restricted=True)
        self.users.alter_user("admin", revoke=True)
        for userid in ("client1", "ghost", "admin"):
            decision = self.check(userid, CERT)
            self.assertEqual(decision.result, AuthorizationResult.DENIED, userid)
            self.assertFalse(decision.warning, userid)


class ProtectingTests(ProfileTestCase):
    """
    L{ProfileStore.protecting}, behind C{RLIST class resource GENERIC}:
    which profile decides for a resource, from the database as it stands.
    """

    def test_protecting(self) -> None:
        self.profiles.define(SERVAUTH, "EZB.NSS.**", owner="admin")
        self.profiles.define(SERVAUTH, "EZB.NSS.SYS1.END*", owner="admin")
        self.profiles.define(SERVAUTH, "EZB.NSS.SYS1.*.IPSEC.CERT", owner="admin")
        found = self.profiles.protecting(SERVAUTH, "ezb.nss.sys1.end7.ipsec.cert")
        assert found is not None
        self.assertEqual(found.name, "EZB.NSS.SYS1.END*")
        self.assertEqual(
            [p.name for p in self.profiles.generic_order(SERVAUTH)],
            ["EZB.NSS.SYS1.END*", "EZB.NSS.SYS1.*.IPSEC.CERT", "EZB.NSS.**"],
        )
        self.profiles.define(SERVAUTH, CERT, owner="admin")
        found = self.profiles.protecting(SERVAUTH, CERT)
        assert found is not None
        self.assertFalse(found.generic)
        self.assertIsNone(self.profiles.protecting(SERVAUTH, "EZB.OTHER"))
        self.profiles.set_options(noGeneric=[SERVAUTH])
        self.assertIsNone(
            self.profiles.protecting(SERVAUTH, "EZB.NSS.SYS1.END7.IPSEC.CERT")
        )

    def test_everyClassTheSameRules(self) -> None:
        """
        IBM's CICS example holds in every general-resource class: each
        RDELETE of the decider hands the resource to the next profile.
        """
        for resourceClass in ResourceClass:
            self.profiles.set_options(activate=[resourceClass], generic=[resourceClass])
            for name in ("**", "C*", "CE*", "CEDA"):
                self.profiles.define(resourceClass, name, owner="admin")
            order = []
            while (
                found := self.profiles.protecting(resourceClass, "CEDA")
            ) is not None:
                self.assertEqual(
                    self.profiles.snapshot().protecting_profile(resourceClass, "CEDA"),
                    found.name,
                )
                order.append(found.name)
                self.profiles.delete(resourceClass, found.name)
            self.assertEqual(order, ["CEDA", "CE*", "C*", "**"], resourceClass)
