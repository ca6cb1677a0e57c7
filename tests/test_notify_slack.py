"""Slack notifiers against the loopback fake Slack, and choosing a notifier from the env."""

# The imported `fake_slack` fixture is requested by parameter name, which pyflakes reads as a
# redefinition of the import.
# ruff: noqa: F811

from __future__ import annotations

import io
import json
import logging
import socket
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from monitor.errors import ConfigError, NotifyError
from monitor.notify import (
    ConsoleNotifier,
    Notifier,
    SlackBotNotifier,
    SlackWebhookNotifier,
    notifier_from_env,
)
from monitor.types import DeliveryReceipt
from tests.fakeslack import DEFAULT_WEBHOOK_PATH, FakeSlack, fake_slack  # noqa: F401
from tests.test_notify_render import ALERT, header_text, mrkdwn_texts

WRONG_TOKEN = "xoxb-wrong-token-do-not-leak"


def bot(slack: FakeSlack, *, token: str | None = None, channel: str = "#investing") -> Notifier:
    return SlackBotNotifier(token or slack.token, channel, base_url=slack.base_url)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed): connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections into its backlog but never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


# -- bot -----------------------------------------------------------------------------------


def test_bot_posts_blocks_with_thesis_criterion_and_link(fake_slack: FakeSlack) -> None:
    receipt = bot(fake_slack).send(ALERT)

    assert receipt == DeliveryReceipt(channel="slack:#investing", ts=fake_slack.messages[0].ts)
    assert receipt.ts is not None and receipt.ts.endswith(".000100")
    [message] = fake_slack.messages
    assert message.channel == "#investing"
    assert message.blocks is not None
    assert "AI capex keeps rising" in header_text(message.blocks)
    text = "\n".join(mrkdwn_texts(message.blocks))
    assert "C1: Hyperscaler raises capex guidance" in text
    assert "<https://example.com/news/1|Microsoft lifts capex outlook>" in text
    assert message.text is not None and "🟢 CONFIRM" in message.text
    assert message.body["unfurl_links"] is False
    assert message.body["unfurl_media"] is False


def test_bot_receipts_carry_increasing_ts(fake_slack: FakeSlack) -> None:
    notifier = bot(fake_slack, channel="C123")
    first, second = notifier.send(ALERT), notifier.send(ALERT)
    assert first.ts is not None and second.ts is not None
    assert float(second.ts) > float(first.ts)
    assert [m.channel_id for m in fake_slack.messages] == ["C123", "C123"]


def test_bot_429_gives_retry_after_and_is_not_retried(fake_slack: FakeSlack) -> None:
    fake_slack.queue_rate_limit(times=2, retry_after=7)
    with pytest.raises(NotifyError) as info:
        bot(fake_slack).send(ALERT)
    assert info.value.retry_after == 7.0
    assert info.value.channel == "slack:#investing"
    assert "429" in info.value.message
    assert fake_slack.request_count == 1
    assert fake_slack.messages == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_bot_server_error_is_retryable_without_retry_after(
    fake_slack: FakeSlack, status: int
) -> None:
    fake_slack.queue_server_error(status=status)
    with pytest.raises(NotifyError) as info:
        bot(fake_slack).send(ALERT)
    assert info.value.retry_after is None
    assert str(status) in info.value.message
    assert fake_slack.request_count == 1


def test_bot_delivers_after_a_scripted_failure_is_used_up(fake_slack: FakeSlack) -> None:
    fake_slack.queue_server_error()
    notifier = bot(fake_slack)
    with pytest.raises(NotifyError):
        notifier.send(ALERT)
    assert str(notifier.send(ALERT).ts).endswith(".000100")


@pytest.mark.parametrize(
    ("setup", "error", "advice"),
    [
        ("wrong_token", "invalid_auth", "chat:write"),
        ("unknown_channel", "channel_not_found", "invite"),
        ("not_in_channel", "not_in_channel", "/invite"),
        ("missing_scope", "missing_scope", "chat:write"),
        ("some_new_error", "some_new_error", "refused"),
    ],
)
def test_bot_api_errors_say_what_to_do(
    fake_slack: FakeSlack, setup: str, error: str, advice: str
) -> None:
    if setup == "wrong_token":
        notifier = bot(fake_slack, token=WRONG_TOKEN)
    elif setup == "unknown_channel":
        notifier = bot(fake_slack, channel="#nowhere")
    else:
        fake_slack.queue_api_error(setup)
        notifier = bot(fake_slack)
    with pytest.raises(NotifyError) as info:
        notifier.send(ALERT)
    assert error in info.value.message
    assert advice in info.value.message
    assert info.value.retry_after is None
    assert fake_slack.messages == []


