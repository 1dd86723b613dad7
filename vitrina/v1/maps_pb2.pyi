from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MapItem(_message.Message):
    __slots__ = ("id", "title", "image_url")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    image_url: str
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., image_url: _Optional[str] = ...) -> None: ...

class MapPoint(_message.Message):
    __slots__ = ("id", "x", "y", "cluster")
    ID_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    id: str
    x: float
    y: float
    cluster: int
    def __init__(self, id: _Optional[str] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., cluster: _Optional[int] = ...) -> None: ...

class Projection(_message.Message):
    __slots__ = ("bundle_version", "space", "method", "methods", "clustering", "clusterings", "points")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    CLUSTERING_FIELD_NUMBER: _ClassVar[int]
    CLUSTERINGS_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    space: str
    method: str
    methods: _containers.RepeatedScalarFieldContainer[str]
    clustering: str
    clusterings: _containers.RepeatedScalarFieldContainer[str]
    points: _containers.RepeatedCompositeFieldContainer[MapPoint]
    def __init__(self, bundle_version: _Optional[str] = ..., space: _Optional[str] = ..., method: _Optional[str] = ..., methods: _Optional[_Iterable[str]] = ..., clustering: _Optional[str] = ..., clusterings: _Optional[_Iterable[str]] = ..., points: _Optional[_Iterable[_Union[MapPoint, _Mapping]]] = ...) -> None: ...

class ProjectionColumns(_message.Message):
    __slots__ = ("header", "ids", "x", "y", "cluster")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    header: Projection
    ids: _containers.RepeatedScalarFieldContainer[str]
    x: _containers.RepeatedScalarFieldContainer[float]
    y: _containers.RepeatedScalarFieldContainer[float]
    cluster: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, header: _Optional[_Union[Projection, _Mapping]] = ..., ids: _Optional[_Iterable[str]] = ..., x: _Optional[_Iterable[float]] = ..., y: _Optional[_Iterable[float]] = ..., cluster: _Optional[_Iterable[int]] = ...) -> None: ...

class GetProjectionRequest(_message.Message):
    __slots__ = ("space", "method", "clustering", "version")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CLUSTERING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    space: str
    method: str
    clustering: str
    version: str
    def __init__(self, space: _Optional[str] = ..., method: _Optional[str] = ..., clustering: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("method", "cluster", "size", "name", "keywords", "representatives")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    REPRESENTATIVES_FIELD_NUMBER: _ClassVar[int]
    method: str
    cluster: int
    size: int
    name: str
    keywords: _containers.RepeatedScalarFieldContainer[str]
    representatives: _containers.RepeatedCompositeFieldContainer[MapItem]
    def __init__(self, method: _Optional[str] = ..., cluster: _Optional[int] = ..., size: _Optional[int] = ..., name: _Optional[str] = ..., keywords: _Optional[_Iterable[str]] = ..., representatives: _Optional[_Iterable[_Union[MapItem, _Mapping]]] = ...) -> None: ...

class Clusters(_message.Message):
    __slots__ = ("bundle_version", "space", "method", "methods", "clusters")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    space: str
    method: str
    methods: _containers.RepeatedScalarFieldContainer[str]
    clusters: _containers.RepeatedCompositeFieldContainer[Cluster]
    def __init__(self, bundle_version: _Optional[str] = ..., space: _Optional[str] = ..., method: _Optional[str] = ..., methods: _Optional[_Iterable[str]] = ..., clusters: _Optional[_Iterable[_Union[Cluster, _Mapping]]] = ...) -> None: ...

class ListClustersRequest(_message.Message):
    __slots__ = ("space", "method")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    space: str
    method: str
    def __init__(self, space: _Optional[str] = ..., method: _Optional[str] = ...) -> None: ...

class ClusterItems(_message.Message):
    __slots__ = ("bundle_version", "space", "method", "cluster", "name", "total", "offset", "items")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    space: str
    method: str
    cluster: int
    name: str
    total: int
    offset: int
    items: _containers.RepeatedCompositeFieldContainer[MapItem]
    def __init__(self, bundle_version: _Optional[str] = ..., space: _Optional[str] = ..., method: _Optional[str] = ..., cluster: _Optional[int] = ..., name: _Optional[str] = ..., total: _Optional[int] = ..., offset: _Optional[int] = ..., items: _Optional[_Iterable[_Union[MapItem, _Mapping]]] = ...) -> None: ...

class ListClusterItemsRequest(_message.Message):
    __slots__ = ("space", "cluster", "method", "limit", "offset")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    space: str
    cluster: int
    method: str
    limit: int
    offset: int
    def __init__(self, space: _Optional[str] = ..., cluster: _Optional[int] = ..., method: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class Outlier(_message.Message):
    __slots__ = ("id", "attribute", "label", "majority_label", "majority_share", "own_label_share", "confidence", "title", "image_url")
    ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    MAJORITY_LABEL_FIELD_NUMBER: _ClassVar[int]
    MAJORITY_SHARE_FIELD_NUMBER: _ClassVar[int]
    OWN_LABEL_SHARE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    id: str
    attribute: str
    label: str
    majority_label: str
    majority_share: float
    own_label_share: float
    confidence: float
    title: str
    image_url: str
    def __init__(self, id: _Optional[str] = ..., attribute: _Optional[str] = ..., label: _Optional[str] = ..., majority_label: _Optional[str] = ..., majority_share: _Optional[float] = ..., own_label_share: _Optional[float] = ..., confidence: _Optional[float] = ..., title: _Optional[str] = ..., image_url: _Optional[str] = ...) -> None: ...

class Outliers(_message.Message):
    __slots__ = ("bundle_version", "space", "attribute", "total", "outliers")
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    OUTLIERS_FIELD_NUMBER: _ClassVar[int]
    bundle_version: str
    space: str
    attribute: str
    total: int
    outliers: _containers.RepeatedCompositeFieldContainer[Outlier]
    def __init__(self, bundle_version: _Optional[str] = ..., space: _Optional[str] = ..., attribute: _Optional[str] = ..., total: _Optional[int] = ..., outliers: _Optional[_Iterable[_Union[Outlier, _Mapping]]] = ...) -> None: ...

class ListOutliersRequest(_message.Message):
    __slots__ = ("space", "attribute", "limit")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    space: str
    attribute: str
    limit: int
    def __init__(self, space: _Optional[str] = ..., attribute: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...
