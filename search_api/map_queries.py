"""The maps of a space as the service serves them: projections, clusters and their members,
and the label outliers curators review. A mixin of SearchService, so both transports reach them
through the one service layer; each operation reads one bundle snapshot.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from vitrina.indexer.bundle.reader import Bundle, Space
from vitrina.search_api.errors import InvalidArgument, NotFound
from vitrina.search_api.lookups import image_url_of, record_of
from vitrina.search_api.models import (
    ClusterItemsView,
    ClustersView,
    ClusterView,
    MapItem,
    OutliersView,
    OutlierView,
    ProjectionColumns,
    ProjectionView,
)

if TYPE_CHECKING:
    from vitrina.indexer.maps import Outlier

# The map a client gets when it names no method: UMAP's, when the space has one.
DEFAULT_PROJECTION = "umap"


class MapQueries:
    """Needs `holder`, `settings`, `_members` (an LRU of cluster member orders) and
    `other_version_map` (MapOperations) from the class it is mixed into."""

    def outliers(self, space: str, attribute: str | None = None, limit: int = 100) -> OutliersView:
        """Items of `space` whose label (of `attribute`, or of any label attribute when None)
        disagrees with their neighbours', most confident first; `total` counts them all."""
        bundle = self.holder.get()
        if space not in bundle.spaces:
            raise NotFound("space", space)
        max_limit = self.settings.max_outliers
        if not 1 <= limit <= max_limit:
            raise InvalidArgument("limit", f"limit must be between 1 and {max_limit}, got {limit}")
        report = bundle.outliers()
        if attribute is not None:
            # An attribute with no outliers is absent from the report but was checked all the same.
            known = sorted(set(bundle.label_attributes()) | {o.attribute for o in report})
            if attribute not in known:
                raise InvalidArgument(
                    "attribute",
                    f"unknown attribute {attribute!r}; label attributes of this bundle: {', '.join(known) or '(none)'}",
                )
        found = [o for o in report if o.space == space and attribute in (None, o.attribute)]
        # The report is ranked within each (space, attribute); several attributes need one ranking.
        found.sort(key=lambda o: (-o.confidence, o.id, o.attribute))
        return OutliersView(
            bundle_version=bundle.version,
            space=space,
            attribute=attribute,
            total=len(found),
            outliers=[_outlier_view(bundle, o) for o in found[:limit]],
        )

    def projection(self, space: str, method: str | None = None, clustering: str | None = None,
                   version: str | None = None) -> ProjectionView:
        """Every item of `space` on its 2-D map, with its cluster; see projection_columns."""
        return self.projection_columns(space, method, clustering, version).view()

    def projection_columns(
        self, space: str, method: str | None = None, clustering: str | None = None, version: str | None = None
    ) -> ProjectionColumns:
        """The map of `space` by `method` as columns, labelled by `clustering`.

        method None: umap when the space has it, else its first method. clustering None: the
        space's first clustering (the build's order), or no labels when it has none.
        version: another version of the collection, as it stored the map (no labels); the map
        page animates from it, since a re-index aligns its maps onto its parent's.
        Unknown space: NotFound; a space without any map: NotFound; a method or clustering the
        space lacks: InvalidArgument naming `method` / `clustering`.
        """
        return self._projection_of(self.holder.get(), space, method, clustering, version)

    def _projection_of(self, bundle: Bundle, space: str, method: str | None = None, clustering: str | None = None,
                       version: str | None = None) -> ProjectionColumns:
        """projection_columns on a snapshot the caller already holds."""
        if version is not None and version != bundle.version:
            return self.other_version_map(bundle, space, version, method)
        sp = map_space(bundle, space)
        ids, coords, labels, _ = sp.projections()
        if method is None:
            if not coords:
                raise NotFound("map of space", space)
            method = DEFAULT_PROJECTION if DEFAULT_PROJECTION in coords else next(iter(coords))
        check_known("method", "projection method", method, list(coords), space)
        if clustering is None:
            clustering = next(iter(labels), None)
        else:
            check_known("clustering", "clustering", clustering, list(labels), space)
        return ProjectionColumns(
            bundle_version=bundle.version,
            space=space,
            method=method,
            methods=list(coords),
            clustering=clustering,
            clusterings=list(labels),
            ids=ids,
            coords=coords[method],
            labels=None if clustering is None else labels[clustering],
        )

    def clusters(self, space: str, method: str | None = None) -> ClustersView:
        """The clusters of `space` by clustering `method` (None: every clustering), each with its
        size, name, keywords and representative items."""
        bundle = self.holder.get()
        sp = map_space(bundle, space)
        summaries = sp.clusters()
        methods = list(dict.fromkeys(s.method for s in summaries))
        if method is not None:
            check_known("method", "clustering", method, methods, space)
        return ClustersView(
            bundle_version=bundle.version,
            space=space,
            method=method,
            methods=methods,
            clusters=[
                ClusterView(
                    method=s.method,
                    cluster=s.cluster,
                    size=s.size,
                    name=s.name,
                    keywords=list(s.keywords),
                    representatives=[map_item(bundle, item_id) for item_id in s.representative_ids],
                )
                for s in summaries
                if method in (None, s.method)
            ],
        )

    def cluster_items(
        self, space: str, cluster: int, method: str | None = None, limit: int = 100, offset: int = 0
    ) -> ClusterItemsView:
        """The items of one cluster, most central first (noise, cluster -1: in row order), in
        the order the build stored (member ranks), never re-ranked here.

        method None: the space's first clustering. An unknown cluster number (or a space
        without clusterings) is NotFound: the cluster is the resource asked for; a
        clustering the space lacks is InvalidArgument naming `method`.
        """
        bundle = self.holder.get()
        sp = map_space(bundle, space)
        max_limit = self.settings.max_cluster_items
        if not 1 <= limit <= max_limit:
            raise InvalidArgument("limit", f"limit must be between 1 and {max_limit}, got {limit}")
        if offset < 0:
            raise InvalidArgument("offset", f"offset must be 0 or more, got {offset}")
        maps = sp.projections()
        labels = maps.labels
        if method is None:
            method = next(iter(labels), None)
            if method is None:
                raise NotFound("cluster", str(cluster))
        check_known("method", "clustering", method, list(labels), space)
        summary = next((s for s in sp.clusters() if s.method == method and s.cluster == cluster), None)
        if summary is None:
            raise NotFound(f"{method} cluster", str(cluster))
        key = (bundle.version, space, method, cluster)
        members = self._members.get(key)
        if members is None:
            from vitrina.indexer.maps import cluster_members

            # The build's order, as stored: a server never re-ranks, so every replica on any
            # processor pages the same way, and the first page starts with the representatives.
            representatives = [sp.row_of[i] for i in summary.representative_ids if i in sp.row_of]
            members = cluster_members(labels[method], cluster, maps.member_ranks.get(method), representatives)
            self._members.put(key, members)
        page = members[offset : offset + limit]
        return ClusterItemsView(
            bundle_version=bundle.version,
            space=space,
            method=method,
            cluster=cluster,
            name=summary.name,
            total=len(members),
            offset=offset,
            items=[map_item(bundle, sp.ids[row]) for row in page.tolist()],
        )


