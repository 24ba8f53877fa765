from datetime import UTC, datetime

import pytest

from contracts import envelope
from contracts.envelope import Envelope, InvalidEnvelope


def an_envelope() -> Envelope:
    return Envelope(
        type="folio.ordering.order-placed.v1",
        source="folio/ordering",
        subject="order-1",
        time=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        correlation_id="order-1",
        causation_id="cause-1",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )


def test_an_envelope_round_trips_through_amqp_headers() -> None:
    sent = an_envelope()
    assert Envelope.from_headers(sent.to_headers()) == sent


def test_headers_use_the_cloudevents_amqp_prefix_and_utc_time() -> None:
    headers = an_envelope().to_headers()
    assert headers["cloudEvents_specversion"] == "1.0"
    assert headers["cloudEvents_time"] == "2026-11-23T10:00:00Z"
    assert headers["correlation_id"] == "order-1"


def test_generated_ids_are_uuid_version_7() -> None:
    assert envelope.new_id().version == 7
    assert Envelope(type="t", source="s").id.version == 7


def test_header_values_may_arrive_as_bytes() -> None:
    sent = an_envelope()
    headers = {k: v.encode() for k, v in sent.to_headers().items()}
    assert Envelope.from_headers(headers) == sent


REQUIRED = [envelope.ID, envelope.TYPE, envelope.SOURCE, envelope.TIME, envelope.SPECVERSION]


@pytest.mark.parametrize("missing", REQUIRED)
def test_a_missing_required_attribute_is_an_invalid_envelope(missing: str) -> None:
    headers = an_envelope().to_headers()
    del headers[missing]
    with pytest.raises(InvalidEnvelope):
        Envelope.from_headers(headers)


def test_a_time_without_offset_is_an_invalid_envelope() -> None:
    headers = {**an_envelope().to_headers(), envelope.TIME: "2026-11-23T10:00:00"}
    with pytest.raises(InvalidEnvelope, match="UTC offset"):
        Envelope.from_headers(headers)
