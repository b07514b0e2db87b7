"""User configuration: a TOML file, environment variables, and the API key.

A malformed config never stops the studio: the error (with its line) is reported and the
defaults are kept.  The key is read from GOOGLE_API_KEY / GEMINI_API_KEY (GOOGLE_API_KEY wins, as
in the SDK) or from the config file, which is always written with mode 0600.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banana_studio import paths
from banana_studio.domain.catalogue import bare_model_id
from banana_studio.domain.settings import VERTEX_ONLY_SETTINGS, GenerationSettings

_GENERATION_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,), "aspect_ratio": (str,), "image_size": (str,), "include_thoughts": (bool,),
    "google_search": (bool,), "temperature": (int, float), "seed": (int,), "system_instruction": (str,),
    "thinking_level": (str,), "image_only": (bool,), "image_search": (bool,), "replay_drafts": (bool,),
    "output_mime_type": (str,), "output_quality": (int,), "person_generation": (str,),  # Vertex AI only
    "region": (dict,),  # per edit, never a default: refused in [generation] (see [region])
}
"""Accepted TOML types of each ``[generation]`` key (mirrors :class:`GenerationSettings`)."""
IMAGE_PROTOCOLS = ("auto", "kitty", "sixel", "halfcell", "unicode", "none")
SEND_KEYS = ("ctrl+enter", "enter")


@dataclass(slots=True)
class Config:
    api_key: str = ""
    """Only from the config file; environment keys are resolved by :func:`resolve_api_key`."""
    project_dir: str = ""
    """Where projects live (default: the platform data dir)."""
    default_project: str = "default"
    defaults: GenerationSettings = field(default_factory=GenerationSettings)
    send_key: str = "ctrl+enter"
    theme: str = "textual-dark"
    image_protocol: str = "auto"
    keymap: dict[str, str] = field(default_factory=dict)
    daily_budget: float | None = None
    project_budget: float | None = None
    retry_attempts: int = 5
    timeout_seconds: float = 360.0
    base_url: str = ""
    """Override the Gemini API base URL (the SDK also honours GOOGLE_GEMINI_BASE_URL).  Never used for
    Vertex AI, which has its own ``[vertex] base_url`` (or GOOGLE_VERTEX_BASE_URL)."""
    vertex_project: str = ""
    vertex_location: str = ""
    vertex_base_url: str = ""
    region_template: str = ""
    """The instruction sent with a region edit ("" = the built-in one; see services/region.py)."""
    outpaint_template: str = ""
    region_feather: int = 12
    region_protect: bool = True
    path: Path | None = None
    problems: list[str] = field(default_factory=list)
    """Human-readable problems found while loading (the defaults were kept for those)."""

    def projects_root(self) -> Path:
        if self.project_dir:
            return Path(self.project_dir).expanduser()
        return paths.projects_dir()


def _toml_error_text(exc: tomllib.TOMLDecodeError, path: Path) -> str:
    lineno = getattr(exc, "lineno", None)
    where = f"{path}, line {lineno}" if lineno else str(path)
    return f"Config file {where}: {exc.msg if hasattr(exc, 'msg') else exc}. Using defaults."


def load_config(path: Path | None = None) -> Config:
    """Load the config; never raises for bad content (see ``Config.problems``)."""
    path = path or paths.config_file()
    cfg = Config(path=path)
    try:
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raw_text = ""
    except OSError as exc:
        cfg.problems.append(f"Cannot read config file {path}: {exc.strerror}. Using defaults.")
        raw_text = ""
    except UnicodeDecodeError as exc:  # e.g. saved as Latin-1: used to crash every command
        line = exc.object[: exc.start].count(b"\n") + 1
        cfg.problems.append(f"Config file {path}, line {line}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x}). "
                            "Save it as UTF-8. Using defaults.")
        raw_text = ""
    data: dict[str, Any] = {}
    if raw_text:
        try:
            data = tomllib.loads(raw_text)
        except tomllib.TOMLDecodeError as exc:
            cfg.problems.append(_toml_error_text(exc, path))
            data = {}
    _apply(cfg, data)
    env_proto = os.environ.get("BANANA_STUDIO_IMAGE_PROTOCOL")
    if env_proto:
        if env_proto in IMAGE_PROTOCOLS:
            cfg.image_protocol = env_proto
        else:
            cfg.problems.append(
                f"BANANA_STUDIO_IMAGE_PROTOCOL={env_proto!r} is not one of {', '.join(IMAGE_PROTOCOLS)}."
            )
    return cfg


MAX_BUDGET = 1_000_000.0


def _load_region(cfg: Config, section: Any, take: Any) -> None:
    """``[region]``: template / outpaint_template (with {prompt}, {boxes}, {count}), feather (px), protect."""
    if not isinstance(section, dict):
        return
    for key in ("template", "outpaint_template"):
        v = take(section, key, str, "region.")
        if v is not None:
            if "{prompt}" in v:
                setattr(cfg, "region_template" if key == "template" else key, v)
            else:
                cfg.problems.append(f"Config region.{key} must contain {{prompt}} (the user's words); using the "
                                    "built-in template.")
    v = take(section, "feather", int, "region.")
    if v is not None:
        cfg.region_feather = max(0, min(512, v))
    v = take(section, "protect", bool, "region.")
    if v is not None:
        cfg.region_protect = v


def _budget(cfg: Config, key: str, value: float | None) -> float | None:
    """A budget in dollars, kept to the cent so what is shown ($x.yz) is exactly what is enforced.  0 blocks
    every paid request; an amount below one cent or absurdly large is refused (it would show as $0.00)."""
    if value is None:
        return None
    if value == 0:
        return 0.0
    if not 0.01 <= value <= MAX_BUDGET:
        cfg.problems.append(f"Config budget.{key} = {value!r} is not a usable amount: use 0 to block every paid "
                            f"request, or dollars from 0.01 to {MAX_BUDGET:,.0f}. No {key} budget is applied "
                            "until it is fixed.")
        return None
    return round(float(value), 2)


def _apply(cfg: Config, data: dict[str, Any]) -> None:
    def take(section: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
        if key not in section:
            return None
        value = section[key]
        if isinstance(value, bool) and typ in (int, float, (int, float)):
            cfg.problems.append(f"Config {where}{key}: expected a number, got {value!r}. Using the default.")
            return None
        if not isinstance(value, typ):
            cfg.problems.append(
                f"Config {where}{key}: expected {getattr(typ, '__name__', typ)}, got {value!r}. Using the default."
            )
            return None
        if isinstance(value, (int, float)) and not (math.isfinite(value) and value >= 0):
            # TOML allows inf/nan; `timeout_seconds = inf` made every request fail with an OverflowError.
            cfg.problems.append(f"Config {where}{key}: expected a finite number >= 0, got {value!r}. "
                                "Using the default.")
            return None
        return value

    top = data
    for key, typ in (("api_key", str), ("project_dir", str), ("default_project", str), ("base_url", str)):
        v = take(top, key, typ, "")
        if v is not None:
            setattr(cfg, key, v)
    vertex = top.get("vertex", {}) if isinstance(top.get("vertex", {}), dict) else {}
    for key in ("project", "location", "base_url"):
        v = take(vertex, key, str, "vertex.")
        if v is not None:
            setattr(cfg, f"vertex_{key}", v.strip())
    ui = top.get("ui", {}) if isinstance(top.get("ui", {}), dict) else {}
    v = take(ui, "send_key", str, "ui.")
    if v is not None:
        if v in SEND_KEYS:
            cfg.send_key = v
        else:
            cfg.problems.append(f"Config ui.send_key must be one of {', '.join(SEND_KEYS)}; got {v!r}.")
    v = take(ui, "theme", str, "ui.")
    if v is not None:
        cfg.theme = v
    v = take(ui, "image_protocol", str, "ui.")
    if v is not None:
        if v in IMAGE_PROTOCOLS:
            cfg.image_protocol = v
        else:
            cfg.problems.append(f"Config ui.image_protocol must be one of {', '.join(IMAGE_PROTOCOLS)}; got {v!r}.")
    keymap = top.get("keymap", {})
    if isinstance(keymap, dict):
        cfg.keymap = _flat_keymap(keymap)
    _load_region(cfg, top.get("region", {}), take)
    budget = top.get("budget", {}) if isinstance(top.get("budget", {}), dict) else {}
    cfg.daily_budget = _budget(cfg, "daily", take(budget, "daily", (int, float), "budget."))
    cfg.project_budget = _budget(cfg, "project", take(budget, "project", (int, float), "budget."))
    net = top.get("network", {}) if isinstance(top.get("network", {}), dict) else {}
    v = take(net, "retry_attempts", int, "network.")
    if v is not None:
        cfg.retry_attempts = max(1, min(10, v))
    v = take(net, "timeout_seconds", (int, float), "network.")
    if v is not None:
        cfg.timeout_seconds = max(1.0, float(v))
    gen = top.get("generation", {})
    if isinstance(gen, dict) and gen:
        clean: dict[str, Any] = {}
        for key, value in gen.items():
            want = _GENERATION_TYPES.get(key)
            if want is None:
                cfg.problems.append(f"Config generation.{key}: unknown setting; ignored.")
            elif key == "region":
                cfg.problems.append("Config generation.region: a region belongs to one edit, not to the defaults; "
                                    "ignored (the [region] section sets the template, feather and protect).")
            elif isinstance(value, bool) is not (want == (bool,)) or not isinstance(value, want):
                # Wrong types used to reach validate_settings and crash it (e.g. temperature = "hot").
                what = "a number" if float in want else {str: "a string", bool: "true or false",
                                                          int: "an integer"}[want[0]]
                cfg.problems.append(f"Config generation.{key}: expected {what}, got {value!r}. Using the default.")
            elif key == "image_size" and value.upper() in ("1K", "2K", "4K") and value != value.upper():
                # "2k" meant 2K: take it as meant, and say so (naming the file to fix).
                cfg.problems.append(f"Config file {cfg.path}: generation.image_size = {value!r} read as "
                                    f"{value.upper()!r} (sizes are written with an uppercase K).")
                clean[key] = value.upper()
            elif key in ("image_size", "aspect_ratio") and _not_a_shape(key, value):
                cfg.problems.append(f"Config file {cfg.path}: generation.{key} = {value!r} is not "
                                    f"{'a size (512, 1K, 2K, 4K)' if key == 'image_size' else 'an aspect ratio'}"
                                    "; using the default.")
            else:
                clean[key] = float(value) if key == "temperature" else value
        if isinstance(clean.get("model"), str):
            clean["model"] = normalize_model_id(clean["model"])
        if not uses_vertex():  # a default the Gemini API refuses is left out, not a refusal of every send
            for key in VERTEX_ONLY_SETTINGS:
                if key in clean:
                    clean.pop(key)
                    cfg.problems.append(f"Config generation.{key} is a Vertex AI option: not used on the Gemini "
                                        "API (GOOGLE_GENAI_USE_ENTERPRISE=true turns Vertex AI on).")
        cfg.defaults = GenerationSettings.from_json({**cfg.defaults.to_json(), **clean})


def _not_a_shape(key: str, value: str) -> bool:
    """True when ``value`` is no size / aspect ratio of any model (a model-specific check comes later)."""
    from banana_studio.domain.catalogue import MODELS

    known = {v for m in MODELS for v in (m.sizes if key == "image_size" else m.aspect_ratios)}
    return value not in known


def resolve_api_key(cfg: Config | None = None) -> tuple[str, str]:
    """(key, source) — source is 'GOOGLE_API_KEY', 'GEMINI_API_KEY', 'config' or '' (none)."""
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY"):
        value = os.environ.get(name, "").strip()
        if value:
            return value, name
    if cfg and cfg.api_key.strip():
        return cfg.api_key.strip(), "config"
    return "", ""


VERTEX_ENV = ("GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_USE_VERTEXAI")
"""google-genai 3.x's switch, then its legacy name (the SDK's order: the first one set decides)."""


def vertex_switch() -> tuple[bool, str]:
    """(Vertex AI on?, the variable that decided) — exactly google-genai's rule: ``true``/``1``
    (any case) is on, anything else off; GOOGLE_GENAI_USE_ENTERPRISE wins over the legacy name."""
    for name in VERTEX_ENV:
        raw = os.environ.get(name)
        if raw is not None:
            return raw.lower() in ("true", "1"), name
    return False, ""


def uses_vertex() -> bool:
    """True when the SDK's own Vertex AI switch is on (see :func:`vertex_switch`)."""
    return vertex_switch()[0]