def test_bot_connection_refused_is_a_notify_error(closed_port: int) -> None:
    notifier = SlackBotNotifier(
        "xoxb-t", "#investing", base_url=f"http://127.0.0.1:{closed_port}/api/"
    )
    with pytest.raises(NotifyError) as info:
        notifier.send(ALERT)
    assert info.value.retry_after is None
    assert "cannot reach Slack" in info.value.message


def test_bot_timeout_is_a_notify_error(silent_server: int) -> None:
    notifier = SlackBotNotifier(
        "xoxb-t", "#investing", base_url=f"http://127.0.0.1:{silent_server}/api/", timeout=0.2
    )
    with pytest.raises(NotifyError) as info:
        notifier.send(ALERT)
    assert info.value.retry_after is None
    assert "timed out" in info.value.message


def test_token_never_appears_in_errors_or_logs(
    fake_slack: FakeSlack, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[NotifyError] = []
    bot(fake_slack).send(ALERT)
    fake_slack.queue_rate_limit()
    fake_slack.queue_server_error()
    for notifier in [
        bot(fake_slack, token=WRONG_TOKEN),
        bot(fake_slack, token=WRONG_TOKEN),
        bot(fake_slack, token=WRONG_TOKEN),
        SlackBotNotifier(WRONG_TOKEN, "#x", base_url=f"http://127.0.0.1:{closed_port}/api/"),
    ]:
        with pytest.raises(NotifyError) as info:
            notifier.send(ALERT)
        errors.append(info.value)

    assert caplog.records
    texts = [r.getMessage() for r in caplog.records]
    texts += [str(e) for e in errors] + [str(e.__cause__) for e in errors]
    for secret in (fake_slack.token, WRONG_TOKEN):
        assert not [t for t in texts if secret in t]


# -- webhook -------------------------------------------------------------------------------


def test_webhook_posts_blocks(fake_slack: FakeSlack) -> None:
    receipt = SlackWebhookNotifier(fake_slack.webhook_url).send(ALERT)

    assert receipt == DeliveryReceipt(channel="slack-webhook", ts=None)
    [message] = fake_slack.messages
    assert message.kind == "webhook"
    assert message.blocks is not None
    assert "<https://example.com/news/1|" in "\n".join(mrkdwn_texts(message.blocks))
    assert message.body["unfurl_links"] is False


def test_webhook_429_gives_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.queue_rate_limit(retry_after=12)
    with pytest.raises(NotifyError) as info:
        SlackWebhookNotifier(fake_slack.webhook_url).send(ALERT)
    assert info.value.retry_after == 12.0
    assert fake_slack.request_count == 1


def test_webhook_server_error_has_no_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.queue_server_error(status=503)
    with pytest.raises(NotifyError) as info:
        SlackWebhookNotifier(fake_slack.webhook_url).send(ALERT)
    assert info.value.retry_after is None
    assert "503" in info.value.message


@pytest.mark.parametrize(
    ("error", "advice"),
    [("channel_is_archived", "unarchive"), ("action_prohibited", "admin")],
)
def test_webhook_errors_say_what_to_do(fake_slack: FakeSlack, error: str, advice: str) -> None:
    fake_slack.queue_api_error(error)
    with pytest.raises(NotifyError) as info:
        SlackWebhookNotifier(fake_slack.webhook_url).send(ALERT)
    assert advice in info.value.message


def test_webhook_url_stays_out_of_errors_and_logs(
    fake_slack: FakeSlack, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "T999/B999/unknownhooksecret"
    unknown = SlackWebhookNotifier(fake_slack.webhook_url.replace(DEFAULT_WEBHOOK_PATH, secret))
    down = SlackWebhookNotifier(f"http://127.0.0.1:{closed_port}/webhook/{secret}")
    SlackWebhookNotifier(fake_slack.webhook_url).send(ALERT)
    errors = []
    for notifier in (unknown, down):
        with pytest.raises(NotifyError) as info:
            notifier.send(ALERT)
        errors.append(info.value)

    assert "no_service" in errors[0].message
    assert "127.0.0.1" in errors[1].message
    texts = [r.getMessage() for r in caplog.records] + [str(e) for e in errors]
    texts += [str(e.__cause__) for e in errors]
    for path in (secret, DEFAULT_WEBHOOK_PATH):
        assert not [t for t in texts if path in t]


# -- choosing a notifier -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "kind", "channel"),
    [
        ({}, ConsoleNotifier, "console"),
        ({"SLACK_BOT_TOKEN": " ", "SLACK_CHANNEL": ""}, ConsoleNotifier, "console"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CHANNEL": "#inv"}, SlackBotNotifier, "slack:#inv"),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_CHANNEL": "#inv",
                "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x",
            },
            SlackBotNotifier,
            "slack:#inv",
        ),
        (
            {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"},
            SlackWebhookNotifier,
            "slack-webhook",
        ),
    ],
)
def test_notifier_from_env_chooses(env: dict[str, str], kind: type, channel: str) -> None:
    notifier = notifier_from_env(env, io.StringIO())
    assert isinstance(notifier, kind)
    assert notifier.channel == channel


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-half-secret"}, "SLACK_CHANNEL"),
        ({"SLACK_CHANNEL": "#inv"}, "SLACK_BOT_TOKEN"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-half-secret", "SLACK_WEBHOOK_URL": "https://h.example/x"},
            "SLACK_CHANNEL",
        ),
    ],
)
def test_half_configured_bot_is_a_config_error(env: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError) as info:
        notifier_from_env(env, io.StringIO())
    assert f"{missing} is missing" in str(info.value)
    assert "xoxb-half-secret" not in str(info.value)


