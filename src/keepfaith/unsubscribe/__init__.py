"""Unsubscribing: signed links in every marketing message, RFC 8058 one-click, mailto, and a
form for people without the e-mail at hand (docs/unsubscribe.md)."""
