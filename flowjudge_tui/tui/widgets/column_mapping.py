"""Which column of a dataset file feeds each rubric field, with the file's first rows."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import DataTable, Label, Select

from flowjudge_tui.datasets import DatasetPreview
from flowjudge_tui.judging.rubric import Rubric
from flowjudge_tui.tui.plain import cell

PREVIEW_CELL_WIDTH = 40
ColumnChoice = tuple[dict[str, str], str | None, str | None]
"""{column: field}, the label column and the id column, as ``import_dataset`` takes them."""


def shorten(text: str, width: int = PREVIEW_CELL_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class ColumnMappingForm(Vertical):
    """One Select per rubric field (plus optional label and id columns) and a preview table."""

    DEFAULT_CSS = """
    ColumnMappingForm { height: auto; display: none; }
    ColumnMappingForm.-shown { display: block; }
    ColumnMappingForm #mapping-selects { height: auto; }
    ColumnMappingForm .mapping-field { width: 1fr; height: auto; margin-right: 1; }
    ColumnMappingForm .mapping-field > Label {
        width: 100%; text-wrap: nowrap; text-overflow: ellipsis; color: $text-muted;
    }
    ColumnMappingForm .mapping-field > Select { width: 100%; }
    ColumnMappingForm #preview-table { height: 6; margin-top: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fields: list[str] = []

    def compose(self) -> ComposeResult:
        yield Horizontal(id="mapping-selects")
        yield DataTable(id="preview-table", cursor_type="none", zebra_stripes=True)

    async def show_preview(self, preview: DatasetPreview, rubric: Rubric) -> None:
        self.fields = [*rubric.inputs, rubric.output]
        columns = [(Content(column), column) for column in preview.columns]
        selects = self.query_one("#mapping-selects", Horizontal)
        await selects.remove_children()
        boxes: list[Vertical] = []
        for field in self.fields:
            role = "output" if field == rubric.output else "input"
            boxes.append(self._box(f"{field} ({role})", f"map-{len(boxes)}", columns,
                                   preview.mapping.get(field), required=True))
        boxes.append(self._box("human score (optional)", "map-label", columns,
                               preview.label_guess, required=False))
        boxes.append(self._box("row id (optional)", "map-id", columns, preview.id_guess,
                               required=False))
        await selects.mount_all(boxes)
        table = self.query_one("#preview-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*(cell(column) for column in preview.columns))
        for row in preview.rows:
            table.add_row(*(cell(shorten(row.get(column, ""))) for column in preview.columns))
        self.add_class("-shown")

    @staticmethod
    def _box(
        title: str, select_id: str, columns: list[tuple[Content, str]], value: str | None,
        required: bool,
    ) -> Vertical:
        select: Select[str] = Select(columns, prompt="(none)" if not required else "choose",
                                     id=select_id, value=value if value else Select.NULL,
                                     compact=True)
        return Vertical(Label(Content(title)), select, classes="mapping-field")

    def chosen_mapping(self) -> ColumnChoice | None:
        """The mapping chosen, or None while a field has no column."""
        column_map: dict[str, str] = {}
        for index, field in enumerate(self.fields):
            value = self.query_one(f"#map-{index}", Select).value
            if not isinstance(value, str):
                return None
            column_map[value] = field
        label = self.query_one("#map-label", Select).value
        id_column = self.query_one("#map-id", Select).value
        return (
            column_map,
            label if isinstance(label, str) else None,
            id_column if isinstance(id_column, str) else None,
        )
