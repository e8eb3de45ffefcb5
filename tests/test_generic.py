"""
Tests for L{nsstwisted.security.generic}: the generic naming rules and the
precedence of profiles, as tables of cases.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.errors import InvalidValueError
from nsstwisted.security.generic import (
    best_match,
    is_generic,
    matches,
    normalize_profile_name,
    upper_ascii,
)
from tests.strategies import generic_profile_names, generic_qualifiers

# (profile, resource, matches?)
MATCH_CASES = [
    ("EZB.NSS.SYS1.CLIENT1.IPSEC.CERT", "EZB.NSS.SYS1.CLIENT1.IPSEC.CERT", True),
    ("EZB.NSS.SYS1.CLIENT1.IPSEC.CERT", "EZB.NSS.SYS1.CLIENT2.IPSEC.CERT", False),
    # * as a whole qualifier at the start or in the middle: exactly one
    ("EZB.NSS.*.CLIENT1.IPSEC.CERT", "EZB.NSS.SYS1.CLIENT1.IPSEC.CERT", True),
    ("EZB.NSS.*.IPSEC.CERT", "EZB.NSS.SYS1.CLIENT1.IPSEC.CERT", False),
    ("EZB.NSS.*", "EZB.NSS.SYS1", True),
    ("EZB.NSS.*", "EZB.NSS", False),
    ("*.NSS", "EZB.NSS", True),
    ("*.NSS", "EZB.X.NSS", False),
    # * as the last qualifier: one or more qualifiers to the end
    ("EZB.NSS.*", "EZB.NSS.SYS1.CLIENT1", True),
    ("EZB.NSS.SYS1.TAIL.*", "EZB.NSS.SYS1.TAIL.IPSEC.CERT", True),
    ("EZB.NSS.SYS1.TAIL.*", "EZB.NSS.SYS1.TAIL", False),
    ("EZB.NSS.SYS1.TAIL.*", "EZB.NSS.SYS1.TAILS.IPSEC", False),
    # * alone: the whole class
    ("*", "ANYTHING", True),
    ("*", "TWO.QUALIFIERS", True),
    # * ending a qualifier in the middle: the rest of that qualifier only
    ("EZB.NSS.SYS1.CLIENT*.IPSEC.CERT", "EZB.NSS.SYS1.CLIENTAB.IPSEC.CERT", True),
    ("EZB.NSS.SYS1.CLIENT*.IPSEC.CERT", "EZB.NSS.SYS1.CLIENT.IPSEC.CERT", True),
    ("EZB.NSS.SYS1.CLIENT*.IPSEC.CERT", "EZB.NSS.SYS1.CLIENT.X.IPSEC.CERT", False),
    # * ending the name as a character: zero or more characters to the end
    # of the resource name, qualifiers included
    ("EZB.NSS.SYS1.CLIENT*", "EZB.NSS.SYS1.CLIENT1", True),
    ("EZB.NSS.SYS1.CLIENT*", "EZB.NSS.SYS1.CLIENT", True),
    ("EZB.NSS.SYS1.CLIENT*", "EZB.NSS.SYS1.CLIENT1.IPSEC", True),
    ("EZB.NSS.SYS1.END*", "EZB.NSS.SYS1.END7.IPSEC.CERT", True),
    ("EZB.NSS.SYS1.END*", "EZB.NSS.SYS1.END7.X.IPSEC.CERT", True),
    ("EZB.NSS.SYS1.END*", "EZB.NSS.SYS1.EN", False),
    ("EZB.NSS.SYS%*", "EZB.NSS.SYS1.C1", True),
    ("EZB.NSS.SYS%*", "EZB.NSS.SYS.C1", False),
    # ** any number of qualifiers, none included
    ("EZB.NSS.**", "EZB.NSS", True),
    ("EZB.NSS.**", "EZB.NSS.SYS1", True),
    ("EZB.NSS.**", "EZB.NSS.SYS1.CLIENT1.IPSEC.CERT", True),
    ("EZB.NSS.**", "EZB.NSSCERT.SYS1", False),
    ("EZB.**.CERT", "EZB.CERT", True),
    ("EZB.**.CERT", "EZB.NSS.SYS1.C1.IPSEC.CERT", True),
    ("EZB.**.CERT", "EZB.NSS.SYS1.C1.IPSEC.NETMGMT", False),
    ("**.CERT", "EZB.CERT", True),
    ("**", "EZB.NSS.SYS1", True),
    # % exactly one character, never a period
    ("EZB.NSS.SYS%.C1", "EZB.NSS.SYS1.C1", True),
    ("EZB.NSS.SYS%.C1", "EZB.NSS.SYS12.C1", False),
    ("EZB.NSS.SYS%.C1", "EZB.NSS.SYS.C1", False),
    ("A%B", "A.B", False),
    ("%%%%", "NSSD", True),
    # literal characters match literally
    ("EZB.NSSCERT.SYS1.CERT$1.HOST", "EZB.NSSCERT.SYS1.CERT$1.HOST", True),
    ("A+B.C", "A+B.C", True),
]

# (profiles defined, resource, the profile that must decide, or None)
PRECEDENCE_CASES = [
    (
        ["EZB.NSS.**", "EZB.NSS.SYS1.C1.IPSEC.CERT"],
        "EZB.NSS.SYS1.C1.IPSEC.CERT",
        "EZB.NSS.SYS1.C1.IPSEC.CERT",
    ),
    (
        ["EZB.NSS.**", "EZB.NSS.SYS1.**"],
        "EZB.NSS.SYS1.C1.IPSEC.CERT",
        "EZB.NSS.SYS1.**",
    ),
    (
        ["EZB.NSS.*.C1.IPSEC.CERT", "EZB.NSS.SYS1.*.IPSEC.CERT"],
        "EZB.NSS.SYS1.C1.IPSEC.CERT",
        "EZB.NSS.SYS1.*.IPSEC.CERT",
    ),
    (["EZB.NSS.SYS%.C1", "EZB.NSS.SYS*.C1"], "EZB.NSS.SYS1.C1", "EZB.NSS.SYS%.C1"),
    (["EZB.NSS.SYS*.C1", "EZB.NSS.*.C1"], "EZB.NSS.SYS1.C1", "EZB.NSS.SYS*.C1"),
    (["EZB.NSS.*.C1", "EZB.NSS.**"], "EZB.NSS.SYS1.C1", "EZB.NSS.*.C1"),
    (
        ["EZB.NSS.SYS1.C*", "EZB.NSS.SYS1.C1.**"],
        "EZB.NSS.SYS1.C1",
        "EZB.NSS.SYS1.C1.**",
    ),
    (["EZB.NSS.*.*", "EZB.NSS.SYS1.**"], "EZB.NSS.SYS1.C1", "EZB.NSS.SYS1.**"),
    (["EZB.**", "**"], "EZB.NSS", "EZB.**"),
    (["EZB.*.**", "EZB.**"], "EZB.NSS.A", "EZB.*.**"),
    (["EZB.NSS.%%%%.C1", "EZB.NSS.SYS*.C1"], "EZB.NSS.SYS1.C1", "EZB.NSS.SYS*.C1"),
    # The profiles: a literal character beats * at the first
    # difference, so END* and TAIL.* decide, not *.IPSEC.CERT.
    (
        ["EZB.NSS.SYS1.END*", "EZB.NSS.SYS1.*.IPSEC.CERT"],
        "EZB.NSS.SYS1.END7.IPSEC.CERT",
        "EZB.NSS.SYS1.END*",
    ),
    (
        ["EZB.NSS.SYS1.TAIL.*", "EZB.NSS.SYS1.*.IPSEC.CERT"],
        "EZB.NSS.SYS1.TAIL.IPSEC.CERT",
        "EZB.NSS.SYS1.TAIL.*",
    ),
    (
        ["EZB.NSS.SYS1.END*", "EZB.NSS.SYS1.END7.**"],
        "EZB.NSS.SYS1.END7.IPSEC.CERT",
        "EZB.NSS.SYS1.END7.**",
    ),
    (
        ["EZB.NSS.SYS1.C*", "EZB.NSS.SYS1.C*.X"],
        "EZB.NSS.SYS1.C1.X",
        "EZB.NSS.SYS1.C*.X",
    ),
    (["EZB.NSS.*", "EZB.NSS.*.X"], "EZB.NSS.A.X", "EZB.NSS.*.X"),
    (["*", "**"], "A.B", "*"),
    (["EZB.NSS.**"], "EZB.NETMGMT.SYS1", None),
    ([], "EZB.NSS.SYS1", None),
    (["EZB.NSS.SYS1", "EZB.NSS.*"], "EZB.NSS.SYS1", "EZB.NSS.SYS1"),
]


# IBM's table "Sample general resource profile names in order from most
# specific to least specific" (z/OS Security Server RACF Security
# Administrator's Guide, SA23-2289, "Generic profile checking of general
# resources"), in its order, with the resources each row covers.  The rows
# COPY.&X and COPY.&Y are left out: they need RACF variables (RACFVARS),
# which nsstwisted does not have.  The last four rows, after COPY.%APER,
# follow from the rules of "Profile names for general resources" (Command
# Language Reference, SA23-2292).
COPY_RESOURCES = ("COPY", "COPY.PAPER", "COPY.PAPER.TEST", "COPY.WEB.FINAL")
COPY_TABLE: list[tuple[str, frozenset[str]]] = [
    ("COPY.A", frozenset()),
    ("COPY.WEB.FINAL", frozenset({"COPY.WEB.FINAL"})),
    ("COPY.WEB.*", frozenset({"COPY.WEB.FINAL"})),
    ("COPY.PAPER", frozenset({"COPY.PAPER"})),
    ("COPY.PAPER.TEST", frozenset({"COPY.PAPER.TEST"})),
    ("COPY.PAPER.%", frozenset()),
    ("COPY.PAPER.*", frozenset({"COPY.PAPER.TEST"})),
    ("COPY.PAPER.**", frozenset({"COPY.PAPER", "COPY.PAPER.TEST"})),
    ("COPY.PAPER%", frozenset()),
    ("COPY.PAPER*", frozenset({"COPY.PAPER", "COPY.PAPER.TEST"})),
    ("COPY.PAPE%", frozenset({"COPY.PAPER"})),
    ("COPY.PAP*", frozenset({"COPY.PAPER", "COPY.PAPER.TEST"})),
    ("COPY.PRINT.*", frozenset()),
    ("COPY.%APER", frozenset({"COPY.PAPER"})),
    ("COPY.*", frozenset({"COPY.PAPER", "COPY.PAPER.TEST", "COPY.WEB.FINAL"})),
    ("COPY.**", frozenset(COPY_RESOURCES)),
    ("COPY*", frozenset(COPY_RESOURCES)),
    ("**", frozenset(COPY_RESOURCES)),
]

# CICS's example ("Which profile is used to protect the resource?", CICS TS
# RACF Security Guide): with these profiles CEDA protects the transaction
# CEDA; without it, CE*; then C*; then **.
CICS_PROFILES = ["**", "C*", "CE*", "CEDA"]


def deciders(profiles: list[str], resource: str) -> list[str]:
    """
    The profiles that decide for C{resource}, in turn, as each decider is
    deleted: the precedence order of the profiles that cover it.
    """
    left = list(profiles)
    order = []
    while (decider := best_match(left, resource)) is not None:
        order.append(decider)
        left.remove(decider)
    return order


class IbmExampleTests(SynchronousTestCase):
    def test_copyTableMatches(self) -> None:
        for profile, covered in COPY_TABLE:
            for resource in COPY_RESOURCES:
                self.assertEqual(
                    matches(profile, resource),
                    resource in covered,
                    f"{profile} ~ {resource}",
                )

    def test_copyTableOrder(self) -> None:
        """
        For each resource, the profiles that cover it decide in the
        table's order: deleting the decider hands the resource to the next
        row down that covers it.
        """
        names = [profile for profile, _ in COPY_TABLE]
        for resource in COPY_RESOURCES:
            expected = [p for p, covered in COPY_TABLE if resource in covered]
            self.assertEqual(deciders(names, resource), expected, resource)
            self.assertEqual(deciders(names[::-1], resource), expected, resource)

    def test_paperStarAndPapStarProtectPaperTest(self) -> None:
        """
        C{COPY.PAPER*} and C{COPY.PAP*} protect C{COPY.PAPER.TEST}: the
        asterisk that ends a name crosses qualifiers, and the longer
        literal prefix is the more specific.
        """
        self.assertEqual(
            deciders(["COPY.PAP*", "COPY.PAPER*"], "COPY.PAPER.TEST"),
            ["COPY.PAPER*", "COPY.PAP*"],
        )

    def test_cics(self) -> None:
        self.assertEqual(deciders(CICS_PROFILES, "CEDA"), ["CEDA", "CE*", "C*", "**"])
        self.assertEqual(deciders(CICS_PROFILES, "CEMT"), ["CE*", "C*", "**"])
        self.assertEqual(deciders(CICS_PROFILES, "DSNC"), ["**"])


class MatchTableTests(SynchronousTestCase):
    def test_table(self) -> None:
        for profile, resource, expected in MATCH_CASES:
            self.assertEqual(
                matches(profile, resource), expected, f"{profile} ~ {resource}"
            )


class PrecedenceTableTests(SynchronousTestCase):
    def test_table(self) -> None:
        for profiles, resource, expected in PRECEDENCE_CASES:
            self.assertEqual(best_match(profiles, resource), expected, profiles)
            # The order in which profiles were defined never matters.
            self.assertEqual(
                best_match(list(reversed(profiles)), resource), expected, profiles
            )


class NameRuleTests(SynchronousTestCase):
    def test_upperCased(self) -> None:
        self.assertEqual(normalize_profile_name("ezb.nss.*"), "EZB.NSS.*")

    def test_isGeneric(self) -> None:
        self.assertTrue(is_generic("A.*"))
        self.assertTrue(is_generic("A%"))
        self.assertFalse(is_generic("A.B$&"))

    def test_validNames(self) -> None:
        """
        The names "Profile names for general resources" allows: ** at the
        start, in the middle, at the end or alone; * as a qualifier at the
        start, in the middle or at the end, or ending a qualifier in the
        middle or the name; % anywhere.
        """
        for good in [
            "**",
            "*",
            "**.ABC",
            "ABC.**.DEF",
            "ABC.**",
            "*.ABC",
            "ABC.*.DEF",
            "ABC.DEF.*",
            "ABC.DE*.FGH",
            "ABC.DEF*",
            "ABC*",
            "%BC.D%F",
            "COPY.&X",
            "X" * 246,
        ]:
            self.assertEqual(normalize_profile_name(good.lower()), good.upper())

    def test_invalidNames(self) -> None:
        for bad in [
            "",
            "A B",
            "A.**.B.**",
            "**.**",
            "A***",
            "A.B**",
            "A**.B",
            "A*B",
            "*A",
            "A.*B.C",
            "A(B)",
            "X" * 247,
            "A\x00",
            "STRA\u00dfE",
            "\ufb01",
            "A\u00a0B",
        ]:
            self.assertRaises(InvalidValueError, normalize_profile_name, bad)

    def test_onlyAsciiRaised(self) -> None:
        """
        The one case rule for names: a-z become A-Z and nothing else
        changes, not even the letters whose Unicode upper case is ASCII.
        """
        self.assertEqual(upper_ascii("ezb.nss.a-z_09@#$"), "EZB.NSS.A-Z_09@#$")
        for text in ("\u00df", "\ufb01", "\u0131", "\u017f", "\u00e9"):
            self.assertEqual(upper_ascii(text), text)


def _exact_reference(profile: str, resource: str) -> bool:
    """
    The rules without the two special endings: expand C{**} into zero to
    five one-qualifier wildcards, then match qualifier by qualifier, a
    C{*} qualifier being one non-empty qualifier and C{*} in a qualifier
    the rest of it.
    """
    import re

    qualifiers = profile.split(".")
    expansions = [qualifiers]
    if "**" in qualifiers:
        at = qualifiers.index("**")
        expansions = [
            qualifiers[:at] + ["*"] * n + qualifiers[at + 1 :] for n in range(6)
        ]
    parts = resource.split(".")
    for expansion in expansions:
        if len(expansion) != len(parts):
            continue
        ok = True
        for pattern, part in zip(expansion, parts, strict=True):
            if pattern == "*":
                ok = ok and part != ""
                continue
            regex = "".join(
                "[^.]" if c == "%" else "[^.]*" if c == "*" else re.escape(c)
                for c in pattern
            )
            ok = ok and re.fullmatch(regex, part) is not None
        if ok:
            return True
    return False


def _reference_matches(profile: str, resource: str) -> bool:
    """
    An independent reading of the rules for general resources: an ending
    C{*} qualifier is one to five C{*} qualifiers; an ending C{*} character
    means some beginning of the resource name matches the rest of the
    profile exactly; C{*} or C{**} alone matches everything.
    """
    if profile in ("*", "**"):
        return True
    if profile.endswith(".*"):
        base = profile[:-2]
        return any(_exact_reference(base + ".*" * n, resource) for n in range(1, 6))
    if profile.endswith("*") and not profile.endswith("**"):
        head = profile[:-1]
        return any(
            _exact_reference(head, resource[:end]) for end in range(len(resource) + 1)
        )
    return _exact_reference(profile, resource)


class MatchPropertyTests(SynchronousTestCase):
    @settings(max_examples=400, database=None)
    @given(
        generic_profile_names(),
        st.lists(generic_qualifiers, min_size=1, max_size=5).map(".".join),
    )
    def test_agreesWithReference(self, profile: str, resource: str) -> None:
        self.assertEqual(
            matches(profile, resource), _reference_matches(profile, resource)
        )
