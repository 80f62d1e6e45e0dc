"""One exception hierarchy; each error says what went wrong, where, and what to do, and maps
to a process exit code (sysexits-style, as OCRmyPDF does)."""

from __future__ import annotations


class DigitizeError(Exception):
    exit_code = 1

    def __init__(self, what: str, where: str | None = None, todo: str | None = None):
        self.what, self.where, self.todo = what, where, todo
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        return f"{text}. {self.todo[0].upper()}{self.todo[1:]}" if self.todo else text


class BadInput(DigitizeError):
    """An input file or folder that cannot be used as it is (the operator must fix it)."""

    exit_code = 65


class ConfigError(DigitizeError):
    """A setting, profile or command-line value that is wrong."""

    exit_code = 78


class ToolError(DigitizeError):
    """An external program (Tesseract) failed; often transient, so worth a retry."""

    exit_code = 70


class OutputInvalid(DigitizeError):
    """An output failed its validation (PDF/A, schema)."""

    exit_code = 10


class BatchIncomplete(DigitizeError):
    """The batch ran, but some items failed."""

    exit_code = 4


class BatchBusy(DigitizeError):
    """Another run is processing the same batch."""

    exit_code = 75
