"""A sign-in to MLflow through Keycloak's login form without a browser: the authorization-code
flow exactly as a browser walks it (MLflow's /login, Keycloak's form, the password posted,
MLflow's /callback redeeming the code), over plain HTTP, no JavaScript. For load: a real
browser costs a Chromium per user.

Cookies are kept per host by hand: Python's cookie jar files a cookie of `localhost` under
`localhost.local` and then never sends MLflow's session cookie back."""

from __future__ import annotations

import html
import re
import ssl
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urljoin, urlsplit

import httpx

FORM_ACTION = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"')
MAX_REDIRECTS = 10


class SignInError(Exception):
    """The sign-in did not end in an MLflow session; says where it stopped."""


@dataclass
class FormBrowser:
    """An HTTP client that follows redirects and keeps each host's cookies."""

    timeout: float = 30
    verify: ssl.SSLContext | bool = True
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._client = httpx.Client(timeout=self.timeout, verify=self.verify)

    def close(self) -> None:
        self._client.close()

    def cookie_header(self, url: str) -> str:
        jar = self.cookies.get(urlsplit(url).netloc, {})
        return "; ".join(f"{name}={value}" for name, value in jar.items())

    def request(self, method: str, url: str, **options: object) -> httpx.Response:
        """One request and every redirect after it, cookies sent and kept per host."""
        for _ in range(MAX_REDIRECTS):
            headers = {"Cookie": self.cookie_header(url)} if self.cookie_header(url) else {}
            response = self._client.request(method, url, headers=headers, **options)  # type: ignore[arg-type]
            jar = self.cookies.setdefault(urlsplit(url).netloc, {})
            for line in response.headers.get_list("set-cookie"):
                for name, morsel in SimpleCookie(line).items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        jar.pop(name, None)
                    else:
                        jar[name] = morsel.value
            if not response.is_redirect:
                return response
            url = urljoin(url, response.headers["location"])
            method, options = "GET", {}
        raise SignInError(f"more than {MAX_REDIRECTS} redirects, last to {url}")


def form_login(
    mlflow_url: str, username: str, password: str, verify: ssl.SSLContext | bool = True
) -> FormBrowser:
    """A browser-equivalent sign-in; the returned client holds MLflow's session cookie."""
    browser = FormBrowser(verify=verify)
    try:
        page = browser.request("GET", f"{mlflow_url}/login")
        found = FORM_ACTION.search(page.text)
        if found is None:
            raise SignInError(f"no Keycloak login form at {page.url} (HTTP {page.status_code})")
        landed = browser.request(
            "POST",
            html.unescape(found.group(1)),
            data={"username": username, "password": password, "credentialId": ""},
        )
        if FORM_ACTION.search(landed.text):
            raise SignInError(f"Keycloak showed its login form again for {username}")
        me = browser.request("GET", f"{mlflow_url}/api/2.0/mlflow/users/current")
        if me.status_code != 200:
            raise SignInError(f"MLflow has no session for {username}: HTTP {me.status_code}")
    except (httpx.HTTPError, SignInError):
        browser.close()
        raise
    return browser


def personal_access_token(browser: FormBrowser, mlflow_url: str) -> str:
    """A personal access token issued by the plugin to the signed-in user: what the stock
    MLflow client sends as its password."""
    issued = browser.request("PATCH", f"{mlflow_url}/api/2.0/mlflow/users/access-token", json={})
    if issued.status_code != 200:
        raise SignInError(f"no access token issued: HTTP {issued.status_code} {issued.text}")
    return str(issued.json()["token"])
