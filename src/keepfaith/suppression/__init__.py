"""The suppression list: addresses that must not receive marketing over a channel, kept as keyed
hashes (docs/mail.md#suppression). Importing the package installs the list where decisions
consult it (`keepfaith.consent.suppression`)."""

from keepfaith.suppression import check as _check  # noqa: F401 - registers the list
