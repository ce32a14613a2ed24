-- An unchanged export is not imported twice (issue 6; docs/import-and-validation.md §4).
--
-- What a run loads is a function of three things: the export's content, the code that reads
-- and validates it, and the administration's import inputs (its ignore list, R7, and its
-- dunning plans, which `no_dunning_plan` consults). The importer records the first two on the
-- run as it reads it (`export_hash`: a hash of the export's bytes; `pipeline_fingerprint`: a
-- hash of that code and the libraries it consults); the validator records the third as it
-- loads it (`inputs_version`, read before anything else of the load). A new run whose three
-- equal those of the administration's latest completed run would load nothing: the importer
-- completes it at once, without reading or publishing a record.

alter table administrations add column import_inputs_version bigint not null default 0;

alter table import_runs add column export_hash text,
                        add column pipeline_fingerprint text,
                        add column inputs_version bigint;

-- Any change to an administration's ignore list or dunning plans counts up its version, so a
-- run loaded before the change never stands in for one after it.
create function count_import_inputs_change() returns trigger
language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') then
        update administrations set import_inputs_version = import_inputs_version + 1
        where id = old.administration_id;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        update administrations set import_inputs_version = import_inputs_version + 1
        where id = new.administration_id;
    end if;
    return null;
end $$;

create trigger ignore_entries_are_import_inputs
    after insert or update or delete on ignore_entries
    for each row execute function count_import_inputs_change();
create trigger dunning_plans_are_import_inputs
    after insert or update or delete on dunning_plans
    for each row execute function count_import_inputs_change();

create index import_runs_completed on import_runs (administration_id, finished_at desc)
    where status = 'completed';
