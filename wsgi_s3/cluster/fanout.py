"""Fan-out: one call run on several nodes at once, in gevent greenlets, returning as soon as enough
of them succeeded (a quorum) or all have answered.

The gateway runs in gevent workers (sockets monkey-patched), where the calls overlap; without monkey
patching (tests, tools) the same code works on gevent's own hub, one call after the other. Calls
still running when a quorum is met go on in the background: a write's last replica still lands.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import gevent
from gevent.event import Event

from wsgi_s3.model import errors

T = TypeVar("T")
K = TypeVar("K")


@dataclass
class Outcome(Generic[K, T]):
    """What the nodes answered so far: results and errors by node, in the order they came."""

    results: dict[K, T] = field(default_factory=dict)
    errors: dict[K, BaseException] = field(default_factory=dict)

    def failure(self) -> BaseException:
        """The error to raise when too few succeeded: a node's definite answer (NotFound,
        PreconditionFailed, ...) if any node gave one, else Unavailable."""
        for error in self.errors.values():
            if not isinstance(error, errors.Unavailable):
                return error
        reasons = "; ".join(str(error) for error in self.errors.values())
        return errors.Unavailable(f"too few nodes answered: {reasons or 'none asked'}")


def fanout(targets: Iterable[K], call: Callable[[K], T], need: int | None = None, settle: float = 0.0) -> Outcome[K, T]:
    """Run call(target) for every target in parallel; return once `need` calls succeeded (all of
    them when None) or every call has ended. Once `need` succeeded, the others still get up to
    `settle` seconds to end (Swift's post_quorum_timeout). Only storage errors are collected:
    anything else is a bug and propagates."""
    targets = list(targets)
    need = len(targets) if need is None else need
    outcome: Outcome[K, T] = Outcome()
    done = Event()
    all_done = Event()
    pending = len(targets)
    bug: list[BaseException] = []

    def run(target: K) -> None:
        nonlocal pending
        try:
            outcome.results[target] = call(target)
        except errors.StorageError as exc:
            outcome.errors[target] = exc
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, not swallowed
            bug.append(exc)
        finally:
            pending -= 1
            if pending == 0:
                all_done.set()
            if pending == 0 or len(outcome.results) >= need or bug:
                done.set()

    if not targets:
        return outcome
    for target in targets:
        # In a copy of the caller's context: a node call's log lines carry the request's id.
        gevent.spawn(contextvars.copy_context().run, run, target)
    done.wait()
    if pending and settle and not bug:
        all_done.wait(settle)
    if bug:
        raise bug[0]
    # A snapshot: calls still running must not change what the caller is deciding on.
    return Outcome(dict(outcome.results), dict(outcome.errors))
