"""The studio on Vertex AI: the setup check speaks at start-up, and F8 says up front that batch jobs
need the Gemini API (no file picker first).  Fake OAuth credentials; nothing leaves 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from google.auth import exceptions as auth_exceptions
from google.oauth2.credentials import Credentials

from banana_studio.tui.app import make_app
from banana_studio.tui.screens.batch import BatchScreen
from banana_studio.tui.screens.confirm import TextPromptScreen

SIZE = (140, 45)


@pytest.fixture
def vertex_studio(monkeypatch: pytest.MonkeyPatch) -> Any:
    from banana_studio.config import load_config
    from banana_studio.services import Studio

    state: dict[str, Any] = {"error": None}

    def default(scopes: Any = None, **_: Any) -> tuple[Any, str]:
        if state["error"] is not None:
            raise state["error"]
        return Credentials(token="fake-oauth-token"), "adc-project"

    monkeypatch.setattr("google.auth.default", default)
    monkeypatch.setenv("GOOGLE_GENAI_USE_ENTERPRISE", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-proj")
    studio = Studio.open(load_config(), project="vx")
    studio.state = state  # type: ignore[attr-defined]
    return studio


def notes(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_setup_problem_is_shown_at_start(vertex_studio: Any, h: Any) -> None:
    vertex_studio.state["error"] = auth_exceptions.DefaultCredentialsError("Your default credentials were not found.")
    app = make_app(vertex_studio)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await h.wait_until(pilot, lambda: any("gcloud auth application-default login" in n for n in notes(app)),
                               what="setup notification")
    finally:
        await vertex_studio.aclose()


async def test_a_send_refused_by_the_setup_check_leaves_no_turn_and_no_generating_preview(vertex_studio: Any,
                                                                                          h: Any) -> None:
    vertex_studio.state["error"] = auth_exceptions.DefaultCredentialsError("Your default credentials were not found.")
    app = make_app(vertex_studio)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await h.settle(pilot)
            main = app.screen
            await h.send_prompt(pilot, main, "a boat")
            await h.settle(pilot)
            preview = main.stage.preview
            assert preview.border_title == "Preview" and "Generating" not in preview._placeholder_text
            assert "nothing was sent" in preview._placeholder_text
            assert not vertex_studio.store.tree_index()
            assert any("gcloud auth application-default login" in n for n in notes(app))
    finally:
        await vertex_studio.aclose()


async def test_f8_on_vertex_says_batch_needs_the_gemini_api(vertex_studio: Any, h: Any) -> None:
    app = make_app(vertex_studio)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await h.settle(pilot)
            assert not any("Vertex AI setup" in n for n in notes(app))  # credentials + project: fine
            await pilot.press("f8")
            await h.wait_until(pilot, lambda: isinstance(app.screen, BatchScreen), what="batch screen")
            title = str(app.screen.query_one("#batch-title").render())
            assert "batch jobs need the Gemini API" in title and "half price" not in title
            await pilot.press("n")
            await h.wait_until(pilot, lambda: any("Batch jobs need the Gemini API" in n for n in notes(app)),
                               what="refusal up front")
            assert not isinstance(app.screen, TextPromptScreen)
    finally:
        await vertex_studio.aclose()


async def test_vertex_image_options_only_on_vertex(vertex_studio: Any, demo_studio: Any, h: Any) -> None:
    from textual.widgets import Select

    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.tui.widgets.sidebar import SettingsSidebar

    app = make_app(vertex_studio)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await h.settle(pilot)
            sidebar = app.screen.query_one(SettingsSidebar)
            await sidebar.mount_fields()
            sidebar.query_one("#output-mime", Select).value = "image/jpeg"
            sidebar.query_one("#person-generation", Select).value = "ALLOW_NONE"
            await h.settle(pilot)
            s = sidebar.settings
            assert (s.output_mime_type, s.person_generation) == ("image/jpeg", "ALLOW_NONE")
    finally:
        await vertex_studio.aclose()
    app = make_app(demo_studio)  # the Gemini API: no such controls, and loaded turns lose the options
    async with app.run_test(size=SIZE) as pilot:
        await h.settle(pilot)
        sidebar = app.screen.query_one(SettingsSidebar)
        await sidebar.mount_fields()
        assert not sidebar.query("#output-mime") and not sidebar.query("#person-generation")
        sidebar.load(GenerationSettings(output_mime_type="image/png", person_generation="ALLOW_ALL"))
        assert sidebar.settings.output_mime_type == "" and sidebar.settings.person_generation == ""


async def test_f8_keeps_waiting_through_a_503_on_a_status_check(demo_studio: Any, h: Any, tmp_path: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.widgets import DataTable, Input, RichLog

    from banana_studio.tui.screens.batch import BatchWatcher

    monkeypatch.setattr(BatchWatcher, "DEMO_POLL", 0.05)
    await demo_studio.ready_target()  # start the demo server to script it
    demo_studio.demo_server.batch_seconds = 0
    demo_studio.demo_server.batches.status_errors = [503, 503]
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red kite\n", encoding="utf-8")
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await h.wait_until(pilot, lambda: isinstance(app.screen, BatchScreen), what="batch screen")
        screen = app.screen
        await pilot.press("n")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="file prompt")
        app.screen.query_one(Input).value = str(prompts)
        await pilot.press("enter")
        table = screen.query_one(DataTable)
        await h.wait_until(pilot, lambda: table.row_count == 1 and str(table.get_row_at(0)[1]) == "imported",
                           timeout=30, what="job imported despite the 503s")
        log = "\n".join(str(line.text) for line in screen.query_one(RichLog).lines)
        assert "still waiting; Google answered 503 at" in log
        assert not any("overloaded" in n.lower() for n in notes(app))


async def test_template_run_on_vertex_offers_no_batch_lane(vertex_studio: Any, h: Any) -> None:
    """The template run modal says up front that batch jobs need the Gemini API: no half price priced, the
    Batch button disabled and named so (it was enabled and refused only when pressed)."""
    import os
    from pathlib import Path

    from textual.widgets import Button, Static

    from banana_studio.services.templates import TemplateLibrary
    from banana_studio.tui.screens.template_run import TemplateRunScreen

    folder = Path(os.environ["BANANA_STUDIO_CONFIG"]).parent / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zoo.toml").write_text('prompt = "a {subject}"\n[slots]\nsubject = ["fox", "owl"]\n', encoding="utf-8")
    tpl = TemplateLibrary.for_store(vertex_studio.store).get("zoo")
    app = make_app(vertex_studio)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await h.settle(pilot)
            modal = TemplateRunScreen(vertex_studio, tpl, vertex_studio.config.defaults)
            app.push_screen(modal)
            await h.wait_until(pilot, lambda: modal.plan is not None, what="plan")
            await h.settle(pilot)
            summary = str(modal.query_one("#tpl-summary", Static).render())
            button = modal.query_one("#tpl-batch", Button)
            assert "half price" not in summary and "needs the Gemini API" in summary
            assert button.disabled and "Gemini API only" in str(button.label)
            assert not modal.query_one("#tpl-send", Button).disabled
    finally:
        await vertex_studio.aclose()


def test_no_key_help_names_the_current_vertex_switch() -> None:
    from banana_studio.tui.screens.confirm import NoKeyScreen

    vertex_way = next(w for w in NoKeyScreen.HELP_WAYS if w.startswith("Vertex AI"))
    assert "GOOGLE_GENAI_USE_ENTERPRISE=true" in vertex_way and "express mode" in vertex_way
