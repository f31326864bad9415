"""The audit viewer's filter form (GET)."""

from __future__ import annotations

import datetime

from django import forms

from audit.models import Outcome

# A date before this is a typing error, not an audit query.
EARLIEST_DAY = datetime.date(2000, 1, 1)


class AuditFilterForm(forms.Form):
    user = forms.CharField(label="User", max_length=150, required=False, help_text="Exact username")
    patient = forms.CharField(label="Patient", max_length=64, required=False, help_text="Opaque patient id")
    action = forms.CharField(
        label="Action", max_length=100, required=False, help_text="e.g. encounter.create, or encounter. for all"
    )
    outcome = forms.ChoiceField(label="Outcome", choices=[("", "any"), *Outcome.choices], required=False)
    date_from = forms.DateField(
        label="From (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="YYYY-MM-DD"
    )
    date_to = forms.DateField(
        label="To (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="inclusive"
    )

    def clean_action(self):
        action = self.cleaned_data["action"].strip()
        if action and not all(ch.isalnum() or ch in "._" for ch in action):
            raise forms.ValidationError("Use letters, digits, dots and underscores only.")
        return action.lower()

    def clean(self):
        cleaned = super().clean()
        for name in ("date_from", "date_to"):
            day = cleaned.get(name)
            if day is not None and not (EARLIEST_DAY <= day <= datetime.date(9998, 12, 31)):
                self.add_error(name, f"Enter a date from {EARLIEST_DAY.isoformat()} on.")
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_to < date_from:
            self.add_error("date_to", "The end date is before the start date.")
        for name in ("user", "patient"):
            if name in cleaned:
                cleaned[name] = cleaned[name].strip()
        return cleaned
