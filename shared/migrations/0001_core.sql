-- Core schema: administrations, import runs, staging, loaded master data, validation errors,
-- ignore list and the outbox. Later migrations add the notifier's and dashboard's tables.

create table administrations (
    id                 text primary key,
    name               text not null,
    source             text not null,
    import_mode        text not null default 'schedule'
                       check (import_mode in ('schedule', 'file', 'manual')),
    import_at          text[] not null default array['06:00'],
    timezone           text not null default 'Europe/Amsterdam',
    send_invoices_from date,
    minimum_amount     numeric(14, 2) not null default 0,
    holiday_country    text not null default 'NL',
    created_at         timestamptz not null default now()
);

-- Every run is logged, also one for an administration that does not exist (it fails).
create table import_runs (
    run_id            uuid primary key,
    request_id        uuid,
    administration_id text not null,
    trigger           text not null,
    requested_by      text,
    status            text not null
                      check (status in ('running', 'completed', 'failed', 'system_error', 'restarted')),
    started_at        timestamptz not null default now(),
    read_at           timestamptz,          -- the importer published every chunk
    finished_at       timestamptz,
    chunks            int,                  -- announced by the importer when read
    records           jsonb,                -- announced record counts per entity
    counts            jsonb not null default '{}',
    reason            text,
    heartbeat_at      timestamptz not null default now()
);
create index import_runs_by_administration on import_runs (administration_id, started_at desc);
create index import_runs_running on import_runs (status) where status = 'running';

-- R2: at most one active run per administration; requests during a run collapse into one
-- follow-up.
create table import_slots (
    administration_id      text primary key,
    active_run_id          uuid,
    follow_up_request_id   uuid,
    follow_up_trigger      text,
    follow_up_requested_by text
);

-- Every import request received, and what became of it: a run started, queued as the
-- follow-up, collapsed into the queued follow-up, a duplicate delivery, or refused.
create table import_requests (
    request_id         uuid primary key,
    administration_id  text not null,
    trigger            text not null,
    requested_by       text,
    requested_at       timestamptz,
    received_at        timestamptz not null default now(),
    outcome            text not null
                       check (outcome in ('started', 'queued', 'collapsed', 'unknown_administration')),
    follows_request_id uuid   -- collapsed: the queued request whose run serves this one too
);

-- A scheduled moment fires once, whatever the number of importer instances.
create table schedule_claims (
    administration_id text not null,
    moment            timestamptz not null,
    claimed_at        timestamptz not null default now(),
    primary key (administration_id, moment)
);

-- The export last seen by the 'file' import mode.
create table source_fingerprints (
    administration_id text primary key,
    fingerprint       text not null,
    seen_at           timestamptz not null default now()
);

-- Staging: a run's records wait here until every announced chunk has arrived; only then is
-- the run validated across records and loaded, in one transaction. A run that never completes
-- changes nothing.
create table run_chunks (
    run_id      uuid not null,
    seq         int not null,
    records     int not null,
    received_at timestamptz not null default now(),
    primary key (run_id, seq)
);

create table staged_customers (
    run_id          uuid not null,
    line            int not null,
    customer_number text not null,
    name            text,
    email           text,
    phone           text,
    street          text,
    postal_code     text,
    city            text,
    country         text,
    language        text,
    vat_number      text,
    changed_at      text,
    has_error       boolean not null
);
create index staged_customers_by_run on staged_customers (run_id, customer_number);

create table staged_invoices (
    run_id            uuid not null,
    line              int not null,
    invoice_number    text not null,
    customer_number   text,
    invoice_date      text,
    due_date          text,
    currency          text,
    amount_total      text,
    amount_open       text,
    payment_condition text,
    description       text,
    has_error         boolean not null
);
create index staged_invoices_by_run on staged_invoices (run_id, invoice_number);

create table staged_payment_conditions (
    run_id      uuid not null,
    line        int not null,
    code        text not null,
    description text,
    term_days   text,
    has_error   boolean not null
);
create index staged_payment_conditions_by_run on staged_payment_conditions (run_id, code);

create table staged_findings (
    run_id   uuid not null,
    entity   text not null,
    key      text not null,
    code     text not null,
    field    text not null,
    value    text not null,
    severity text not null,
    message  text not null
);
create index staged_findings_by_run on staged_findings (run_id);

