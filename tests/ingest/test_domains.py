"""Table-driven tests for the domain policy (runbook step 2.1)."""

import pytest

from ingest.domains import (
    MAX_LABEL,
    MAX_NAME,
    DomainError,
    normalize_host,
    origin_host,
    project_domain,
    property_domain,
    registrable_domain,
)

LONGEST_LABEL = "a" * MAX_LABEL
# Exactly MAX_NAME characters: three full labels, one of 57, and ".com".
LONGEST_NAME = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"])
LONGEST_NAME_APEX = "d" * 57 + ".com"

PROJECT_ACCEPTED = [
    pytest.param("example.com", "example.com", id="plain"),
    pytest.param("Example.COM", "example.com", id="upper-case"),
    pytest.param("www.example.com", "example.com", id="www"),
    pytest.param("https://www.Example.com:8443/path?q=1#x", "example.com", id="full-url"),
    pytest.param("HTTP://EXAMPLE.COM", "example.com", id="upper-case-scheme"),
    pytest.param("//example.com/path", "example.com", id="scheme-relative"),
    pytest.param("https://user:secret@example.com/", "example.com", id="userinfo"),
    pytest.param("example.com:8080", "example.com", id="port-without-scheme"),
    pytest.param("example.com?utm=x", "example.com", id="query-without-path"),
    pytest.param("example.com#top", "example.com", id="fragment-without-path"),
    pytest.param("example.com.", "example.com", id="trailing-dot"),
    pytest.param(" example.com ", "example.com", id="spaces-trimmed"),
    pytest.param("\texample.com\n", "example.com", id="tab-newline-trimmed"),
    pytest.param("blog.example.com", "example.com", id="subdomain-to-apex"),
    pytest.param("a.b.c.example.com", "example.com", id="deep-subdomain-to-apex"),
    pytest.param("shop.example.co.uk", "example.co.uk", id="two-level-suffix"),
    pytest.param("user.github.io", "user.github.io", id="private-suffix-kept"),
    pytest.param("www.user.github.io", "user.github.io", id="private-suffix-www"),
    pytest.param("bücher.de", "xn--bcher-kva.de", id="idn-to-punycode"),
    pytest.param("https://www.BÜCHER.de/", "xn--bcher-kva.de", id="idn-url-upper-case"),
    pytest.param("xn--bcher-kva.de", "xn--bcher-kva.de", id="punycode-kept"),
    pytest.param("my-site.com", "my-site.com", id="inner-hyphen"),
    pytest.param("123.example.com", "example.com", id="numeric-label-not-tld"),
    pytest.param("www.com", "www.com", id="www-is-the-domain"),
    pytest.param(f"{LONGEST_LABEL}.com", f"{LONGEST_LABEL}.com", id="label-at-limit"),
    pytest.param(LONGEST_NAME, LONGEST_NAME_APEX, id="name-at-limit"),
    pytest.param(LONGEST_NAME + ".", LONGEST_NAME_APEX, id="name-at-limit-trailing-dot"),
]

# (input, fragment of the reason). Each fragment names one kind of mistake.
REJECTED = [
    pytest.param("", "No domain given", id="empty"),
    pytest.param("   ", "No domain given", id="only-spaces"),
    pytest.param("https://", "No domain given", id="scheme-only"),
    pytest.param("localhost", "is a localhost name", id="localhost"),
    pytest.param("http://localhost:3000", "is a localhost name", id="localhost-url"),
    pytest.param("app.localhost", "is a localhost name", id="sub-localhost"),
    pytest.param("127.0.0.1", "is an IPv4 address", id="ipv4"),
    pytest.param("127.0.0.1:8080", "is an IPv4 address", id="ipv4-port"),
    pytest.param("http://10.0.0.1/", "is an IPv4 address", id="ipv4-url"),
    pytest.param("::1", "is an IPv6 address", id="ipv6"),
    pytest.param("[2001:db8::1]", "is an IPv6 address", id="ipv6-brackets"),
    pytest.param("http://[::1]:8080/", "is an IPv6 address", id="ipv6-url"),
    pytest.param("a..com", "has an empty label", id="double-dot"),
    pytest.param(".example.com", "has an empty label", id="leading-dot"),
    pytest.param("example.com..", "has an empty label", id="two-trailing-dots"),
    pytest.param("a" * 64 + ".com", "a label may have at most 63", id="label-too-long"),
    pytest.param("e." + LONGEST_NAME, "over the 253 allowed", id="name-too-long"),
    pytest.param("exa_mple.com", "contains '_'; use only letters", id="underscore"),
    pytest.param("exa mple.com", "contains ' '; use only letters", id="inner-space"),
    pytest.param("*.example.com", "contains '*'; use only letters", id="wildcard"),
    pytest.param("a:b:c", "contains ':'; use only letters", id="colons-not-ipv6"),
    pytest.param("-example.com", "starting or ending with '-'", id="leading-hyphen"),
    pytest.param("example-.com", "starting or ending with '-'", id="trailing-hyphen"),
    pytest.param("example.123", "ends in all-numeric '123'", id="numeric-tld"),
    pytest.param("127.1", "ends in all-numeric '1'", id="short-ipv4-form"),
    pytest.param("example", "has no dot", id="single-label"),
    pytest.param("com", "is a public suffix", id="bare-tld"),
    pytest.param("co.uk", "is a public suffix", id="bare-two-level-suffix"),
    pytest.param("github.io", "is a public suffix", id="bare-private-suffix"),
    pytest.param("www.co.uk", "is a public suffix", id="www-of-public-suffix"),
    pytest.param("example.local", "no known public top-level domain", id="local-tld"),
    pytest.param("foo.internal", "no known public top-level domain", id="internal-tld"),
    pytest.param("shop.example.invalidtld", "no known public top-level domain", id="unknown-tld"),
    pytest.param("ftp://example.com", "uses the ftp: scheme", id="non-web-scheme"),
    pytest.param("example.com:abc", "has an invalid port 'abc'", id="bad-port"),
    pytest.param("aא.com", "cannot be converted to punycode", id="idn-mixed-direction"),
    pytest.param("ü" * 64 + ".de", "cannot be converted to punycode", id="idn-too-long"),
]

