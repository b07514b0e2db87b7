"""The web gallery in a real headless browser (Debian's Chromium + chromedriver, driven by Selenium).

Skipped when Chromium, its driver or Selenium is missing (CI installs them: see ``.ci/run``).  What a
person sees: the projects, the branch tree, a turn's full-size picture actually decoded by the browser,
the download link, the recipe, the storyboard; hostile text shown as text (no script runs, no alert);
a wrong token shows nothing; and nothing a page — the gallery's own or another site's — sends can
change a project.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from gallery_data import HOSTILE_FOLDER, Projects, snapshot

from banana_studio.web import Gallery

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.common.exceptions import NoAlertPresentException, WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium / chromium-driver are not installed")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    # Never the network: Selenium Manager stays offline (the driver and browser are given), and the
    # browser resolves no name and uses no proxy, so only 127.0.0.1 is reachable.
    mp = pytest.MonkeyPatch()
    mp.setenv("SE_OFFLINE", "true")
    mp.setenv("SE_AVOID_STATS", "true")
    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-domain-reliability", "--disable-client-side-phishing-detection",
                "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--window-size=1280,1000", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(arg)
    try:
        drv = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    except WebDriverException as exc:  # pragma: no cover - a broken browser install
        mp.undo()
        pytest.skip(f"chromium did not start: {exc.msg}")
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        mp.undo()


def no_alert(drv: Any) -> bool:
    try:
        _ = drv.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def test_browse_projects_tree_turn_image_and_storyboard(browser: Any, gallery: Gallery, projects: Projects) -> None:
    d = browser
    a, b, c = projects.turns
    d.get(gallery.url)
    assert d.title == "Projects · Banana Studio"
    names = [e.text for e in d.find_elements(By.CSS_SELECTOR, "td a")]
    assert "shots" in names and HOSTILE_FOLDER in names  # the hostile folder name shown as text
    d.find_element(By.LINK_TEXT, "shots").click()
    previews = d.find_elements(By.CSS_SELECTOR, ".grid img")
    assert len(previews) == 2  # the two final images, newest first
    widths = d.execute_async_script("""
        const done = arguments[arguments.length - 1], imgs = [...document.querySelectorAll('.grid img')];
        imgs.forEach(i => { i.loading = 'eager'; });
        Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth, () => -1))).then(done);""")
    assert len(widths) == 2 and all(0 < w <= 360 for w in widths), widths
    tree = d.find_element(By.CSS_SELECTOR, "ul.tree.top")
    assert [e.text for e in tree.find_elements(By.CSS_SELECTOR, "a")] == [f"#{a}", f"#{b}", f"#{c}"]
    assert "<script>alert('prompt')</script>" in tree.text  # the prompt, as the text it is
    assert len(d.find_elements(By.CSS_SELECTOR, "ul.tree ul.tree ul.tree")) == 1  # c under b under a
    d.find_element(By.LINK_TEXT, f"#{a}").click()
    img = d.find_element(By.CSS_SELECTOR, "figure img")
    width = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        arguments[0].decode().then(() => done(arguments[0].naturalWidth), () => done(-1));""", img)
    real = projects.root / "shots" / projects.final_rel
    from PIL import Image

    with Image.open(real) as im:
        assert width == im.width  # full size, decoded by the browser
    link = d.find_element(By.PARTIAL_LINK_TEXT, "Download")
    assert link.get_attribute("download") is not None
    assert link.get_attribute("href").endswith(quote(projects.final_rel) + "?download=1")
    assert "aspect_ratio" in d.find_element(By.TAG_NAME, "body").text
    assert d.execute_script("return document.scripts.length") == 0
    assert no_alert(d)
    d.find_element(By.LINK_TEXT, "storyboard of this branch").click()
    assert f"Turn {a}" in d.find_element(By.TAG_NAME, "body").text
    sheet = d.find_element(By.CSS_SELECTOR, "img[alt='contact sheet']")
    assert d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        arguments[0].decode().then(() => done(arguments[0].naturalWidth), () => done(-1));""", sheet) > 300
    # the storyboard's inline stylesheet applied (the CSP allows it by its hash): its 62em page width
    assert d.execute_script("return getComputedStyle(document.body).maxWidth") == "992px"


def test_hostile_folder_pages_render_as_text(browser: Any, gallery: Gallery, projects: Projects) -> None:
    d = browser
    d.get(gallery.url)
    d.find_element(By.LINK_TEXT, HOSTILE_FOLDER).click()
    d.find_element(By.LINK_TEXT, f"#{projects.turns[0]}").click()
    assert d.execute_script("return document.querySelectorAll('img[src=x], script').length") == 0
    assert no_alert(d)
    assert "\\x1b]52;c;" in d.find_element(By.TAG_NAME, "body").text


def test_a_wrong_token_shows_nothing(browser: Any, gallery: Gallery, projects: Projects) -> None:
    d = browser
    wrong = gallery.token[::-1] if gallery.token[::-1] != gallery.token else "x" + gallery.token
    for rest in ("", "p/shots/", f"p/shots/t/{projects.turns[0]}", f"p/shots/f/{projects.final_rel}"):
        d.get(f"http://127.0.0.1:{gallery.port}/{wrong}/{rest}")
        body = d.find_element(By.TAG_NAME, "body").text
        assert "404" in body and "shots" not in body and "lighthouse" not in body
        assert d.execute_script("return document.images.length") == 0
    d.get(f"http://127.0.0.1:{gallery.port}/")
    assert "Projects" not in d.find_element(By.TAG_NAME, "body").text


def test_no_request_from_a_browser_can_write(browser: Any, gallery: Gallery, projects: Projects,
                                              tmp_path: Path) -> None:
    d = browser
    before = snapshot(projects.root)
    target = gallery.url + f"p/shots/t/{projects.turns[0]}"
    # Another site's page (here a data: URL) tries a form POST and every fetch it can send.
    d.get("data:text/html,<title>attacker</title><form id=f method=post action='" + target
          + "'><input name=label value=pwned></form>")
    statuses = d.execute_async_script("""
        const done = arguments[arguments.length - 1], url = arguments[0], out = [];
        (async () => {
          for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) {
            try { await fetch(url, {method: m, mode: 'no-cors', body: 'x'}); out.push(m + ':sent'); }
            catch (e) { out.push(m + ':refused'); }
          }
          done(out);
        })();""", target)
    assert len(statuses) == 4
    d.execute_script("document.getElementById('f').submit()")
    body = d.find_element(By.TAG_NAME, "body").text
    assert "405" in body and "read-only" in body and "lighthouse" not in body
    # The gallery's own page: its CSP forbids any script-initiated request (connect-src falls to 'none').
    d.get(target)
    own = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(location.href, {method: 'DELETE'}).then(r => done('status ' + r.status), e => done('blocked'));""")
    assert own in ("blocked", "status 405")
    assert snapshot(projects.root) == before
    d.get(target)
    assert "pwned" not in d.find_element(By.TAG_NAME, "body").text
