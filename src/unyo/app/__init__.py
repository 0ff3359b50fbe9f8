"""Use cases, one transaction each, and the runner that drives them on their cadence.

Every order moves through `unyo.app.moves.move()`: the only caller of `decide()` and of
the store's order writes (a test holds it to that). May import `unyo.domain`,
`unyo.flow` and, until it sits behind ports of its own, the SQL store; talks to the
outside only through the protocols in `ports.py`. Must not import the CLI or web.
"""
