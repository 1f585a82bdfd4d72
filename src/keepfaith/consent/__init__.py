"""The consent ledger: append-only, hash-chained consent events per data subject; the current
state derived from them; and `decide`, the one answer to "may this person's data be used for
this purpose, over this channel, now?" (see docs/consent.md)."""
