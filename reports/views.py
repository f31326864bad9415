"""Manager pages: the dashboard, the daily charge report and its downloads, the day close, the
batches with their files and the re-send (issue 6). Managers (and admins) only; another center's
batch is a 404 (`scoped`). Every download and re-send is audited by a service."""

from __future__ import annotations

import datetime
import zoneinfo
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import REAUTH_SESSION_KEY, reauth_required, recently_authenticated, role_required, scoped
from accounts.roles import Role
from charges.errors import ChargesError
from reports import selectors, services
from reports.charts import Point, bar_chart, column_chart
from reports.exports.csv import csv_response
from reports.exports.pdf import day_summary_pdf
from reports.exports.xlsx import XLSX_CONTENT_TYPE, xlsx_response
from reports.forms import CloseDayForm, DaySummaryForm, ReportForm, ResendForm
from reports.models import BatchFile, FileKind

ROLES = (Role.MANAGER, Role.ADMIN)
PAGE_ROWS = 200
CONTENT_TYPES = {FileKind.CSV: "text/csv", FileKind.XLSX: XLSX_CONTENT_TYPE, FileKind.HL7: "application/hl7-v2"}


def _centers(request):
    """The manager's centers. A `center` parameter naming any other center is a 404 (no existence leak)."""
    centers = list(selectors.manager_centers(request.user))
    asked = (request.GET.get("center") or request.POST.get("center") or "").strip()
    if asked and asked not in {str(c.pk) for c in centers}:
        raise Http404("No such center.")
    return centers


def _today() -> datetime.date:
    return timezone.localdate()


def _default_range() -> tuple[datetime.date, datetime.date]:
    today = _today()
    return today - datetime.timedelta(days=1), today - datetime.timedelta(days=1)


def _report_form(request, centers) -> ReportForm:
    if "date_from" in request.GET or "date_to" in request.GET:
        return ReportForm(request.GET, centers=centers)
    start, end = _default_range()
    data = {"date_from": start.isoformat(), "date_to": end.isoformat(), "center": request.GET.get("center", "")}
    return ReportForm(data, centers=centers)


def _close_form(centers, today, data=None) -> CloseDayForm:
    initial = {"date": (today - datetime.timedelta(days=1)).isoformat()}
    return CloseDayForm(data, centers=centers, today=today, initial=initial)


@role_required(*ROLES)
@require_GET
def dashboard(request):
    centers = _centers(request)
    center_ids = [c.pk for c in centers]
    selected = request.GET.get("center", "")
    if selected and selected in {str(pk) for pk in center_ids}:
        center_ids = [int(selected)]
    today = _today()
    tz = timezone.get_current_timezone_name()
    board = selectors.dashboard(center_ids=center_ids, today=today, tz=tz)
    charts = {
        "lines": column_chart(
            [Point(d.strftime("%m-%d"), n) for d, n, _ in board.charges_per_day],
            title="Charge lines per day of service, last 30 days",
            chart_id="chart-lines",
            label_every=5,
        ),
        "amounts": column_chart(
            [Point(d.strftime("%m-%d"), a) for d, _, a in board.charges_per_day],
            title="Net charge amount per day of service, last 30 days",
            chart_id="chart-amounts",
            label_every=5,
        ),
        "codes": bar_chart(
            [Point(code, n) for code, n, _, _ in board.top_codes], title="Top codes by lines", chart_id="chart-codes"
        ),
        "batches": column_chart(
            [Point(d.strftime("%m-%d"), n) for d, n in board.batches_per_day],
            title="Export batches per closed day, last 30 days",
            chart_id="chart-batches",
            label_every=5,
        ),
    }
    context = {
        "centers": centers,
        "selected": selected,
        "board": board,
        "charts": charts,
        "close_form": _close_form(centers, today),
        "report_form": _report_form(request, centers),
        "closes": selectors.last_closes(center_ids, limit=10),
    }
    return render(request, "reports/dashboard.html", context)


@role_required(*ROLES)
@reauth_required
@require_POST
def close_day(request):
    centers = _centers(request)
    form = _close_form(centers, _today(), data=request.POST)
    if not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        messages.error(request, f"The day was not closed: {errors}")
        return redirect("reports:dashboard")
    center, day = form.center_obj(), form.cleaned_data["date"]
    try:
        result = services.day_close(center=center, date=day, actor=request.user)
    except (services.ReportsError, ChargesError) as exc:
        messages.error(request, f"The day was not closed: {exc}")
        return redirect("reports:dashboard")
    if result.exported:
        batch = result.batch
        messages.success(
            request,
            f"{center.name}: day {day:%Y-%m-%d} closed. Batch {batch.number} exported "
            f"{result.day_close.lines} line{'s' if result.day_close.lines != 1 else ''}.",
        )
        return redirect("reports:batch", pk=batch.pk)
    messages.info(request, f"{center.name}: nothing new to export up to {day:%Y-%m-%d}; no batch was made.")
    return redirect("reports:dashboard")


@role_required(*ROLES)
@require_GET
def report(request):
    centers = _centers(request)
    form = _report_form(request, centers)
    context = {"form": form, "centers": centers}
    if form.is_valid():
        chosen = form.selected_centers()
        lines = selectors.report_lines(
            center_ids=[c.pk for c in chosen],
            date_from=form.cleaned_data["date_from"],
            date_to=form.cleaned_data["date_to"],
        )
        rows = list(selectors.iter_rows(lines[: PAGE_ROWS + 1]))
        context.update(
            {
                "rows": rows[:PAGE_ROWS],
                "truncated": len(rows) > PAGE_ROWS,
                "totals": selectors.report_totals(lines),
                "query": urlencode(
                    {
                        "center": form.cleaned_data.get("center") or "",
                        "date_from": form.cleaned_data["date_from"].isoformat(),
                        "date_to": form.cleaned_data["date_to"].isoformat(),
                    }
                ),
                "chosen": chosen,
            }
        )
    return render(request, "reports/report.html", context)


