"""URLs of the reports app, included at `reports/` (names `reports:*`)."""

from __future__ import annotations

from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("close/", views.close_day, name="close_day"),
    path("report/", views.report, name="report"),
    path("report.csv", views.report_csv, name="report_csv"),
    path("report.xlsx", views.report_xlsx, name="report_xlsx"),
    path("day.pdf", views.day_pdf, name="day_pdf"),
    path("batches/", views.batch_list, name="batches"),
    path("batches/<int:pk>/", views.batch_detail, name="batch"),
    path("batches/<int:pk>/resend/", views.batch_resend, name="batch_resend"),
    path("batches/<int:pk>/files/<str:kind>/", views.batch_file, name="batch_file"),
]
