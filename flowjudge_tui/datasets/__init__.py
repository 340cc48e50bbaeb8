"""Datasets: reading CSV/TSV/JSON Lines files row by row (``files``), mapping their columns to a
rubric's fields (``mapping``) and importing the good rows into the store (``importing``)."""

from flowjudge_tui.datasets.importing import (
    DatasetPreview,
    ImportResult,
    OffScaleLabels,
    import_dataset,
    preview_dataset,
)
from flowjudge_tui.datasets.mapping import ColumnMapping, guess_mapping, parse_map_args

__all__ = [
    "ColumnMapping",
    "DatasetPreview",
    "ImportResult",
    "OffScaleLabels",
    "guess_mapping",
    "import_dataset",
    "parse_map_args",
    "preview_dataset",
]
