"""Forms of the reports pages. Bad input comes back as a message next to the field, never a traceback."""

from __future__ import annotations

import datetime

from django import forms

MAX_RANGE_DAYS = 366
ALL_CENTERS = ""


class CenterChoiceMixin:
    def _set_centers(self, centers, allow_all: bool) -> None:
        choices = [(str(c.pk), c.name) for c in centers]
        if allow_all and len(choices) > 1:
            choices = [(ALL_CENTERS, "All my centers"), *choices]
        self.fields["center"].choices = choices
        self.centers = {str(c.pk): c for c in centers}

    def selected_centers(self) -> list:
        value = self.cleaned_data.get("center") or ALL_CENTERS
        return list(self.centers.values()) if value == ALL_CENTERS else [self.centers[value]]


class ReportForm(CenterChoiceMixin, forms.Form):
    center = forms.ChoiceField(label="Center", required=False)
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, centers, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_centers(centers, allow_all=True)

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", "The end date is before the start date.")
            elif (end - start).days >= MAX_RANGE_DAYS:
                self.add_error("date_to", f"Choose at most {MAX_RANGE_DAYS} days.")
        return data


class DaySummaryForm(CenterChoiceMixin, forms.Form):
    center = forms.ChoiceField(label="Center")
    date = forms.DateField(label="Day", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, centers, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_centers(centers, allow_all=False)

    def center_obj(self):
        return self.centers[self.cleaned_data["center"]]


class CloseDayForm(DaySummaryForm):
    def __init__(self, *args, today: datetime.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day > self.today:
            raise forms.ValidationError("A day in the future cannot be closed.")
        return day


class ResendForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the re-send",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "A reason is required to re-send a batch."},
    )
    password = forms.CharField(
        label="Your password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Required unless you entered it in the last 5 minutes.",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required to re-send a batch.")
        return reason
