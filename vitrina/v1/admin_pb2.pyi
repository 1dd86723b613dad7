from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ReloadRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class ReloadReply(_message.Message):
    __slots__ = ("previous_version", "version", "seconds", "changed")
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    previous_version: str
    version: str
    seconds: float
    changed: bool
    def __init__(self, previous_version: _Optional[str] = ..., version: _Optional[str] = ..., seconds: _Optional[float] = ..., changed: _Optional[bool] = ...) -> None: ...
