"""Applying a parsed org file to the database: ``greenlight org import FILE.yaml``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.domain.rules.org_file import (
    OrgFile,
    OrgFileError,
    OrgIssue,
    ProjectSpec,
    parse_org,
)
from bot.domain.rules.vocabulary import MemberRole
from storage.models import Chat, Milestone, Person, Project, ProjectMember, Section, Unit
from storage.store import Store

KINDS = ("units", "sections", "people", "chats", "projects", "members", "milestones")


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0  # members and milestones only: the file's lists are synced

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.removed

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed}


@dataclass
class ImportReport:
    counts: dict[str, Counts] = field(default_factory=lambda: {k: Counts() for k in KINDS})
    # keys (sections, people), telegram ids (chats) and codes (projects) in the database
    # but not in the file: left alone.
    not_in_file: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.counts.values())

    def counts_dict(self) -> dict[str, dict[str, int]]:
        return {kind: counts.as_dict() for kind, counts in self.counts.items()}

    def __str__(self) -> str:
        return "\n".join([*self.summary(), *(f"warning: {w}" for w in self.warnings)])

    def summary(self) -> list[str]:
        """Lines for the command line: one per kind, then what was not in the file."""
        lines = []
        for kind, c in self.counts.items():
            removed = f", {c.removed} removed" if kind in ("members", "milestones") else ""
            lines.append(f"{kind}: {c.created} created, {c.updated} updated,"
                         f" {c.unchanged} unchanged{removed}")
        for kind, keys in self.not_in_file.items():
            if keys:
                lines.append(f"{kind} not in file (left alone): {', '.join(keys)}")
        return lines


class _Tally:
    """Created / updated / unchanged per entry, for entries touched in several passes."""

    def __init__(self) -> None:
        self.state: dict[str, dict[str, str]] = {}

    def seen(self, kind: str, key: str, *, created: bool) -> None:
        self.state.setdefault(kind, {})[key] = "created" if created else "unchanged"

    def touch(self, kind: str, key: str, changed: bool) -> None:
        if changed and self.state[kind][key] == "unchanged":
            self.state[kind][key] = "updated"

    def fill(self, report: ImportReport) -> None:
        for kind, states in self.state.items():
            counts = report.counts[kind]
            for state in states.values():
                setattr(counts, state, getattr(counts, state) + 1)


ROOT_CODE, ROOT_NAME = "main", "本局"  # the one unit of a bureau whose file names none


def _assign(row: Any, **values: Any) -> bool:
    """Set the attributes that differ; True when any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _id(row: Any) -> int:
    return int(row.id)


