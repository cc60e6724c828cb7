-- Dead letters keep how often the event was tried and where it was on Kafka; replaying one
-- (ListDeadLetters, ReplayDeadLetter) records its last failure here when it fails again.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS attempts int NOT NULL DEFAULT 1;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS kafka_partition int NOT NULL DEFAULT 0;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS kafka_offset bigint NOT NULL DEFAULT 0;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS replay_error text;
-- Dead-lettering used to mark the event processed in the same transaction, which would make a
-- replay skip it as a duplicate: unmark those. From now on a dead letter is never marked.
DELETE FROM processed_events pe USING dead_letters dl WHERE pe.consumer = dl.consumer AND pe.event_id = dl.event_id;