# One fragment per kind of mistake, to check that the reasons do not overlap.
REASON_FRAGMENTS = sorted({str(param.values[1]) for param in REJECTED})


@pytest.mark.parametrize(("raw", "expected"), PROJECT_ACCEPTED)
def test_project_domain_accepts(raw: str, expected: str) -> None:
    assert project_domain(raw) == expected


@pytest.mark.parametrize(("raw", "fragment"), REJECTED)
def test_project_domain_rejects_with_reason(raw: str, fragment: str) -> None:
    with pytest.raises(DomainError) as caught:
        project_domain(raw)
    reason = str(caught.value)
    assert fragment in reason
    assert caught.value.reason == reason
    # No other kind of mistake is named, so each reason says one thing.
    assert [f for f in REASON_FRAGMENTS if f in reason] == [fragment]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("https://www.Example.com:8443/path?q=1#x", "example.com", id="full-url"),
        pytest.param("Blog.Example.com", "blog.example.com", id="keeps-subdomain"),
        pytest.param("www.www.example.com", "www.example.com", id="strips-one-www"),
        pytest.param("example.local", "example.local", id="no-registrable-needed"),
        pytest.param("co.uk", "co.uk", id="bare-suffix-with-dot-allowed"),
        pytest.param("shop.bücher.de.", "shop.xn--bcher-kva.de", id="idn-trailing-dot"),
    ],
)
def test_normalize_host(raw: str, expected: str) -> None:
    assert normalize_host(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param("localhost", "is a localhost name", id="localhost"),
        pytest.param("[::1]", "is an IPv6 address", id="ipv6"),
        pytest.param("a..com", "has an empty label", id="empty-label"),
        pytest.param("com", "is a public suffix", id="bare-tld"),
    ],
)
def test_normalize_host_rejects(raw: str, fragment: str) -> None:
    with pytest.raises(DomainError, match=fragment):
        normalize_host(raw)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        pytest.param("blog.example.com", "example.com", id="subdomain"),
        pytest.param("example.co.uk", "example.co.uk", id="apex-two-level"),
        pytest.param("a.user.github.io", "user.github.io", id="private-suffix"),
        pytest.param("com", None, id="bare-tld"),
        pytest.param("github.io", None, id="bare-private-suffix"),
        pytest.param("example.local", None, id="unknown-tld"),
    ],
)
def test_registrable_domain(host: str, expected: str | None) -> None:
    assert registrable_domain(host) == expected


@pytest.mark.parametrize(
    ("raw", "apex", "expected"),
    [
        pytest.param("example.com", "example.com", "example.com", id="apex"),
        pytest.param("www.example.com", "example.com", "example.com", id="www-is-apex"),
        pytest.param("shop.example.com", "example.com", "shop.example.com", id="exact-host"),
        pytest.param(
            "https://www.Shop.Example.com:443/cart",
            "example.com",
            "shop.example.com",
            id="www-stripped-host-from-url",
        ),
        pytest.param("shop.example.co.uk", "example.co.uk", "shop.example.co.uk", id="co-uk"),
        pytest.param("blog.user.github.io", "user.github.io", "blog.user.github.io", id="github"),
        pytest.param("shop.bücher.de", "xn--bcher-kva.de", "shop.xn--bcher-kva.de", id="idn"),
        pytest.param("shop.example.com", "Example.COM.", "shop.example.com", id="apex-normalized"),
    ],
)
def test_property_domain_accepts(raw: str, apex: str, expected: str) -> None:
    assert property_domain(raw, apex) == expected


