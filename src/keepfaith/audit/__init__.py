"""The audit trail: who read or changed personal data, when, and for which purpose."""
