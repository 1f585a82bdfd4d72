"""My Account: the person signs in without a password (a one-time link and code by e-mail),
sees everything held about them in plain language, and corrects it."""
