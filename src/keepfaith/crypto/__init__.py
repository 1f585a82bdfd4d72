"""Keys and cryptography: keyring, authenticated encryption, signed tokens."""
