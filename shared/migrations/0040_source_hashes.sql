-- The unchanged re-import (issue 6). The validator hashes each customer's and invoice's source
-- text as it stages it (services/validator/staging.py: the values, each prefixed with its
-- length, and a fingerprint of the validation rules) and notes whether validation found
-- anything in it (`clean`). A loaded record keeps `source_hash`: the hash of a clean source
-- text its loaded data is exactly made of, or NULL. A record of a later run with that hash,
-- of an open invoice or an active customer, needs no validation of its own (the rules are a
-- function of the record's text) and no recomputing or rewriting when loaded; the checks
-- across records still run on every staged record.

alter table staged_customers add column source_hash text,
                             add column clean boolean not null default false;
alter table staged_invoices add column source_hash text,
                            add column clean boolean not null default false;

alter table customers add column source_hash text;
alter table invoices add column source_hash text;
