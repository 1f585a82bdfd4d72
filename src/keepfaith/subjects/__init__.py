"""The vault: data subjects' personal data, encrypted, findable by blind index, read only through
audited service functions (`keepfaith.subjects.service`), erased by crypto-shredding."""
