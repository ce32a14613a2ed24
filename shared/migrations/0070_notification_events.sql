-- A notification's event is built when it is published, not when it is recorded (issue 6).
--
-- A reminder run on a weekend records every due reminder as held back (R8: every suppressed
-- notification is recorded and published), 158,889 of them for an administration with 200,000
-- open invoices. Writing each one's event into the outbox in the run's own statement cost
-- 1.2 s of its 4.3 s: the JSON of every row, then an outbox row for each. A notification row
-- never changes once its transaction has committed, so its event can as well be built from
-- the row as it leaves. The outbox therefore holds, instead of a payload, the ids of the
-- notifications whose events are to be published, in one row per statement, and the relay
-- builds those events with `notification_events` as it publishes them.

alter table outbox
    alter column payload drop not null,
    add column notification_ids bigint[],
    add constraint outbox_payload_or_notifications
        check ((payload is null) <> (notification_ids is null));

-- The NotificationRecorded of each notification in `ids`, in that order, as it goes on the
-- wire (JSON, a field whose value is null left out: concat skips nulls). Its message_id is a
-- name-based UUID (version 3) of the notification id, so an event published twice (a relay
-- that died before it deleted the outbox row) keeps its id. A test compares each payload with
-- the same row made into a NotificationRecorded in Python.
create function notification_events(ids bigint[]) returns table (payload bytea)
language sql stable as $$
    select convert_to(concat(
               '{"message_id":"',
               overlay(overlay(md5('creditflow.notification.' || n.id)
                               placing '3' from 13 for 1) placing '8' from 17 for 1)::uuid,
               '","administration_id":', to_json(n.administration_id),
               ',"invoice":', to_json(n.invoice_number),
               ',"kind":', to_json(n.kind),
               ',"level":', n.level,
               ',"outcome":', to_json(n.status),
               ',"reason":' || to_json(n.reason),
               ',"email_message_id":', to_json(n.email_message_id),
               ',"at":"', to_char(coalesce(n.sent_at, n.created_at) at time zone 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               '","notification_id":', n.id,
               ',"customer":' || to_json(n.customer_number),
               ',"detail":' || to_json(n.detail),
               ',"pause_id":' || n.pause_id,
               ',"pause_entity":' || to_json(p.entity),
               ',"pause_key":' || to_json(p.key),
               ',"run_date":"', to_char(n.run_date, 'YYYY-MM-DD'),
               '"', ',"request_id":"' || n.request_id || '"',
               '}'), 'UTF8')
    from unnest(ids) with ordinality as wanted (id, position)
    join notifications n on n.id = wanted.id
    left join pauses p on p.id = n.pause_id
    order by wanted.position
$$;