@pytest.mark.parametrize(
    ("raw", "apex", "fragment"),
    [
        pytest.param("other.com", "example.com", "not within the project's domain", id="foreign"),
        pytest.param(
            "evil-example.com", "example.com", "not within the project's domain", id="look-alike"
        ),
        pytest.param(
            "example.com.evil.net",
            "example.com",
            "not within the project's domain example.com",
            id="apex-as-subdomain",
        ),
        pytest.param(
            "example.co.uk", "example.com", "not within the project's domain", id="other-suffix"
        ),
        pytest.param(
            "other.github.io",
            "user.github.io",
            "not within the project's domain",
            id="sibling-on-private-suffix",
        ),
        pytest.param("localhost", "example.com", "is a localhost name", id="localhost"),
        pytest.param("10.0.0.1", "example.com", "is an IPv4 address", id="ipv4"),
        pytest.param("co.uk", "example.co.uk", "is a public suffix", id="bare-suffix"),
        pytest.param("shop.example.local", "example.com", "no known public", id="unknown-tld"),
    ],
)
def test_property_domain_rejects(raw: str, apex: str, fragment: str) -> None:
    with pytest.raises(DomainError) as caught:
        property_domain(raw, apex)
    assert fragment in caught.value.reason


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        pytest.param("https://example.com", "example.com", id="apex"),
        pytest.param("https://www.example.com", "example.com", id="www"),
        pytest.param("https://www.Shop.Example.com:8443", "shop.example.com", id="www-port-case"),
        pytest.param("http://example.com", "example.com", id="http"),
        pytest.param("http://example.com:8080", "example.com", id="http-port"),
        pytest.param("HTTPS://EXAMPLE.COM", "example.com", id="upper-case"),
        pytest.param("https://example.com:65535", "example.com", id="highest-port"),
        pytest.param("https://example.com:1", "example.com", id="lowest-port"),
        pytest.param("https://example.com.", None, id="trailing-dot"),
        pytest.param("https://example.com.:443", None, id="trailing-dot-port"),
        pytest.param("https://example.com:0", None, id="port-zero"),
        pytest.param("https://example.com:65536", None, id="port-above-65535"),
        pytest.param("https://example.com:99999", None, id="port-99999"),
        pytest.param("https://example.com:0443", None, id="port-leading-zero"),
        pytest.param("https://example.com:", None, id="port-empty"),
        pytest.param("https://example.com:-1", None, id="port-negative"),
        pytest.param("https://example.com:\u0661", None, id="port-arabic-digit"),
        pytest.param("https://example.com.evil.net", "example.com.evil.net", id="look-alike-kept"),
        pytest.param("https://www.com", "www.com", id="www-is-the-domain"),
        pytest.param("https://xn--bcher-kva.de", "xn--bcher-kva.de", id="punycode"),
        pytest.param("null", None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param("   ", None, id="blank"),
        pytest.param("garbage", None, id="garbage"),
        pytest.param("example.com", None, id="no-scheme"),
        pytest.param("ftp://example.com", None, id="ftp"),
        pytest.param("https://", None, id="no-host"),
        pytest.param("https://example.com/", None, id="path"),
        pytest.param("https://user@example.com", None, id="userinfo"),
        pytest.param("https://example.com:port", None, id="bad-port"),
        pytest.param("https://example.com:123456", None, id="port-too-long"),
        pytest.param("https://[::1]:8080", None, id="ipv6"),
        pytest.param("https://a..com", None, id="empty-label"),
        pytest.param("https://-a.com", None, id="leading-hyphen"),
        pytest.param("https://exa_mple.com", None, id="underscore"),
        pytest.param("https://bücher.de", None, id="unicode-not-sent-by-browsers"),
        pytest.param("https://" + "a" * 64 + ".com", None, id="label-too-long"),
        pytest.param("https://e." + LONGEST_NAME, None, id="name-too-long"),
    ],
)
def test_origin_host(origin: str, expected: str | None) -> None:
    assert origin_host(origin) == expected


def test_limits() -> None:
    assert (MAX_LABEL, MAX_NAME) == (63, 253)
    assert len(LONGEST_NAME) == MAX_NAME


def test_domain_error_is_value_error_with_reason() -> None:
    err = DomainError("some reason")
    assert isinstance(err, ValueError)
    assert err.reason == "some reason"
    assert str(err) == "some reason"
