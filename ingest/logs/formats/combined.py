"""nginx's and Apache's `combined` access log (and `common`, which lacks the last two fields):

    203.0.113.7 - - [01/Dec/2026:10:00:00 +0000] "GET /pricing?x=1 HTTP/1.1" 200 512 "ref" "ua"

Anything after the user agent (nginx's extra variables) is ignored. The request line may be an
absolute URL (a proxy's log): its host is then the hit's.

A line is split at its quotes (a microsecond) rather than matched by a regular expression
(tens of them, for a browser's long user agent): only a line with an escaped quote inside a
field (Apache writes `\"`) takes the expression.
"""

from __future__ import annotations

import re

from ingest.logs.formats.times import clf_time
from ingest.logs.hit import Hit

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_LINE = re.compile(
    r"(\S+) \S+ \S+ \[([^\]]+)\] " + _QUOTED + r" (\d{3}) \S+(?: " + _QUOTED + " " + _QUOTED + ")?"
)


# A NamedTuple's own constructor is Python code, twenty times tuple's: built at C speed here
# (every field given, in order).
_new = tuple.__new__


def _hit(
    ip: str, when: str, request: str, status: str, referrer: str | None, user_agent: str | None
) -> Hit | None:
    ts = clf_time(when)
    parts = request.split(" ")
    if ts is None or len(parts) < 2 or len(parts) > 3:
        return None
    method, target = parts[0], parts[1]
    if not (method.isalpha() and method.isupper()):
        return None  # a TLS handshake or a scanner's bytes, logged as the "request"
    host = None
    if not target.startswith("/"):
        if not target.startswith(("http://", "https://")):
            return None  # `*` (OPTIONS), a CONNECT's authority: no page
        rest = target.split("://", 1)[1]
        host, slash, path = rest.partition("/")
        target = slash + path if slash else "/"
    if user_agent == "-" or user_agent == "":
        user_agent = None
    if referrer == "-" or referrer == "":
        referrer = None
    return _new(Hit, (ts, ip, method, host, target, int(status), user_agent, referrer, None))


def _by_expression(line: str) -> Hit | None:
    match = _LINE.match(line)
    if match is None:
        return None
    return _hit(*match.groups())


def parse(line: str) -> Hit | None:
    if '\\"' in line:
        return _by_expression(line)
    # combined: [prefix, request, " status size ", referrer, " ", user agent, rest]
    # common:   [prefix, request, " status size"]
    fields = line.split('"')
    count = len(fields)
    if count != 3 and (count < 6 or fields[4] != " "):
        return None
    prefix = fields[0]
    open_at = prefix.find(" [")
    close_at = prefix.find("] ", open_at)
    if open_at < 1 or close_at < 0 or prefix.count(" ", 0, open_at) != 2:
        return None
    numbers = fields[2].split()
    if len(numbers) != 2 or len(numbers[0]) != 3 or not numbers[0].isdigit():
        return None
    ip = prefix[: prefix.find(" ")]
    when = prefix[open_at + 2 : close_at]
    if count == 3:
        return _hit(ip, when, fields[1], numbers[0], None, None)
    return _hit(ip, when, fields[1], numbers[0], fields[3], fields[5])


def user_agent_of(line: str) -> str | None:
    """The line's user agent alone, when plainly there (no escaped quote, the combined
    shape), else None: for skipping a person's line without reading the rest of it."""
    if '\\"' in line:
        return None
    fields = line.split('"', 6)
    if len(fields) < 6 or fields[4] != " ":
        return None
    return fields[5]
