"""Project store: tree operations, replay, references, search, deletion, thumbnails, export."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.domain.content import Content, Part, sha256_hex, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import (
    ProjectError,
    ProjectStore,
    find_turn_for_image,
    list_projects,
    recent_turns,
    slugify,
    validate_project_name,
)
from banana_studio.store.recipe import read_recipe


def make_image(color: str | tuple[int, int, int], fmt: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def model_answer(color: str, sig: bytes | None = None, *, draft: bool = True) -> Content:
    parts = [Part(text="**Planning**", thought=True)]
    if draft:
        parts.append(Part(mime_type="image/jpeg", data=make_image("gray"), thought=True))
    signature = sig or b"sig-" + color.encode()
    parts.append(Part(mime_type="image/jpeg", data=make_image(color), thought_signature=signature))
    parts.append(Part(text="", thought_signature=b"tail-sig"))
    return Content("model", parts)


@pytest.fixture()
def store(tmp_path: Path):
    s = ProjectStore.open(tmp_path / "projects", "demo")
    yield s
    s.close()


def add_done(store: ProjectStore, parent: int | None, prompt: str, color: str = "green", **kw) -> int:
    kind = kw.pop("kind", "generate")
    t = store.create_turn(parent, prompt, GenerationSettings(), [], user_content(prompt), kind=kind)
    store.complete_turn(t.id, model_content=model_answer(color, kw.pop("sig", None)), status="done",
                        cost=kw.pop("cost", 0.134), **kw)
    return t.id


# -- names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["", " ", "a/b", "..", "../x", "a\\b", "x\x00y", "tab\there", ".hidden",
                                 "x" * 65, " lead", "con", "a..b"])
def test_bad_project_names_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ProjectError):
        validate_project_name(bad)
    with pytest.raises(ProjectError):
        ProjectStore.open(tmp_path, bad)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("good", ["default", "My Project", "cats-2026", "été", "a.b"])
def test_good_project_names(good: str) -> None:
    assert validate_project_name(good) == good


def test_slugify() -> None:
    assert slugify("A cat in a hat!") == "a-cat-in-a-hat"
    assert slugify("Café — crème brûlée") == "cafe-creme-brulee"
    assert slugify("日本") == "image"
    long = slugify("word " * 30)
    assert len(long) <= 40 and not long.endswith("-")


# -- open / create ----------------------------------------------------------------------------------
def test_open_missing_without_create(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="No project"):
        ProjectStore.open(tmp_path, "nope", create=False)
    (tmp_path / "plain").mkdir()
    with pytest.raises(ProjectError, match="not a Banana Studio project"):
        ProjectStore.open_path(tmp_path / "plain")


def test_reopen_keeps_uuid_and_turns(tmp_path: Path) -> None:
    with ProjectStore.open(tmp_path, "p") as s:
        uid = s.uuid
        tid = add_done(s, None, "hello")
    with ProjectStore.open_path(tmp_path / "p") as s2:
        assert s2.uuid == uid
        assert s2.get_turn(tid).status == "done"
        assert s2.recovered == []
        assert s2._query("PRAGMA journal_mode")[0][0] == "wal"


# -- tree -----------------------------------------------------------------------------------------
def test_tree_fork_reroll_siblings_path(store: ProjectStore) -> None:
    a = add_done(store, None, "a cat")
    b = add_done(store, a, "make it blue", "blue")
    c = add_done(store, a, "make it red", "red")  # fork from a
    d = add_done(store, a, "make it red", "red", kind="reroll")  # re-roll of c: same prompt, same parent
    e = add_done(store, c, "add a hat")
    assert [t.id for t in store.children(None)] == [a]
    assert [t.id for t in store.children(a)] == [b, c, d]
    assert [t.id for t in store.siblings(d)] == [b, c, d]
    assert [t.id for t in store.path_to(e)] == [a, c, e]
    assert store.get_turn(d).kind == "reroll"
    idx = {n.id: n for n in store.tree_index()}
    assert set(idx) == {a, b, c, d, e}
    assert idx[e].parent_id == c and idx[e].n_final == 1 and idx[e].model == "gemini-3-pro-image"
    with pytest.raises(ProjectError):
        store.get_turn(999)
    with pytest.raises(ProjectError):
        store.create_turn(999, "x", GenerationSettings(), [], user_content("x"))


def test_replay_contents_signatures_byte_exact(store: ProjectStore) -> None:
    big = os.urandom(600 * 1024)
    a = add_done(store, None, "a cat", sig=big)
    failed = store.create_turn(a, "fails", GenerationSettings(), [], user_content("fails"))
    store.complete_turn(failed.id, model_content=None, status="failed", error="boom", error_kind="server")
    b = store.create_turn(failed.id, "continue", GenerationSettings(), [], user_content("continue"))
    store.complete_turn(b.id, model_content=model_answer("blue", b"small"), status="done")
    contents = store.replay_contents(b.id)
    # failed turn skipped: user+model for a and b only
    assert [c.role for c in contents] == ["user", "model", "user", "model"]
    model_a = contents[1]
    assert model_a.parts[2].thought_signature == big
    assert model_a.parts[2].data == make_image("green")
    assert model_a.parts[1].thought and model_a.parts[1].data == make_image("gray")
    assert model_a.parts[3].text == "" and model_a.parts[3].thought_signature == b"tail-sig"
    assert contents[3].parts[2].thought_signature == b"small"
    # big signature and images are outside the DB row
    db_size = (store.path / "project.db").stat().st_size + (store.path / "project.db-wal").stat().st_size
    row_len = store._query("SELECT length(model_json) FROM turns WHERE id = ?", (a,))[0][0]
    assert row_len < 4000
    assert db_size < 600 * 1024
    # replay from the failed turn's parent = history up to a
    assert len(store.replay_contents(failed.id)) == 2


def test_complete_turn_files_and_recipe(store: ProjectStore) -> None:
    a = add_done(store, None, "A cat in a hat")
    t = store.get_turn(a)
    assert [i.path for i in t.final_images] == [f"images/{a:04d}-a-cat-in-a-hat.jpg"]
    assert [i.path for i in t.draft_images] == [f"images/drafts/{a:04d}-d1.jpg"]
    final = t.final_images[0]
    assert (final.width, final.height) == (64, 48)
    data = store.abs_path(final.path).read_bytes()
    recipe = read_recipe(data)
    assert recipe is not None
    assert recipe["turn_id"] == a and recipe["prompt"] == "A cat in a hat"
    assert recipe["project_uuid"] == store.uuid and recipe["model"] == "gemini-3-pro-image"
    assert recipe["image_sha256"] == final.sha256 == sha256_hex(make_image("green"))
    # still a valid JPEG with the same pixels
    assert Image.open(io.BytesIO(data)).tobytes() == Image.open(io.BytesIO(make_image("green"))).tobytes()
    assert store.blob_bytes(final.sha256) == make_image("green")


def test_save_draft_then_complete_does_not_duplicate(store: ProjectStore) -> None:
    t = store.create_turn(None, "x", GenerationSettings(), [], user_content("x"))
    im = store.save_draft(t.id, make_image("gray"), "image/jpeg", 0)
    assert im.path == f"images/drafts/{t.id:04d}-d1.jpg"
    assert store.abs_path(im.path).read_bytes() == make_image("gray")
    done = store.complete_turn(t.id, model_content=model_answer("green"), status="done")
    assert len(done.draft_images) == 1 and len(done.final_images) == 1


def test_multiple_finals_named_apart(store: ProjectStore) -> None:
    t = store.create_turn(None, "two", GenerationSettings(), [], user_content("two"))
    mc = Content("model", [Part(mime_type="image/png", data=make_image("red", "PNG")),
                           Part(mime_type="image/png", data=make_image("blue", "PNG"))])
    done = store.complete_turn(t.id, model_content=mc, status="done")
    assert [i.path for i in done.final_images] == [f"images/{t.id:04d}-two.png", f"images/{t.id:04d}-two-2.png"]
    assert read_recipe(store.abs_path(done.final_images[1].path).read_bytes())["index"] == 1


def test_status_error_redacted(store: ProjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "AIza" + "x" * 35
    t = store.create_turn(None, "x", GenerationSettings(), [], user_content("x"))
    store.set_status(t.id, "running")
    assert store.get_turn(t.id).status == "running"
    store.set_status(t.id, "failed", error=f"bad request key={key}", error_kind="auth")
    got = store.get_turn(t.id)
    assert got.status == "failed" and key not in got.error and got.error_kind == "auth"
    with pytest.raises(ProjectError):
        store.set_status(t.id, "bogus")


# -- star / label / search / recent / costs -----------------------------------------------------------
def test_star_label_search(store: ProjectStore) -> None:
    a = add_done(store, None, "A watercolour fox in snow")
    b = add_done(store, a, "the fox wears a red scarf")
    c = add_done(store, None, "Café interior, morning light")
    store.star(b)
    store.set_label(b, "keeper")
    assert store.get_turn(b).starred and store.get_turn(b).label == "keeper"
    assert {n.id for n in store.search("fox")} == {a, b}
    assert {n.id for n in store.search("fo")} == {a, b}  # prefix
    assert [n.id for n in store.search("fox", starred=True)] == [b]
    assert [n.id for n in store.search("cafe")] == [c]  # diacritics folded
    assert store.search("zebra") == []
    assert [n.id for n in store.search('"; DROP TABLE turns; --')] == []
    assert len(store.search("", starred=True)) == 1
    assert [n.id for n in store.recent(2)] == [c, b]
    store.star(b, False)
    assert store.search("fox", starred=True) == []
    with pytest.raises(ProjectError):
        store.star(999)


def test_costs(store: ProjectStore) -> None:
    a = add_done(store, None, "a", cost=0.1)
    b = add_done(store, a, "b", cost=0.2)
    add_done(store, None, "c", cost=0.4)
    costs = store.costs(b)
    assert costs["turn"] == pytest.approx(0.2)
    assert costs["branch"] == pytest.approx(0.3)
    assert costs["project"] == pytest.approx(0.7)
    assert costs["today"] == pytest.approx(0.7)
    assert store.costs()["turn"] == 0.0


# -- references -----------------------------------------------------------------------------------
def test_add_reference_copies_and_dedups(store: ProjectStore, tmp_path: Path) -> None:
    src = tmp_path / "ref.png"
    src.write_bytes(make_image("red", "PNG"))
    r1 = store.add_reference(src)
    r2 = store.add_reference(src)
    assert r1 == r2 and r1.mime_type == "image/png" and r1.name == "ref.png"
    assert r1.path == f"refs/{r1.sha256}.png"
    assert store.reference_bytes(r1) == src.read_bytes()
    # used in a turn: replay re-inflates the reference bytes, without a duplicate blob
    uc = user_content("use it", [(store.reference_bytes(r1), r1.mime_type)])
    t = store.create_turn(None, "use it", GenerationSettings(), [r1], uc)
    store.complete_turn(t.id, model_content=model_answer("green"), status="done")
    assert store.replay_contents(t.id)[0].parts[1].data == src.read_bytes()
    assert not (store.path / "blobs" / r1.sha256[:2] / r1.sha256[2:]).exists()
    assert store.get_turn(t.id).references == [r1]


def test_gif_reference_converted_to_png(store: ProjectStore) -> None:
    ref = store.add_reference_bytes(make_image("red", "GIF"), "image/gif", "a.gif")
    assert ref.mime_type == "image/png"
    assert Image.open(io.BytesIO(store.reference_bytes(ref))).format == "PNG"


def _heic_bytes() -> bytes:
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 48), "purple")).save(buf, quality=60)
    return buf.getvalue()


def test_heic_reference_is_decoded_then_stored_as_is(store: ProjectStore) -> None:
    data = _heic_bytes()
    assert data[4:12] == b"ftypheic"
    ref = store.add_reference_bytes(data, "", "photo.heic")
    assert ref.mime_type == "image/heic" and ref.path.endswith(".heic")
    assert store.reference_bytes(ref) == data


def test_heif_header_followed_by_junk_is_refused(store: ProjectStore) -> None:
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    with pytest.raises(ProjectError, match=r"photo\.heic"):
        store.add_reference_bytes(data, "", "photo.heic")
    assert not (store.path / "refs").exists() or list((store.path / "refs").iterdir()) == []


def _png_with_dims(w: int, h: int) -> bytes:
    data = bytearray(make_image("red", "PNG", (8, 8)))
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", w, h)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


def test_bad_references_refused(store: ProjectStore, tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="does not exist"):
        store.add_reference(tmp_path / "missing.png")
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(ProjectError, match="not an image"):
        store.add_reference(txt)
    trunc = tmp_path / "trunc.jpg"
    trunc.write_bytes(make_image("red", "JPEG", (400, 400))[:300])
    with pytest.raises(ProjectError, match="truncated or corrupt"):
        store.add_reference(trunc)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_with_dims(30000, 30000))
    with pytest.raises(ProjectError, match="decompression bomb"):
        store.add_reference(bomb)
    huge = tmp_path / "huge.png"
    with huge.open("wb") as fh:
        fh.truncate(51 * 1024 * 1024)
    with pytest.raises(ProjectError, match="too large"):
        store.add_reference(huge)
    assert not (store.path / "refs").exists() or list((store.path / "refs").iterdir()) == []


# -- delete ---------------------------------------------------------------------------------------
def test_delete_branch_removes_descendants_and_unshared_files(store: ProjectStore) -> None:
    a = add_done(store, None, "root", "green")
    b = add_done(store, a, "child", "blue")
    c = add_done(store, b, "grandchild", "red")
    d = add_done(store, a, "other", "blue")  # shares the blue image blob with b
    blue_sha = sha256_hex(make_image("blue"))
    red_sha = sha256_hex(make_image("red"))
    b_files = [store.abs_path(i.path) for i in store.get_turn(b).images]
    thumb = store.thumbnail(store.get_turn(c).final_images[0], 16)
    assert store.delete_branch(b) == 2
    assert {n.id for n in store.tree_index()} == {a, d}
    assert not any(p.exists() for p in b_files)
    assert not thumb.exists()
    assert not (store.path / "blobs" / red_sha[:2] / red_sha[2:]).exists()
    assert store.blob_bytes(blue_sha) == make_image("blue")  # still used by d
    assert store.search("grandchild") == []
    assert len(store.replay_contents(d)) == 4
    with pytest.raises(ProjectError):
        store.delete_branch(b)
    # ids are never reused (file names stay unique)
    assert store.create_turn(None, "new", GenerationSettings(), [], user_content("new")).id == d + 1


# -- thumbnails ----------------------------------------------------------------------------------------
def test_thumbnail_generated_once(store: ProjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    t = store.create_turn(None, "big", GenerationSettings(), [], user_content("big"))
    mc = Content("model", [Part(mime_type="image/jpeg", data=make_image("blue", "JPEG", (1200, 600)))])
    img = store.complete_turn(t.id, model_content=mc, status="done").final_images[0]
    p = store.thumbnail(img, 256)
    assert p.parent.name == ".thumbs"
    assert Image.open(p).size == (256, 128)

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("thumbnail regenerated")

    monkeypatch.setattr(Image, "open", boom)
    assert store.thumbnail(img, 256) == p


# -- export / cross-project --------------------------------------------------------------------------
def test_export_branch(store: ProjectStore, tmp_path: Path) -> None:
    a = add_done(store, None, "first", sig=os.urandom(10000))
    b = add_done(store, a, "second", "blue")
    out = store.export_branch(b, tmp_path / "export")
    doc = json.loads(out.read_text())
    assert [t["id"] for t in doc["turns"]] == [a, b]
    assert doc["project_uuid"] == store.uuid
    files = {im["file"] for t in doc["turns"] for im in t["images"]}
    assert all((tmp_path / "export" / f).is_file() for f in files)
    text = out.read_text()
    assert '"data"' not in text  # no inline bytes
    part = doc["turns"][0]["model_content"]["parts"][2]
    assert part["thought_signature_bytes"] == 10000 and "inline_data" in part


def test_list_projects_recent_and_find_image(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    with ProjectStore.open(root, "one") as s1, ProjectStore.open(root, "two") as s2:
        a = add_done(s1, None, "one a", "green", cost=0.5)
        b = add_done(s2, None, "two b", "blue")
        img_b = s2.abs_path(s2.get_turn(b).final_images[0].path)
    (root / "broken").mkdir()
    (root / "broken" / "project.db").write_bytes(b"garbage" * 20)
    infos = {i.name: i for i in list_projects(root)}
    assert infos["one"].n_turns == 1 and infos["one"].cost == pytest.approx(0.5)
    assert infos["broken"].error
    assert [n.id for _, n in recent_turns(root, 5)] == [b, a]
    # by recipe
    moved = tmp_path / "elsewhere.jpg"
    moved.write_bytes(img_b.read_bytes())
    assert find_turn_for_image(moved, [root]) == (root / "two", b)
    # metadata stripped: raw model bytes match by sha256
    stripped = tmp_path / "stripped.jpg"
    stripped.write_bytes(make_image("blue"))
    assert find_turn_for_image(stripped, [root]) == (root / "two", b)
    unknown = tmp_path / "unknown.jpg"
    unknown.write_bytes(make_image("purple"))
    assert find_turn_for_image(unknown, [root]) is None
    assert list_projects(tmp_path / "nowhere") == []


def test_abs_path_refuses_escape(store: ProjectStore) -> None:
    with pytest.raises(ProjectError):
        store.abs_path("../../etc/passwd")


def test_thread_safety(store: ProjectStore) -> None:
    import threading

    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(10):
                t = store.create_turn(None, f"t{k}-{i}", GenerationSettings(), [], user_content("x"))
                store.complete_turn(t.id, model_content=None, status="done")
                store.tree_index()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(store.tree_index()) == 40
    assert sqlite3.connect(store.path / "project.db").execute("SELECT count(*) FROM turns").fetchone()[0] == 40


def test_owner_claim_and_recover(tmp_path: Path) -> None:
    a = ProjectStore.open(tmp_path, "p")
    b = ProjectStore.open(tmp_path, "p")
    try:
        t = a.create_turn(None, "x", GenerationSettings(), [], user_content("x"))
        with pytest.raises(ProjectError, match="another studio process"):
            b.set_status(t.id, "running")
        assert b.recover() == []  # a (another live owner) still holds it
        a.close()  # owner goes away without finishing
        assert b.recover() == [t.id]
        assert b.get_turn(t.id).status == "interrupted" and t.id in b.recovered
        b.set_status(t.id, "running")  # resuming claims ownership
        with ProjectStore.open(tmp_path, "p") as c:
            assert c.recovered == [] and c.get_turn(t.id).status == "running"
    finally:
        a.close()
        b.close()


def test_a_turn_hashes_each_byte_of_its_answer_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drafts hashed by save_draft are not hashed again by complete_turn (same bytes objects, as the
    service passes them); the final, its signature and the final file (with the recipe) once each."""
    import hashlib

    def noise_jpeg(seed: int) -> bytes:
        buf = io.BytesIO()
        Image.frombytes("RGB", (160, 160), bytes((i * seed) % 251 for i in range(160 * 160 * 3))).save(
            buf, "JPEG", quality=95)
        return buf.getvalue()

    drafts, final, sig = [noise_jpeg(3), noise_jpeg(5)], noise_jpeg(7), os.urandom(300_000)
    real = hashlib.sha256
    passes: list[int] = []

    class counted:  # stands in for hashlib.sha256; a pass is every byte fed to one hash
        def __init__(self, data: bytes = b"", **kw: object) -> None:
            self.h, self.n = real(data, **kw), len(data)  # type: ignore[arg-type]

        def update(self, data: bytes) -> None:
            self.h.update(data)
            self.n += len(data)

        def hexdigest(self) -> str:
            if self.n > 8192:
                passes.append(self.n)
            return self.h.hexdigest()

    with ProjectStore.open(tmp_path, "p") as s:
        t = s.create_turn(None, "a", GenerationSettings(), [], user_content("a"))
        monkeypatch.setattr(hashlib, "sha256", counted)
        for i, d in enumerate(drafts):
            s.save_draft(t.id, d, "image/jpeg", i)
        parts = [Part(mime_type="image/jpeg", data=d, thought=True) for d in drafts]
        parts.append(Part(mime_type="image/jpeg", data=final, thought_signature=sig))
        done = s.complete_turn(t.id, model_content=Content("model", parts), status="done")
        monkeypatch.setattr(hashlib, "sha256", real)
        assert sorted(passes) == sorted([*map(len, drafts), len(final), len(sig),
                                         s.abs_path(done.images[0].path).stat().st_size]), passes
        again = s.get_turn(t.id)
        assert again.model_content is not None and again.model_content.parts[-1].thought_signature == sig
        assert [im.sha256 for im in again.images] == [sha256_hex(final), *map(sha256_hex, drafts)]
