"""The table of realworld/run: each test's outcome under CPython's ctypes, the sandbox and
the native backend, from `python -m unittest -v` logs.

    table.py PLATFORM ctypes.log wasm.log native.log   prints the table; exit 1 on a difference
    table.py --ids PLATFORM DIR                          prints the test ids in DIR, but those
                                                         named in PLATFORM
"""

import re
import sys
import unittest

LINE = re.compile(r"^(\w+) \(([\w.]+)\)(.*)$")
WORDS = {"ok": "ok", "skipped": "skipped", "FAIL": "FAIL", "ERROR": "ERROR",
         "expected": "xfail", "unexpected": "xpass"}


def platform(path):
    named = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                test, _, why = line.rstrip("\n").partition("\t")
                named[test] = why
    return named


def outcomes(path):
    """{test id: ok | skipped | FAIL | ERROR} and the run's last line."""
    found = {}
    last = "no result"
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    pending = None
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            name, where, rest = m.groups()
            pending = where if where.endswith("." + name) else where + "." + name
            line = rest
        # The result follows " ... ", on the test's line or, after a docstring, the next.
        if pending is not None and " ... " in " " + line:
            words = line.rsplit("... ", 1)[1].split()
            word = words[0] if words else "?"
            found[pending] = WORDS.get(word, word)
            pending = None
    for line in text.splitlines():
        if line.startswith("Ran ") or line.startswith("OK") or line.startswith("FAILED"):
            last = line if not line.startswith("Ran ") else last
            if line.startswith("Ran "):
                ran = line
    return found, (locals().get("ran", "no tests ran") + ", " + last)


def table(platform_path, logs):
    named = platform(platform_path)
    columns = [outcomes(p) for p in logs]
    labels = ["CPython ctypes", "wasmctypes.wasm", "wasmctypes.native"]
    tests = sorted(set().union(*(c[0] for c in columns)))
    differ = []
    explained = []
    for t in tests:
        got = [c[0].get(t, "missing") for c in columns]
        if len(set(got)) == 1:
            continue
        if t in named and got[0] == "ok" and got[2] == "ok" and got[1] == "skipped":
            explained.append((t, got))
        else:
            differ.append((t, got))
    print("libnacl 2.1.0 unit tests on libsodium 1.0.20")
    print("%-20s %-8s %-8s %-8s %-8s %-8s  %s" % ("", "tests", "ok", "skipped", "failed", "errors", "run"))
    for label, (found, summary) in zip(labels, columns):
        vals = list(found.values())
        print("%-20s %-8d %-8d %-8d %-8d %-8d  %s" % (
            label, len(vals), vals.count("ok"), vals.count("skipped"), vals.count("FAIL"),
            vals.count("ERROR"), summary))
    for t, got in explained:
        print("platform: %s: %s (%s)" % (t, " / ".join(got), named[t]))
    for t, got in differ:
        print("DIFFERS: %s: %s" % (t, " / ".join(got)))
    same = not differ and all(len(c[0]) > 0 for c in columns)
    print("verdict: %s" % ("the three columns agree" if same else "the columns differ"))
    return 0 if same else 1


def ids(platform_path, directory):
    named = platform(platform_path)
    suite = unittest.defaultTestLoader.discover(directory, top_level_dir=directory)

    def walk(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from walk(t)
            else:
                yield t.id()

    for t in sorted(walk(suite)):
        if t not in named:
            print(t)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--ids":
        sys.exit(ids(sys.argv[2], sys.argv[3]))
    sys.exit(table(sys.argv[2 - 1], sys.argv[2:5]))
