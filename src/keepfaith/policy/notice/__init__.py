"""The human-readable privacy notice, generated from a `Policy` (never written by hand).

`build.build_notice` turns a policy into a tree of blocks (headings, paragraphs, lists,
tables) holding all the wording once; `keepfaith.policy.render` lays the same tree out as
HTML or Markdown with one Jinja template each.
"""
