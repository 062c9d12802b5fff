"""Lines to candidate hits (pure): parse, the request's policy, the user agent's class, the
digest. What needs the database (digests stored before, the tag's pageviews) comes after, in
store.py; the collector's enrich and prepare after that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ingest.classify.useragent import classify_user_agent
from ingest.collect.parse import EARLIEST_TS, MAX_CLOCK_AHEAD_MS, MAX_URL, MAX_USER_AGENT
from ingest.logs.digest import Digester
from ingest.logs.formats import Parse
from ingest.logs.hit import DUPLICATE, UNPARSEABLE, Hit
from ingest.logs.policy import class_skip, path_of, request_skip


@dataclass(slots=True)
class Candidate:
    """A hit that the policy keeps, until the database's checks."""

    line: int  # its number in the input, from 0
    hit: Hit
    url: str
    path: str
    digest: str


@dataclass(slots=True)
class Triage:
    candidates: list[Candidate] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    # Each skipped line's number and reason, when ?debug=1 asked for every line's fate.
    fates: list[tuple[int, str]] | None = None
    lines: int = 0


@dataclass(slots=True)
class Triager:
    """The settled parts of one import or request; `run` is called once per batch of lines."""

    parse: Parse
    domain: str  # the property's
    include_humans: bool
    now_ms: int
    explain: bool = False
    digester: Digester = field(default_factory=Digester)
    next_line: int = 0

    def run(self, lines: Iterable[str]) -> Triage:
        out = Triage(fates=[] if self.explain else None)
        parse, domain, include_humans = self.parse, self.domain, self.include_humans
        latest = self.now_ms + MAX_CLOCK_AHEAD_MS
        skipped, candidates, fates = out.skipped, out.candidates, out.fates
        number = self.next_line - 1
        for text in lines:
            number += 1
            line = text.rstrip("\r\n")
            if not line.strip():
                number -= 1  # blank lines (a trailing newline) are no lines
                continue
            hit = parse(line)
            reason: str | None
            if hit is None or isinstance(hit, str):
                reason = hit or UNPARSEABLE
            elif not EARLIEST_TS <= hit.ts <= latest:
                reason = UNPARSEABLE
            else:
                reason = request_skip(hit, domain)
                if reason is None:
                    user_agent = hit.user_agent
                    if user_agent is not None and len(user_agent) > MAX_USER_AGENT:
                        hit = hit._replace(user_agent=user_agent[:MAX_USER_AGENT])
                    if hit.referrer is not None and len(hit.referrer) > MAX_URL:
                        hit = hit._replace(referrer=None)  # cut, it would name another page
                    ua_class = classify_user_agent(hit.user_agent).ua_class
                    reason = class_skip(ua_class, include_humans)
                if reason is None:
                    url = f"https://{(hit.host or domain).lower()}{hit.target}"
                    if len(url) > MAX_URL:
                        reason = UNPARSEABLE
                    else:
                        if hit.identity is None:
                            digest = self.digester.line(line)
                        else:
                            digest, repeated = self.digester.identity(hit.identity)
                            if repeated:
                                reason = DUPLICATE
                        if reason is None:
                            candidates.append(
                                Candidate(number, hit, url, path_of(hit.target), digest)
                            )
                            continue
            skipped[reason] += 1
            if fates is not None:
                fates.append((number, reason))
        out.lines = number + 1 - self.next_line
        self.next_line = number + 1
        return out
