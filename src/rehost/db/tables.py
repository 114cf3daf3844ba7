"""SQLAlchemy 2 tables (typed ORM rows); every resource row carries its account_id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store as naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class AccountRow(Base):
    """accounts (tenants); since 0012 passwords live on users (`password_hash` is unused)."""

    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime]


class UserRow(Base):
    """users: RAM-style users inside an account; the owner is the account's first admin."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_users_account_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    owner: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)


class AccessKeyRow(Base):
    """access_keys: salt + sha256(secret); the secret is re-derived from the master key."""

    __tablename__ = "access_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    salt: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class ActivationCodeRow(Base):
    """activation_codes (SMC access tokens)."""

    __tablename__ = "activation_codes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    code_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    registered_count: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SourceRow(Base):
    """sources: registered servers, their inventory JSON and agent token hash."""

    __tablename__ = "sources"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(256), default="")
    state: Mapped[str] = mapped_column(String(16), index=True)
    error_code: Mapped[str] = mapped_column(String(128), default="")
    status_info: Mapped[str] = mapped_column(Text, default="")
    inventory: Mapped[dict[str, Any]]
    agent_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    activation_code_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    last_heartbeat_at: Mapped[datetime | None]


class RegionRow(Base):
    """regions: per account; `local` exists by default."""

    __tablename__ = "regions"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    image_store_path: Mapped[str] = mapped_column(Text)
    network_quota: Mapped[int] = mapped_column(Integer)
    reserved_slots: Mapped[int] = mapped_column(Integer, default=0)
    system_min_gib: Mapped[int] = mapped_column(Integer)
    system_max_gib: Mapped[int] = mapped_column(Integer)
    data_min_gib: Mapped[int] = mapped_column(Integer)
    data_max_gib: Mapped[int] = mapped_column(Integer)
    verify_after_migration: Mapped[bool] = mapped_column(default=False)
    image_format: Mapped[str] = mapped_column(String(8), default="raw")
    accept_failed_checks: Mapped[bool] = mapped_column(default=False)
    adapt_guests: Mapped[bool] = mapped_column(default=False)
    adapt_engine: Mapped[str] = mapped_column(String(16), default="rehost")
    keep_static_network: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class JobRow(Base):
    """jobs: every DESIGN field, status, progress, error and result."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("account_id", "region_id", "name", name="uq_jobs_region_name"),
        ForeignKeyConstraint(["account_id", "region_id"], ["regions.account_id", "regions.id"]),
        Index("ix_jobs_account_status", "account_id", "status"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    region_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(256), default="")
    system_disk_size_gib: Mapped[int] = mapped_column(Integer)
    data_disks: Mapped[list[Any]]
    image_name: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))
    scheduled_start_time: Mapped[datetime | None]
    valid_time: Mapped[datetime]
    bandwidth_limit_kbps: Mapped[int] = mapped_column(Integer, default=0)
    compress_level: Mapped[int] = mapped_column(Integer, default=0)
    checksum: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    business_status: Mapped[str] = mapped_column(String(16), default="")
    progress: Mapped[list[Any]]
    error_code: Mapped[str] = mapped_column(String(128), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    error_hint: Mapped[str] = mapped_column(Text, default="")
    error_hint_zh: Mapped[str] = mapped_column(Text, default="")
    image_id: Mapped[str | None] = mapped_column(String(40))
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    run_once: Mapped[bool] = mapped_column(Boolean, default=True)
    frequency_hours: Mapped[int] = mapped_column(Integer, default=0)
    max_images_to_keep: Mapped[int] = mapped_column(Integer, default=0)
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    next_cycle_at: Mapped[datetime | None]
    # CutOverReplicationJob(SyncData=true): the running cycle is the last one (ends Finished)
    cutover_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # per-job OS adaptation overrides (NULL = the region's setting)
    adapt_guests: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=None)
    keep_static_network: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=None)


class TransitSlotRow(Base):
    """transits: a job's receiver and network slot (unique among unreleased ones)."""

    __tablename__ = "transits"
    __table_args__ = (
        Index(
            "uq_transits_active_slot", "account_id", "region_id", "slot", unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(40), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    region_id: Mapped[str] = mapped_column(String(64))
    slot: Mapped[int] = mapped_column(Integer)
    salt: Mapped[str] = mapped_column(String(64))
    data_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(Text, default="")
    work_dir: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    host_id: Mapped[str | None] = mapped_column(String(40), index=True, default=None)
    # the image this transit's build registered on its host (kept after the image is deleted)
    image_id: Mapped[str | None] = mapped_column(String(40), index=True, default=None)


class TransitHostRow(Base):
    """transit_hosts: `rehost transit` processes serving a region (host token hash only)."""

    __tablename__ = "transit_hosts"
    __table_args__ = (Index("ix_transit_hosts_region", "account_id", "region_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    region_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    data_endpoint: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class HostCodeRow(Base):
    """host_codes: one-use registration codes of transit hosts, bound to region + host name."""

    __tablename__ = "host_codes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    region_id: Mapped[str] = mapped_column(String(64))
    host_name: Mapped[str] = mapped_column(String(253))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    host_id: Mapped[str | None] = mapped_column(String(40), default=None)


class ConsoleSessionRow(Base):
    """console_sessions: server-side console sessions (logout revokes them)."""

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginFailureRow(Base):
    """login_failures: consecutive failed console logins per account name or address."""

    __tablename__ = "login_failures"
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime]


class ImageRow(Base):
    """images: custom images, name unique per region."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("account_id", "region_id", "name", name="uq_images_region_name"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    region_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    job_id: Mapped[str | None] = mapped_column(String(40))
    source_id: Mapped[str | None] = mapped_column(String(40))
    manifest: Mapped[dict[str, Any]]
    verify_result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class JobEventRow(Base):
    """job_events: a job's log."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(40), index=True)
    account_id: Mapped[str] = mapped_column(String(40))
    time: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(128), default="")
    message_en: Mapped[str] = mapped_column(Text)
    message_zh: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(Text, default="")
    hint_zh: Mapped[str] = mapped_column(Text, default="")


class ClientTokenRow(Base):
    """client_tokens: the result of an idempotent create, per account, action and ClientToken."""

    __tablename__ = "client_tokens"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    action: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    params_digest: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


class TagRow(Base):
    """tags: key/value tags of a job or source (SMC TagResources)."""

    __tablename__ = "tags"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), default="")


class WorkgroupRow(Base):
    """workgroups: named groups of source servers (SMC CreateWorkgroup)."""

    __tablename__ = "workgroups"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime]


class WorkgroupSourceRow(Base):
    """workgroup_sources: which sources a workgroup holds."""

    __tablename__ = "workgroup_sources"
    workgroup_id: Mapped[str] = mapped_column(ForeignKey("workgroups.id"), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(40), primary_key=True)


class PublishTargetRow(Base):
    """publish_targets: where a region's images may be published (libvirt, glance) and how."""

    __tablename__ = "publish_targets"
    __table_args__ = (
        ForeignKeyConstraint(["account_id", "region_id"], ["regions.account_id", "regions.id"],
                             ondelete="CASCADE"),
    )
    account_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    config: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class PublicationRow(Base):
    """image_publications: an image put into a target, its progress and what it made there."""

    __tablename__ = "image_publications"
    image_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40), index=True)
    region_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    remote: Mapped[dict[str, Any]]
    error_code: Mapped[str] = mapped_column(String(128), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
