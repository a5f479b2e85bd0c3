"""Batches larger than one machine: ``quantize batch`` and ``palette`` on Dask.

The optional backend behind ``--scheduler`` (extra ``quantize[dask]``). The
client plans the batch, checks the manifest and writes it, the report and
the summary exactly as for the local process pool; only the work of each
file moves: a task is the file's *paths* (input, output, per-image
codebook), and a Dask worker reads the input and writes the output(s)
atomically on storage it shares with the client, with the same function the
local workers run (:func:`quantize.run.batch._process_file`). So outputs,
skipping, report lines and exit codes are those of a local batch.

``quantize palette --scheduler`` sends each image's path to a worker, which
returns the image's colour histogram (distinct colours and their counts,
never the pixels); the client merges them (:func:`merge_histograms`, exact
integer sums) and runs k-means once, so the codebook equals the local one.

This module imports dask only inside its functions: without the extra,
``import quantize.run.distributed`` works and :func:`require_dask` says what to
install.
"""

from __future__ import annotations

import itertools
import os
import time
from contextlib import contextmanager
from typing import Optional

from ..errors import QuantizeError

__all__ = [
    "DASK_EXTRA_HINT",
    "LOCAL_DASK",
    "SCHEDULER_ENV",
    "DaskMissingError",
    "SchedulerUnavailableError",
    "SchedulerAddressError",
    "DaskBackend",
    "dask_available",
    "worker_env",
    "require_dask",
    "resolve_scheduler",
    "connect",
    "fit_shared_codebook_dask",
]

#: The environment variable read when ``--scheduler`` is not given.
SCHEDULER_ENV = "QUANTIZE_SCHEDULER"

#: The ``--scheduler`` value that starts a LocalCluster on 127.0.0.1.
LOCAL_DASK = "local-dask"

DASK_EXTRA_HINT = "install it with: pip install 'quantize[dask]'"

#: Tasks in flight per worker thread: enough to hide the scheduler's round
#: trip, few enough that Ctrl-C has little to cancel.
_IN_FLIGHT_PER_THREAD = 4
#: Files per task. A Dask task costs a few milliseconds of scheduler, client
#: and worker time (measured: ~4 ms per task on 2 workers of a 2-CPU
#: machine, where the scheduler competes with the workers), as much as a
#: small image takes to quantize; a task of several files pays it once. The
#: batch is still cut into at least _TASKS_PER_THREAD tasks per worker thread
#: so that the work stays balanced and the progress bar moves.
_MAX_FILES_PER_TASK = 8
_TASKS_PER_THREAD = 8
#: Set to a positive integer, the files per task, instead of the rule above.
FILES_PER_TASK_ENV = "QUANTIZE_DASK_FILES_PER_TASK"

# Worker side: the batches (task-key prefixes) told to stop after the file
# in progress (first Ctrl-C on the client), set by client.run(_stop, prefix).
_STOPPED = set()


class DaskMissingError(Exception):
    """Dask was asked for but ``dask.distributed`` is not installed (a usage error)."""


class SchedulerAddressError(QuantizeError):
    """The scheduler address is malformed (a usage error, 2)."""

    exit_code = 2


class SchedulerUnavailableError(QuantizeError):
    """The Dask scheduler did not answer within the timeout (69, EX_UNAVAILABLE)."""

    exit_code = 69


def dask_available() -> bool:
    """True when ``dask.distributed`` can be imported (without importing it)."""
    from importlib.util import find_spec

    try:
        return find_spec("distributed") is not None and find_spec("dask") is not None
    except (ImportError, ValueError):
        return False


def require_dask() -> None:
    """Raise :class:`DaskMissingError` naming the extra when Dask is missing."""
    if not dask_available():
        raise DaskMissingError(f"--scheduler needs dask.distributed, which is not installed; "
                               f"{DASK_EXTRA_HINT}")


def resolve_scheduler(option: Optional[str]) -> Optional[str]:
    """The scheduler to use: the option, else $QUANTIZE_SCHEDULER, else None (local pool).

    Examples
    --------
    >>> resolve_scheduler("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    """
    value = option if option else os.environ.get(SCHEDULER_ENV, "")
    value = value.strip()
    return value or None


