"""
The errors of the security database.

Every failure the security manager can report is one of these classes, so that
callers (the daemons and the commands) can turn each into a defined answer: a
message with a stable ID for the operator and an exit status for scripts.  The
split between L{SecurityRequestError} and L{SecurityEnvironmentError} is the
split the commands report as exit status 1 and 2: the first means "this request
was wrong, nothing changed", the second "the database or its stash cannot be
trusted or reached, fix that first".
"""

from __future__ import annotations


class SecurityError(Exception):
    """
    Base class of every error raised by L{nsstwisted.security}.

    @ivar messageId: a stable, documented message identifier (C{NSRnnnnE}) so
        that operators and scripts can recognise the condition without parsing
        prose.
    @ivar exitStatus: the exit status a command reports for this error.
    """

    messageId = "NSR0000E"
    exitStatus = 1

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"{self.messageId} {self.text}"


class SecurityRequestError(SecurityError):
    """
    The request was wrong and changed nothing; the database is fine.
    """

    messageId = "NSR0100E"
    exitStatus = 1


class SecurityEnvironmentError(SecurityError):
    """
    The database or the stash file cannot be used; no request can succeed
    until an administrator repairs it.
    """

    messageId = "NSR0200E"
    exitStatus = 2


class NotFoundError(SecurityRequestError):
    """
    A named user, group, profile, certificate or key ring does not exist.
    """

    messageId = "NSR0101E"


class AlreadyExistsError(SecurityRequestError):
    """
    A user, group, profile, certificate or key ring of that name exists.
    """

    messageId = "NSR0102E"


class LabelCollisionError(AlreadyExistsError):
    """
    A certificate label maps to the same SERVAUTH profile name as another
    certificate's label, of any owner: one profile would govern both
    certificates, so a client permitted to use one could sign with the other.
    """

    messageId = "NSR0310E"


class InvalidValueError(SecurityRequestError):
    """
    A value breaks a rule of the model (a user ID longer than 8 characters, an
    unknown access level, a key size out of range, ...).
    """

    messageId = "NSR0103E"


class CertificateFileError(SecurityRequestError):
    """
    A file given as a certificate (PEM, DER or PKCS#12) is not one, or its
    password is wrong.
    """

    messageId = "NSR0104E"


