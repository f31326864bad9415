"""Whole numbers from request parameters: crafted ids are "not a number", never a server error."""

from __future__ import annotations

import pytest
from django.urls import reverse

from infusioncenter.params import MAX_DATABASE_INT, parse_whole_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        (" 7 ", 7),
        ("0", 0),
        (str(MAX_DATABASE_INT), MAX_DATABASE_INT),
        (str(MAX_DATABASE_INT + 1), None),
        ("9" * 10_000, None),  # int() refuses more than 4,300 digits
        ("0" * 30 + "5", 5),
        ("²", None),  # str.isdigit() is true for it, int() refuses it
        ("١٢", None),  # Arabic-Indic digits
        ("-1", None),
        ("1.5", None),
        ("", None),
        (None, None),
        ("\x00", None),
    ],
)
def test_parse_whole_number(raw, expected):
    assert parse_whole_number(raw) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"center": "²"},
        {"center": "99999999999999999999999"},
        {"per_page": "²"},
        {"per_page": "99999999999999999999999"},
        {"page": "²"},
        {"page": "99999999999999999999999"},
        {"per_page": "9" * 10_000},
        {"center": "9" * 10_000},
    ],
)
def test_the_queue_answers_crafted_numbers_with_a_page(client_for, coder, params):
    response = client_for(coder).get(reverse("review:queue"), params)
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["²", "99999999999999999999999"])
def test_switching_to_a_crafted_center_is_a_message(client_for, nurse, raw):
    response = client_for(nurse).post(reverse("accounts:switch_center"), {"center": raw}, follow=True)
    assert response.status_code == 200
    assert "Choose one of your centers." in response.content.decode()
