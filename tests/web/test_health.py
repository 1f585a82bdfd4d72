from __future__ import annotations

from starlette.testclient import TestClient

from keepfaith import __version__


def test_it_reports_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": __version__}


def test_the_openapi_document_and_its_docs_page_are_served(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["info"]["title"] == "keepfaith"
    assert "/health" in spec["paths"]
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/health" in page.text
    assert "<script" not in page.text  # no third-party or inline script
