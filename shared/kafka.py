"""Kafka plumbing shared by the services: broker, topics, batch decoding, offsets, dead letters.

Delivery is at-least-once with effects made idempotent (DESIGN section 9): every consumer uses
manual acknowledgement and commits the explicit offsets of a batch only after the database
transaction that applied it. A batch that fails is handed back (its partitions rewound) and
retried with backoff; a message that cannot be decoded goes to the dead-letters topic with the
error in its headers, so it never blocks its partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY
from pydantic import BaseModel, ValidationError

from shared.db import is_transient_database_error
from shared.settings import Settings
from shared.topics import Topics

__all__ = [
    "MAX_DEAD_LETTER_BYTES",
    "BatchRunner",
    "DeadLetter",
    "Decoded",
    "commit_batch",
    "decode_records",
    "ensure_topics",
    "make_broker",
    "records_of",
]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

# Kafka's default message limit is 1 MB; a dead letter keeps the start of a huge value.
MAX_DEAD_LETTER_BYTES = 256 * 1024


class ConcurrentStartBroker(KafkaBroker):
    """A KafkaBroker whose consumers join their groups all at once.

    FastStream starts subscribers one after another, and each start waits for its group
    join (which a coordinator may delay by seconds); a service with several consumers then
    starts in the sum of those waits instead of the longest one.
    """

    async def start(self) -> None:
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


def make_broker(settings: Settings, *, client_id: str) -> KafkaBroker:
    return ConcurrentStartBroker(
        settings.require_kafka(),
        client_id=client_id,
        enable_idempotence=settings.kafka_idempotence,
        graceful_timeout=8.0,
        allow_auto_create_topics=False,
        logger=logging.getLogger(f"creditflow.{client_id}"),
        # Fewer client logs at INFO: FastStream logs every message received otherwise.
        log_level=logging.DEBUG,
        # Messages received and processed per handler, exported on the service's /metrics.
        middlewares=[KafkaPrometheusMiddleware(registry=REGISTRY, app_name=client_id)],
    )


async def ensure_topics(
    settings: Settings, topics: Sequence[str] | None = None, *, attempts: int | None = 60
) -> None:
    """Create the topics that do not exist yet, with the configured partition count.

    Waits for the broker with backoff; `attempts=None` waits as long as it takes (a service
    starting during a broker outage waits instead of exiting into a restart loop).
    """
    names = list(topics) if topics is not None else Topics(settings.topic_prefix).all()
    delay = 0.2
    attempt = 0
    while True:
        attempt += 1
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.require_kafka())
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [name for name in names if name not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [NewTopic(name, settings.topic_partitions, 1) for name in missing]
                    )
                except TopicAlreadyExistsError:
                    pass  # another process created it a moment ago
            return
        except (KafkaError, OSError) as exc:
            if attempts is not None and attempt >= attempts:
                raise
            log.warning("broker not ready (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        finally:
            await admin.close()


def records_of(message: KafkaMessage) -> tuple[ConsumerRecord, ...]:
    raw = message.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


@dataclass(frozen=True, slots=True)
class Decoded(Generic[M]):
    record: ConsumerRecord
    message: M


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: ConsumerRecord
    error: str


def decode_records(
    records: Sequence[ConsumerRecord], model: type[M]
) -> tuple[list[Decoded[M]], list[DeadLetter]]:
    """Split a batch into decoded messages and dead letters, in offset order."""
    good: list[Decoded[M]] = []
    bad: list[DeadLetter] = []
    for record in records:
        value = record.value
        if value is None:
            bad.append(DeadLetter(record, "empty message value"))
            continue
        try:
            good.append(Decoded(record, model.model_validate_json(value)))
        except ValidationError as exc:
            bad.append(DeadLetter(record, _describe_validation_error(exc, model)))
    return good, bad


def _describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "value"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"not a valid {model.__name__}: {where}: {first.get('msg')}{more}"


async def commit_batch(message: KafkaMessage, records: Sequence[ConsumerRecord]) -> bool:
    """Commit the offsets after these records. False when a rebalance took the partitions
    away: the new owner then sees them again, which the idempotent effects make harmless."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    if not offsets:
        return True
    consumer = message.consumer
    # A rebalance during the batch may have moved some partitions to another consumer: commit
    # those still ours (aiokafka refuses the whole commit otherwise); the others are the new
    # owner's to see again.
    assignment = getattr(consumer, "assignment", None)  # test brokers have none
    owned = assignment() if assignment else set(offsets)
    lost = [tp for tp in offsets if tp not in owned]
    if lost:
        log.info("partitions %s moved to another consumer during the batch", sorted(lost))
        offsets = {tp: offset for tp, offset in offsets.items() if tp not in lost}
        if not offsets:
            return False
    try:
        await consumer.commit(offsets)  # type: ignore[call-arg]
    except CommitFailedError as exc:
        log.warning("commit failed after a rebalance, the batch will be seen again: %s", exc)
        return False
    except (KafkaError, AssertionError) as exc:
        # AssertionError: aiokafka refuses partitions no longer assigned to this consumer.
        log.warning("commit failed (%s); the batch will be seen again", exc)
        return False
    message.committed = True  # type: ignore[assignment]
    return not lost


