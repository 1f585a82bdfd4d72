"""Tables of this feature (to be written)."""

from __future__ import annotations
