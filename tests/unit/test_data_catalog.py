"""Backup names, the listing of a backup directory, states, ages, what `status` warns about."""

from __future__ import annotations

import json

from moorage.operations.backups import catalog, naming

NOW = 1_800_000_000.0


def listing(*entries: tuple[str, int, float, dict | None]) -> str:
    lines = []
    for name, size, mtime, meta in entries:
        lines.append(f"@@file {size} {int(mtime)} {name}")
        if meta is not None:
            lines.append("@@meta " + json.dumps(meta))
    return "\n".join(lines) + "\n"


def test_names_carry_project_environment_label_and_utc_stamp():
    name = "dm-nexus-db-20270115T080000Z.dump"
    parsed = naming.parse(name)
    assert parsed is not None and (parsed.stem, parsed.kind, parsed.stamp) == ("dm-nexus-db", "db",
                                                                             "20270115T080000Z")
    media = naming.parse("dm-vps-media-20270115T080000Z.tar.gz")
    assert media is not None and media.kind == "media"
    assert naming.stamp_time("20270115T080000Z") == media.created == 1800000000.0  # 2027-01-15 08:00 UTC
    for other in ("backup.log", "dm-nexus-db-2027.dump", ".dm-nexus-db-20270115T080000Z.dump.partial",
                  "dm-nexus-db-20270115T080000Z.dump.json"):
        assert naming.parse(other) is None


def test_the_listing_reads_states_newest_first():
    good = {"name": "dm-nexus-db-20270115T080000Z.dump", "kind": "db", "label": "db", "size": 4100,
            "sha256": "a" * 64, "state": "verified", "reason": "manual"}
    text = listing(
        ("dm-nexus-db-20270114T080000Z.dump", 4000, NOW - 86400, None),                  # no record
        ("dm-nexus-db-20270115T080000Z.dump", 4100, NOW - 3600, good),
        ("dm-nexus-db-20270116T080000Z.dump", 10, NOW - 60, {**good, "size": 4200}),     # size changed
        ("dm-nexus-db-20270113T080000Z.dump", 4100, NOW - 2 * 86400, {**good, "state": "corrupt"}),
        ("dm-nexus-media-20270115T080000Z.tar.gz", 90000, NOW - 3600, {**good, "kind": "media", "label": "media",
                                                                       "size": 90000}),
        ("backup.log", 20, NOW, None),
    )
    backups = catalog.parse_listing(text)
    assert [b.name for b in backups] == [
        "dm-nexus-db-20270116T080000Z.dump", "dm-nexus-media-20270115T080000Z.tar.gz",
        "dm-nexus-db-20270115T080000Z.dump", "dm-nexus-db-20270114T080000Z.dump",
        "dm-nexus-db-20270113T080000Z.dump"]
    assert [b.state for b in backups] == ["changed", "verified", "verified", "unverified", "corrupt"]
    assert [b.kind for b in backups] == ["db", "media", "db", "db", "db"]
    newest = catalog.newest_verified(backups, "db")
    assert newest is not None and newest.name == "dm-nexus-db-20270115T080000Z.dump"
    assert catalog.newest_verified(backups, "db", kind="media") is None
    assert catalog.as_json(newest, NOW) == {"name": newest.name, "kind": "db", "label": "db", "size": 4100,
                                            "age_seconds": 3600, "state": "verified", "reason": "manual",
                                            "sha256": "a" * 64}


def test_an_unreadable_record_leaves_the_backup_unverified():
    text = "@@file 10 1800000000 dm-nexus-db-20270115T080000Z.dump\n@@meta {not json\n"
    assert [b.state for b in catalog.parse_listing(text)] == ["unverified"]


def test_staleness_names_what_is_missing_or_old():
    meta = {"kind": "db", "label": "db", "size": 1, "state": "verified"}
    fresh = catalog.parse_listing(listing(("dm-nexus-db-20270115T080000Z.dump", 1, NOW - 3600, meta)))
    old = catalog.parse_listing(listing(("dm-nexus-db-20270115T080000Z.dump", 1, NOW - 3 * 86400, meta)))
    assert catalog.staleness(fresh, 24, NOW) is None
    assert catalog.staleness([], 24, NOW) == "no verified database backup on this host"
    assert catalog.staleness(old, 24, NOW) == ("the newest verified backup of db is 3.0 days old "
                                               "(dm-nexus-db-20270115T080000Z.dump), more than 24 h")
    assert catalog.staleness(fresh, 24, NOW, labels=["db", "users"]) == \
        "no verified database backup of users on this host"


def test_human_ages_and_sizes():
    assert [catalog.human_age(s) for s in (5, 600, 5 * 3600, 3 * 86400)] == ["5 s", "10 min", "5.0 h", "3.0 days"]
    assert [catalog.human_size(s) for s in (812, 4200, 102_000_000)] == ["812 B", "4.1 KB", "97.3 MB"]
