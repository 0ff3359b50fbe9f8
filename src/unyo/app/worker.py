"""A worker: runs the steps of every shop it holds the lease of.

Workers are stateless processes (`unyo run`), any number of them against one
database. Each shop is worked by one worker at a time: before it runs a shop's
steps a worker takes the shop's lease in the database (or renews it, once a third
of it has gone by); a heartbeat thread renews the leases it holds every third of
the lease time, so a long step does not lose its shop, and a worker that dies
stops renewing, so its shops are taken over by another worker once the lease
runs out (30 s by default: within 60 s of the death). Outbox effects are
claimed before they are delivered (see `Store.due_effects`), so even a worker
that wakes up after losing its lease cannot deliver an effect another worker
delivers.

Lease times are wall time (`Store.wall`), not the business clock: they are about
processes being alive.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from unyo.adapters.db.store import Lease, Store
from unyo.adapters.db.trouble import StorageProblem, location, storage_problem
from unyo.app.context import ShopContext, log
from unyo.app.runner import Runner

LEASE_TTL = timedelta(seconds=30)


@dataclass
class Slot:
    """One shop of the worker's: its runner, and the lease when held."""

    runner: Runner
    lease: Lease | None = None
    holder: str | None = None  # who holds it when we don't, as last seen
    problem: StorageProblem | None = None  # why the lease could not be asked for, if so
    error: str | None = None  # the same for any other failure

    @property
    def shop(self) -> str:
        return self.runner.ctx.shop


@dataclass
class Worker:
    store: Store
    slots: list[Slot]
    lease_ttl: timedelta = LEASE_TTL
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_shops(cls, store: Store, contexts: list[ShopContext],
                  lease_ttl: timedelta = LEASE_TTL) -> Worker:
        return cls(store, [Slot(Runner.for_shop(ctx)) for ctx in contexts], lease_ttl)

    @property
    def name(self) -> str:
        return self.store.worker

    # -- leases ---------------------------------------------------------------------------

    def _acquire(self, slot: Slot) -> bool:
        """Take or renew `slot`'s lease; False when another worker holds it."""
        with self._lock:
            try:
                with self.store.transaction() as conn:
                    lease = self.store.acquire_lease(conn, slot.shop, self.lease_ttl)
                    holder = None
                    if lease is None:
                        holder = next((x.worker for x in self.store.leases(conn)
                                       if x.shop == slot.shop), None)
            except Exception as e:  # a database hiccup: keep what we had until it expires
                self._failed(slot, e)
                return slot.lease is not None and slot.lease.expires_at > self.store.wall()
            slot.problem = slot.error = None
            if lease is not None and slot.lease is None:
                log.info("worker %s took shop %s (epoch %d%s)", self.name, slot.shop,
                         lease.epoch, f", over from {lease.took_over_from}"
                         if lease.took_over_from else "")
            elif lease is None and slot.lease is not None:
                log.warning("worker %s lost shop %s to %s", self.name, slot.shop, holder)
            slot.lease, slot.holder = lease, holder
            return lease is not None

    def _failed(self, slot: Slot, e: Exception) -> None:
        """Keep why the lease could not be taken (not 'held by another worker'), logged
        once per kind of failure rather than every tick."""
        problem = storage_problem(e, location(self.store.engine))
        error = problem.english if problem else f"{type(e).__name__}: {e}"
        if problem is None:
            log.exception("cannot take the lease on shop %s", slot.shop)
        elif slot.problem is None or slot.problem.kind != problem.kind:
            log.error("cannot take the lease on shop %s: %s", slot.shop, problem.english)
        slot.problem, slot.error, slot.holder = problem, error, None

    def renew(self) -> None:
        """Renew the leases held (the heartbeat)."""
        for slot in self.slots:
            if slot.lease is not None:
                self._acquire(slot)

    def release(self) -> None:
        """Give every lease up (a clean stop): other workers take the shops at once."""
        with self._lock:
            for slot in self.slots:
                if slot.lease is None:
                    continue
                try:
                    with self.store.transaction() as conn:
                        self.store.release_lease(conn, slot.shop)
                except Exception:
                    log.exception("cannot release the lease on shop %s", slot.shop)
                slot.lease = None

    # -- running --------------------------------------------------------------------------

    def run_once(self) -> list[Slot]:
        """One cycle of every step of every shop whose lease this worker gets, then the
        leases are released; returns the slots of shops another worker holds."""
        busy = []
        try:
            for slot in self.slots:
                if self._acquire(slot):
                    slot.runner.run_once()
                else:
                    busy.append(slot)
        finally:
            self.release()
        return busy

    def run_due(self, stop: threading.Event | None = None) -> int:
        """Run the due steps of the shops held (taking free shops); returns steps run.
        A set `stop` ends the round after the current step."""
        ran = 0
        for slot in self.slots:
            if stop is not None and stop.is_set():
                break
            if not self._fresh(slot) and not self._acquire(slot):
                continue
            ran += slot.runner.run_due(stop)
        return ran

    def _fresh(self, slot: Slot) -> bool:
        """The lease is held with more than two thirds of its time left, by the store's
        wall clock: no need to renew it on this tick.

        The loop ticks every second and the heartbeat renews every third of the lease
        time; renewing at every tick as well was a write per second per shop for
        nothing. Nobody can take a lease before it expires, so a fresh one is still
        ours; once a third of it has gone by, the tick renews it (if the heartbeat has
        not), and a shop not held is tried at every tick as before."""
        lease = slot.lease
        return lease is not None and \
            lease.expires_at - self.store.wall() > self.lease_ttl * 2 / 3

    def next_due(self) -> datetime | None:
        times = [s.last_run + timedelta(seconds=s.interval) for slot in self.slots
                 if slot.lease is not None for s in slot.runner.steps if s.last_run is not None]
        return min(times, default=None)

    def run_forever(self, stop: threading.Event | None = None, tick: float = 1.0) -> None:
        stop = stop or threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(stop,), daemon=True,
                                name="unyo-lease-heartbeat")
        beat.start()
        try:
            while not stop.is_set():
                self.run_due(stop)
                wait = tick
                nxt = self.next_due()
                if nxt is not None and self.slots:
                    clock = self.slots[0].runner.ctx.clock
                    # business seconds → wall seconds (a sandbox clock may run faster)
                    ahead = (nxt - clock.now()).total_seconds() / getattr(clock, "speed", 1.0)
                    wait = max(0.0, min(tick, ahead))
                if not any(s.lease for s in self.slots):
                    wait = tick  # standby: try the leases again in a moment
                if wait and stop.wait(wait):
                    break
        finally:
            stop.set()
            beat.join(5)
            self.release()

    def _heartbeat(self, stop: threading.Event) -> None:
        every = self.lease_ttl.total_seconds() / 3
        while not stop.wait(every):
            self.renew()
