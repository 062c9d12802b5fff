"""Page path extraction and content-type labels."""

from __future__ import annotations

import pytest

from ingest.classify.content import CONTENT_TYPES, MAX_PATH_CHARS, content_type, page_path


@pytest.mark.parametrize(
    ("url", "path"),
    [
        pytest.param(
            "https://example.com/blog/post-1?utm_source=x#top", "/blog/post-1", id="query-fragment"
        ),
        pytest.param("https://example.com", "/", id="no-path"),
        pytest.param("https://example.com?x=1", "/", id="query-only"),
        pytest.param("http://example.com/", "/", id="root"),
        pytest.param("HTTPS://Example.com/Docs/Intro", "/Docs/Intro", id="case-kept"),
        pytest.param("https://example.com/a%20b/", "/a%20b/", id="percent-encoding-kept"),
        pytest.param("https://example.com:8443/pricing", "/pricing", id="port"),
        pytest.param(
            "https://example.com/" + "a" * 5000, "/" + "a" * (MAX_PATH_CHARS - 1), id="capped"
        ),
        pytest.param("ftp://example.com/file", "/", id="not-http"),
        pytest.param("/relative/path", "/", id="relative"),
        pytest.param("", "/", id="empty"),
        pytest.param("https://[::1", "/", id="garbage"),
    ],
)
def test_page_path(url: str, path: str) -> None:
    assert page_path(url) == path


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        # home
        pytest.param("/", "home", id="root"),
        pytest.param("", "home", id="empty"),
        pytest.param("/index.html", "home", id="index-html"),
        pytest.param("/index.php", "home", id="index-php"),
        pytest.param("/en/", "home", id="locale-root"),
        pytest.param("/pt-br", "home", id="locale-region-root"),
        pytest.param("/de/index.html", "home", id="locale-index"),
        # blog
        pytest.param("/blog/launch", "blog", id="blog"),
        pytest.param("/Blog/", "blog", id="blog-case"),
        pytest.param("/news/2024/01/x", "blog", id="news"),
        pytest.param("/articles/a", "blog", id="articles"),
        pytest.param("/posts/a", "blog", id="posts"),
        pytest.param("/stories/a", "blog", id="stories"),
        pytest.param("/fr/blog/bonjour", "blog", id="locale-blog"),
        pytest.param("/en-us/blog/", "blog", id="xx-yy-locale-blog"),
        pytest.param("/blog.html", "blog", id="blog-with-suffix"),
        # docs
        pytest.param("/docs/getting-started", "docs", id="docs"),
        pytest.param("/documentation", "docs", id="documentation"),
        pytest.param("/guide/x", "docs", id="guide"),
        pytest.param("/guides/x", "docs", id="guides"),
        pytest.param("/help/", "docs", id="help"),
        pytest.param("/kb/123", "docs", id="kb-not-a-locale"),
        pytest.param("/knowledge-base/x", "docs", id="knowledge-base"),
        pytest.param("/manual", "docs", id="manual"),
        pytest.param("/reference/api", "docs", id="reference"),
        pytest.param("/api/v1", "docs", id="api"),
        pytest.param("/ja/docs/", "docs", id="locale-docs"),
        # product
        pytest.param("/product/kettle", "product", id="product"),
        pytest.param("/products/", "product", id="products"),
        pytest.param("/shop/tea", "product", id="shop"),
        pytest.param("/store", "product", id="store"),
        pytest.param("/p/123", "product", id="p"),
        pytest.param("/item/9", "product", id="item"),
        pytest.param("/items/9", "product", id="items"),
        pytest.param("/catalog/x", "product", id="catalog"),
        pytest.param("/en-gb/products/kettle", "product", id="locale-products"),
        # pricing
        pytest.param("/pricing", "pricing", id="pricing"),
        pytest.param("/pricing.html", "pricing", id="pricing-html"),
        pytest.param("/plans/", "pricing", id="plans"),
        pytest.param("/price", "pricing", id="price"),
        pytest.param("/prices/eu", "pricing", id="prices"),
        pytest.param("/es/pricing", "pricing", id="locale-pricing"),
        # other
        pytest.param("/about", "other", id="about"),
        pytest.param("/contact/", "other", id="contact"),
        pytest.param("/team/blog", "other", id="keyword-not-first"),
        pytest.param("/blogging", "other", id="keyword-prefix-only"),
        pytest.param("/en/about", "other", id="locale-other"),
        pytest.param("/eng/blog", "other", id="three-letter-not-locale"),
        pytest.param("/index.html/blog", "other", id="index-then-more"),
        pytest.param("/pricing?x=1#y", "pricing", id="stray-query"),
    ],
)
def test_content_type(path: str, kind: str) -> None:
    assert content_type(path) == kind
    assert kind in CONTENT_TYPES


def test_content_type_of_page_path() -> None:
    assert content_type(page_path("https://example.com/en/docs/install?ref=chatgpt.com")) == "docs"