async def apply_org(store: Store, org: OrgFile, *, now: datetime,
                    actor_id: int | None = None) -> ImportReport:
    """Upsert the file's organisation (see the module docstring). Flushes; the caller commits.

    Writes one ``org.imported`` audit event with the counts.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime: {now!r}; pass an aware one")
    run = _Import(store, org)
    await run.units()
    await run.sections()
    await run.people()
    await run.section_heads()
    await run.chats()
    await run.projects()
    run.tally.fill(run.report)
    report = run.report
    report.warnings = list(dict.fromkeys([*org.warnings, *report.warnings]))
    await store.audit(at=now, actor_id=actor_id, action="org.imported", subject="org", data={
        "file": org.filename,
        "counts": report.counts_dict(),
        "not_in_file": {kind: len(keys) for kind, keys in report.not_in_file.items()},
        "warnings": len(report.warnings),
    })
    await store.flush()
    return report


async def import_org_file(store: Store, path: Path, *, now: datetime,
                          actor_id: int | None = None) -> ImportReport:
    """Read, validate and apply an org file (flushes; the caller commits)."""
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OrgFileError(str(path), [OrgIssue(None, "", f"cannot read the file: {exc}")]
                           ) from None
    return await apply_org(store, parse_org(text, str(path)), now=now, actor_id=actor_id)


class _Import:
    def __init__(self, store: Store, org: OrgFile) -> None:
        self.store, self.org = store, org
        self.report = ImportReport()
        self.tally = _Tally()
        self.unit_rows: dict[str, Unit] = {}
        self.root: Unit | None = None
        self.section_rows: dict[str, Section] = {}
        self.person_rows: dict[str, Person] = {}
        self.chat_rows: dict[int, Chat] = {}

    def warn(self, line: int | None, path: str, message: str) -> None:
        self.report.warnings.append(OrgIssue(line, path, message).render(self.org.filename))

    def unit_id(self, code: str | None) -> int:
        """The id of a unit of the file; None is the root."""
        if code is None:
            assert self.root is not None
            return _id(self.root)
        return _id(self.unit_rows[code])

    async def units(self) -> None:
        """The file's tree, parents before children; a file without units keeps (or makes)
        the one root unit everything belongs to."""
        store = self.store
        rows = {row.code: row for row in await store.units()}
        specs = list(self.org.units)
        if not specs:
            self.root = next((row for row in rows.values() if row.parent_id is None), None)
            if self.root is None:
                self.root = Unit(code=ROOT_CODE, name=ROOT_NAME)
                store.add(self.root)
                await store.flush()
                self.root.path = f"/{_id(self.root)}/"
                self.tally.seen("units", ROOT_CODE, created=True)
            else:
                self.tally.seen("units", self.root.code, created=False)
            await store.flush()
            self.report.not_in_file["units"] = tuple(sorted(set(rows) - {self.root.code}))
            return
        depth = {spec.code: 0 for spec in specs}
        parent_of = {spec.code: spec.parent for spec in specs}
        for code in depth:
            current = parent_of[code]
            while current is not None:
                depth[code] += 1
                current = parent_of[current]
        for spec in sorted(specs, key=lambda s: depth[s.code]):  # parents first
            row = rows.get(spec.code)
            parent = self.unit_rows[spec.parent] if spec.parent else None
            parent_id = _id(parent) if parent is not None else None
            if row is None:
                row = Unit(code=spec.code, name=spec.name, parent_id=parent_id)
                store.add(row)
                await store.flush()
                self.tally.seen("units", spec.code, created=True)
            else:
                self.tally.seen("units", spec.code, created=False)
                self.tally.touch("units", spec.code,
                                 _assign(row, name=spec.name, parent_id=parent_id))
            prefix = parent.path if parent is not None else "/"
            self.tally.touch("units", spec.code, _assign(row, path=f"{prefix}{_id(row)}/"))
            self.unit_rows[spec.code] = row
            if parent is None:
                self.root = row
        await store.flush()
        self.report.not_in_file["units"] = tuple(sorted(set(rows) - set(self.unit_rows)))

    async def sections(self) -> None:
        rows = {row.code: row for row in await self.store.sections()}
        for spec in self.org.sections:
            row = rows.get(spec.code)
            unit_id = self.unit_id(spec.unit)
            if row is None:
                row = Section(code=spec.code, name=spec.name, unit_id=unit_id)
                self.store.add(row)
                self.tally.seen("sections", spec.code, created=True)
            else:
                self.tally.seen("sections", spec.code, created=False)
                self.tally.touch("sections", spec.code,
                                 _assign(row, name=spec.name, unit_id=unit_id))
            self.section_rows[spec.code] = row
        await self.store.flush()
        listed = {spec.code for spec in self.org.sections}
        self.report.not_in_file["sections"] = tuple(sorted(set(rows) - listed))

    async def people(self) -> None:
        store, specs = self.store, self.org.people
        rows = await store.people()
        by_key = {row.key: row for row in rows}
        by_tg = {row.tg_user_id: row for row in rows if row.tg_user_id is not None}
        listed = {spec.key for spec in specs}
        # Free the Telegram ids the file gives to someone else first (the column is unique).
        moved: set[str] = set()
        for spec in specs:
            holder = by_tg.get(spec.telegram_id) if spec.telegram_id is not None else None
            if holder is not None and holder.key != spec.key:
                holder.tg_user_id = None
                moved.add(holder.key)
                if holder.key not in listed:
                    self.warn(spec.line, "", f"telegram id {spec.telegram_id} moved from"
                              f" '{holder.key}' (not in file) to '{spec.key}'")
        if moved:
            await store.flush()
        for spec in specs:
            values: dict[str, Any] = {
                "name": spec.name,
                "tg_user_id": spec.telegram_id,
                "username": spec.username,
                "locale": spec.locale,
                "section_id": _id(self.section_rows[spec.section]) if spec.section else None,
                "unit_id": self.unit_id(self.org.unit_of_person(spec)),
                "active": spec.active,
            }
            row = by_key.get(spec.key)
            if row is not None and row.locale_chosen:
                del values["locale"]  # the person's own choice (/lang) wins over the file
            if row is None:
                row = Person(key=spec.key, **values)
                store.add(row)
                self.tally.seen("people", spec.key, created=True)
            else:
                self.tally.seen("people", spec.key, created=False)
                self.tally.touch("people", spec.key, _assign(row, **values) or spec.key in moved)
            self.person_rows[spec.key] = row
        await store.flush()
        for spec in specs:
            row = self.person_rows[spec.key]
            if await store.roles_of(_id(row)) != {role.value for role in spec.roles}:
                await store.set_roles(_id(row), [role.value for role in spec.roles])
                self.tally.touch("people", spec.key, True)
            backup = _id(self.person_rows[spec.backup]) if spec.backup else None
            self.tally.touch("people", spec.key, _assign(row, backup_id=backup))
        await store.flush()
        self.report.not_in_file["people"] = tuple(sorted(set(by_key) - listed))

    async def section_heads(self) -> None:
        for spec in self.org.sections:
            head = _id(self.person_rows[spec.head]) if spec.head else None
            changed = _assign(self.section_rows[spec.code], head_id=head)
            self.tally.touch("sections", spec.code, changed)
        await self.store.flush()

    async def chats(self) -> None:
        rows = {row.tg_chat_id: row for row in await self.store.chats()}
        for spec in self.org.chats:
            key = str(spec.telegram_id)
            row = rows.get(spec.telegram_id)
            unit_id = self.unit_id(self.org.unit_of_chat(spec))
            if row is None:
                row = Chat(tg_chat_id=spec.telegram_id, kind=spec.kind, title=spec.title,
                           unit_id=unit_id)
                self.store.add(row)
                self.tally.seen("chats", key, created=True)
            else:
                self.tally.seen("chats", key, created=False)
                changed = _assign(row, kind=spec.kind.value, title=spec.title, unit_id=unit_id)
                self.tally.touch("chats", key, changed)
            self.chat_rows[spec.telegram_id] = row
        await self.store.flush()
        listed = {spec.telegram_id for spec in self.org.chats}
        self.report.not_in_file["chats"] = tuple(str(t) for t in sorted(set(rows) - listed))

    async def projects(self) -> None:
        store = self.store
        rows = await store.projects()
        by_code = {row.code.upper(): row for row in rows}
        listed = {spec.code.upper() for spec in self.org.projects}
        # Each chat the file lists is linked to exactly the project it names, or to none.
        chat_project = {_id(self.chat_rows[c.telegram_id]): (c.project or "").upper()
                        for c in self.org.chats}
        chat_for = {code: chat_id for chat_id, code in chat_project.items() if code}
        tg_of = {_id(row): tg for tg, row in self.chat_rows.items()}
        unlinked: set[str] = set()
        for row in rows:
            if row.chat_id in chat_project and chat_project[row.chat_id] != row.code.upper():
                if row.code.upper() not in listed:
                    self.warn(None, "", f"project {row.code} (not in file) was unlinked from"
                              f" chat {tg_of[row.chat_id]}, which the file gives another use")
                row.chat_id = None
                unlinked.add(row.code.upper())
        if unlinked:
            await store.flush()
        for index, spec in enumerate(self.org.projects):
            code = spec.code.upper()
            current = by_code.get(code)
            values: dict[str, Any] = {
                "code": spec.code,
                "name": spec.name,
                "status": self.status(current, spec, index),
                "leader_id": _id(self.person_rows[spec.leader]) if spec.leader else None,
                "section_id": _id(self.section_rows[spec.section]) if spec.section else None,
                "unit_id": self.unit_id(self.org.unit_of_project(spec)),
                "work_plan": spec.work_plan,
                "follow_through": spec.follow_through,
                "green_channel": spec.green_channel,
                "chat_id": chat_for.get(code, current.chat_id if current is not None else None),
            }
            if current is None:
                by_code[code] = Project(**values)
                store.add(by_code[code])
                self.tally.seen("projects", code, created=True)
            else:
                self.tally.seen("projects", code, created=False)
                changed = _assign(current, **values) or code in unlinked
                self.tally.touch("projects", code, changed)
        await store.flush()
        for i, spec in enumerate(self.org.projects):
            row = by_code[spec.code.upper()]
            if row.chat_id is None:
                self.warn(spec.line, f"projects[{i}]",
                          f"project {spec.code} has no work group chat"
                          " (link one under chats: or with /bind)")
            members = await self.members(row, spec)
            milestones = await self.milestones(row, spec, i)
            self.tally.touch("projects", spec.code.upper(), members or milestones)
        self.report.not_in_file["projects"] = tuple(
            row.code for row in rows if row.code.upper() not in listed)

    def status(self, current: Project | None, spec: ProjectSpec, index: int) -> str:
        """A status changed in chat stays until the file agrees with it."""
        if current is None or current.status_changed_in_chat_at is None:
            return spec.status.value
        if current.status == spec.status:
            current.status_changed_in_chat_at = None  # the file has caught up
            return spec.status.value
        self.warn(spec.line, f"projects[{index}].status",
                  f"{spec.code}: status kept as {current.status.value}, changed in chat"
                  f" (the file says {spec.status.value})")
        return current.status.value

    async def members(self, project: Project, spec: ProjectSpec) -> bool:
        store, counts = self.store, self.report.counts["members"]
        wanted = [(_id(self.person_rows[k]), MemberRole.HANDLER.value) for k in spec.handlers]
        wanted += [(_id(self.person_rows[k]), MemberRole.GUIDE.value) for k in spec.guides]
        rows = await store.project_members(_id(project))
        have = {(row.person_id, row.role): row for row in rows}
        changed = False
        for pair, row in have.items():
            if pair not in wanted:
                await store.delete(row)
                counts.removed += 1
                changed = True
        for person_id, role in wanted:
            if (person_id, role) in have:
                counts.unchanged += 1
            else:
                store.add(ProjectMember(project_id=_id(project), person_id=person_id,
                                        role=MemberRole(role)))
                counts.created += 1
                changed = True
        await store.flush()
        return changed

    def chat_kept(self, row: Milestone, values: dict[str, Any], spec: ProjectSpec,
                  path: str) -> dict[str, Any]:
        """A milestone reached or moved in chat keeps that until the file agrees with it."""
        kept = {name: getattr(row, name) for name in ("due_on", "done_on")
                if getattr(row, name) != values[name]}
        if not kept:
            row.changed_in_chat_at = None  # the file has caught up
            return {}
        said = ", ".join(f"{name} {values[name] or 'empty'} in the file,"
                         f" {value or 'empty'} from chat" for name, value in kept.items())
        self.warn(spec.line, path, f"{spec.code}: milestone '{row.title}' keeps what was"
                  f" changed in chat ({said})")
        return kept

    async def milestones(self, project: Project, spec: ProjectSpec, index: int) -> bool:
        store, counts = self.store, self.report.counts["milestones"]
        rows = await store.milestones(_id(project))
        if [row.seq for row in rows] != list(range(1, len(rows) + 1)):
            # Renumber through negative values so the (project, seq) key never collides.
            for i, row in enumerate(rows):
                row.seq = -(i + 1)
            await store.flush()
        changed = False
        for i, milestone in enumerate(spec.milestones):
            values: dict[str, Any] = {"seq": i + 1, "title": milestone.title,
                                      "due_on": milestone.due, "done_on": milestone.done}
            if i < len(rows) and rows[i].changed_in_chat_at is not None:
                values |= self.chat_kept(rows[i], values, spec, f"projects[{index}]"
                                         f".milestones[{i}]")
            if i < len(rows):
                if _assign(rows[i], **values):
                    counts.updated += 1
                    changed = True
                else:
                    counts.unchanged += 1
            else:
                store.add(Milestone(project_id=_id(project), **values))
                counts.created += 1
                changed = True
        extra = rows[len(spec.milestones):]  # (a milestone changed in chat goes too)
        for position, row in enumerate(extra, start=len(spec.milestones) + 1):
            reports = await store.milestone_reports(_id(row))
            for report in reports:
                report.milestone_id = None
            if reports:
                self.warn(spec.line, f"projects[{index}].milestones",
                          f"{spec.code}: milestone {position} '{row.title}' was removed;"
                          f" {len(reports)} progress report(s) no longer point to it")
        if extra:
            await store.flush()  # detach the reports before the milestones go
            for row in extra:
                await store.delete(row)
                counts.removed += 1
            changed = True
        await store.flush()
        return changed
