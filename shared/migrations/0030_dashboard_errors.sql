-- The dashboard's own view of the validation-errors topic (DESIGN section 5): one row per
-- error identity (error_id), holding the latest event seen for it. The dashboard consumes the
-- topic in its own consumer group; an event applies only when it is newer (occurred_at) than
-- the one already held, so a redelivered or late event never brings a resolved error back.
create table dashboard_errors (
    error_id          uuid primary key,
    administration_id text not null,
    entity            text not null,
    key               text not null,
    code              text not null,
    field             text not null,
    value             text not null,
    severity          text not null,
    message           text not null,
    run_id            uuid,
    event             text not null check (event in ('raised', 'resolved')),
    message_id        uuid not null,
    occurred_at       timestamptz not null,
    resolution        text,
    raised_at         timestamptz,          -- the latest raise seen (null if only the resolve was)
    resolved_at       timestamptz,
    received_at       timestamptz not null default now()
);
create index dashboard_errors_by_administration
    on dashboard_errors (administration_id, occurred_at desc);
