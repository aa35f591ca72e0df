"""An S3 object's address, shared by every function that passes S3 references around."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class S3Location:
    """A bucket and key."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"