async def _hand_back(message: KafkaMessage) -> None:
    """Rewind the batch's partitions so that its records are fetched again."""
    try:
        await message.nack()
    except KafkaError as exc:
        # IllegalStateError: a rebalance took a partition away; its new owner starts from the
        # last committed offset anyway.
        log.info("batch not rewound (%s); a rebalance moved its partitions", exc)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, KafkaError) or is_transient_database_error(exc)


@dataclass
class BatchRunner(Generic[M]):
    """Runs one consumer's batches: decode, dead-letter, apply, commit, retry.

    `apply` receives the decoded messages and must be idempotent: it runs again for the same
    messages after a crash, a failed commit or a rebalance.
    """

    broker: KafkaBroker
    model: type[M]
    apply: Callable[[list[Decoded[M]]], Awaitable[None]]
    dead_letters_topic: str
    name: str
    max_attempts: int = 5
    _failures: int = field(default=0, init=False)

    async def __call__(self, message: KafkaMessage) -> None:
        records = records_of(message)
        good, bad = decode_records(records, self.model)
        try:
            if good:
                await self.apply(good)
            if bad:
                await self.send_dead_letters(bad)
        except asyncio.CancelledError:
            await _hand_back(message)
            raise
        except Exception as exc:
            self._failures += 1
            if _is_transient(exc) or self._failures < self.max_attempts:
                await self._retry_later(message, exc, len(records))
                return
            log.exception(
                "%s: batch failed %d times; applying its messages one by one",
                self.name,
                self._failures,
            )
            try:
                poison = await self._isolate(good)
                await self.send_dead_letters([*bad, *poison])
            except Exception as again:  # an outage meanwhile: try the whole batch later
                await self._retry_later(message, again, len(records))
                return
        self._failures = 0
        await commit_batch(message, records)

    async def _retry_later(self, message: KafkaMessage, exc: Exception, size: int) -> None:
        transient = _is_transient(exc)
        delay = min(0.2 * 2 ** min(self._failures, 6), 10.0)
        log.warning(
            "%s: batch of %d failed (%s: %s); retrying in %.1fs",
            self.name,
            size,
            type(exc).__name__,
            exc,
            delay,
            exc_info=not transient,
        )
        await _hand_back(message)
        await asyncio.sleep(delay)

    async def _isolate(self, good: list[Decoded[M]]) -> list[DeadLetter]:
        """Apply each message alone; return those that fail by themselves (the poison), so
        that one bad message never takes the good ones of its batch to the dead letters."""
        poison: list[DeadLetter] = []
        for item in good:
            try:
                await self.apply([item])
            except Exception as exc:
                if _is_transient(exc):
                    raise
                poison.append(DeadLetter(item.record, f"{type(exc).__name__}: {exc}"))
        return poison

    async def send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        futures = []
        for letter in letters:
            record = letter.record
            value: bytes = record.value or b""
            headers = {
                "error": letter.error[:1000],
                "source_topic": record.topic,
                "source_partition": str(record.partition),
                "source_offset": str(record.offset),
                "consumer": self.name,
            }
            if len(value) > MAX_DEAD_LETTER_BYTES:
                headers["truncated_from_bytes"] = str(len(value))
                value = value[:MAX_DEAD_LETTER_BYTES]
            log.warning(
                "%s: dead letter from %s[%d]@%d: %s",
                self.name,
                record.topic,
                record.partition,
                record.offset,
                letter.error,
            )
            futures.append(
                await self.broker.publish(
                    value,
                    self.dead_letters_topic,
                    key=record.key,
                    headers=headers,
                    no_confirm=True,
                )
            )
        await asyncio.gather(*futures)


def subscriber_options(**overrides: Any) -> dict[str, Any]:
    """Options every batch consumer shares: manual commits, start at the earliest offset."""
    from faststream import AckPolicy

    options: dict[str, Any] = {
        "batch": True,
        "ack_policy": AckPolicy.MANUAL,
        "auto_offset_reset": "earliest",
        "max_records": 100,
        "batch_timeout_ms": 100,
        "decoder": _no_decode,
    }
    options.update(overrides)
    return options


async def _no_decode(message: Any) -> None:
    # Each record is decoded by BatchRunner so that one bad record cannot fail the batch.
    return None
