"""Use cases of the control plane: one transaction each; the only code that changes state.

Services API (every function takes a `ServiceContext` first; ids are NewTypes from
`rehost.domain.ids`; errors are `rehost.domain.errors.RehostError` subclasses; values are the
frozen dataclasses of `rehost.domain.models`):

- `context`:    ServiceContext(db, settings, master_key, clock, transit_pool, image_store_for)
- `bootstrap`:  open_context(settings, *, transit_pool=None, image_store_for=None) -> ServiceContext
                ensure_admin(ctx) -> AdminCredentials | None   (first start: account + AccessKey)
- `accounts`:   create_account(ctx, *, name, password) -> Account
                create_access_key(ctx, account_id) -> NewAccessKey
                list_access_keys(ctx, account_id) -> list[AccessKey]
- `auth`:       verify_basic(ctx, key_id, secret) -> AccountId            (REST: HTTP Basic)
                derive_secret(ctx, key_id) -> str                         (SMC ACS3 signer)
                account_of_key(ctx, key_id) -> AccountId
                login(ctx, name, password) -> AccountId                  (console)
                verify_agent_token(ctx, token) -> tuple[AccountId, SourceId]  (agent Bearer)
- `activation`: create_code(ctx, account_id, *, count=100, ttl_days=30, name="")
                    -> NewActivationCode
                list_codes(ctx, account_id, *, page_number=1, page_size=50) -> Page[ActivationCode]
                disable_code(ctx, account_id, code_id) -> ActivationCode
- `agents`:     import_source(ctx, *, code_id, code, inventory, name=None) -> ImportResult
                heartbeat(ctx, token, *, inventory=None) -> Source
                poll_work(ctx, token) -> WorkItem
                report_error(ctx, token, *, job_id, code, message, hint="") -> Job
- `sources`:    describe_sources(ctx, account_id, *, source_ids=None, state=None, name=None,
                    page_number=1, page_size=10) -> Page[Source]
                get_source(ctx, account_id, source_id) -> Source
                modify_source(ctx, account_id, source_id, *, name=None, description=None)
                    -> Source
                delete_source(ctx, account_id, source_id, *, force=False) -> None
                mark_offline_sources(ctx) -> int                        (scheduler)
- `regions`:    create_region(ctx, account_id, *, region_id, name="", image_store_path="",
                    network_quota=10, reserved_slots=0, limits=DiskLimits()) -> Region
                list_regions(ctx, account_id) -> list[Region]
                get_region(ctx, account_id, region_id) -> Region
                ensure_local_region(ctx, account_id) -> Region
- `jobs`:       create_job(ctx, account_id, *, source_id, region_id, request: JobRequest) -> Job
                get_job(ctx, account_id, job_id) -> Job
                describe_jobs(ctx, account_id, *, job_ids=None, status=None, region_id=None,
                    source_id=None, name=None, page_number=1, page_size=10) -> Page[Job]
                modify_job(ctx, account_id, job_id, request: JobRequest) -> Job
                delete_job(ctx, account_id, job_id) -> None
                list_events(ctx, account_id, job_id, *, after_id=0, limit=1000)
                    -> list[JobEvent]
- `runs`:       start_job(ctx, account_id, job_id) -> Job
                start_jobs(ctx, account_id, job_ids) -> list[StartResult]   (batch ≤ 10)
                pause_job(ctx, account_id, job_id) -> Job
- `dataplane`:  (for the transit; wired by the lead through transit/ports.py)
                task_by_data_token(ctx, data_token) -> TransitTask
                set_business_status(ctx, job_id, status: BusinessStatus) -> Job
                update_progress(ctx, job_id, disks: Sequence[DiskProgress]) -> Job
                sync_done(ctx, job_id) -> Job
                fail_job(ctx, job_id, *, code, message_en, message_zh, hint="") -> Job
                finish_job(ctx, job_id, *, manifest, verify_result="", image_id=None) -> Image
                log_event(ctx, job_id, *, level, code, message_en, message_zh, hint="") -> None
- `images`:     describe_images(ctx, account_id, *, region_id=None, image_ids=None, name=None,
                    page_number=1, page_size=10) -> Page[Image]
                get_image(ctx, account_id, image_id) -> Image
                delete_image(ctx, account_id, image_id) -> None
- `transits`:   unreleased(ctx) -> list[Transit]; data_token(ctx, row) (re-derived, hash stored)
- `transit_control`: ServiceTransitControl(ctx) implements rehost.transit.ports.TransitControl;
                SharedListenerPool(endpoint, pool) adapts rehost.transit.pool.TransitPool
- `ports`:      TransitPool (open/disconnect/close), ImageDeleter (delete) Protocols;
                NoTransitPool (data plane not wired: started jobs wait in Preparing)
- `scheduler`:  tick(ctx) -> TickReport; Scheduler(ctx).start() / .stop()
"""
