"""The one batch driver: submit, settle, the first and the second Ctrl-C.

Every way of running a batch's files (one after another in this process, a
local process pool, a Dask cluster) is an *executor* with the same few
operations; :func:`drive` runs any of them the same way:

* files are submitted while there is room, and each one's result is
  recorded (``finish``) as it completes;
* the first Ctrl-C starts nothing new and waits for the files in progress,
  recording them;
* a second Ctrl-C abandons them (each removes its temporary file), and so
  does SIGTERM at any point, which then propagates.

An executor also owns what only it knows: how many files go in one task,
and how a file that kills its worker is retried on its own.
"""

from __future__ import annotations

from ..errors import Terminated

__all__ = ["drive"]


def drive(executor, *, total: int, todo: int, emit, interrupts) -> bool:
    """Run the executor's files to the end or to Ctrl-C; returns True when interrupted.

    Parameters
    ----------
    executor
        Has ``fill()`` (submit while there is room), ``busy()`` (files in
        flight), ``wait()`` (block until some are done; returns them),
        ``settle(done, interrupted)`` (record them), ``stop()`` (start
        nothing new; returns the number still running), ``finish_stop()``
        (after the last one, under the same Ctrl-C guard), ``abandon()``
        and ``close()``, and ``jobs`` (how many run at once).
    total, todo : int
        Files in the batch, and files to do (for the ``start`` event).
    emit : callable(event, payload)
        ``start`` and ``interrupt`` events.
    interrupts
        The batch's Ctrl-C counter (``armed`` sections, ``count``).
    """
    try:
        try:
            executor.fill()
            emit("start", {"total": total, "todo": todo, "jobs": executor.jobs})
            while executor.busy():
                # Only the wait is interruptible: a result is always recorded whole.
                with interrupts.armed():
                    done = executor.wait()
                executor.settle(done, interrupted=False)
                if interrupts.count:
                    raise KeyboardInterrupt
                executor.fill()
        except Terminated:
            # SIGTERM: no waiting for the files in progress.
            executor.abandon()
            raise
        except KeyboardInterrupt:
            pass
        else:
            return False
        # First Ctrl-C: start nothing new, let the files in progress finish.
        first = max(1, interrupts.count)
        try:
            with interrupts.armed(allowed=first):
                in_flight = executor.stop()
            emit("interrupt", {"in_flight": in_flight})
            while executor.busy():
                with interrupts.armed(allowed=first):
                    done = executor.wait()
                executor.settle(done, interrupted=True)
            with interrupts.armed(allowed=first):
                executor.finish_stop()
        except KeyboardInterrupt as exc:
            # Second Ctrl-C (or SIGTERM): abandon them.
            executor.abandon()
            if isinstance(exc, Terminated):
                raise
        return True
    finally:
        executor.close()
