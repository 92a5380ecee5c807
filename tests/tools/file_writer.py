#!/usr/bin/python3
"""An application writing plain log files for the loki.source.file SIGKILL loop.

  file_writer.py --dir D --files 6 --stop STOPFILE --want WANT [--sleep 0.01] [--seed 1]

Appends lines "f<k> seq=<n> <padding>" to D/f<k>.log (seq counts per file) until STOPFILE exists, and
now and then rotates a file the way logrotate's default does (rename to f<k>.log.<NNNNNN>, numbered so
names sort oldest first, then a new f<k>.log), so rotations also happen while the agent is dead.
Then writes WANT: one "f<k><TAB><seq>" line per line written (tests/tools/log_crash_check.py --want).
"""
import argparse
import os
import random
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--files", type=int, default=6)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--want", required=True)
    ap.add_argument("--sleep", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    seqs = [0] * a.files
    rotations = 0
    while not os.path.exists(a.stop):
        k = rnd.randrange(a.files)
        path = os.path.join(a.dir, "f%d.log" % k)
        with open(path, "a") as f:
            for _ in range(rnd.randint(1, 5)):
                f.write("f%d seq=%d %s\n" % (k, seqs[k], "x" * rnd.choice([0, 10, 100, 500])))
                seqs[k] += 1
        if rnd.random() < 0.01:
            rotations += 1
            os.rename(path, "%s.%06d" % (path, rotations))
            open(path, "a").close()
        time.sleep(a.sleep)
    with open(a.want, "w") as f:
        for k in range(a.files):
            for s in range(seqs[k]):
                f.write("f%d\t%d\n" % (k, s))
    print("file_writer: %d lines in %d files, %d rotations" % (sum(seqs), a.files, rotations))


if __name__ == "__main__":
    main()
