"""URLs of the nurse pages, under /charting/ (included at the site root)."""

from django.urls import path

from charges.views import nurse, preview

app_name = "charges"

urlpatterns = [
    path("charting/", nurse.board, name="board"),
    path("charting/encounters/new/", nurse.encounter_new, name="encounter_new"),
    path("charting/encounters/<int:pk>/", nurse.encounter_detail, name="encounter"),
    path("charting/encounters/<int:pk>/edit/", nurse.encounter_edit, name="encounter_edit"),
    path("charting/encounters/<int:pk>/sign/", nurse.encounter_sign_view, name="encounter_sign"),
    path("charting/encounters/<int:pk>/preview/", preview.preview, name="preview"),
    path("charting/encounters/<int:pk>/preview/retry/", preview.preview_retry, name="preview_retry"),
    path(
        "charting/encounters/<int:pk>/administrations/new/",
        nurse.administration_new,
        name="administration_new",
    ),
    path(
        "charting/encounters/<int:pk>/administrations/<int:adm_pk>/edit/",
        nurse.administration_edit,
        name="administration_edit",
    ),
    path(
        "charting/encounters/<int:pk>/administrations/<int:adm_pk>/delete/",
        nurse.administration_delete_view,
        name="administration_delete",
    ),
    path("charting/administrations/<int:adm_pk>/stop/", nurse.administration_stop, name="administration_stop"),
    path("charting/drugs/search/", nurse.drug_search_view, name="drug_search"),
]
