"""
What every command's options share: C{--help} and C{--version} that return
through the command's C{run} instead of exiting, so that C{run} stays
callable from tests and writes the text where it was told to.
"""

from __future__ import annotations

from typing import ClassVar

from twisted.python import usage

from nsstwisted import __version__

__all__ = ["CommandOptions", "Finished", "SubcommandOptions"]


class Finished(Exception):
    """
    Raised instead of L{usage.Options}' own C{sys.exit} for C{--help} and
    C{--version}.

    @ivar text: what to print on standard output.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class CommandOptions(usage.Options):
    """
    A command's options, with C{--help} and C{--version} that raise
    L{Finished}; C{--version} names nsstwisted's release, not Twisted's.

    @cvar program: the command's name, as C{--version} shows it.
    """

    program: ClassVar[str]

    def opt_help(self) -> None:
        """
        Display this help and exit.
        """
        raise Finished(str(self))

    def opt_version(self) -> None:
        """
        Display the version and exit.
        """
        raise Finished(f"{self.program} (nsstwisted) {__version__}\n")


class SubcommandOptions(CommandOptions):
    """
    The options of a command with subcommands, or of one of its
    subcommands: C{-h} as well as C{--help}, and each subcommand's help
    opening with its own usage line rather than usage's parent synopsis
    run into it.
    """

    synopsis: str

    opt_h = CommandOptions.opt_help

    def getSynopsis(self) -> str:
        return self.synopsis