# -- helpers shared with map_operations.py --------------------------------------------------


def map_space(bundle: Bundle, name: str) -> Space:
    # A space in the path names a resource: unknown is 404, as for outliers.
    space = bundle.spaces.get(name)
    if space is None:
        raise NotFound("space", name)
    return space


def check_known(field: str, what: str, value: str, available: list[str], space: str) -> None:
    if value not in available:
        have = ", ".join(available) or "(none: this version was built without them)"
        raise InvalidArgument(field, f"unknown {what} {value!r}; space {space!r} has: {have}")


def map_item(bundle: Bundle, item_id: str) -> MapItem:
    # Maps were built from this version's items, so every id has a record.
    record = record_of(bundle, item_id)
    return MapItem(id=record.id, title=record.title, image_url=image_url_of(record))


def _outlier_view(bundle: Bundle, outlier: Outlier) -> OutlierView:
    # The report was computed from this version's items.parquet, so every id has a record.
    record = record_of(bundle, outlier.id)
    return OutlierView(
        id=outlier.id,
        attribute=outlier.attribute,
        label=outlier.label,
        majority_label=outlier.majority_label,
        majority_share=outlier.majority_share,
        own_label_share=outlier.own_label_share,
        confidence=outlier.confidence,
        title=record.title,
        image_url=image_url_of(record),
    )
