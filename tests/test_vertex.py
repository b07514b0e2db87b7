"""Vertex AI as a target, against the local server's Vertex REST routes with fake OAuth credentials.

``google.auth.default`` is replaced by a stand-in returning a real ``google.oauth2`` credentials
object holding a fake, unexpired token, so the SDK sends ``Authorization: Bearer fake-oauth-token``
and never refreshes (no network beyond 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.auth import exceptions as auth_exceptions
from google.oauth2.credentials import Credentials

from banana_studio.cli.main import main
from banana_studio.config import load_config, normalize_model_id, uses_vertex, vertex_switch
from banana_studio.fakeserver import FakeGemini
from banana_studio.store import ProjectStore

TOKEN = "fake-oauth-token"
KEY = "AIza" + "V" * 35
PRO = "gemini-3-pro-image"


@pytest.fixture()
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(valid_keys={KEY}) as s:
        s.vertex.valid_tokens = {TOKEN}
        yield s


@pytest.fixture()
def adc(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Application Default Credentials stand-in: {"project": ..., "error": ...} shape what it returns."""
    state: dict[str, Any] = {"project": "adc-project", "error": None, "calls": 0}

    def default(scopes: Any = None, **_: Any) -> tuple[Any, str | None]:
        state["calls"] += 1
        if state["error"] is not None:
            raise state["error"]
        return Credentials(token=TOKEN), state["project"]

    monkeypatch.setattr("google.auth.default", default)
    return state


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini, adc: dict[str, Any]) -> Path:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_LOCATION",
                 "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_VERTEX_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_GENAI_USE_ENTERPRISE", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-proj")
    # The Gemini API's base_url points at a closed port: Vertex must never use it.
    write_config(tmp_path, srv, gemini_base="http://127.0.0.1:9")
    return tmp_path


def write_config(root: Path, srv: FakeGemini, *, gemini_base: str = "", extra: str = "") -> None:
    top = f'base_url = "{gemini_base}"\n' if gemini_base else ""
    (root / "config.toml").write_text(f'{top}{extra}[vertex]\nbase_url = "{srv.base_url}"\n', encoding="utf-8")


def vertex_calls(srv: FakeGemini) -> list[str]:
    return [r.path for r in srv.requests if "/publishers/google/models/" in r.path]


def turns(env: Path, project: str) -> int:
    root = env / "data" / "projects"
    if not (root / project).exists():
        return 0
    with ProjectStore.open(root, project) as store:
        return len(store.tree_index())


def test_outer_vertex_settings_never_reach_a_test() -> None:
    """A developer's GOOGLE_GENAI_USE_ENTERPRISE=true (or project, credentials) must not turn the suite's
    local-server tests into Vertex AI requests (tests/conftest.py clears them for every test)."""
    import os

    assert not uses_vertex()
    assert not [n for n in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_VERTEX_BASE_URL",
                            "GOOGLE_APPLICATION_CREDENTIALS") if n in os.environ]


def test_switch_follows_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)
    assert vertex_switch() == (False, "")
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "True")
    assert vertex_switch() == (True, "GOOGLE_GENAI_USE_VERTEXAI")
    monkeypatch.setenv("GOOGLE_GENAI_USE_ENTERPRISE", "false")  # the current name wins, as in google-genai
    assert vertex_switch() == (False, "GOOGLE_GENAI_USE_ENTERPRISE") and not uses_vertex()
    monkeypatch.setenv("GOOGLE_GENAI_USE_ENTERPRISE", "1")
    assert uses_vertex()
    assert normalize_model_id("models/gemini-3-pro-image") == PRO
    assert normalize_model_id("publishers/google/models/gemini-3-pro-image") == PRO


@pytest.mark.parametrize("switch", ["GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_USE_VERTEXAI"])
def test_gen_on_vertex_project_mode(env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str], switch: str) -> None:
    monkeypatch.delenv("GOOGLE_GENAI_USE_ENTERPRISE")
    monkeypatch.setenv(switch, "true")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)  # an AI Studio key in the environment must not win
    out = env / "out.jpg"
    assert main(["gen", "a lighthouse", "-o", str(out), "-p", "vx", "--model", f"models/{PRO}"]) == 0, \
        capsys.readouterr().err
    assert out.exists()
    assert vertex_calls(srv) == [f"/v1beta1/projects/my-proj/locations/global/publishers/google/models/{PRO}"
                                 ":streamGenerateContent"]
    assert srv.vertex.auth_seen == ["bearer"]
    assert "Vertex AI · my-proj · global" in capsys.readouterr().err


