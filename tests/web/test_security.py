from __future__ import annotations

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, EmailStr
from starlette.testclient import TestClient

from keepfaith.web.security import CONTENT_SECURITY_POLICY


class Signup(BaseModel):
    email: EmailStr
    age: int


@pytest.fixture
def app_with_routes(app: FastAPI) -> FastAPI:
    @app.post("/api/v1/echo")
    def echo(body: Signup) -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/form")
    def form() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("jane.doe@example.com broke it")

    return app


@pytest.fixture
def web(app_with_routes: FastAPI) -> TestClient:
    return TestClient(app_with_routes, base_url="http://testserver", raise_server_exceptions=False)


def test_every_response_carries_the_security_headers(web: TestClient) -> None:
    for path in ("/health", "/nowhere", "/api/openapi.json", "/static/keepfaith.css"):
        headers = web.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in headers  # served over http here
    assert web.get("/health").headers["cache-control"] == "no-store"


def test_hsts_is_sent_over_https(app_with_routes: FastAPI) -> None:
    secure = TestClient(app_with_routes, base_url="https://testserver")
    assert secure.get("/health").headers["strict-transport-security"].startswith("max-age=63072000")


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "none"}, True),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Origin": "http://testserver"}, True),
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({}, True),  # no browser headers at all: not a browser, no ambient cookies to ride
    ],
)
def test_cross_origin_posts_are_refused(
    web: TestClient, headers: dict[str, str], allowed: bool
) -> None:
    response = web.post("/form", headers=headers)
    assert (response.status_code == 200) is allowed
    if not allowed:
        assert response.status_code == 403
        assert "another site" in response.text


def test_cross_origin_refusal_on_the_api_is_problem_json(web: TestClient) -> None:
    response = web.post(
        "/api/v1/echo",
        json={"email": "a@example.com", "age": 3},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


def test_safe_methods_are_never_refused(web: TestClient) -> None:
    assert web.get("/health", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_validation_errors_name_the_field_and_never_echo_the_value(web: TestClient) -> None:
    response = web.post("/api/v1/echo", json={"email": "not-an-address-jane", "age": 3})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["errors"][0]["field"] == "email"
    assert body["detail"].startswith("email: ")
    assert "not-an-address-jane" not in response.text


def test_oversized_bodies_are_refused(web: TestClient) -> None:
    big = "x" * 2_000_000
    response = web.post("/api/v1/echo", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["title"] == "Payload Too Large"


def test_oversized_chunked_bodies_are_refused(web: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    response = web.post(
        "/api/v1/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_unexpected_errors_reveal_nothing(
    web: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = web.get("/boom", headers={"accept": "application/json"})
    assert response.status_code == 500
    assert "jane.doe" not in response.text
    assert "RuntimeError" not in response.text


def test_unknown_pages_get_a_page_and_unknown_api_paths_get_problem_json(web: TestClient) -> None:
    page = web.get("/nowhere")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<main" in page.text
    api = web.get("/api/v1/nowhere")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
