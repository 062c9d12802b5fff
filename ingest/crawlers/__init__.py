"""Crawler identity: who a hit that claims a known crawler really is.

A user agent that says "GPTBot" may be anyone. A claim is checked against the operator's
published IP ranges and, for forwarded hits that carry one, the HTTP message signature of
Web Bot Auth; `events.crawler_verified` records the outcome, never the address itself.
"""
