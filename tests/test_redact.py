"""Secrets in feed URLs never reach logs, stored errors or CLI output."""

from __future__ import annotations

import pytest

from monitor.redact import mask_url, mask_urls_in


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://example.com/feed.xml", "https://example.com/feed.xml"),
        ("https://example.com/feed?page=2&lang=en", "https://example.com/feed?page=2&lang=en"),
        ("https://alice:s3cret@example.com/feed", "https://***@example.com/feed"),
        ("https://tok3n@example.com/feed", "https://***@example.com/feed"),
        ("https://example.com/f?token=abc&page=2", "https://example.com/f?token=***&page=2"),
        ("https://example.com/f?api_key=abc", "https://example.com/f?api_key=***"),
        ("https://example.com/f?X-Amz-Signature=abc", "https://example.com/f?X-Amz-Signature=***"),
        (
            "https://example.com/f?access_token=a&password=b",
            "https://example.com/f?access_token=***&password=***",
        ),
    ],
)
def test_mask_url_hides_user_info_and_secret_parameters(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_urls_in_replaces_every_occurrence() -> None:
    url = "https://u:pw@example.com/f?token=zz"
    text = f"GET {url} failed; retried {url}"
    assert mask_urls_in(text, [url]) == (
        "GET https://***@example.com/f?token=*** failed; retried https://***@example.com/f?token=***"
    )
