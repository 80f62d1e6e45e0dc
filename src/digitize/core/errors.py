"""One exception hierarchy and one table of exit codes. Each error says what went wrong, where,
and what to do; its class gives the process exit code (sysexits-style, as OCRmyPDF does), one
meaning per code. Its words may be translatable Texts (digitize.core.i18n): ``message`` and
``reason`` are English, ``words`` the same in parts a catalogue translates."""

from __future__ import annotations

from enum import IntEnum

from digitize.core.i18n import Reason, Text, as_text


class ExitCode(IntEnum):
    ok = 0
    failed = 1  # a fault we did not foresee (a bug): the message says what to report
    usage = 2  # a wrong command line (the usual usage error): a missing argument, an unknown command or option
    batch_incomplete = 4  # the batch ran, but some items failed or wait for storage
    fixity = 5  # the audit found stored objects missing or changed
    output_invalid = 10  # an output failed its validation (PDF/A, schema)
    bad_input = 65  # an input file, folder or metadata that the operator must fix
    store_unreachable = 69  # the object store cannot be reached
    tool = 70  # an external program failed, or its data is missing
    ledger = 71  # the quota ledger is locked, damaged or cannot be reached
    cannot_write = 73  # an output (export, bag, report) cannot be written where asked
    storage = 74  # the store refused or lost something
    busy = 75  # another run holds the batch
    config = 78  # a setting, profile or command-line value is wrong


class DigitizeError(Exception):
    exit_code = ExitCode.failed

    def __init__(self, what: str | Text, where: str | None = None, todo: str | Text | None = None):
        self.what, self.where, self.todo = str(what), where, None if todo is None else str(todo)
        self.words = Reason(what=as_text(what), where=None if where is None else str(where),
                            todo=None if not todo else as_text(todo))
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return str(self.words)

    @property
    def reason(self) -> str:
        """What went wrong and what to do, for a report that names the place itself."""
        return str(self.words.without_where())


class BadInput(DigitizeError):
    """An input file or folder that cannot be used as it is (the operator must fix it)."""

    exit_code = ExitCode.bad_input


class ConfigError(DigitizeError):
    """A setting, profile or command-line value that is wrong."""

    exit_code = ExitCode.config


class ToolError(DigitizeError):
    """An external program (Tesseract) failed; often transient, so worth a retry."""

    exit_code = ExitCode.tool


class OutputInvalid(DigitizeError):
    """An output failed its validation (PDF/A, schema)."""

    exit_code = ExitCode.output_invalid


class BatchBusy(DigitizeError):
    """Another run is processing the same batch."""

    exit_code = ExitCode.busy


class StorageError(DigitizeError):
    """The store refused or lost something (a checksum mismatch, a bad response)."""

    exit_code = ExitCode.storage


class StorageConflict(StorageError):
    """A different object already sits at the key."""


class StorageUnavailable(StorageError):
    """The store cannot be reached (after retries): the item waits for the next run."""

    exit_code = ExitCode.store_unreachable


class StorageRefused(StorageError):
    """The store refuses to keep anything (read-only, no permission, no such bucket): no item can
    be stored, so the run stops."""


class OutputUnwritable(DigitizeError):
    """The output folder cannot be written (full, read-only, no permission): the run stops."""

    exit_code = ExitCode.cannot_write


class LedgerUnavailable(DigitizeError):
    """The quota ledger is locked by another program, damaged, or its server cannot be reached."""

    exit_code = ExitCode.ledger


class ExportError(DigitizeError):
    """An export could not be made (a missing or changed stored file, a bag already there)."""

    exit_code = ExitCode.cannot_write
