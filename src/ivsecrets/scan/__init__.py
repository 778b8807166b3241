"""Find identity-verification secrets where they must never be: by fingerprint, never by value.

>>> from ivsecrets.scan import KnownSecrets, scan
>>> report = scan(["app/"], KnownSecrets.from_config(load_config()))  # doctest: +SKIP
>>> report.exit_code  # doctest: +SKIP
0

A scan fingerprints every candidate it finds (tokens of the secret alphabets, in plain text, UTF-16,
base64 and hex, inside archives) and compares the fingerprints with the known set: the pins of the
configuration, or every version the stores hold (:meth:`KnownSecrets.from_store`). Strings shaped
like an Intercom secret next to a telling word are reported as suspects, with lower confidence.

This package is a workflow: it imports only the core, and ``import ivsecrets`` does not import it.
"""

from __future__ import annotations

from ivsecrets.scan.config_check import check_config
from ivsecrets.scan.engine import INTERCOM_SECRET_LENGTH, Matcher
from ivsecrets.scan.known import KnownSecret, KnownSecrets
from ivsecrets.scan.report import Finding, ScanReport, Skipped, sarif
from ivsecrets.scan.views import Hit
from ivsecrets.scan.walk import Limits, Scanner, scan

__all__ = [
    "INTERCOM_SECRET_LENGTH",
    "Finding",
    "Hit",
    "KnownSecret",
    "KnownSecrets",
    "Limits",
    "Matcher",
    "ScanReport",
    "Scanner",
    "Skipped",
    "check_config",
    "sarif",
    "scan",
]
