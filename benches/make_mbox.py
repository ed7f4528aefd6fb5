#!/usr/bin/env python3
"""Writes an mbox of corpus messages with unique Message-IDs, for ingest benchmarks.

usage: make_mbox.py CORPUS_DIR OUT.mbox (--count N | --bytes B)

Messages are taken from CORPUS_DIR/INDEX.tsv round-robin; each copy gets a
fresh Message-ID (the original one is replaced, or one is added), so that
every message is new to Tusk. Lines starting with "From " are quoted
(mboxrd), as an MTA would write them.
"""
import re
import sys

def main():
    corpus, out = sys.argv[1], sys.argv[2]
    count = limit_bytes = None
    if sys.argv[3] == "--count":
        count = int(sys.argv[4])
    else:
        limit_bytes = int(sys.argv[4])
    paths = [l.split("\t")[0] for l in open(f"{corpus}/INDEX.tsv", encoding="utf-8").read().splitlines()[1:]]
    msgs = []
    for p in paths:
        raw = open(f"{corpus}/{p}", "rb").read().replace(b"\r\n", b"\n")
        if raw.startswith(b"From "):
            raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
        head, sep, body = raw.partition(b"\n\n")
        if not sep:
            continue
        head = re.sub(rb"(?im)^message-id:.*(\n[ \t].*)*\n?", b"", head + b"\n").rstrip(b"\n")
        msgs.append((head, body))
    written = n = 0
    with open(out, "wb") as f:
        while (count is None or n < count) and (limit_bytes is None or written < limit_bytes):
            head, body = msgs[n % len(msgs)]
            body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
            chunk = b"From bench@example.org Thu Nov 26 09:00:00 2026\n" + head + \
                f"\nMessage-ID: <bench-{n}@bench.tusk.example>\n\n".encode() + body.rstrip(b"\n") + b"\n\n"
            f.write(chunk)
            written += len(chunk)
            n += 1
    print(f"{n} messages, {written} bytes -> {out}")

if __name__ == "__main__":
    main()
