"""Run one command; print its wall time, peak RSS and exit status as JSON.

Usage: ``python -I -S _launch.py TIMEOUT COMMAND [ARG...]`` (TIMEOUT in
seconds, 0 for none). The command's standard input and output are
/dev/null; its standard error is this process's.

Why a separate launcher: on Linux, ``exec`` folds the high-water RSS of the
address space being replaced into the process's ``ru_maxrss``. A child forked
straight from the benchmark harness, which holds decoded images and
numpy/cv2/sklearn, would report at least the harness's own peak RSS,
whatever it really used. Started through this small interpreter (no site,
stdlib only), a child's ``ru_maxrss`` is its own peak, with a floor of this
launcher's resident size (about 10 MB; the report measures it with
``/bin/true``).

Only the standard library, and nothing imported that is not needed.
"""

import json
import os
import signal
import sys
import time


def main() -> None:
    timeout, argv = float(sys.argv[1]), sys.argv[2:]
    devnull = os.open(os.devnull, os.O_RDWR)
    state = {"reaped": False, "timed_out": False}

    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: quiet stdin/stdout, then become the command
        try:
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.execvp(argv[0], argv)
        except BaseException as exc:  # noqa: BLE001 - report anything, then exit 127
            os.write(2, f"cannot run {argv[0]!r}: {exc}\n".encode())
        os._exit(127)

    def on_alarm(signum, frame):
        if not state["reaped"]:
            state["timed_out"] = True
            os.kill(pid, signal.SIGKILL)

    if timeout > 0:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    _, status, usage = os.wait4(pid, 0)  # retried after the alarm handler (PEP 475)
    state["reaped"] = True
    seconds = time.perf_counter() - start
    signal.setitimer(signal.ITIMER_REAL, 0)

    json.dump({
        "seconds": seconds,
        "maxrss_kb": usage.ru_maxrss,  # kilobytes on Linux
        "returncode": os.waitstatus_to_exitcode(status),
        "timed_out": state["timed_out"],
    }, sys.stdout)


if __name__ == "__main__":
    main()
