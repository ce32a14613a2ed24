"""Publishing from short-lived callers (the CLI, the dashboard) and from the outbox relay."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from shared.messages import Message, encode
from shared.settings import Settings

__all__ = ["JSON_HEADERS", "Publisher", "new_producer"]


JSON_HEADERS = [("content-type", b"application/json")]


def new_producer(settings: Settings) -> AIOKafkaProducer:
    """An aiokafka producer as every creditflow publisher uses it (not started)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.require_kafka(),
        enable_idempotence=settings.kafka_idempotence,
        acks="all",
    )


class Publisher:
    """A started aiokafka producer; `async with Publisher(settings) as p: await p.send(...)`."""

    def __init__(self, settings: Settings) -> None:
        self._producer = new_producer(settings)

    async def __aenter__(self) -> Publisher:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, topic: str, key: str, message: Message) -> None:
        await self._producer.send_and_wait(
            topic,
            encode(message),
            key=key.encode(),
            headers=JSON_HEADERS,
        )