class CommandSyntaxError(SecurityRequestError):
    """
    A RACF command could not be parsed or names an unknown command or keyword.

    @ivar command: the command verb, upper case, or C{""} if none was read.
    @ivar keyword: the offending keyword, or C{None}.
    @ivar line: the line of the job file where the command starts, or C{None}
        when the command came from the command line.
    """

    messageId = "NSR0105E"

    def __init__(
        self,
        text: str,
        command: str = "",
        keyword: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(text)
        self.command = command
        self.keyword = keyword
        self.line = line

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        what = self.command or "(no command)"
        if self.keyword is not None:
            what = f"{what} {self.keyword}"
        return f"{self.messageId} {where}{what}: {self.text}"


class PassTicketError(SecurityRequestError):
    """
    A PassTicket could not be generated or was not accepted.
    """

    messageId = "NSR0106E"


class DatabaseCorruptError(SecurityEnvironmentError):
    """
    The database file is not a security database, or SQLite reports damage.
    """

    messageId = "NSR0201E"


class DatabaseLockedError(SecurityEnvironmentError):
    """
    Another process holds the database locked beyond the busy timeout.
    """

    messageId = "NSR0202E"


class DatabaseUnavailableError(DatabaseCorruptError):
    """
    The database server cannot be reached now: it is down, restarting, or
    the connection to it was lost.  Unlike damage, this passes: a daemon
    serves what it can from memory and tries again.  (A subclass of
    L{DatabaseCorruptError}, so that a caller that knows only "not usable"
    still refuses.)
    """

    messageId = "NSR0346E"


class DatabaseReadOnlyError(SecurityEnvironmentError):
    """
    The database accepts no writes from this connection: it is a read-only
    standby, or the role connected may read but not administer.  Reading
    goes on; what must be written is refused.
    """

    messageId = "NSR0347E"


UNWRITABLE = (DatabaseUnavailableError, DatabaseReadOnlyError)
"""
What keeps a daemon from recording logon state, but not from serving from
memory: the database is away, or will not take writes from it.
"""


class StashError(SecurityEnvironmentError):
    """
    The stash file holding the master key is missing, has an unsafe mode, is
    damaged, or belongs to another database.
    """

    messageId = "NSR0203E"


class TamperedEntryError(SecurityEnvironmentError):
    """
    A sealed entry (a private key or a PassTicket key) failed its AES-GCM
    authentication: it was altered on disk or sealed under another master key.
    """

    messageId = "NSR0204E"


class SchemaVersionError(SecurityEnvironmentError):
    """
    The database has a schema newer than this release understands: a
    newer nsstwisted upgraded it.  Reading it anyway could misread a column
    that now takes part in a decision, so it is refused, naming both
    versions.
    """

    messageId = "NSR0345E"


class TargetNotEmptyError(SecurityRequestError):
    """
    The target of a copy holds rows already.  A copy goes only into a new
    file or an empty database: merging two security databases would have to
    choose between two users, profiles or master keys of one name, and no
    rule could choose safely.
    """

    messageId = "NSR0350E"


class SchemaTablesError(SecurityEnvironmentError):
    """
    A database to copy has a table that this release's list of the schema's
    tables does not name, lacks one it names, or has other columns than its
    counterpart: copying it would leave something behind or misplace it.
    """

    messageId = "NSR0351E"


class CopyFailedError(SecurityEnvironmentError):
    """
    Writing a copy failed part-way; its transaction was rolled back, so the
    target holds none of it.
    """

    messageId = "NSR0352E"


class BackupRefusedError(SecurityRequestError):
    """
    A backup was not taken because its request cannot be met as given;
    nothing was written, and the subclass's message ID says which rule.
    """


class BackupTargetExistsError(BackupRefusedError):
    """
    The backup's target exists and replacing it was not asked for: an
    earlier backup is kept unless the operator says it may go.
    """

    messageId = "NSR0362E"


class BackupFolderError(BackupRefusedError):
    """
    The folder the backup is to go into does not exist (or is no folder):
    a mistyped path is reported rather than made.
    """

    messageId = "NSR0363E"


class BackupTargetKindError(BackupRefusedError):
    """
    The backup's target is a folder or another file that is not a regular
    file, or is the security database itself.
    """

    messageId = "NSR0364E"


class BackupEngineError(BackupRefusedError):
    """
    The security database is on PostgreSQL, whose own tools take its
    backups (pg_dump), as the operations guide says.
    """

    messageId = "NSR0365E"


class BackupFailedError(SecurityEnvironmentError):
    """
    The copy could not be written, or failed its check; it was removed, and
    the target (if any) is as it was.
    """

    messageId = "NSR0366E"


class MasterKeyChangedError(StashError):
    """
    The database's keys are sealed under another master key than the one
    this process holds or was given: a master-key rotation (C{nss-database
    rekey}) committed since it read its stash, and its stash file names the
    old key.  A server keeps the keys it holds, and takes the new stash only
    when its stash file is the new one.
    """

    messageId = "NSR0372E"


class RekeyRefusedError(SecurityRequestError):
    """
    A master-key rotation was refused before anything was written: the new
    stash file is the old one or exists already, or the database has nothing
    sealed to rotate.
    """

    messageId = "NSR0373E"


class RekeyFailedError(SecurityEnvironmentError):
    """
    A master-key rotation failed part-way; its transaction was rolled back,
    so every key is still sealed under the old master key.
    """

    messageId = "NSR0371E"


class TokenUnavailableError(SecurityEnvironmentError):
    """
    A PKCS#11 token cannot be used now: its module cannot be loaded, the
    token is not present, its PIN is refused, or it stopped answering.
    Every key it holds is unusable until it is back; keys held elsewhere
    (sealed in the database, another token) are not affected.

    @ivar token: the token's label.
    @ivar retry: whether trying again later may succeed by itself (a token
        removed and put back); C{False} where only the operator can help
        (a wrong PIN, which a retry would only count towards a lockout).
    """

    messageId = "NSR0390E"

    def __init__(self, text: str, token: str = "", *, retry: bool = True) -> None:
        super().__init__(text)
        self.token = token
        self.retry = retry


class TokenKeyError(SecurityRequestError):
    """
    A key in a PKCS#11 token cannot serve as asked, though the token
    answers: it is not there, does not match its certificate, cannot sign
    with the mechanisms a scheme needs, or is asked for a use a token key
    cannot serve (a TLS server key, its own export).
    """

    messageId = "NSR0391E"


class PinFileError(SecurityEnvironmentError):
    """
    A token's PIN file is missing, unreadable, empty, not a regular file,
    or open to group or others: a PIN anyone on the host can read protects
    nothing, so such a file is refused rather than warned about.
    """

    messageId = "NSR0392E"
