"""Exec shim that ties a child to the rehearsal's life: `python -I -S tether.py PARENT_PID -- CMD ARGS...`.

It asks Linux to SIGKILL this process when its parent dies (`prctl(PR_SET_PDEATHSIG, SIGKILL)`),
checks that the parent is still `PARENT_PID` (it may have died before the prctl), then replaces
itself with CMD: the setting survives `execve`, so HAProxy and the app instances die with the
rehearsal even when it is SIGKILLed and no `finally` runs. Same pid, same fds, same environment.

Standard library only, run in isolated mode: it must start fast and without the project on its path.
Used through `lifetime.tethered()`, which only adds it on Linux. Exit 70 when it cannot tether.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
EXIT_CANNOT_TETHER = 70


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        print("usage: tether.py PARENT_PID -- CMD [ARGS...]", file=sys.stderr)
        return EXIT_CANNOT_TETHER
    parent, command = int(argv[0]), argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        print(f"tether: prctl failed: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return EXIT_CANNOT_TETHER
    if os.getppid() != parent:  # the parent died before the prctl: nobody would stop CMD
        return EXIT_CANNOT_TETHER
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"tether: cannot run {command[0]}: {exc.strerror or exc}", file=sys.stderr)
    return EXIT_CANNOT_TETHER


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
