# Times process start-up for bench/startup: runs each command ROUNDS times, alternating
# between them so that both see the same machine drift, and prints one line per run:
#   run NAME ROUND MILLISECONDS PEAK_KB
# (wall time from spawn to exit, and the child's peak resident set from wait4's rusage).
# Usage: startup.py ROUNDS NAME=COMMAND... (each COMMAND a shell-free argument list,
# separated by the unit separator \x1f).
import os
import sys
import time


def run_once(argv):
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    ms = 1000 * (time.perf_counter() - t0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("startup.py: %s exited with %d" % (" ".join(argv), os.waitstatus_to_exitcode(status)))
    return ms, usage.ru_maxrss


def main():
    rounds = int(sys.argv[1])
    cmds = [(a.split("=", 1)[0], a.split("=", 1)[1].split("\x1f")) for a in sys.argv[2:]]
    for name, argv in cmds:  # warm the page cache: the first run reads the files from disk
        run_once(argv)
    for r in range(1, rounds + 1):
        for name, argv in cmds:
            ms, kb = run_once(argv)
            print("run %s %d %.3f %d" % (name, r, ms, kb))


if __name__ == "__main__":
    main()
