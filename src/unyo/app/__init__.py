"""Use cases, one transaction each, and the runner that drives them on their cadence.

May import `unyo.domain`, `unyo.flow` and the store's interface; talks to the
outside only through the protocols in `ports.py`. Must not import the CLI or web.
"""