def test_non_http_webhook_url_is_a_config_error_without_the_url() -> None:
    with pytest.raises(ConfigError) as info:
        notifier_from_env({"SLACK_WEBHOOK_URL": "hooks.slack.com/services/SECRET"}, io.StringIO())
    assert "SLACK_WEBHOOK_URL" in str(info.value)
    assert "SECRET" not in str(info.value)


def test_notifier_from_env_uses_slack_api_url(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = {
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_CHANNEL": "#investing",
        "SLACK_API_URL": fake_slack.base_url,
    }
    receipt = notifier_from_env(env, io.StringIO()).send(ALERT)
    assert str(receipt.ts).endswith(".000100")
    assert len(fake_slack.messages) == 1
    assert not [r for r in caplog.records if fake_slack.token in r.getMessage()]


def test_notifier_from_env_logs_only_the_webhook_host(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    notifier = notifier_from_env({"SLACK_WEBHOOK_URL": fake_slack.webhook_url}, io.StringIO())
    notifier.send(ALERT)
    messages = [r.getMessage() for r in caplog.records]
    assert any("127.0.0.1" in m for m in messages)
    assert not [m for m in messages if DEFAULT_WEBHOOK_PATH in m]


def test_console_is_chosen_and_writes_to_the_given_stream() -> None:
    stream = io.StringIO()
    notifier_from_env({}, stream).send(ALERT)
    assert "🟢 CONFIRM" in stream.getvalue()


def test_fake_accepts_a_form_encoded_post_with_a_token_field(fake_slack: FakeSlack) -> None:
    form = {
        "token": fake_slack.token,
        "channel": "#investing",
        "text": "hello",
        "blocks": json.dumps([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]),
    }
    request = urllib.request.Request(
        fake_slack.base_url + "chat.postMessage",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        answer = json.loads(response.read())
    assert answer["ok"] is True
    assert answer["channel"] == "C123"
    [message] = fake_slack.messages
    assert message.text == "hello"
    assert message.blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]


def test_a_response_cut_off_mid_body_is_a_notify_error() -> None:
    """A proxy that drops the connection mid-answer (http.client.IncompleteRead) is a
    delivery failure to retry, not an exception that escapes the notifier."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_half() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok")

    thread = threading.Thread(target=answer_half, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        notifier = SlackWebhookNotifier(f"http://127.0.0.1:{port}/services/T/B/x", timeout=5)
        with pytest.raises(NotifyError):
            notifier.send(ALERT)
    finally:
        thread.join(timeout=10)
        listener.close()