def _download(request, kind: str):
    centers = _centers(request)
    form = ReportForm(request.GET, centers=centers)
    if not form.is_valid():
        return render(request, "reports/report.html", {"form": form, "centers": centers}, status=400)
    chosen = form.selected_centers()
    start, end = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    services.report_download_record(
        actor=request.user, kind=kind, center_ids=[c.pk for c in chosen], date_from=start, date_to=end
    )
    lines = selectors.report_lines(center_ids=[c.pk for c in chosen], date_from=start, date_to=end)
    label = chosen[0].slug if len(chosen) == 1 else "all-centers"
    filename = f"charges-{label}-{start.isoformat()}-{end.isoformat()}.{kind}"
    if kind == "csv":
        return csv_response(selectors.iter_rows(lines), filename)
    return xlsx_response(selectors.iter_rows(lines), filename)


@role_required(*ROLES)
@require_GET
def report_csv(request):
    return _download(request, "csv")


@role_required(*ROLES)
@require_GET
def report_xlsx(request):
    return _download(request, "xlsx")


@role_required(*ROLES)
@require_GET
def day_pdf(request):
    centers = _centers(request)
    form = DaySummaryForm(request.GET, centers=centers)
    if not form.is_valid():
        return render(request, "reports/report.html", {"form": _report_form(request, centers), "pdf_form": form}, 400)
    center, day = form.center_obj(), form.cleaned_data["date"]
    services.report_download_record(actor=request.user, kind="pdf", center_ids=[center.pk], date_from=day, date_to=day)
    totals_lines = selectors.report_lines(center_ids=[center.pk], date_from=day, date_to=day)
    batches = [(b.number, b.line_count, b.net_total) for b in selectors.batches_closing(center, day)]
    data = day_summary_pdf(
        center_name=center.name,
        day=day,
        totals=selectors.report_totals(totals_lines),
        status_counts=selectors.status_counts(totals_lines),
        transactions=selectors.transaction_counts(totals_lines),
        batches=batches,
        generated_at=timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(center.time_zone)),
    )
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="summary-{center.slug}-{day.isoformat()}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@role_required(*ROLES)
@require_GET
def batch_list(request):
    return render(request, "reports/batch_list.html", {"batches": selectors.batches_for(request.user)[:100]})


def _batch(request, pk: int):
    from review.models import ExportBatch

    return get_object_or_404(scoped(ExportBatch.objects.select_related("center"), request.user, *ROLES), pk=pk)


@role_required(*ROLES)
@require_GET
def batch_detail(request, pk: int):
    batch = _batch(request, pk)
    context = {
        "batch": batch,
        "files": BatchFile.objects.filter(batch=batch).select_related("created_by"),
        "resends": batch.resends.select_related("sent_by"),
        "closes": batch.day_closes.select_related("closed_by"),
        "form": ResendForm(),
        "reauth_fresh": recently_authenticated(request),
    }
    return render(request, "reports/batch_detail.html", context)


@role_required(*ROLES)
@require_GET
def batch_file(request, pk: int, kind: str):
    batch = _batch(request, pk)
    if kind not in FileKind.values:
        raise Http404("No such file kind.")
    record = BatchFile.objects.filter(batch=batch, kind=kind).first()
    path = services.files_dir() / record.path if record else None
    if record is None or not path.is_file():
        messages.error(request, "This file is not on the server; a re-send rebuilds the HL7 file.")
        return redirect("reports:batch", pk=batch.pk)
    services.batch_file_download_record(actor=request.user, batch=batch, kind=kind)
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=path.name, content_type=CONTENT_TYPES[kind])  # noqa: SIM115
    response["X-Checksum-SHA256"] = record.sha256
    response["Cache-Control"] = "no-store"
    return response


@role_required(*ROLES)
@require_POST
def batch_resend(request, pk: int):
    batch = _batch(request, pk)
    form = ResendForm(request.POST)
    context = {
        "batch": batch,
        "files": BatchFile.objects.filter(batch=batch),
        "resends": batch.resends.select_related("sent_by"),
        "closes": batch.day_closes.select_related("closed_by"),
        "form": form,
    }
    if not form.is_valid():
        context["reauth_fresh"] = recently_authenticated(request)
        return render(request, "reports/batch_detail.html", context, status=400)
    password = form.cleaned_data.get("password") or ""
    if password:
        # through the authentication backends: a wrong password is audited and counts toward lockout
        user = authenticate(request, username=request.user.get_username(), password=password)
        if user is not None and user.pk == request.user.pk:
            request.session[REAUTH_SESSION_KEY] = timezone.now().timestamp()
        elif getattr(request, "axes_locked_out", False):
            logout(request)
            return redirect("accounts:login")
        else:
            form.add_error("password", "That password is not correct.")
    if form.errors or not recently_authenticated(request):
        if not form.errors:
            form.add_error("password", "Enter your password to confirm the re-send.")
        context["reauth_fresh"] = False
        return render(request, "reports/batch_detail.html", context, status=400)
    try:
        resend = services.batch_resend(batch=batch, reason=form.cleaned_data["reason"], actor=request.user)
    except services.ReportsError as exc:
        messages.error(request, str(exc))
        return redirect("reports:batch", pk=batch.pk)
    note = "" if resend.checksums_ok else " A stored file had changed or was missing; the HL7 file was rebuilt."
    messages.success(request, f"Batch {batch.number} re-sent.{note}")
    return redirect("reports:batch", pk=batch.pk)
