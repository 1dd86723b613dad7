"""Per-space maps precomputed at build time: neighbourhoods of every item, and the label
outliers curators review, both derived from them.

    table = compute_neighbourhoods(index, vectors, ids, k=20)
    write_neighbours(neighbours_table(table), paths / "neighbours.parquet")
    outliers = find_label_outliers(table.rows, labels, table.ids, space="image", attribute="categoria")
    write_outliers(outliers_table(outliers), reports / "outliers.parquet")
"""
from vitrina.indexer.maps.neighbourhoods import (
    NEIGHBOURS_SCHEMA,
    InvalidFieldError,
    NeighbourTable,
    UnknownItemError,
    compute_neighbourhoods,
    neighbours_table,
    read_neighbours,
    write_neighbours,
)
from vitrina.indexer.maps.outliers import (
    OUTLIERS_SCHEMA,
    Outlier,
    find_label_outliers,
    outliers_table,
    read_outliers,
    write_outliers,
)

__all__ = [
    "NEIGHBOURS_SCHEMA",
    "OUTLIERS_SCHEMA",
    "InvalidFieldError",
    "NeighbourTable",
    "Outlier",
    "UnknownItemError",
    "compute_neighbourhoods",
    "find_label_outliers",
    "neighbours_table",
    "outliers_table",
    "read_neighbours",
    "read_outliers",
    "write_neighbours",
    "write_outliers",
]
