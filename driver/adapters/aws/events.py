"""Release events to the stack's SNS topic (optional)."""

from __future__ import annotations

import json
from typing import Any

from ...core.ports import ReleaseEvent
from .clients import AWS_ERRORS, port_error


class SnsPublisher:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self.sns = sns
        self.topic_arn = topic_arn

    def publish(self, event: ReleaseEvent) -> None:
        body = {
            "stack": event.stack,
            "service": event.service,
            "releaseId": event.release_id,
            "state": event.state,
            "message": event.message,
            "data": event.data,
        }
        try:
            self.sns.publish(
                TopicArn=self.topic_arn,
                Subject=f"[{event.stack}] {event.service} {event.state}"[:100],
                Message=json.dumps(body, default=str),
                MessageAttributes={
                    "state": {"DataType": "String", "StringValue": event.state},
                    "service": {"DataType": "String", "StringValue": event.service},
                },
            )
        except AWS_ERRORS as exc:
            raise port_error(f"sns publish {self.topic_arn}", exc) from exc