def worker_env(n_workers: int, threads_per_worker: int = 1) -> dict:
    """Environment for the worker processes of a one-machine cluster: the CPUs
    shared out as the local pool does (one BLAS thread each, the k-means search
    on CPUs / workers threads); variables the user has set are kept.
    """
    from .batch import available_cpus

    env = {var: "1" for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env["QUANTIZE_THREADS"] = str(max(1, available_cpus() // max(1, n_workers * threads_per_worker)))
    return {var: os.environ.get(var, value) for var, value in env.items()}


def _sigint_blocked():
    from .batch import _sigint_blocked as blocked

    return blocked()


@contextmanager
def connect(address: str, *, timeout: float = 10.0, workers: Optional[int] = None):
    """Connect a Dask client to ``address`` (or start a LocalCluster), close it after.

    Parameters
    ----------
    address : str
        ``tcp://HOST:PORT`` (any address ``distributed.Client`` takes), or
        ``'local-dask'``: a LocalCluster of worker processes with one
        thread each, on 127.0.0.1 only, without a dashboard.
    timeout : float
        Seconds to wait for the scheduler to answer.
    workers : int or None
        Worker processes of a ``local-dask`` cluster; None: the CPUs.

    Yields
    ------
    distributed.Client

    Raises
    ------
    DaskMissingError
        When dask.distributed is not installed.
    SchedulerUnavailableError
        When the scheduler does not answer within ``timeout`` (69).
    SchedulerAddressError
        When ``address`` is malformed (2).
    """
    require_dask()
    import logging

    from distributed import Client, LocalCluster

    cluster = None
    where = address if address != LOCAL_DASK else "the local Dask cluster"
    box = {}

    def handshake():
        try:
            box["client"] = Client(address, timeout=timeout)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    # Processes and threads started here inherit a blocked SIGINT, so Ctrl-C
    # reaches only the client's main thread, which cancels the work itself.
    restore = _sigint_blocked()
    try:
        try:
            if address == LOCAL_DASK:
                from .batch import available_cpus

                n = workers or available_cpus()
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=logging.ERROR, env=worker_env(n))
                client = Client(cluster, timeout=timeout)
                # Its workers share our terminal's process group: Ctrl-C is
                # for the client to act on, not for them (as in the local pool).
                client.register_plugin(_ignore_sigint_plugin(), name="quantize-ignore-sigint")
            else:
                # A peer that is not a Dask scheduler may accept and never
                # answer, or answer garbage: the handshake runs in a thread
                # of its own, under a deadline this thread enforces.
                import threading

                waiter = threading.Thread(target=handshake, daemon=True,
                                          name="quantize-handshake")
                waiter.start()
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            raise _unavailable(where, timeout, exc) from None
    finally:
        restore()
    if address != LOCAL_DASK:
        deadline = time.monotonic() + timeout + _HANDSHAKE_GRACE
        while waiter.is_alive() and time.monotonic() < deadline:
            waiter.join(0.1)  # short waits: Ctrl-C gets through
        if waiter.is_alive():
            raise _unavailable(where, timeout, TimeoutError("no answer"))
        error = box.get("error")
        if isinstance(error, ValueError) and not isinstance(error, UnicodeError):
            raise SchedulerAddressError(None, f"Dask scheduler {address!r}: {error}") from None
        if isinstance(error, KeyboardInterrupt):
            raise error
        if error is not None:
            raise _unavailable(where, timeout, error) from None
        client = box["client"]
    try:
        yield client
    finally:
        try:
            client.close()
        finally:
            if cluster is not None:
                cluster.close()


#: Seconds the handshake may run past ``--scheduler-timeout`` before it is
#: given up (Dask's own timeout should end it first).
_HANDSHAKE_GRACE = 2.0


def _unavailable(where, timeout, exc) -> QuantizeError:
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return SchedulerUnavailableError(
        None, f"Dask scheduler {where!r} did not answer within {timeout:g} s as a Dask scheduler "
              f"({type(exc).__name__}{': ' + detail if detail else ''}); is it running, and is "
              "the address right?")


def _ignore_sigint(dask_worker=None) -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ignore_sigint_plugin():
    """A worker plugin (for a ``local-dask`` cluster) whose workers ignore SIGINT."""
    from distributed import WorkerPlugin

    class IgnoreSigint(WorkerPlugin):
        idempotent = True

        def setup(self, worker):
            _ignore_sigint(worker)

    return IgnoreSigint()


def _threads(client) -> int:
    """Worker threads of the cluster (at least 1, while workers are joining)."""
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return 1


# --------------------------------------------------------------------------
# Worker side: plain functions, imported by name on the workers


def _absolute(paths, cwd):
    """``paths`` resolved against the client's working directory ``cwd`` (None stays None)."""
    return [p if p is None or os.path.isabs(p) else os.path.join(cwd, p) for p in paths]


def _unresolve(message, originals, resolved):
    """Error text naming the paths as the client gave them, as a local run does."""
    if message:
        for orig, full in zip(originals, resolved):
            if orig is not None and orig != full:
                message = message.replace(repr(full), repr(orig))
    return message


def _file_task(settings, task, cwd) -> dict:
    """One file of a batch on a Dask worker: ``task`` is (input, output, codebook_output),
    relative paths being relative to the client's working directory ``cwd``."""
    from .batch import _import_work_modules, _process_file

    _import_work_modules()
    paths = _absolute(task, cwd)
    payload = _process_file(settings, *paths)
    if payload.get("error"):
        payload["error"] = _unresolve(payload["error"], task, paths)
    return payload


def _files_task(settings, tasks, cwd, prefix="") -> list:
    """Several files of a batch, one after another: a list of :func:`_file_task` payloads.

    Stops early, with the payloads so far, once the client has stopped the
    batch ``prefix`` (first Ctrl-C): the files not started are then cancelled.
    """
    payloads = []
    for task in tasks:
        if prefix in _STOPPED:
            break
        payloads.append(_file_task(settings, task, cwd))
    return payloads


def _stop(prefix: str, dask_worker=None) -> None:
    """Tell this worker's tasks of batch ``prefix`` to start no further file."""
    _STOPPED.add(prefix)


def _files_per_task(n_files: int, threads: int) -> int:
    """How many files each task carries (see ``_MAX_FILES_PER_TASK``)."""
    env = os.environ.get(FILES_PER_TASK_ENV, "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(_MAX_FILES_PER_TASK, n_files // max(1, threads * _TASKS_PER_THREAD)))


def _executing(prefix: str, dask_worker=None) -> list:
    """Keys starting with ``prefix`` that a worker's threads are running now
    (cancelled ones included: Dask cannot stop a running thread)."""
    state = getattr(dask_worker, "state", None)
    return [ts.key for ts in getattr(state, "executing", ())
            if isinstance(ts.key, str) and ts.key.startswith(prefix)]


def _histogram_task(path: str, job, cwd) -> dict:
    """One image's histogram record on a Dask worker (:func:`quantize.run.palette.histogram_record`)."""
    from .palette import histogram_record

    [full] = _absolute([path], cwd)
    return histogram_record(full, job, shown=path)


# --------------------------------------------------------------------------
# Client side


class DaskBackend:
    """Runs a planned batch's files on a Dask cluster (the seam of :func:`run_batch`).

    Parameters
    ----------
    client : distributed.Client
        From :func:`connect`.
    """

    def __init__(self, client):
        self.client = client

    def executor(self, todo, items, settings, finish):
        """The executor of :func:`quantize.run.driver.drive` for these files."""
        return _DaskExecutor(self.client, todo, items, settings, finish)


class _DaskExecutor:
    """Submit files as tasks of a few paths; record each result as it completes.

    Each task carries a few files (:func:`_files_per_task`); at most ``4 x``
    the cluster's threads are in flight. On the first Ctrl-C the tasks not
    yet running are cancelled and the running ones told to start no further
    file; the files in progress are waited for and recorded, as the local
    pool does. After a second one they still finish their atomic writes on
    the workers, unrecorded, so a rerun redoes them. When a worker is lost
    on a task of several files, its files are tried again one per task, so
    that only the file that kills a worker fails.
    """

    def __init__(self, client, todo, items, settings, finish):
        from distributed import as_completed

        self.client, self.items, self.settings, self.finish = client, items, settings, finish
        threads = _threads(client)
        self.jobs = threads
        self.window = max(8, threads * _IN_FLIGHT_PER_THREAD)
        per_task = _files_per_task(len(todo), threads)
        self.queue = [todo[i:i + per_task] for i in range(0, len(todo), per_task)][::-1]
        self.cwd = os.getcwd()
        self.prefix = f"quantize-file-{os.urandom(6).hex()}-"
        self.inflight = {}  # future -> indices
        self.pending = as_completed()
        # Task keys, unique in the batch (a retried file gets a new one).
        self.serial = itertools.count()

    def fill(self) -> None:
        while self.queue and len(self.inflight) < self.window:
            indices = self.queue.pop()
            # The settings go with every task (a few hundred bytes): a task
            # needs nothing else, so a worker lost costs only its tasks.
            tasks = [(self.items[i].input, self.items[i].output, self.items[i].codebook_output)
                     for i in indices]
            fut = self.client.submit(_files_task, self.settings, tasks, self.cwd, self.prefix,
                                     pure=False, key=f"{self.prefix}{next(self.serial)}")
            self.inflight[fut] = indices
            self.pending.add(fut)

    def busy(self) -> bool:
        return bool(self.inflight)

    def wait(self):
        return next(self.pending)

    def settle(self, fut, interrupted: bool) -> None:
        indices = self.inflight.pop(fut)
        try:
            payloads = fut.result()
        except Exception as exc:  # the worker died, or quantize is missing there
            if interrupted and fut.cancelled():
                return  # left unsettled: reported as cancelled
            name = type(exc).__name__
            if name == "KilledWorker" and len(indices) > 1 and not interrupted:
                # One file may have killed the workers: each on its own.
                self.queue.extend([index] for index in reversed(indices))
                return
            what = ("a Dask worker died on this file (killed, out of memory or crashed)"
                    if name == "KilledWorker" else f"{name}: {exc}")
            payloads = [{"status": "failed", "exit_code": 70,
                         "error": f"{self.items[index].input!r}: internal error: {what}"}
                        for index in indices]
        # A stopped task returns fewer payloads: its other files stay
        # unsettled, reported as cancelled.
        for index, payload in zip(indices, payloads):
            self.finish(index, payload)

    def stop(self) -> int:
        from distributed import as_completed

        self.queue.clear()
        self.client.run(_stop, self.prefix)
        running = set()
        for keys in self.client.run(_executing, self.prefix).values():
            running.update(keys)
        cancel = [fut for fut in self.inflight if fut.key not in running]
        if cancel:
            self.client.cancel(cancel)
        for fut in cancel:
            del self.inflight[fut]
        self.pending = as_completed(list(self.inflight))
        return len(self.inflight)  # one file in progress each

    def finish_stop(self) -> None:
        # A task cancelled just as it started: wait for its atomic write.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
                self.client.run(_executing, self.prefix).values()):
            time.sleep(0.05)

    def abandon(self) -> None:
        pass  # stop waiting; close() cancels what is left

    def close(self) -> None:
        if self.inflight:
            try:
                self.client.cancel(list(self.inflight))
            except Exception:
                pass


def fit_shared_codebook_dask(client, paths, job):
    """:func:`quantize.run.palette.fit_shared_codebook` with the histograms built by Dask workers.

    Workers return each image's histogram record; the client merges them
    as they come (bounded memory, :func:`quantize.run.palette.fit_records`)
    and fits once. The merge is an exact, order-independent sum, so the
    result equals the local one, for every option; failures and warnings
    come back in input order, as locally.

    Returns
    -------
    SharedFit
    """
    from distributed import as_completed

    from .palette import fit_records

    cwd = os.getcwd()
    futures = {client.submit(_histogram_task, path, job, cwd, pure=False): i
               for i, path in enumerate(paths)}

    def records():
        for fut in as_completed(list(futures)):
            record = fut.result()
            fut.release()
            yield futures[fut], record

    try:
        return fit_records(records(), job)
    except BaseException:
        # Whatever stopped the merge or the fit (Ctrl-C, an error): no task
        # goes on for nothing.
        client.cancel(list(futures))
        raise
