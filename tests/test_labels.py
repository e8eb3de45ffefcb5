"""
Tests for L{nsstwisted.security.labels}, including the seed's collision cases.
"""

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.security.labels import map_label


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

    def test_nonAsciiLettersAreNotRaised(self) -> None:
        self.assertEqual(map_label("caf\u00e9"), "CAF\u00e9")
