"""`table:<path>`: one item per row of a CSV, TSV, Parquet or JSON Lines file.

The format comes from the extension (.csv .tsv .parquet .jsonl .ndjson; text
formats may end in .gz or .bz2). Which columns mean what is a `TableColumns`:

    id_column         item id (default "id"); rows with an empty id are skipped and counted
    text_columns      joined with ". " into the item text, empty cells skipped; the first
                      is also the title unless title_column is given. Default (None): those of
                      title, name, text, description, caption that exist, in that order
    title_column      the title, when it is not the first text column
    image_column      image path: absolute, else relative to image_root, else to the table's folder
    image_root        base folder of relative image paths (itself relative to the current folder)
    metadata_columns  default (None): every column not used above
    list_columns      string columns whose cells are lists joined by list_separator ("|");
                      native Arrow list columns (Parquet, JSON arrays) are lists already

The whole table is read into memory: duplicate ids are then found before any
item is yielded, and `collect(limit=n)` takes the first n rows.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterator, Sequence

import pyarrow as pa

from vitrina.indexer.catalogue._common import finish, image_status_for, join_text, meta_value, new_report, normalise_id, raise_if_duplicates, resolve_image, skip
from vitrina.indexer.catalogue.base import CatalogueError, Item

FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
COMPRESSED = (".gz", ".bz2")
AUTO_TEXT_COLUMNS = ("title", "name", "text", "description", "caption")


def _names(value: str | Sequence[str] | None, option: str) -> tuple[str, ...] | None:
    """Column lists may come from a CLI as "a,b"."""
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"table option {option}: expected column names, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class TableColumns:
    id_column: str = "id"
    text_columns: tuple[str, ...] | None = None
    title_column: str | None = None
    image_column: str | None = None
    image_root: str | None = None
    metadata_columns: tuple[str, ...] | None = None
    list_columns: tuple[str, ...] = ()
    list_separator: str = "|"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "text_columns", _names(self.text_columns, "text_columns"))
        set_(self, "metadata_columns", _names(self.metadata_columns, "metadata_columns"))
        set_(self, "list_columns", _names(self.list_columns, "list_columns") or ())
        if not self.id_column:
            raise CatalogueError("table option id_column: must name a column, e.g. id_column='id'")
        if not self.list_separator:
            raise CatalogueError("table option list_separator: must not be empty, e.g. list_separator='|'")
        if self.image_root is not None:
            root = os.path.abspath(os.path.expanduser(str(self.image_root)))
            if not os.path.isdir(root):
                raise CatalogueError(f"table option image_root: {root} is not a folder; give the folder relative image paths start from")
            set_(self, "image_root", root)

    @classmethod
    def from_options(cls, **options: Any) -> "TableColumns":
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise CatalogueError(f"unknown table option(s) {', '.join(unknown)}; valid options: {', '.join(valid)}")
        return cls(**options)


@dataclass(frozen=True)
class _Resolved:
    id: str
    title: str | None
    text: tuple[str, ...]
    image: str | None
    metadata: tuple[str, ...]
    lists: tuple[str, ...]

    def as_report(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "text": list(self.text), "image": self.image,
                "metadata": list(self.metadata), "lists": list(self.lists)}


def table_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None or (fmt == "parquet" and path.suffix.lower() in COMPRESSED):
        raise CatalogueError(
            f"table catalogue: {path}: unsupported extension; use one of {', '.join(FORMATS)} "
            f"(csv, tsv and jsonl may also end in {' or '.join(COMPRESSED)})"
        )
    return fmt


def read_table(path: Path, fmt: str, string_columns: Sequence[str] = ()) -> pa.Table:
    """Read with pyarrow; `string_columns` are never type-inferred (ids like 007 stay 007)."""
    try:
        if fmt in ("csv", "tsv"):
            import pyarrow.csv as pcsv

            return pcsv.read_csv(
                path,
                # Quoted cells with line breaks are common in exported descriptions.
                parse_options=pcsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",", newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in string_columns}),
            )
        if fmt == "jsonl":
            import pyarrow.json as pjson

            # A line must fit in one block; the 1 MiB default is too small for long descriptions.
            return pjson.read_json(path, read_options=pjson.ReadOptions(block_size=16 << 20))
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (pa.ArrowException, OSError, UnicodeError) as exc:
        hint = {
            "csv": "check it is UTF-8 with a header row and ',' between cells",
            "tsv": "check it is UTF-8 with a header row and tabs between cells",
            "jsonl": "each line must be one JSON object, with the same value type for a field on every line",
            "parquet": "check the file is complete (not truncated) Parquet",
        }[fmt]
        raise CatalogueError(f"table catalogue: cannot read {path} as {fmt}: {exc}; {hint}") from exc


class TableCatalogue:
    def __init__(self, path: str | Path, columns: TableColumns | None = None, spec: str | None = None, **options: Any):
        if columns is not None and options:
            raise CatalogueError(f"table catalogue: give either columns=TableColumns(...) or options, not both (got {', '.join(options)})")
        self.columns = columns or TableColumns.from_options(**options)
        file = Path(path).expanduser().absolute()
        if not file.is_file():
            what = "is a folder (use folder: for image folders)" if file.is_dir() else "does not exist"
            raise CatalogueError(f"table catalogue: {file} {what}; give a .csv/.tsv/.parquet/.jsonl file, e.g. table:/data/items.csv")
        self.format = table_format(file)
        self.path = file
        self.root: Path | None = file.parent
        self.spec = spec or f"table:{file}"
        self.report: dict[str, Any] = new_report()

    def __length_hint__(self) -> int:
        if self.format == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(self.path).metadata.num_rows
        return NotImplemented

    def _resolve(self, available: list[str]) -> _Resolved:
        c = self.columns

        def need(name: str, option: str) -> str:
            if name not in available:
                close = difflib.get_close_matches(name, available, n=1)
                maybe = f" (did you mean {close[0]!r}?)" if close else ""
                raise CatalogueError(
                    f"table catalogue: {self.path}: column {name!r} (option {option}) not found{maybe}; "
                    f"available columns: {', '.join(available)}. Set {option} to one of them."
                )
            return name

        id_col = need(c.id_column, "id_column")
        if c.text_columns is None:
            text = tuple(n for n in AUTO_TEXT_COLUMNS if n in available and n != id_col)
        else:
            text = tuple(need(n, "text_columns") for n in c.text_columns)
        title = need(c.title_column, "title_column") if c.title_column else (text[0] if text else None)
        image = need(c.image_column, "image_column") if c.image_column else None
        lists = tuple(need(n, "list_columns") for n in c.list_columns)
        used = {id_col, title, image, *text}
        if c.metadata_columns is None:
            metadata = tuple(n for n in available if n not in used)
        else:
            metadata = tuple(need(n, "metadata_columns") for n in c.metadata_columns)
        return _Resolved(id_col, title, text, image, metadata, lists)

    def _string_columns(self) -> list[str]:
        c = self.columns
        named = [c.id_column, c.title_column, c.image_column, *(c.text_columns or AUTO_TEXT_COLUMNS), *c.list_columns]
        return [n for n in named if n]

    def _values(self, table: pa.Table, name: str, lists: tuple[str, ...]) -> list[Any]:
        column = table.column(name)
        values = column.to_pylist()
        if name in lists:
            sep = self.columns.list_separator
            return [
                v if isinstance(v, list) else [p.strip() for p in str(v).split(sep) if p.strip()] if v is not None else []
                for v in values
            ]
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            return [[] if v is None else v for v in values]
        return values

    def __iter__(self) -> Iterator[Item]:
        table = read_table(self.path, self.format, self._string_columns())
        cols = self._resolve(table.column_names)
        ids = [normalise_id(v) for v in table.column(cols.id).to_pylist()]
        raise_if_duplicates(
            (i for i in ids if i is not None),
            f"Column {cols.id!r} of {self.path} must be unique: fix those rows, or set id_column to a unique column.",
        )
        data = {n: self._values(table, n, cols.lists) for n in {*cols.text, *cols.metadata, *filter(None, [cols.title, cols.image])}}
        base = self.columns.image_root or str(self.path.parent)
        self.report = new_report(format=self.format, rows=table.num_rows, columns=cols.as_report())
        for row, item_id in enumerate(ids):
            if item_id is None:
                skip(self.report, "empty id", f"row {row + 1}")
                continue
            yield finish(self._item(item_id, row, cols, data, base), self.report)

    def _item(self, item_id: str, row: int, cols: _Resolved, data: dict[str, list[Any]], base: str) -> Item:
        text = join_text(data[n][row] for n in cols.text)
        title = join_text([data[cols.title][row]]) if cols.title else ""
        image_ref = status = None
        if cols.image:
            raw = data[cols.image][row]
            raw = str(raw).strip() if raw is not None else ""
            if raw:
                image_ref = resolve_image(raw, base)
                status = image_status_for(image_ref)
        return Item(
            id=item_id,
            title=title,
            text=text,
            image_ref=image_ref,
            metadata={n: meta_value(data[n][row]) for n in cols.metadata},
            image_status=status,
        )