def normalize_model_id(model: str) -> str:
    """``models/gemini-3-pro-image`` or ``publishers/google/models/…`` → the bare id both APIs accept."""
    return bare_model_id(model)


def write_private(path: Path, text: str | bytes) -> None:
    """Write ``text`` atomically with mode 0600 (config files may hold the key).  A symlinked ``path`` is
    written through: the file it points to is replaced, the link stays a link."""
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8", errors="surrogateescape") if isinstance(text, str) else text
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


class ConfigWriteError(Exception):
    """The config file cannot be edited safely (not valid TOML); it was left untouched."""


def save_api_key(key: str, path: Path | None = None) -> Path:
    """Store the key as the top-level ``api_key`` of the config file (mode 0600), changing nothing else:
    an existing top-level ``api_key`` gets its value replaced in place (tomlkit round trip), otherwise one
    line is added at the very top.  Every other byte, comments and multi-line strings included, is kept;
    a symlinked config file is written through.  Raises :class:`ConfigWriteError` for a file that is not
    valid TOML (nothing is changed then)."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    path = path or paths.config_file()
    raw = b""
    if path.exists():
        raw = path.read_bytes()
    # Bytes that are not UTF-8 ride along unchanged (surrogateescape) and are written back as they were.
    text = raw.decode("utf-8", errors="surrogateescape")
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigWriteError(f"{path} is not valid TOML ({exc}); fix it first. Nothing was changed.") from exc
    if "api_key" in doc and not isinstance(doc["api_key"], dict):
        doc["api_key"] = key
        out = tomlkit.dumps(doc)
    else:
        out = f"api_key = {tomlkit.item(key).as_string()}\n" + text
    try:
        ok = tomlkit.parse(out).get("api_key") == key
    except TOMLKitError:
        ok = False
    if not ok:  # e.g. a dotted `api_key.something = …` already owns the name
        raise ConfigWriteError(f"{path} already uses the name api_key for something else; fix it first. "
                               "Nothing was changed.")
    write_private(path, out)
    return path


def redact(text: str, secrets: list[str] | None = None) -> str:
    """Remove API keys from any text that may be shown, logged or stored."""
    import re

    out = text
    for s in secrets or []:
        if s and len(s) >= 6:
            out = out.replace(s, "[REDACTED]")
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY"):
        s = os.environ.get(name, "")
        if s and len(s) >= 6:
            out = out.replace(s, "[REDACTED]")
    # Google API keys look like AIza + 35 chars; also scrub key= query params and header echoes.
    out = re.sub(r"AIza[0-9A-Za-z_\-]{35}", "[REDACTED]", out)
    out = re.sub(r"(?i)(x-goog-api-key['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+", r"\1[REDACTED]", out)
    out = re.sub(r"(?i)([?&]key=)[^&\s'\"]+", r"\1[REDACTED]", out)
    return out


def _flat_keymap(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``[keymap]`` as binding id → keys.  A dotted id written bare (``main.reroll = "ctrl+y"``) is a
    nested table in TOML; it is flattened back to ``"main.reroll"``."""
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flat_keymap(value, f"{prefix}{key}."))
        elif isinstance(value, str):
            out[f"{prefix}{key}"] = value
    return out
