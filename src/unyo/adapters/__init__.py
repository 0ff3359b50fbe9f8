"""Adapters: unyo's connections to the outside systems (RMS, the warehouse, mail, the database).

Each adapter translates one outside system to and from `unyo.domain` and keeps
that system's field names, protocols and quirks to itself. Adapters may import
`unyo.domain`, `unyo.clock` and `unyo.app`'s protocols; `unyo.domain` and
`unyo.app` never import an adapter.
"""
