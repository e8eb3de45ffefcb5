"""
Tests for L{nsstwisted.assistant.tomlwriter}: what it writes reads back to
the same description, the same bytes each time, with defaults left out and
every string escaped as TOML wants it.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.assistant.loader import load_description, parse_description
from nsstwisted.assistant.model import (
    Certificate,
    Description,
    Image,
    NssServer,
    Stack,
    StackSettings,
)
from nsstwisted.assistant.tomlwriter import dump_description
from tests.strategies import assistant_descriptions

EXAMPLE = str(
    Path(__file__).parent.parent / "docs" / "examples" / "assistant-seed.toml"
)


class RoundTripTests(SynchronousTestCase):
    @settings(max_examples=150, deadline=None)
    @given(assistant_descriptions())
    def test_readsBackEqual(self, description: Description) -> None:
        """
        Whatever description the model holds, with values the loader takes,
        the loader reads the writer's text back to an equal description.
        """
        text = dump_description(description)
        self.assertEqual(parse_description(text, description.source), description)

    @settings(max_examples=50, deadline=None)
    @given(assistant_descriptions())
    def test_deterministic(self, description: Description) -> None:
        """
        The same description gives the same text, and writing what was read
        gives that text again.
        """
        text = dump_description(description)
        self.assertEqual(dump_description(description), text)
        again = parse_description(text, description.source)
        self.assertEqual(dump_description(again), text)

    def test_example(self) -> None:
        """
        The worked example reads back to itself through the writer.
        """
        description = load_description(EXAMPLE)
        text = dump_description(description)
        self.assertEqual(parse_description(text, EXAMPLE), description)


class OmissionTests(SynchronousTestCase):
    def test_defaultsLeftOut(self) -> None:
        """
        Values at their defaults (a port of 4159, the default key ring, an
        NSS stack, RSA 2048) and values left unset are not written.
        """
        description = Description(
            servers=(NssServer("NSS", "NSSSYS", "192.0.2.10"),),
            images=(Image("A", "SYSA", stacks=(Stack("TCPIP"),)),),
            certificates=(Certificate("CA", "certauth", "CN=CA", "CERTAUTH"),),
        )
        self.assertEqual(
            dump_description(description),
            "[servers.NSS]\n"
            'system_name = "NSSSYS"\n'
            'address = "192.0.2.10"\n'
            "\n"
            "[images.A]\n"
            'system_name = "SYSA"\n'
            "\n"
            "[images.A.stacks.TCPIP]\n"
            "\n"
            "[[certificates]]\n"
            'label = "CA"\n'
            'usage = "certauth"\n'
            'subject = "CN=CA"\n'
            'owner = "CERTAUTH"\n',
        )

    def test_setValuesWritten(self) -> None:
        """
        A value that differs from its default is written, in the table the
        layout gives it: image-only settings in the image's table, inherited
        ones in its defaults, a stack's overrides in the stack's table.
        """
        image = Image(
            "A",
            "SYSA",
            defaults=StackSettings(servers=("NSS",), userId="U1", nssWaitLimit=30),
            stacks=(Stack("TCPIP", nss=False, overrides=StackSettings(userId="U2")),),
        )
        text = dump_description(Description(images=(image,)))
        self.assertEqual(
            tomllib.loads(text),
            {
                "images": {
                    "A": {
                        "system_name": "SYSA",
                        "servers": ["NSS"],
                        "nss_wait_limit": 30,
                        "defaults": {"user_id": "U1"},
                        "stacks": {"TCPIP": {"nss": False, "user_id": "U2"}},
                    }
                }
            },
        )

    def test_emptyListWritten(self) -> None:
        """
        An empty list is not the same as an unset one (no services is an
        error validation reports; unset inherits), so it is written.
        """
        image = Image(
            "A", "SYSA", stacks=(Stack("S", overrides=StackSettings(services=())),)
        )
        self.assertIn("services = []\n", dump_description(Description(images=(image,))))


class EscapingTests(SynchronousTestCase):
    def test_strings(self) -> None:
        """
        Quotes, backslashes, newlines, tabs and other control characters are
        escaped; letters outside ASCII stay as they are.
        """
        tricky = 'a"b\\c\nd\te\x01f\x7fg Straße'
        stack = Stack("S", clientName=tricky, namespace="\x1b[2J")
        text = dump_description(
            Description(images=(Image("A", "SYSA", stacks=(stack,)),))
        )
        self.assertIn(
            'client_name = "a\\"b\\\\c\\nd\\te\\u0001f\\u007fg Straße"\n', text
        )
        self.assertIn('namespace = "\\u001b[2J"\n', text)
        self.assertEqual(
            parse_description(text, "<test>").images[0].stacks[0],
            stack,
        )

    def test_tableNamesQuoted(self) -> None:
        """
        A table name that TOML cannot hold bare (a dot, a blank) is quoted,
        so that it stays one name.
        """
        description = Description(
            servers=(NssServer("nss.primary", "NSSSYS", "192.0.2.10"),)
        )
        text = dump_description(description)
        self.assertTrue(text.startswith('[servers."nss.primary"]\n'))
        self.assertEqual(
            parse_description(text, "<test>"), replace(description, source="<test>")
        )
