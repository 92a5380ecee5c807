#!/usr/bin/python3
"""Checks what tests/tools/loki_capture.py recorded during a SIGKILL loop of a log source.

  log_crash_check.py --out CAPTURED.jsonl --seq-re REGEX [--want W] [--key-from-labels]
                     [--proc-label proc] [--wait SECONDS] [--name NAME]

Each captured line's text must match REGEX, whose group `seq` numbers it and optional group `key`
names its writer (e.g. a container). A stream is the Loki label set (without the
process label, below) plus that key.
- order: within a stream, every entry seen for the first time has a larger seq than any before it (a
  resend after a crash repeats old entries: those are duplicates, not disorder);
- duplicates only across a crash: the loop gives every agent process its own loki.write
  `external_labels = { proc = "<n>" }` (added at send time, not stored in the WAL), so the receiver
  knows which process sent each copy. One process may send an entry twice, but only because of the
  crash before it: recovery keeps complete frames the killed process wrote past the WAL's high-water
  mark (wal/wal.h: cutting them could lose data), and the source, whose position was not committed
  with them, reads the same lines again. So a third copy from one process fails, and the number of
  entries a process sent twice is reported;
- completeness (with --want): W lists "key<TAB>seq" lines that must all arrive (key is the label set
  with --key-from-labels, so the labels are checked too). Polls OUT up to --wait seconds for them.
Prints one summary line; exit 1 on any lost, disordered or same-process duplicate entry.
"""
import argparse
import json
import re
import sys
import time


def scan(out, seq_re, key_from_labels, proc_re):
    first, last, errors, copies = {}, {}, [], {}
    dups = same = 0
    for pos, raw in enumerate(open(out), 1):
        e = json.loads(raw)
        m = seq_re.search(e["line"])
        if not m:
            errors.append("unexpected line %r" % e["line"][:80])
            continue
        seq = int(m.group("seq"))
        p = proc_re.search(e["labels"])
        if not p:
            errors.append("no process label in %s" % e["labels"])
            continue
        epoch = p.group(2)
        labels = e["labels"][:p.start()] + e["labels"][p.end():]
        key = labels if key_from_labels else (m.group("key") if "key" in seq_re.groupindex else "")
        stream = (labels, key)
        n = copies[(key, seq, epoch)] = copies.get((key, seq, epoch), 0) + 1
        if n == 2:
            same += 1
        elif n > 2:
            errors.append("%s seq %d %d times from process %s (line %d)" % (key, seq, n, epoch, pos))
        if (key, seq) in first:
            dups += 1
            continue
        first[(key, seq)] = epoch
        if seq <= last.get(stream, -1):
            errors.append("%s %s: seq %d after %d" % (labels, key, seq, last[stream]))
        last[stream] = max(seq, last.get(stream, -1))
    return first, dups, same, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--proc-label", default="proc")
    ap.add_argument("--seq-re", required=True)
    ap.add_argument("--want")
    ap.add_argument("--key-from-labels", action="store_true")
    ap.add_argument("--wait", type=float, default=0)
    ap.add_argument("--name", default="log crash")
    a = ap.parse_args()
    seq_re = re.compile(a.seq_re)
    # '{a="b", proc="3", z="y"}': the label and one separator next to it
    proc_re = re.compile(r'(, )?%s="([^"]*)"(?(1)|(, )?)' % re.escape(a.proc_label))
    want = set()
    if a.want:
        for line in open(a.want):
            key, seq = line.rstrip("\n").rsplit("\t", 1)
            want.add((key, int(seq)))
    deadline = time.time() + a.wait
    while True:
        first, dups, same, errors = scan(a.out, seq_re, a.key_from_labels, proc_re)
        missing = want - set(first)
        if not missing or time.time() >= deadline:
            break
        time.sleep(0.3)
    disorder = sum(1 for x in errors if " after " in x)
    procs = len({e for e in first.values()})
    print("%s: %d agent processes delivered, %d distinct entries arrived%s, lost: %d, duplicates: %d (twice from one process, after its recovery: %d), "
          "out of order: %d" % (a.name, procs, len(first), " of %d wanted" % len(want) if want else "",
                                len(missing), dups, same, disorder))
    for k, s in sorted(missing)[:5]:
        print("  missing %s seq %d" % (k, s))
    for x in errors[:10]:
        print("  " + x)
    sys.exit(1 if missing or errors else 0)


if __name__ == "__main__":
    main()
