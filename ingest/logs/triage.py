"""Lines to candidate hits (pure): parse, the request's policy, the user agent's class, the
digest. What needs the database (digests stored before, the tag's pageviews) comes after, in
store.py; the collector's enrich and prepare after that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ingest.classify.useragent import UA_HUMAN, classify_user_agent
from ingest.collect.parse import EARLIEST_TS, MAX_CLOCK_AHEAD_MS, MAX_URL, MAX_USER_AGENT
from ingest.logs.digest import Digester
from ingest.logs.formats import Parse, Peek
from ingest.logs.hit import DUPLICATE, HUMAN, UNPARSEABLE, Hit
from ingest.logs.policy import class_skip, path_of, request_skip

CLASSES_KEPT = 10_000


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
    peek: Peek | None = None  # the format's user agent alone, when it has a quick way
    digester: Digester = field(default_factory=Digester)
    # Each user agent's class, by its text: a plain dict is a third of the lru_cache'd
    # classifier's cost per line, and a log repeats a few hundred user agents.
    classes: dict[str | None, str] = field(default_factory=dict)
    next_line: int = 0

    def run(self, lines: Iterable[str]) -> Triage:
        out = Triage(fates=[] if self.explain else None)
        skipped, candidates, fates = out.skipped, out.candidates, out.fates
        fate = self._fate
        # Most lines are people's: with their user agent's class known already, they are
        # counted here, without a call or a counter's update each (a quarter of the work).
        peek = self.peek if not self.include_humans else None
        class_of = self.classes.get
        humans = 0
        number = self.next_line - 1
        for text in lines:
            if not text or text.isspace():
                continue  # blank lines (a trailing newline) are no lines
            number += 1
            # The line's end (its newline) is past the user agent: peeked at as it is.
            if peek is not None and class_of(peek(text)) == UA_HUMAN:
                humans += 1
                if fates is not None:
                    fates.append((number, HUMAN))
                continue
            found = fate(text.rstrip("\r\n"), number)
            if type(found) is str:
                skipped[found] += 1
                if fates is not None:
                    fates.append((number, found))
            else:
                candidates.append(found)  # type: ignore[arg-type]
        if humans:
            skipped[HUMAN] += humans
        out.lines = number + 1 - self.next_line
        self.next_line = number + 1
        return out

    def _fate(self, line: str, number: int) -> Candidate | str:
        """The line's candidate, or why it is skipped (run() has skipped the people whose
        user agent it knew already)."""
        hit = self.parse(line)
        if hit is None or isinstance(hit, str):
            return hit or UNPARSEABLE
        if not EARLIEST_TS <= hit.ts <= self.now_ms + MAX_CLOCK_AHEAD_MS:
            return UNPARSEABLE
        user_agent = hit.user_agent
        if user_agent is not None and len(user_agent) > MAX_USER_AGENT:
            user_agent = user_agent[:MAX_USER_AGENT]
            hit = hit._replace(user_agent=user_agent)
        ua_class = self.classes.get(user_agent)
        if ua_class is None:
            ua_class = classify_user_agent(user_agent).ua_class
            if len(self.classes) >= CLASSES_KEPT:
                self.classes.clear()
            self.classes[user_agent] = ua_class
        reason = class_skip(ua_class, self.include_humans) or request_skip(hit, self.domain)
        if reason is not None:
            return reason
        if hit.referrer is not None and len(hit.referrer) > MAX_URL:
            hit = hit._replace(referrer=None)  # cut, it would name another page
        url = f"https://{(hit.host or self.domain).lower()}{hit.target}"
        if len(url) > MAX_URL:
            return UNPARSEABLE
        if hit.identity is None:
            digest = self.digester.line(line)
        else:
            digest, repeated = self.digester.identity(hit.identity)
            if repeated:
                return DUPLICATE
        return Candidate(number, hit, url, path_of(hit.target), digest)
