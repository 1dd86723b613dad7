"""The web map in a real browser, with real mouse events, against a real server.

Each test leaves a screenshot in test-artifacts/browser/. The page fixture fails a test whose
page logged an error or asked for anything outside the server's origin.
"""
from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import BLOBS, UNSTORED, layout, launch, open_page, serve

pytestmark = pytest.mark.browser
IDS = [f"{category}-{i:02d}" for category in BLOBS for i in range(20)]


def api(server, path, **kwargs):
    response = httpx.request(kwargs.pop("method", "GET"), f"{server}{path}", timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def hover(page, item_id):
    x, y = page.point(item_id)
    # Onto the point from outside it, as a hand would; a loaded machine may drop the first pass.
    for _ in range(5):
        page.page.mouse.move(x - 30, y - 30)
        page.page.mouse.move(x, y, steps=6)
        try:
            page.page.wait_for_selector(f"#card[data-id='{item_id}']:not([hidden])", timeout=5_000)
            return
        except Exception:
            continue
    raise AssertionError(f"no card for {item_id} after five passes of the mouse")


def test_first_paint_draws_every_point_with_cluster_names(page, server):
    page.open()
    assert page.map("drawnCount()") == 60
    assert page.map("paintedPixels()") > 60 * 20
    assert page.map("labels()"), "no cluster name was placed"
    assert page.page.text_content("#version").endswith(api(server, "/v1/bundle")["version"])
    legend = page.page.locator("#legend li").all_text_contents()
    assert len(legend) >= 3


def test_hover_shows_the_card_with_its_thumbnail_and_salient_words(page, server):
    page.open()
    hover(page, "animals-03")
    card = page.page.locator("#card")
    assert card.locator("h3").text_content() == "bird 3"
    # decode() waits for the picture to arrive: the card is shown as soon as its text is there.
    assert card.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    expected = api(server, "/v1/items/animals-03/card")
    words = {w["word"] for s in expected["salient"] if s["space"] == "text" for w in s["words"]}
    marked = set(card.locator("mark").all_text_contents())
    assert marked and marked == words


def test_click_lists_the_neighbours_the_api_returns_in_each_space(page, server):
    page.open()
    x, y = page.point("plants-05")
    page.page.mouse.click(x, y)
    for space in ("image", "text", "joint"):
        section = page.page.locator(f"#detail section[data-space='{space}'] li")
        section.first.wait_for()
        shown = [li.get_attribute("data-id") for li in section.all()]
        expected = [h["id"] for h in api(server, f"/v1/items/plants-05/neighbours?space={space}&k=10")["hits"]]
        assert shown == expected, space
    assert page.map("state()")["item"] == "plants-05"


def test_why_similar_shows_words_and_heatmaps_and_ranks(page, server):
    page.open("#space=joint")
    x, y = page.point("vehicles-02")
    page.page.mouse.click(x, y)
    first = page.page.locator("#detail section[data-space='joint'] li").first
    first.wait_for()
    first.locator("button.why-button").click()
    why = page.page.locator("#detail .why")
    why.locator("table.ranks").wait_for(timeout=60_000)
    assert why.locator("mark").count() > 0
    heatmaps = why.locator(".heatmaps img")
    assert heatmaps.count() == 2
    heatmaps.first.evaluate("img => img.decode()")
    assert heatmaps.evaluate_all("imgs => imgs.every(i => i.naturalWidth > 0)")
    assert why.locator("table.ranks tr").count() == 1 + 3  # a header and one row per space


def inside(x, y, polygon):
    crossings = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1]):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            crossings = not crossings
    return crossings


