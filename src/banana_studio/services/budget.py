"""The cost guard: would this request push today's or this project's spending over budget?

Budgets come from the config (``[budget] daily = 5.0`` / ``project = 20.0``, USD).  The daily budget
covers every project under the projects root (it is what you spend in a day); the project budget
covers the open project.  Only real money counts: turns made by the local demo server (target
``local``) have simulated costs and are left out, in flight too (and demo batch jobs), and a demo
request is never checked.  "Today" is the same sum as the status line's
(:mod:`banana_studio.store.totals`).  Money already committed counts too: generations in flight
(pending / running turns, estimated from their settings) and unfinished batch jobs of the project
(estimated at the batch price).  A request that would go over asks for confirmation (TUI modal; ``gen``/``batch``
refuse without ``--yes``).

Pure Python: the read-only database peeks are the store's (:mod:`banana_studio.store.ledger`); no
Textual, no SDK, no SQLite here.  Calls are synchronous and fast (a few small queries); async callers
wrap them with ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from banana_studio.domain.catalogue import get_model
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.target import Target
from banana_studio.engine.cost import estimate_cost
from banana_studio.store.batch_jobs import pending_batch_cost
from banana_studio.store.ledger import peek_spending, project_db, spending_dbs
from banana_studio.store.totals import local_midnight, money


def request_estimate(settings: GenerationSettings, n: int = 1, n_refs: int = 0, *, batch: bool = False) -> float:
    """Estimated cost of ``n`` generations with ``settings`` (batch = the Batch API discount)."""
    one = estimate_cost(settings, n_refs)
    if batch:  # the discount covers tokens; Google Search grounding is charged in full (no source says otherwise)
        prices = get_model(settings.model).prices
        search = prices.search_per_1000 / 1000 if settings.google_search else 0.0
        one = (one - search) * prices.batch_discount + search
    return round(one * max(0, n), 6)


@dataclass(frozen=True, slots=True)
class Spending:
    """What has been spent (recorded costs) and committed (in flight, estimated)."""

    today: float = 0.0
    """Recorded today across all projects under the root."""
    project: float = 0.0
    """Recorded in this project, all time."""
    in_flight_today: float = 0.0
    """Estimated cost of generations still running anywhere under the root (all started today or
    earlier; they will be billed now)."""
    in_flight_project: float = 0.0


@dataclass(frozen=True, slots=True)
class BudgetVerdict:
    """The answer of :func:`check_budget`.  ``ok`` False = ask the user before sending."""

    estimate: float
    """Estimated cost of the request being checked."""
    n: int
    spent_today: float
    spent_project: float
    committed_today: float
    """In flight / unfinished batch jobs, estimated, counted against the daily budget."""
    committed_project: float
    daily_budget: float | None
    project_budget: float | None
    exceeded: tuple[str, ...] = field(default_factory=tuple)
    """Which budgets the request would exceed: 'daily' and/or 'project'."""
    project_name: str = ""

    @property
    def ok(self) -> bool:
        return not self.exceeded

    @property
    def after_today(self) -> float:
        return self.spent_today + self.committed_today + self.estimate

    @property
    def after_project(self) -> float:
        return self.spent_project + self.committed_project + self.estimate

    @property
    def message(self) -> str:
        """One human sentence (or two) explaining the verdict."""
        what = f"This request (~${self.estimate:.3f}" + (f" for {self.n} images)" if self.n != 1 else ")")
        if self.ok:
            parts = [f"{what} is within budget."]
            if self.daily_budget is not None:
                parts.append(f"Today ${self.after_today:.3f} of ${self.daily_budget:.2f}.")
            if self.project_budget is not None:
                parts.append(f"Project ${self.after_project:.3f} of ${self.project_budget:.2f}.")
            return " ".join(parts)
        lines: list[str] = []
        if "daily" in self.exceeded and self.daily_budget is not None:
            lines.append(f"{what} would bring today's spending to ${self.after_today:.3f}, over your daily "
                         f"budget of ${self.daily_budget:.2f} (spent ${self.spent_today:.3f}"
                         + (f", ${self.committed_today:.3f} still in flight" if self.committed_today else "")
                         + ").")
        if "project" in self.exceeded and self.project_budget is not None:
            name = f" {self.project_name!r}" if self.project_name else ""
            lines.append(f"{what} would bring project{name} to ${self.after_project:.3f}, over its budget of "
                         f"${self.project_budget:.2f} (spent ${self.spent_project:.3f}"
                         + (f", ${self.committed_project:.3f} still in flight" if self.committed_project else "")
                         + ").")
        return "\n".join(lines)


def spending(root: Path, project_dir: Path | None, *, midnight: float | None = None,
             roots: Iterable[Path] = ()) -> Spending:
    """Real money recorded and in flight under ``root`` (+ ``roots``; all projects) and in
    ``project_dir`` — the same "today" as :func:`banana_studio.store.totals.totals_across`."""
    midnight = local_midnight() if midnight is None else midnight
    today = project = live_all = live_project = 0.0
    this_db = project_db(project_dir).resolve() if project_dir is not None else None
    also = [Path(project_dir)] if project_dir is not None else []
    for db in spending_dbs([root, *roots], also):
        peek = peek_spending(db, midnight)
        t, total, live = peek.today, peek.total, sum(estimate_cost(s) for s in peek.in_flight)
        today += t
        live_all += live
        if db.resolve() == this_db:
            project, live_project = total, live
    return Spending(today=money(today), project=money(project), in_flight_today=live_all,
                    in_flight_project=live_project)


def check_budget(settings: GenerationSettings, n: int = 1, *, n_refs: int = 0, batch: bool = False,
                 daily_budget: float | None, project_budget: float | None, root: Path,
                 project_dir: Path | None, project_name: str = "", pending_batches: float = 0.0,
                 midnight: float | None = None, estimate: float | None = None,
                 roots: Iterable[Path] = ()) -> BudgetVerdict:
    """Would ``n`` generations with ``settings`` exceed a budget?  (No budget set → always ok.)

    ``pending_batches`` is the estimated cost of the project's submitted-but-not-imported batch jobs.
    ``estimate`` overrides the computed cost of the request (e.g. a batch whose lines differ in size).
    """
    if estimate is None:
        estimate = request_estimate(settings, n, n_refs, batch=batch)
    if daily_budget is None and project_budget is None:
        return BudgetVerdict(estimate, n, 0.0, 0.0, 0.0, 0.0, None, None, (), project_name)
    s = spending(root, project_dir, midnight=midnight, roots=roots)
    committed_today = s.in_flight_today + pending_batches
    committed_project = s.in_flight_project + pending_batches
    exceeded: list[str] = []
    eps = 1e-9
    if daily_budget is not None and s.today + committed_today + estimate > daily_budget + eps:
        exceeded.append("daily")
    if project_budget is not None and s.project + committed_project + estimate > project_budget + eps:
        exceeded.append("project")
    return BudgetVerdict(estimate=estimate, n=n, spent_today=s.today, spent_project=s.project,
                         committed_today=committed_today, committed_project=committed_project,
                         daily_budget=daily_budget, project_budget=project_budget, exceeded=tuple(exceeded),
                         project_name=project_name)


def check_studio_budget(studio: Any, settings: GenerationSettings, n: int = 1, *, n_refs: int = 0,
                        batch: bool = False, estimate: float | None = None) -> BudgetVerdict:
    """:func:`check_budget` for a :class:`~banana_studio.services.studio.Studio` (its config budgets,
    projects root, project, and the project's unfinished batch jobs).  Sync; wrap in a thread."""
    config = studio.config
    store = studio.store
    if config.daily_budget is None and config.project_budget is None:
        return check_budget(settings, n, n_refs=n_refs, batch=batch, daily_budget=None, project_budget=None,
                            root=config.projects_root(), project_dir=store.path, project_name=store.name,
                            estimate=estimate, roots=store.spending_roots)
    verdict = check_budget(settings, n, n_refs=n_refs, batch=batch, daily_budget=config.daily_budget,
                           project_budget=config.project_budget, root=config.projects_root(),
                           project_dir=store.path, project_name=store.name,
                           pending_batches=pending_batch_cost(store.path), estimate=estimate,
                           roots=store.spending_roots)
    if studio.target_kind is Target.LOCAL:  # a demo request costs nothing: real budgets never stop it
        return replace(verdict, exceeded=())
    return verdict
