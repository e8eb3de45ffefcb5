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
    # * as a whole qualifier: exactly one qualifier
    ("EZB.NSS.*.CLIENT1.IPSEC.CERT", "EZB.NSS.SYS1.CLIENT1.IPSEC.CERT", True),
    ("EZB.NSS.*.IPSEC.CERT", "EZB.NSS.SYS1.CLIENT1.IPSEC.CERT", False),
    ("EZB.NSS.*", "EZB.NSS.SYS1", True),
    ("EZB.NSS.*", "EZB.NSS", False),
    ("EZB.NSS.*", "EZB.NSS.SYS1.CLIENT1", False),
    ("*", "ANYTHING", True),
    ("*", "TWO.QUALIFIERS", False),
    # * at the end of a qualifier: the rest of that qualifier only
    ("EZB.NSS.SYS1.CLIENT*", "EZB.NSS.SYS1.CLIENT1", True),
    ("EZB.NSS.SYS1.CLIENT*", "EZB.NSS.SYS1.CLIENT", True),
    ("EZB.NSS.SYS1.CLIENT*", "EZB.NSS.SYS1.CLIENT1.IPSEC", False),
    ("EZB.NSS.SYS1.CLIENT*.IPSEC.CERT", "EZB.NSS.SYS1.CLIENTAB.IPSEC.CERT", True),
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
    (["EZB.NSS.**"], "EZB.NETMGMT.SYS1", None),
    ([], "EZB.NSS.SYS1", None),
    (["EZB.NSS.SYS1", "EZB.NSS.*"], "EZB.NSS.SYS1", "EZB.NSS.SYS1"),
]


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

    def test_invalidNames(self) -> None:
        for bad in [
            "",
            "A B",
            "A.**.B.**",
            "A***",
            "A.B**",
            "A*B",
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


def _reference_matches(profile: str, resource: str) -> bool:
    """
    An independent reading of the rules: expand C{**} into zero to five
    one-qualifier wildcards, then match qualifier by qualifier with C{fnmatch}
    semantics restricted to one qualifier.
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
