"""
Tests for L{nsstwisted.security.labels}, including the seed's collision cases.
"""

from hypothesis import given
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.generic import (
    NAME_CHARACTERS,
    normalize_profile_name,
    upper_ascii,
)
from nsstwisted.security.labels import colliding_labels, map_label
from tests.strategies import labels


class MapLabelTests(SynchronousTestCase):
    def test_lowerCaseIsRaised(self) -> None:
        self.assertEqual(map_label("client1 cert"), "CLIENT1$CERT")

    def test_genericCharactersBecomeDollar(self) -> None:
        self.assertEqual(map_label("A*B%C&D E"), "A$B$C$D$E")

    def test_otherCharactersStay(self) -> None:
        self.assertEqual(map_label("Host_1.example-A#@$"), "HOST_1.EXAMPLE-A#@$")

    def test_seedCollisionUnderscore(self) -> None:
        """
        The seed: certificate_123 and CERTIFICATE_123 both map to
        CERTIFICATE_123.
        """
        self.assertEqual(map_label("certificate_123"), "CERTIFICATE_123")
        self.assertEqual(map_label("CERTIFICATE_123"), "CERTIFICATE_123")

    def test_seedCollisionDollar(self) -> None:
        """
        The seed: "Certificate 123", "Certificate%123" and "certificate*123"
        all map to CERTIFICATE$123.
        """
        for label in ("Certificate 123", "Certificate%123", "certificate*123"):
            self.assertEqual(map_label(label), "CERTIFICATE$123")

    def test_nonAsciiCharactersBecomeDollar(self) -> None:
        """
        A letter outside ASCII is neither kept (no profile name holds it) nor
        raised the Unicode way (which makes new ASCII names of some): it
        becomes C{$}, one character for one.
        """
        cases = {
            "caf\u00e9": "CAF$",
            "Stra\u00dfe": "STRA$E",
            "\ufb01rewall": "$REWALL",
            "cl\u0131ent1": "CL$ENT1",
            "\u017fite": "$ITE",
            "\u212aey": "$EY",
            "\u4e2d\u6587": "$$",
        }
        for label, mapped in cases.items():
            self.assertEqual(map_label(label), mapped, label)

    def test_charactersEndingANameBecomeDollar(self) -> None:
        """
        Parentheses, comma and quote end a name in a RACF command, so a
        profile could never be defined for a mapped label keeping them.
        """
        self.assertEqual(map_label("a(b),c'd"), "A$B$$C$D")

    @given(labels)
    def test_mappedLabelIsADiscreteProfileQualifier(self, label: str) -> None:
        """
        Whatever the label, the mapped name has as many characters, holds
        only characters of a discrete profile name, and is left unchanged by
        the case rule of the authorization check, so the check sees exactly
        the name the administrator is told to define.
        """
        mapped = map_label(label)
        self.assertEqual(len(mapped), len(label))
        self.assertTrue(set(mapped) <= NAME_CHARACTERS - set("*%&"), mapped)
        self.assertEqual(upper_ascii(mapped), mapped)
        self.assertEqual(
            normalize_profile_name(f"EZB.NSSCERT.SYS.{mapped}.HOST"),
            f"EZB.NSSCERT.SYS.{mapped}.HOST",
        )

    def test_unicodeUpperCaseWouldCollide(self) -> None:
        """
        The report: C{Straße} raised by C{str.upper} is C{STRASSE}, the
        mapped name of C{Strasse}; mapped, the two differ.
        """
        self.assertEqual("Stra\u00dfe".upper(), map_label("Strasse"))
        self.assertNotEqual(map_label("Stra\u00dfe"), map_label("Strasse"))


class CollidingLabelsTests(SynchronousTestCase):
    def test_groupsOfTwoOrMore(self) -> None:
        found = colliding_labels(
            ["Client1 cert", "CLIENT1 CERT", "client1*cert", "Other", "Stra\u00dfe"]
        )
        self.assertEqual(
            dict(found),
            {"CLIENT1$CERT": ("CLIENT1 CERT", "Client1 cert", "client1*cert")},
        )

    def test_none(self) -> None:
        self.assertEqual(dict(colliding_labels(["Strasse", "Stra\u00dfe"])), {})
