"""URLs of coder review, included at /review/ by the root URLconf."""

from django.urls import path

from review import views

app_name = "review"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("patients/", views.patient_search, name="patient_search"),
    path("sets/<int:pk>/", views.set_detail, name="set_detail"),
    path("sets/<int:pk>/approve/", views.approve, name="approve"),
    path("sets/<int:pk>/hold/", views.hold, name="hold"),
    path("sets/<int:pk>/release/", views.release, name="release"),
    path("sets/<int:pk>/accept/", views.proposal_accept, name="proposal_accept"),
    path("sets/<int:pk>/query/", views.query_create, name="query_create"),
    path("sets/<int:pk>/lines/add/", views.line_add, name="line_add"),
    path("sets/<int:pk>/lines/<int:line_pk>/correct/", views.line_correct, name="line_correct"),
    path("sets/<int:pk>/lines/<int:line_pk>/remove/", views.line_remove, name="line_remove"),
    path("queries/<int:pk>/close/", views.query_close, name="query_close"),
    path("queries/<int:pk>/answer/", views.query_answer, name="query_answer"),
    path("queries/", views.nurse_queries, name="nurse_queries"),
]