-- Loaded master data (R1: changed only by imports).
create table payment_conditions (
    administration_id text not null,
    code              text not null,
    description       text,
    term_days         int,
    content_hash      text not null,
    loaded_at         timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    primary key (administration_id, code)
);

create table customers (
    administration_id text not null,
    customer_number   text not null,
    name              text,
    email             text,
    phone             text,
    street            text,
    postal_code       text,
    city              text,
    country           text,
    language          text,
    vat_number        text,
    changed_at        text,
    content_hash      text not null,
    status            text not null default 'active' check (status in ('active', 'blocked')),
    loaded_at         timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    last_run_id       uuid,
    primary key (administration_id, customer_number)
);

create table invoices (
    administration_id text not null,
    invoice_number    text not null,
    customer_number   text not null,
    invoice_date      date not null,
    due_date          date not null,
    currency          text not null,
    amount_total      numeric(14, 2) not null,
    amount_open       numeric(14, 2) not null,
    payment_condition text,
    description       text,
    content_hash      text not null,
    status            text not null default 'open' check (status in ('open', 'closed', 'blocked')),
    closed_at         timestamptz,
    loaded_at         timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    last_run_id       uuid,
    primary key (administration_id, invoice_number)
);
create index invoices_by_customer on invoices (administration_id, customer_number);
create index invoices_open on invoices (administration_id, due_date) where status = 'open';

-- R6: one row per error identity (administration, entity, key, code); error_id is derived
-- from that identity, so it is stable across raise, resolve and raise again.
create table validation_errors (
    error_id          uuid primary key,
    administration_id text not null,
    entity            text not null,
    key               text not null,
    code              text not null,
    field             text not null,
    value             text not null,
    severity          text not null check (severity in ('error', 'warning')),
    message           text not null,
    status            text not null check (status in ('open', 'resolved')),
    resolution        text check (resolution in ('fixed', 'left_import', 'ignored')),
    run_id            uuid,
    raised_at         timestamptz not null default now(),
    resolved_at       timestamptz,
    unique (administration_id, entity, key, code)
);
create index validation_errors_open on validation_errors (administration_id, entity, key)
    where status = 'open';

-- R7: exact keys, ranges (1000...1999) and prefixes (TEST*), parsed once when added.
create table ignore_entries (
    id                bigserial primary key,
    administration_id text not null,
    entity            text not null check (entity in ('customer', 'invoice', 'payment_condition')),
    pattern           text not null,
    kind              text not null check (kind in ('exact', 'range', 'prefix')),
    low               text,
    high              text,
    numeric_range     boolean not null default false,
    created_at        timestamptz not null default now(),
    created_by        text,
    unique (administration_id, entity, pattern)
);

-- Transactional outbox: events are written with the change that caused them and published
-- after commit, so none is lost between a commit and a crash.
create table outbox (
    id         bigserial primary key,
    topic      text not null,
    key        text not null,
    payload    bytea not null,
    created_at timestamptz not null default now()
);

-- R7 matching, one definition used by the validator's loads, explain and the notifier.
-- Ranges compare as numbers when both bounds are whole numbers, else as text (C order).
create function ignore_entry_matches(e ignore_entries, k text) returns boolean
language sql immutable as $$
    select case e.kind
        when 'exact'  then k = e.low
        when 'prefix' then left(k, length(e.low)) = e.low
        when 'range'  then case
            when e.numeric_range then k ~ '^[0-9]+$' and k::numeric between e.low::numeric and e.high::numeric
            else (k collate "C") >= e.low and (k collate "C") <= e.high
        end
    end
$$;

-- The first ignore entry (by pattern) naming this key, or null.
create function ignore_match(admin text, ent text, k text) returns text
language sql stable as $$
    select e.pattern from ignore_entries e
    where e.administration_id = admin and e.entity = ent and ignore_entry_matches(e, k)
    order by e.id limit 1
$$;

-- R9: a dunning plan per payment-condition code; 'default' is the administration's fallback,
-- created with the administration (+7 days, every 7 days, 2 reminders, final notice).
create table dunning_plans (
    administration_id text not null,
    condition_code    text not null,
    first_after_days  int not null default 7 check (first_after_days >= 0),
    interval_days     int not null default 7 check (interval_days >= 1),
    reminder_count    int not null default 2 check (reminder_count >= 0),
    final_notice      boolean not null default true,
    updated_at        timestamptz not null default now(),
    primary key (administration_id, condition_code)
);
