"""/docs and /redoc render from the vendored assets, with the browser kept on loopback."""

import re
import urllib.request

from tests.support.browser import save_screenshot

URL = re.compile(r"""https?://[^\s"'<>)]+""")


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, resp.headers.get("content-type", ""), resp.read()


def test_docs_pages_name_no_server_outside(api):
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        status, ctype, body = _get(api.base + path)
        assert (status, ctype.split(";")[0]) == (200, "text/html")
        html = body.decode()
        assert URL.findall(html) == [], path
    status, _, body = _get(api.base + "/docs")
    assert "/docs-assets/swagger-ui-bundle.js" in body.decode()
    status, _, body = _get(api.base + "/redoc")
    assert "/docs-assets/redoc.standalone.js" in body.decode()


def test_assets_are_served_with_their_content_type(api):
    expected = {
        "swagger-ui-bundle.js": "text/javascript",
        "swagger-ui.css": "text/css",
        "favicon-32x32.png": "image/png",
        "redoc.standalone.js": "text/javascript",
    }
    for name, ctype in expected.items():
        status, got, body = _get(f"{api.base}/docs-assets/{name}")
        assert (status, got.split(";")[0]) == (200, ctype), name
        assert len(body) > 500, name


def test_docs_renders_the_operations_offline(api, loopback_page, tmp_path):
    page = loopback_page.page
    page.goto(api.base + "/docs")
    page.get_by_text("/admin/batch/executions", exact=True).first.wait_for(timeout=30_000)
    assert page.locator(".opblock").count() > 10
    save_screenshot(page, tmp_path / "docs.png")
    assert (tmp_path / "docs.png").stat().st_size > 10_000
    assert loopback_page.blocked == []


def test_redoc_renders_the_operations_offline(api, loopback_page):
    page = loopback_page.page
    page.goto(api.base + "/redoc")
    page.get_by_text("/admin/batch/executions").first.wait_for(state="attached", timeout=30_000)
    assert page.locator("h2").count() > 10
    assert loopback_page.blocked == []
