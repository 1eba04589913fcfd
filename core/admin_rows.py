"""Labels for the controls of an admin table's rows.

Django's tabular inlines name each column once, in the table's header, so a screen reader
meets a row's controls without a label (axe-core's "label" rule).  ``LabelledRowsMixin``, mixed
into an inline's formset, gives each control an ``aria-label`` of its column and row:
"What the patient reads, row 3", "Delete row 3"."""


class LabelledRowsMixin:
    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = "new row" if index is None else f"row {index + 1}"
        for name, field in form.fields.items():
            label = "Delete" if name == "DELETE" else (field.label or name.replace("_", " "))
            field.widget.attrs.setdefault("aria-label", f"{label}, {row}")