def test_express_mode_uses_the_saved_key(env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    write_config(env, srv, extra=f'api_key = "{KEY}"\n')
    assert main(["gen", "a kite", "-o", str(env / "k.jpg"), "-p", "ex"]) == 0, capsys.readouterr().err
    assert vertex_calls(srv) == [f"/v1beta1/publishers/google/models/{PRO}:streamGenerateContent"]
    assert srv.vertex.auth_seen == ["api-key"]


def test_no_credentials_is_a_setup_error_with_the_remedy(env: Path, srv: FakeGemini, adc: dict[str, Any],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    adc["error"] = auth_exceptions.DefaultCredentialsError(
        "Your default credentials were not found. To set up Application Default Credentials, see "
        "https://cloud.google.com/docs/authentication/external/set-up-adc for more information.")
    assert main(["gen", "a boat", "-o", str(env / "b.png"), "-p", "nocred"]) == 2
    err = capsys.readouterr().err
    assert "gcloud auth application-default login" in err and "express mode" in err
    assert "Unexpected error" not in err and "DefaultCredentialsError" not in err
    assert not vertex_calls(srv) and turns(env, "nocred") == 0
    assert not list((env / "data").rglob("nocred"))  # no project folder made for a command that could not run


def test_no_project_is_a_setup_error_and_records_no_turn(env: Path, srv: FakeGemini, adc: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    adc["project"] = None
    assert main(["gen", "a boat", "-o", str(env / "b.png"), "-p", "noproj"]) == 2
    err = capsys.readouterr().err
    assert "export GOOGLE_CLOUD_PROJECT=" in err and "ValueError" not in err
    assert turns(env, "noproj") == 0


def test_studio_generate_records_no_turn_for_a_setup_error(env: Path, adc: dict[str, Any]) -> None:
    import asyncio

    from banana_studio.domain.events import Failed
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import GenerateRequest, Studio

    adc["error"] = auth_exceptions.DefaultCredentialsError("not found")
    studio = Studio.open(load_config(), project="tui")

    async def go() -> list[Any]:
        try:
            return [ev async for ev in studio.generate(GenerateRequest("x", settings=GenerationSettings()))]
        finally:
            await studio.aclose()

    events = asyncio.run(go())
    assert len(events) == 1 and isinstance(events[0], Failed) and events[0].error.kind == "setup"
    assert turns(env, "tui") == 0


def test_config_shows_project_location_and_credentials(env: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-central1")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "Vertex AI (GOOGLE_GENAI_USE_ENTERPRISE=true)" in out
    assert "my-proj" in out and "us-central1" in out and "Credentials:" in out
    assert "API key:" not in out


def test_gemini_3_outside_global_keeps_googles_text(env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-central1")
    assert main(["gen", "a fox", "-o", str(env / "f.png"), "-p", "loc"]) != 0
    err = capsys.readouterr().err
    assert "projects/my-proj/locations/us-central1/publishers/google/models/gemini-3-pro-image" in err
    assert "GOOGLE_CLOUD_LOCATION=global" in err and "Use gemini-3-pro-image" not in err


@pytest.mark.parametrize(("scripted", "want", "unwanted"), [
    ("iam", "roles/aiplatform.user", "aistudio.google.com"),
    ("disabled", "gcloud services enable aiplatform.googleapis.com", "aistudio.google.com"),
    ("quota", "error-code-429", "free tier"),
])
def test_vertex_errors_give_vertex_remedies(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str],
                                            scripted: str, want: str, unwanted: str) -> None:
    srv.vertex.errors = [scripted] * 10  # retries (429) see the same answer
    write_config(env, srv, extra="[network]\nretry_attempts = 1\n")
    assert main(["gen", "a fox", "-o", str(env / "f.png"), "-p", f"e{scripted}"]) != 0
    err = capsys.readouterr().err
    assert want in err and unwanted not in err


def test_gemini_api_base_url_never_reaches_vertex_and_back(env: Path, srv: FakeGemini,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The Gemini target uses base_url, not [vertex] base_url (which points at the server here)."""
    monkeypatch.setenv("GOOGLE_GENAI_USE_ENTERPRISE", "false")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    write_config(env, srv, gemini_base="http://127.0.0.1:9", extra="[network]\nretry_attempts = 1\n")
    assert main(["gen", "a fox", "-o", str(env / "f.png"), "-p", "gem"]) != 0  # the closed port
    assert "Could not reach" in capsys.readouterr().err
    assert not srv.requests


def test_vertex_only_image_options(env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--output-mime", "jpeg", "--quality", "80", "--person-generation", "allow_adult"]
    assert main(["gen", "a market", "-o", str(env / "m.jpg"), "-p", "opts", *args]) == 0, capsys.readouterr().err
    (call,) = [r for r in srv.requests if "/publishers/google/models/" in r.path]
    image_cfg = call.body["generationConfig"]["imageConfig"]
    # google-genai's Vertex wire form of output_mime_type / output_compression_quality:
    assert image_cfg["imageOutputOptions"] == {"mimeType": "image/jpeg", "compressionQuality": 80}
    assert image_cfg["personGeneration"] == "ALLOW_ADULT"
    # On the Gemini API the same options are refused before anything is recorded or sent.
    monkeypatch.setenv("GOOGLE_GENAI_USE_ENTERPRISE", "false")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    write_config(env, srv, gemini_base=srv.base_url)
    srv.reset()
    assert main(["gen", "a market", "-o", str(env / "g.jpg"), "-p", "gopts", *args]) == 2
    assert "only Vertex AI accepts these options" in capsys.readouterr().err
    assert not srv.requests and turns(env, "gopts") == 0


def test_template_batch_run_on_vertex_is_refused_up_front(env: Path, srv: FakeGemini,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = env / "templates"  # next to the config file
    folder.mkdir()
    (folder / "zoo.toml").write_text('prompt = "a {subject}"\n[slots]\nsubject = ["fox", "owl"]\n', encoding="utf-8")
    assert main(["template", "run", "zoo", "-p", "tb", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "no Batch lane (it needs the Gemini API)" in err and "half price" not in err
    assert main(["template", "run", "zoo", "-p", "tb", "--batch", "--yes"]) == 2
    assert "Batch jobs need the Gemini API" in capsys.readouterr().err
    assert not srv.requests and turns(env, "tb") == 0


def test_a_models_prefix_in_a_template_is_dropped_too(env: Path, srv: FakeGemini,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = env / "templates"
    folder.mkdir()
    (folder / "one.toml").write_text(f'prompt = "a {{x}}"\n[slots]\nx = "fox"\n[settings]\nmodel = "models/{PRO}"\n',
                                     encoding="utf-8")
    assert main(["template", "run", "one", "-p", "tp", "--yes"]) == 0, capsys.readouterr().err
    assert vertex_calls(srv) == [f"/v1beta1/projects/my-proj/locations/global/publishers/google/models/{PRO}"
                                 ":streamGenerateContent"]


def test_a_vertex_only_config_default_is_not_used_on_the_gemini_api(env: Path, srv: FakeGemini,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A [generation] default that only Vertex AI takes is a note on the Gemini API, not a refusal of every
    send (an explicit flag still is refused, see test_vertex_only_image_options); on Vertex it is sent."""
    extra = '[generation]\nperson_generation = "ALLOW_ADULT"\n'
    write_config(env, srv, extra=extra)
    assert main(["gen", "a market", "-o", str(env / "v.jpg"), "-p", "cv"]) == 0, capsys.readouterr().err
    (call,) = [r for r in srv.requests if "/publishers/google/models/" in r.path]
    assert call.body["generationConfig"]["imageConfig"]["personGeneration"] == "ALLOW_ADULT"
    monkeypatch.setenv("GOOGLE_GENAI_USE_ENTERPRISE", "false")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    write_config(env, srv, gemini_base=srv.base_url, extra=extra)
    srv.reset()
    assert main(["gen", "a market", "-o", str(env / "g.jpg"), "-p", "cg"]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "generation.person_generation is a Vertex AI option" in err
    (call,) = [r for r in srv.requests if ":streamGenerateContent" in r.path]
    assert "personGeneration" not in json.dumps(call.body)
