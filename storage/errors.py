"""Failures meant for people: each message says what is wrong and where, and nothing was written."""


class PlanFileError(ValueError):
    """A plan file or spreadsheet that cannot be imported."""


class NotAllowedError(PermissionError):
    """Something only the business unit may do, asked for by someone else; nothing was written."""


class NotFoundError(LookupError):
    """Something named by a person (a partnership, a plan) that does not exist."""
