"""nginx's and Apache's `combined` access log (and `common`, which lacks the last two fields):

    203.0.113.7 - - [01/Dec/2026:10:00:00 +0000] "GET /pricing?x=1 HTTP/1.1" 200 512 "ref" "ua"

Anything after the user agent (nginx's extra variables) is ignored. The request line may be an
absolute URL (a proxy's log): its host is then the hit's.
"""

from __future__ import annotations

import re

from ingest.logs.formats.times import clf_time
from ingest.logs.hit import Hit

_LINE = re.compile(
    r'(\S+) \S+ \S+ \[([^\]]+)\] "([A-Z]+) (\S+)(?: [^"]*)?" (\d{3}) \S+'
    r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?'
)


def _dash(value: str | None) -> str | None:
    return None if value is None or value == "-" or value == "" else value


def parse(line: str) -> Hit | None:
    match = _LINE.match(line)
    if match is None:
        return None
    ip, when, method, target, status, referrer, user_agent = match.groups()
    ts = clf_time(when)
    if ts is None:
        return None
    host = None
    if not target.startswith("/"):
        if not target.startswith(("http://", "https://")):
            return None  # `*` (OPTIONS), a CONNECT's authority: no page
        rest = target.split("://", 1)[1]
        host, slash, path = rest.partition("/")
        target = slash + path if slash else "/"
    return Hit(ts, ip, method, host, target, int(status), _dash(user_agent), _dash(referrer))
