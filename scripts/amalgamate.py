#!/usr/bin/env python3
"""Builds include/heygen/video_translation.hpp, the one header users include, from the parts in include/heygen/vt/.

Deterministic: the same parts and VERSION give the same bytes. Each part's first line (`// Title: what it holds`)
becomes its entry in the table of contents and its section banner; its `#include "heygen/vt/..."` lines and
`#pragma once` are dropped, and its unconditional standard and third-party includes are gathered, once each, at the
top. `--check` writes nothing and exits 1 when the committed header differs from what the parts make.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PARTS_DIR = ROOT / "include" / "heygen" / "vt"
OUTPUT = ROOT / "include" / "heygen" / "video_translation.hpp"

# Dependency order: each part uses only parts before it.
PARTS = [
    "version", "config", "result", "clock", "detail", "http", "log", "profile", "policies", "json", "journal",
    "journal_sqlite", "options", "url", "proxy", "protocol", "tracker_scan", "tracker_protocol", "heygen_v3_wire",
    "heygen_v3_protocol", "heygen_v3_assets", "webhook", "callbacks", "sender", "files", "downloads", "uploads",
    "job_poller", "status_looks", "schedule", "waits", "rounds", "workers", "poller", "asset_ingest",
    "webhook_endpoints", "client_files", "bulk_collector", "client_core", "client_webhooks", "client_journal",
    "client", "request_watchdog", "proxy_tunnel", "transport_httplib", "webhook_receiver",
]

BANNER = "// " + "-" * 117
LOCAL_INCLUDE = re.compile(r'^#include "heygen/vt/[a-z0-9_]+\.hpp"$')
SYSTEM_INCLUDE = re.compile(r"^#include <([^>]+)>$")


def version_fields():
    text = (ROOT / "VERSION").read_text().strip()
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        sys.exit(f"VERSION must be MAJOR.MINOR.PATCH, not {text!r}")
    major, minor, patch = match.groups()
    return {"VERSION_FROM_FILE": text, "MAJOR_FROM_FILE": major, "MINOR_FROM_FILE": minor, "PATCH_FROM_FILE": patch}


def read_part(name, fields):
    """The part's title line and its body: local includes, #pragma once and hoistable includes removed."""
    lines = (PARTS_DIR / f"{name}.hpp").read_text().split("\n")
    title = lines[0].removeprefix("// ").strip()
    body, hoisted, depth = [], [], 0
    for line in lines[1:]:
        for key, value in fields.items():
            line = line.replace(key, value)
        if line.startswith("#if"):
            depth += 1
        elif line.startswith("#endif"):
            depth -= 1
        if line == "#pragma once" or LOCAL_INCLUDE.match(line):
            continue
        include = SYSTEM_INCLUDE.match(line)
        if include and depth == 0:
            hoisted.append(include.group(1))
            continue
        body.append(line)
    return title, "\n".join(body), hoisted


def tidy(body):
    """Collapses the blank runs left where includes were removed, and trims the ends."""
    body = re.sub(r"\n{3,}", "\n\n", body)
    return body.strip("\n")


def join_namespaces(text):
    """Merges `}  // namespace heygen` followed by `namespace heygen {`, so the parts share one namespace block."""
    banner = re.escape(BANNER)
    return re.sub(r"\n+\}  // namespace heygen\n+(" + banner + r"\n[^\n]*\n" + banner + r"\n)\n+namespace heygen \{\n+",
                  r"\n\n\1\n", text)


def build():
    fields = version_fields()
    sections, standard, third_party = [], set(), set()
    for number, name in enumerate(PARTS, start=1):
        title, body, hoisted = read_part(name, fields)
        for header in hoisted:
            (standard if "." not in header else third_party).add(header)
        sections.append((number, name, title, tidy(body)))
    toc = [f"//  {number:2}. {name + '.hpp':23} {title}" for number, name, title, _ in sections]
    for line in toc:
        if len(line) > 120:
            sys.exit(f"a part's first line is too long for the table of contents: {line!r}")
    out = [
        "// HeyGen video-translation client for C++ - one header, generated: do not edit.",
        "//",
        "// Creates video-translation jobs and tells the caller, as early and as cheaply as possible, when each job",
        "// completed or failed and where its result is. Written as parts in include/heygen/vt/ (edit those) and",
        "// joined into this file by scripts/amalgamate.py. Read top to bottom:",
        *toc,
        "//",
        "// SPDX-License-Identifier: MIT",
        "#pragma once",
        "",
        *[f"#include <{h}>" for h in sorted(standard)],
        "",
        *[f"#include <{h}>" for h in sorted(third_party)],
    ]
    for number, name, title, body in sections:
        out += ["", BANNER, f"// {number}. {title}", BANNER, "", body]
    return join_namespaces("\n".join(out) + "\n")


def main():
    text = build()
    if "--check" in sys.argv[1:]:
        if OUTPUT.read_text() != text:
            print(f"{OUTPUT.relative_to(ROOT)} differs from what scripts/amalgamate.py makes of the parts: "
                  "run it and commit the result")
            return 1
        return 0
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
