"""The preference centre: a person sees every use of their data in plain language, changes each
choice with one click, objects to all direct marketing at once, reads their consent history and
takes a receipt away; and renews consent when a material policy change asks for it."""