def test_lasso_selects_exactly_the_points_inside_the_drawn_polygon(page):
    page.open()
    # A polygon cutting through the plants blob (radius R on screen): some plants inside, some not.
    points = [page.point(f"plants-{i:02d}") for i in range(20)]
    cx, cy = (sum(c) / 20 for c in zip(*points))
    r = max(((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 for x, y in points)
    shape = [(-1.2, -0.9), (0.1, -1.0), (0.3, 0.1), (-0.2, 1.1), (-1.2, 0.5)]
    polygon = [(cx + r * dx, cy + r * dy) for dx, dy in shape]
    page.page.keyboard.press("l")
    mouse = page.page.mouse
    mouse.move(*polygon[0])
    mouse.down()
    for vertex in polygon[1:] + polygon[:1]:
        mouse.move(*vertex, steps=12)
    mouse.up()
    page.page.wait_for_selector("#selection h2")
    expected = {i for i in IDS if inside(*page.point(i), polygon)}
    assert 3 <= len(expected) < 20
    assert set(page.map("selection()")) == expected
    assert page.page.locator("#selection .grid img").count() == len(expected)
    assert page.map("state()")["selection"] and set(page.map("state()")["selection"]) == expected
    # The selection exports as Parquet: these items, with their place on the map.
    with page.page.expect_download() as download:
        page.page.click("#selection button:has-text('Parquet')")
    import pyarrow.parquet as pq

    table = pq.read_table(download.value.path())
    assert set(table.column("id").to_pylist()) == expected
    for item_id, x in zip(table.column("id").to_pylist(), table.column("x").to_pylist()):
        assert x == pytest.approx(layout(*item_id.rsplit("-", 1)[:1], int(item_id.rsplit("-", 1)[1]))[0], abs=1e-6)


def test_colour_by_an_attribute_changes_the_legend(page):
    page.open()
    before = page.page.locator("#legend li").all_text_contents()
    page.page.select_option("#colour", "category")
    page.page.wait_for_function("document.querySelector('#legend h2').textContent === 'category'")
    after = [t.split() for t in page.page.locator("#legend li").all_text_contents()]
    assert after == [["animals", "20"], ["plants", "20"], ["vehicles", "20"]] and after != before
    assert page.map("state()")["colour"] == "category"


def test_a_filter_chip_draws_fewer_points(page):
    page.open()
    painted = page.map("paintedPixels()")
    page.page.click("#facets .facet[data-column='category'] button[data-value='plants']")
    page.page.wait_for_function("window.vitrinaMap.drawnCount() === 20")
    page.page.wait_for_timeout(300)
    assert page.map("paintedPixels()") < painted * 0.6
    assert page.map("state()")["filters"] == {"category": ["plants"]}


def test_text_search_rings_the_hits_in_rank_order(page, server):
    page.open()
    page.page.fill("#query", "red rose")
    page.page.keyboard.press("Enter")
    page.page.wait_for_selector("#results li")
    expected = [h["id"] for h in api(server, "/v1/search/text", method="POST", json={"query": "red rose", "space": "text", "k": 50})["hits"]]
    assert page.map("rings()") == expected
    rows = page.page.locator("#results li")
    assert [li.get_attribute("data-id") for li in rows.all()] == expected
    rows.first.focus()
    page.page.keyboard.press("ArrowDown")
    assert page.page.evaluate("document.activeElement.dataset.id") == expected[1]


def test_a_permalink_restores_the_same_view(page, browser, server, request):
    page.open()
    page.page.select_option("#colour", "category")
    page.page.click("#facets .facet[data-column='category'] button[data-value='animals']")
    page.page.fill("#query", "a cat")
    page.page.keyboard.press("Enter")
    page.page.wait_for_selector("#results li")
    x, y = page.point("animals-04")
    page.page.mouse.click(x, y)
    page.page.wait_for_selector("#detail section li")
    page.page.wait_for_timeout(300)
    url = page.page.url
    state, rings = page.map("state()"), page.map("rings()")
    assert state["item"] == "animals-04" and state["query"] == "a cat"
    for other in open_page(browser, server, request):
        other.page.goto(url)
        other.page.wait_for_function("window.vitrinaMap !== undefined")
        other.page.evaluate("window.vitrinaMap.ready")
        assert other.map("state()") == state
        assert other.map("drawnCount()") == 20 and other.map("rings()") == rings
        assert other.page.locator("#detail h2").text_content().startswith("fish 4")


def test_dark_mode_follows_the_system_and_the_toggle(browser, server, request):
    for page in open_page(browser, server, request, color_scheme="dark"):
        page.open()
        assert page.page.evaluate("document.documentElement.dataset.theme") == "dark"
        page.page.click("#theme")
        assert page.page.evaluate("document.documentElement.dataset.theme") == "light"
        assert page.map("state()")["theme"] == "light"


def test_without_webgl_the_page_shows_the_server_picture(playwright_instance, server, request):
    browser = launch(playwright_instance, "--disable-webgl", "--disable-3d-apis")
    try:
        for page in open_page(browser, server, request):
            page.open()
            fallback = page.page.locator("#fallback")
            assert fallback.is_visible()
            assert "no WebGL" in fallback.text_content()
            img = fallback.locator("img")
            img.evaluate("img => img.decode()")
            assert img.evaluate("img => img.naturalWidth") > 64
    finally:
        browser.close()


def test_layout_fixture_is_what_the_map_draws(page, server):
    """The positions the tests aim at are the bundle's (projection endpoint) ones."""
    page.open()
    points = {p["id"]: (p["x"], p["y"]) for p in api(server, "/v1/spaces/image/projection")["points"]}
    assert points["animals-00"] == pytest.approx(layout("animals", 0), abs=1e-6)


def test_few_points_in_view_are_drawn_as_their_pictures(page):
    page.open()
    # The whole tiny map (60 points) is "few": every point of the image space gets its picture.
    page.page.wait_for_function("window.vitrinaMap.thumbnailsDrawn() === 60")


def test_label_review_lists_the_outliers_and_opens_one_with_its_neighbours_labels(page, server):
    page.open("#space=text")
    page.page.click("#review")
    rows = page.page.locator("#outliers li")
    rows.first.wait_for()
    expected = api(server, "/v1/spaces/text/outliers?limit=200")["outliers"]
    assert expected, "the fixture has label outliers in the text space"
    assert [li.get_attribute("data-id") for li in rows.all()] == [o["id"] for o in expected]
    rows.first.click()
    first = expected[0]
    section = page.page.locator("#detail section[data-space='text'] li")
    section.first.wait_for()
    neighbours = api(server, f"/v1/items/{first['id']}/neighbours?space=text&k=10")["hits"]
    labels = section.locator(".label").all_text_contents()
    assert labels == [str(h["metadata"][first["attribute"]]) for h in neighbours]
    assert page.map("state()")["item"] == first["id"]


def test_density_contours_toggle_with_c_and_follow_the_filters(page):
    page.open()
    assert page.map("contours()") == []
    page.page.keyboard.press("c")
    centres = {category: blob_centre(category) for category in BLOBS}

    def ringed(levels):
        return {c for c, (x, y) in centres.items() for level in levels for ring in level["rings"] if inside(x, y, ring)}

    assert ringed(page.map("contours()")) == set(BLOBS)
    assert page.map("state()")["contours"] is True and "dens=1" in page.page.url
    page.page.click("#facets .facet[data-column='category'] button[data-value='plants']")
    page.page.wait_for_function("window.vitrinaMap.drawnCount() === 20")
    for _ in range(50):  # the contours follow the points' filter within a frame or two
        if ringed(page.map("contours()")) == {"plants"}:
            break
        page.page.wait_for_timeout(100)
    assert ringed(page.map("contours()")) == {"plants"}


def blob_centre(category):
    points = [layout(category, i) for i in range(20)]
    return sum(p[0] for p in points) / 20, sum(p[1] for p in points) / 20


def test_a_second_space_beside_is_linked_by_item(page, server):
    page.open("#compare=text")
    page.page.wait_for_function("window.vitrinaMap.compare() && window.vitrinaMap.compare().drawnCount === 60")
    assert page.map("compare()")["space"] == "text"
    # Hover on the first map rings the same item on the second.
    hover(page, "vehicles-07")
    assert page.map("compare()")["focused"] == "vehicles-07"
    # A search rings its hits on both maps.
    page.page.fill("#query", "a bus")
    page.page.keyboard.press("Enter")
    page.page.wait_for_selector("#results li")
    assert page.map("compare()")["rings"] == page.map("rings()")
    # A lasso on the second map selects the same items on the first.
    x, y = page.map("compareXY('plants-00')")
    page.page.evaluate("document.activeElement.blur()")  # out of the search box: keys are shortcuts again
    page.page.keyboard.press("l")  # the lasso, on both maps
    square = [(x - 60, y - 60), (x + 60, y - 60), (x + 60, y + 60), (x - 60, y + 60)]
    page.page.mouse.move(*square[0])
    page.page.mouse.down()
    for corner in square[1:] + square[:1]:
        page.page.mouse.move(*corner, steps=10)
    page.page.mouse.up()
    page.page.wait_for_selector("#selection h2")
    selected = set(page.map("selection()"))
    assert "plants-00" in selected and selected == set(page.map("compare()")["selection"])
    assert "compare=text" in page.page.url


def test_since_an_older_version_marks_what_is_new(page, server, older_version):
    from tests.browser.conftest import NEW_SINCE_OLDER

    assert older_version in api(server, "/v1/bundle")["versions"]
    page.open(f"#since={older_version}")
    page.page.wait_for_function("window.vitrinaMap.newSince().length > 0")
    assert set(page.map("newSince()")) == NEW_SINCE_OLDER
    assert page.map("drawnCount()") == 60
    page.page.select_option("#since", "")
    page.page.wait_for_function("window.vitrinaMap.newSince().length === 0")
    assert "since=" not in page.page.url


def drag_rectangle(page, corners, modifier=None):
    (x0, y0), (x1, y1) = corners
    mouse, keyboard = page.page.mouse, page.page.keyboard
    if modifier:
        keyboard.down(modifier)
    mouse.move(x0, y0)
    mouse.down()
    mouse.move(x1, y1, steps=16)  # a rectangle spans from where the button went down to here
    mouse.up()
    if modifier:
        keyboard.up(modifier)


def blob_box(page, category, pad=12):
    points = [page.point(f"{category}-{i:02d}") for i in range(20)]
    xs, ys = zip(*points)
    return (min(xs) - pad, min(ys) - pad), (max(xs) + pad, max(ys) + pad)


def test_rectangle_selects_and_modifiers_add_and_remove(page):
    page.open()
    page.page.keyboard.press("r")
    assert page.page.get_attribute("#tool-rectangle", "aria-pressed") == "true"
    drag_rectangle(page, blob_box(page, "animals"))
    page.page.wait_for_function("window.vitrinaMap.selection().length === 20")
    assert set(page.map("selection()")) == {f"animals-{i:02d}" for i in range(20)}
    # Cmd/Ctrl adds a second region to the selection.
    drag_rectangle(page, blob_box(page, "vehicles"), modifier="Control")
    page.page.wait_for_function("window.vitrinaMap.selection().length === 40")
    assert set(page.map("selection()")) == {f"{c}-{i:02d}" for c in ("animals", "vehicles") for i in range(20)}
    # Alt takes a region out of it.
    drag_rectangle(page, blob_box(page, "animals"), modifier="Alt")
    page.page.wait_for_function("window.vitrinaMap.selection().length === 20")
    assert set(page.map("selection()")) == {f"vehicles-{i:02d}" for i in range(20)}
    assert page.page.locator("#selection .grid img").count() == 20


def test_an_uploaded_picture_rings_the_image_search_hits(page, server, map_bundle_root):
    import pyarrow.parquet as pq

    coll = map_bundle_root / "tiny"
    version = (coll / "CURRENT").read_text().strip()
    items = pq.read_table(coll / "versions" / version / "items.parquet", columns=["id", "image_ref"]).to_pylist()
    picture = next(row["image_ref"] for row in items if row["id"] == "plants-04")
    page.open()
    page.page.set_input_files("#image-query", picture)
    page.page.wait_for_selector("#results li")
    with open(picture, "rb") as fh:
        response = httpx.post(f"{server}/v1/search/image", files={"file": fh}, data={"space": "image", "k": "50"},
                              timeout=30)
    assert response.status_code == 200, response.text
    expected = [h["id"] for h in response.json()["hits"]]
    assert page.map("rings()") == expected
    assert [li.get_attribute("data-id") for li in page.page.locator("#results li").all()] == expected
    assert "plants-04" in expected[:5]
    assert page.page.text_content("#results h2").startswith("Like ")


def test_an_opened_item_gets_the_salient_words_the_build_did_not_store(page, server):
    page.open()
    hover(page, UNSTORED)
    assert page.page.locator("#card mark").count() == 0  # hovering never computes
    x, y = page.point(UNSTORED)
    page.page.mouse.click(x, y)
    marks = page.page.locator(f"#detail[data-id='{UNSTORED}'] p.text mark")
    marks.first.wait_for(timeout=60_000)
    computed = api(server, f"/v1/items/{UNSTORED}/card")  # now kept by the server
    words = {w["word"] for s in computed["salient"] if s["space"] == "text" for w in s["words"]}
    assert words and set(marks.all_text_contents()) == words


def test_behind_an_api_key_the_page_asks_once_and_draws_with_pictures(browser, map_bundle_root, request):
    servers = serve(map_bundle_root, "server-with-key.log", "--api-key", "s3cret key", "--require-key-for-reads")
    base = next(servers)
    try:
        assert httpx.get(f"{base}/v1/bundle").status_code == 401
        pages = open_page(browser, base, request)
        page = next(pages)
        asked = []
        page.page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept("s3cret key")))
        page.open()
        assert len(asked) == 1 and "API key" in asked[0]
        # The browser logs the refused first request itself; nothing may fail after the key.
        assert page.errors and all("401" in e for e in page.errors)
        page.errors.clear()
        assert page.map("drawnCount()") == 60
        hover(page, "animals-03")
        # The thumbnail is an <img>, which sends no header: it loads through the page's cookie.
        assert page.page.locator("#card img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        next(pages, None)
    finally:
        next(servers, None)
