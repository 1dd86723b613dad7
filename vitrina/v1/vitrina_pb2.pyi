from vitrina.v1 import admin_pb2 as _admin_pb2
from vitrina.v1 import bundle_pb2 as _bundle_pb2
from vitrina.v1 import explain_pb2 as _explain_pb2
from vitrina.v1 import items_pb2 as _items_pb2
from vitrina.v1 import maps_pb2 as _maps_pb2
from vitrina.v1 import search_pb2 as _search_pb2
from vitrina.v1 import webmap_pb2 as _webmap_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
