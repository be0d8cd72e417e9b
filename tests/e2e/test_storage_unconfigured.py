"""The cache and database lessons in Chromium on a studio with no servers set.

With no REDIS_URL, MEMCACHED_SERVERS, POSTGRES_URL or MYSQL_URL, every step
still renders, says which store is missing and how to enable it, and the
demos say what they need instead of failing.
"""

from playwright.sync_api import expect

from .pages import LessonPage


def test_the_cache_lesson_says_what_is_missing_and_how_to_enable_it(page):
    lesson = LessonPage(page)
    page.goto("/")

    lesson.open("cache", 1)
    stores = page.locator("#demo-cache-stores")
    expect(stores.locator('li[data-store="redis"]')).to_contain_text(
        "not available here (not configured: REDIS_URL is not set). Set REDIS_URL"
    )
    expect(stores.locator('li[data-store="memcached"]')).to_contain_text(
        "Set MEMCACHED_SERVERS"
    )
    expect(stores).to_contain_text("in SQLite, because REDIS_URL is not set")

    lesson.open("cache", 3)
    setup = page.locator("#step-setup")
    expect(setup.get_by_role("alert")).to_contain_text("REDIS_URL is not set")
    page.get_by_role("button", name="Use this step's settings").click()
    expect(setup.get_by_role("alert")).to_contain_text("Set REDIS_URL")
    expect(page.get_by_role("heading", name="The same note on Redis")).to_be_visible()
    assert lesson.api("/api/settings")["store"] == "memory"

    lesson.open("cache", 5)
    page.get_by_role("button", name="Watch the server for 20 s").click()
    expect(page.locator("#cache-watch").get_by_role("alert")).to_contain_text(
        "holds no session on Redis or Memcached"
    )

    lesson.open("cache", 8)
    expect(page.locator("#cache-keys").get_by_role("alert")).to_contain_text(
        "choose Redis or Memcached"
    )
    lesson.open("cache", 9)
    page.get_by_role("button", name="Flush the specimen's sessions").click()
    expect(page.locator("#cache-flush").get_by_role("alert")).to_contain_text(
        "choose Redis or Memcached"
    )


def test_the_database_lesson_times_what_this_machine_has(page):
    lesson = LessonPage(page)
    page.goto("/")

    lesson.open("database", 1)
    stores = page.locator("#demo-database-stores")
    expect(stores.locator('li[data-store="mysql"]')).to_contain_text("Set MYSQL_URL")

    lesson.open("database", 2)
    lesson.use_step_settings()
    lesson.send("Set colour to blue")
    lesson.open("database", 6)
    page.get_by_role("button", name="Time the reads").click()
    expect(page.get_by_test_id("median-sqlite")).to_be_visible()
    untimed = page.get_by_test_id("untimed")
    expect(untimed.locator('li[data-store="redis"]')).to_contain_text(
        "REDIS_URL is not set"
    )
    expect(untimed.locator('li[data-store="memcached"]')).to_contain_text(
        "Set MEMCACHED_SERVERS"
    )
