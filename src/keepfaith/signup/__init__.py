"""Signing up on the business's own site: an embeddable form and an API that record each consent
separately (never bundled, never pre-ticked), with the exact words shown, and newsletter double
opt-in: nothing is consent until the person confirms from the e-mail we send them."""
