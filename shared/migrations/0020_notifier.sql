-- The notifier (R8, R9): pauses, cases, the e-mails it owes and every one it sent or suppressed.

-- R8: an administration or customer is paused fully or for reminders only; a case or an
-- invoice fully. `key` is the administration id itself for an administration pause. A pause
-- is in force while it is not lifted and its `until` date (its last day, in the
-- administration's time zone) has not passed.
create table pauses (
    id                bigserial primary key,
    administration_id text not null,
    entity            text not null check (entity in ('administration', 'customer', 'case', 'invoice')),
    key               text not null,
    mode              text not null check (mode in ('full', 'reminders')),
    until             date,
    reason            text,
    created_by        text not null,
    created_at        timestamptz not null default now(),
    lifted_at         timestamptz,
    lifted_by         text,   -- who resumed it; 'replaced' by a newer pause; 'until' when it ended
    check (mode = 'full' or entity in ('administration', 'customer'))
);
-- One standing pause per entity: pausing again replaces it.
create unique index pauses_standing on pauses (administration_id, entity, key)
    where lifted_at is null;

-- A case groups a customer's invoices under collection; an invoice is in at most one case and
-- is paused through it.
create table cases (
    administration_id text not null,
    case_key          text not null,
    customer_number   text not null,
    created_by        text not null,
    created_at        timestamptz not null default now(),
    primary key (administration_id, case_key)
);

create table case_invoices (
    administration_id text not null,
    invoice_number    text not null,
    case_key          text not null,
    added_at          timestamptz not null default now(),
    primary key (administration_id, invoice_number),
    foreign key (administration_id, case_key) references cases (administration_id, case_key)
);

-- R9: an accepted new invoice's e-mail, due once its grace period has passed. Settled when it
-- was sent, or when the invoice closed before it could be.
create table invoice_mails (
    administration_id text not null,
    invoice_number    text not null,
    send_after        timestamptz not null,
    settled_at        timestamptz,
    primary key (administration_id, invoice_number)
);
create index invoice_mails_pending on invoice_mails (send_after) where settled_at is null;

-- Every notification sent, suppressed or refused by the mail server. An (invoice, kind, level)
-- is claimed by inserting it as 'claimed' in the transaction that sends it and marks it
-- 'sent', so a claim never outlives its sender: if the notifier dies mid-send, the claim rolls
-- back and the next run claims it again, with the same Message-ID.
create table notifications (
    id                bigserial primary key,
    administration_id text not null,
    invoice_number    text not null,
    customer_number   text,
    kind              text not null check (kind in ('invoice', 'reminder', 'final_notice')),
    level             int not null check (level >= 0),
    status            text not null check (status in ('claimed', 'sent', 'suppressed', 'failed')),
    reason            text,
    detail            text,
    pause_id          bigint references pauses (id),
    run_date          date not null,        -- the date the run acted as (a reminder run's as_of)
    request_id        uuid,                 -- the reminder run, if any
    email_message_id  text not null,
    recipient         text,
    created_at        timestamptz not null default now(),
    sent_at           timestamptz,
    check (status in ('claimed', 'sent') or reason is not null)
);
-- R9: each (invoice, kind, level) is sent at most once, ever.
create unique index notifications_sent_once
    on notifications (administration_id, invoice_number, kind, level)
    where status in ('claimed', 'sent');
-- A suppression is recorded once per cause, however many runs meet it again.
create unique index notifications_suppressed_once
    on notifications (administration_id, invoice_number, kind, level, reason, (coalesce(pause_id, 0)))
    where status = 'suppressed';
create index notifications_newest on notifications (administration_id, id desc);

-- Reminder runs: requested (CLI, HTTP, the daily schedule) and what each did.
create table reminder_runs (
    request_id        uuid primary key,
    administration_id text not null,
    as_of             date not null,
    requested_by      text,
    status            text not null check (status in ('running', 'completed', 'failed')),
    started_at        timestamptz not null default now(),
    finished_at       timestamptz,
    counts            jsonb not null default '{}',
    reason            text
);
create index reminder_runs_by_administration on reminder_runs (administration_id, started_at desc);

-- The daily reminder run fires once per administration and day, whatever the number of
-- notifier instances.
create table reminder_schedule_claims (
    administration_id text not null,
    moment            timestamptz not null,
    claimed_at        timestamptz not null default now(),
    primary key (administration_id, moment)
);

-- R8: pauses and sends meet here. A notifier holds the shared form of its administration's
-- sending guard from the claim of a notification until its send is recorded; a pause (or a
-- case, which pauses its invoices through the case) takes the exclusive form before it is
-- written. So once a pause has committed, no claim made before it is still sending, and every
-- later claim sees it. Take the guard in a statement of its own: a statement that waits for it
-- still reads with the snapshot it started with.
create function lock_sending_shared(admin text) returns void
language sql volatile as $$
    select pg_advisory_xact_lock_shared(1313817673, hashtext(admin))
$$;

create function lock_sending_exclusive(admin text) returns void
language sql volatile as $$
    select pg_advisory_xact_lock(1313817673, hashtext(admin))
$$;
