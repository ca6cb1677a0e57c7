"""The dashboard in headless Chromium (Debian's `chromium`, driven by Playwright's Python
package; `.ci/run` installs both): the board's chart is drawn from the stored signals,
filters and paging change the rows, and a hostile title is shown as text, never run.

Screenshots are kept in the test's tmp folder; the board's is also written to
`docs/dashboard.png`, the README's picture. Playwright's own waits, never sleeps."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webfixtures import (
    CAPEX_CONFIRM,
    CAPEX_KILL,
    HOSTILE_TITLE,
    NUCLEAR_CONFIRM,
    NUCLEAR_KILL,
    Seeded,
    seed,
    serving,
)

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip(f"no {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

Page = sync_api.Page
expect = sync_api.expect


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def base(seeded: Seeded) -> Iterator[str]:
    with serving(seeded) as server:
        yield server.url.rstrip("/")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, tmp_path: Path) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    dialogs: list[str] = []
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def shot(page: object, tmp_path: Path, name: str) -> Path:
    path = tmp_path / "screenshots" / f"{name}.png"
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def heights(page: object, selector: str) -> list[tuple[int, float]]:
    return page.eval_on_selector_all(  # type: ignore[attr-defined]
        selector,
        "els => els.map(e => [Number(e.dataset.count), Number(e.getAttribute('height'))])",
    )


@pytest.mark.parametrize(
    ("thesis", "confirm", "kill"),
    [
        ("ai-capex", CAPEX_CONFIRM, CAPEX_KILL),
        ("test-nuclear", {**NUCLEAR_CONFIRM, 1: NUCLEAR_CONFIRM[1] + 1}, NUCLEAR_KILL),  # + hostile
    ],
)
def test_the_board_draws_each_thesis_s_weekly_bars_from_the_stored_signals(
    page: Page,
    base: str,
    tmp_path: Path,
    thesis: str,
    confirm: dict[int, int],
    kill: dict[int, int],
) -> None:
    page.goto(base + "/")
    card = page.locator(f'section[data-thesis="{thesis}"]')
    expect(card.locator("svg.chart")).to_be_visible()
    expect(card.locator("rect.bar-confirm")).to_have_count(12)
    expect(card.locator("rect.bar-kill")).to_have_count(12)
    ups = heights(page, f'section[data-thesis="{thesis}"] rect.bar-confirm')
    downs = heights(page, f'section[data-thesis="{thesis}"] rect.bar-kill')
    assert [c for c, _ in ups][::-1] == [confirm.get(n, 0) for n in range(12)]
    assert [c for c, _ in downs][::-1] == [kill.get(n, 0) for n in range(12)]
    largest = max(c for c, _ in ups + downs)
    for count, height in ups + downs:  # heights are proportional: the largest 80 px
        assert height == pytest.approx(80 * count / largest, abs=0.01)
    expect(card.locator("polyline.momentum")).to_have_count(1)
    expect(card.locator(".read-throughs li, .criteria li").first).to_be_visible()
    shot(page, tmp_path, f"board-{thesis}")


def test_the_board_marks_a_thesis_that_turned_and_writes_the_readme_picture(
    page: Page, base: str, tmp_path: Path
) -> None:
    page.goto(base + "/")
    capex = page.locator('section[data-thesis="ai-capex"]')
    expect(capex.locator(".turned")).to_contain_text("turned toward kill")
    expect(capex.locator(".momentum .label")).to_have_text("weakening")
    nuclear = page.locator('section[data-thesis="test-nuclear"] .momentum .label')
    expect(nuclear).to_have_text("strengthening")
    artifact = shot(page, tmp_path, "board")
    assert artifact.stat().st_size > 10_000
    page.screenshot(path=str(REPO / "docs" / "dashboard.png"), full_page=False)


def test_filters_search_and_paging_change_the_rows(page: Page, base: str, tmp_path: Path) -> None:
    page.goto(base + "/signals?limit=10")
    rows = page.locator("tr.signal")
    expect(rows).to_have_count(10)
    page.select_option("select[name=polarity]", "kill")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"polarity=kill"))
    kills = sum(NUCLEAR_KILL.values()) + sum(CAPEX_KILL.values())
    expect(rows).to_have_count(kills)
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.polarity)")) == {"kill"}
    page.select_option("select[name=thesis]", "ai-capex")
    page.click("button[type=submit]")
    expect(rows).to_have_count(sum(CAPEX_KILL.values()))
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.thesis)")) == {"ai-capex"}
    shot(page, tmp_path, "signals-filtered")
    page.goto(base + "/signals?limit=10")
    page.fill("input[name=search]", "capex confirm")
    page.click("button[type=submit]")
    expect(rows).to_have_count(sum(CAPEX_CONFIRM.values()))
    page.goto(base + "/signals?limit=10")
    first_page = rows.evaluate_all("rs => rs.map(r => r.dataset.id)")
    page.click("a[rel=next]")
    expect(page).to_have_url(re.compile(r"offset=10"))
    second_page = rows.evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert len(second_page) == 10 and not set(first_page) & set(second_page)
    page.click("a[rel=prev]")
    expect(rows.first).to_have_attribute("data-id", first_page[0])


def test_a_hostile_title_shows_as_text_and_runs_nothing(
    page: Page, base: str, seeded: Seeded, tmp_path: Path
) -> None:
    page.goto(f"{base}/signals/{seeded.hostile_id}")
    title = page.locator("h1.item-title")
    expect(title).to_have_text(HOSTILE_TITLE)
    assert page.text_content("h1.item-title") == HOSTILE_TITLE
    assert page.locator("h1.item-title a").count() == 0  # its javascript: link is dropped
    scripts = page.eval_on_selector_all("script", "els => els.map(e => e.textContent)")
    assert not any("alert" in s for s in scripts)
    assert page.locator("img[src=x]").count() == 0
    page.goto(base + "/signals?" + "search=script")
    expect(page.locator("tr.signal a.item-title")).to_have_text([HOSTILE_TITLE])
    assert page.dialogs == []  # type: ignore[attr-defined]
    shot(page, tmp_path, "hostile")


def test_feedback_buttons_record_a_verdict_with_allow_feedback(
    browser: object, tmp_path: Path
) -> None:
    (tmp_path / "db").mkdir()
    seeded = seed(tmp_path / "db")
    sid = seeded.ids[3]
    with serving(seeded, allow_feedback=True) as server:
        context = browser.new_context()  # type: ignore[attr-defined]
        page = context.new_page()
        page.goto(f"{server.url}signals/{sid}")
        page.click("button[value=useful]")
        expect(page.locator(".recorded")).to_have_text("Recorded: useful.")
        expect(page.locator("strong.verdict")).to_have_text("useful")
        shot(page, tmp_path, "feedback")
        context.close()


def test_the_sources_page_draws_items_per_day(page: Page, base: str, tmp_path: Path) -> None:
    page.goto(base + "/sources")
    wire = page.locator('tr[data-source="wire"]')
    expect(wire.locator("rect.day")).to_have_count(14)
    shot(page, tmp_path, "sources")
