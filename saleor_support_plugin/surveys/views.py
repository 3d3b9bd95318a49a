"""The survey page the one-click links of a survey email open.

Recording happens on the landing page's POST, never on the GET: mail scanners
(Safe Links, Proofpoint, Mimecast…) fetch every link of an email before the
customer sees it, but they do not run scripts or submit forms. So the GET only
renders the page with the clicked score chosen; a few lines of inline script
post that score once on load (a real click in a browser records it at once),
and without JavaScript the customer presses the button.

The plugin route has no CSRF middleware (Saleor's plugin view is exempt). The
POST must carry the signed token in its body: it is the recipient's secret, so
it does what a CSRF token does (a page that has it could post without a
browser anyway). On top of that, an `Origin` or `Referer` naming another site
than `public_url` is refused. Our own page sends neither (`Referrer-Policy:
no-referrer` keeps the token out of every Referer, so browsers send
`Origin: null` for its form), which is why those are accepted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import TooManyFieldsSent, ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template import Context, Engine

from ..conf import SupportSettings
from ..core.errors import SupportErrorCode
from ..core.http import BadRequestBody, PayloadTooLarge, method_not_allowed, read_body
from ..notifications.identity import store_name
from ..notifications.unsubscribe import public_base_url
from . import services, wording
from .models import Survey, SurveyKind, SurveyState

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# A full answer (2,000 characters, each up to 12 bytes percent-encoded) and the token fit.
MAX_BODY = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"

# What a token or state error means for the page: its status and words.
TOKEN_ERRORS = {
    SupportErrorCode.INVALID_TOKEN.value: (404, "invalid"),
    SupportErrorCode.EXPIRED.value: (410, "expired"),
    SupportErrorCode.ALREADY_SUBMITTED.value: (409, "already"),
}


@cache
def _engine() -> Engine:
    """Return a template engine of our own: works whatever the host's TEMPLATES say."""
    return Engine(dirs=[str(TEMPLATES)], autoescape=True)


@dataclass
class _Answer:
    """What the customer sent (or the link chose), to show again on the page."""

    score: int | None = None
    comment: str = ""
    may_quote: bool = False


def handle_survey(request: HttpRequest, settings: SupportSettings) -> HttpResponse:
    """GET renders the page (records nothing); POST records the score or the answer."""
    if request.method not in ("GET", "POST"):
        return method_not_allowed(["GET", "POST"])
    try:
        if request.method == "GET":
            return _landing(request, settings)
        return _post(request, settings)
    except PayloadTooLarge:
        return _message(request, None, "bad_request", 413)
    except (BadRequestBody, TooManyFieldsSent):
        return _message(request, None, "bad_request", 400)


def _landing(request: HttpRequest, settings: SupportSettings) -> HttpResponse:
    query = request.GET
    token = query.get("token", "")
    try:
        survey = services.survey_for_token(token, settings=settings)
    except ValidationError as exc:
        return _token_error(request, exc)
    if survey.state == SurveyState.SUBMITTED:
        return _message(request, survey, "already", 200)
    chosen = _score_or_none(survey, query.get("score"))
    answer = _Answer(score=chosen if chosen is not None else survey.score)
    return _form(
        request, survey, settings, token, answer, auto_submit=chosen is not None
    )


def _post(request: HttpRequest, settings: SupportSettings) -> HttpResponse:
    if not _same_site(request, settings):
        return _message(request, None, "bad_request", 403)
    content_type = request.content_type or ""
    if content_type != FORM_TYPE:
        return _message(request, None, "bad_request", 415)
    data = QueryDict(read_body(request, MAX_BODY), encoding="utf-8")
    token = data.get("token", "")
    try:
        survey = services.survey_for_token(token, settings=settings)
    except ValidationError as exc:
        return _token_error(request, exc)
    action = data.get("action", "")
    if action == "score":
        return _record_score(request, survey, settings, token, data.get("score"))
    if action == "submit":
        return _submit(request, survey, settings, token, data)
    return _message(request, survey, "bad_request", 400)


def _record_score(
    request: HttpRequest,
    survey: Survey,
    settings: SupportSettings,
    token: str,
    raw_score: Any,
) -> HttpResponse:
    try:
        survey = services.record_score(token=token, score=raw_score, settings=settings)
    except ValidationError as exc:
        refused = _refused(request, survey, exc)
        if refused is not None:
            return refused
        answer = _Answer(score=survey.score)
        errors = _field_errors(survey, raw_score, "")
        return _form(
            request, survey, settings, token, answer, errors=errors, status=400
        )
    words = wording.page_words(survey.language_code)
    return _form(
        request,
        survey,
        settings,
        token,
        _Answer(score=survey.score),
        notice=words["recorded"].format(score=survey.score),
    )


def _submit(
    request: HttpRequest,
    survey: Survey,
    settings: SupportSettings,
    token: str,
    data: QueryDict,
) -> HttpResponse:
    raw_score, comment = data.get("score"), data.get("comment", "")
    answer = _Answer(
        score=_score_or_none(survey, raw_score),
        comment=comment,
        may_quote=bool(data.get("may_quote")),
    )
    if survey.state == SurveyState.SUBMITTED:
        return _message(request, survey, "already", 409)
    # Both fields are checked first so the page can name every mistake at once.
    errors = _field_errors(survey, raw_score, comment)
    if errors:
        return _form(
            request, survey, settings, token, answer, errors=errors, status=400
        )
    try:
        services.submit_answer(
            token=token,
            score=raw_score,
            comment=comment,
            may_quote=answer.may_quote,
            settings=settings,
        )
    except ValidationError as exc:
        refused = _refused(request, survey, exc)
        if refused is not None:
            return refused
        errors = _field_errors(survey, raw_score, comment)
        return _form(
            request, survey, settings, token, answer, errors=errors, status=400
        )
    return _message(request, survey, "thanks", 200)


def _field_errors(survey: Survey, raw_score: Any, comment: str) -> dict[str, str]:
    words = wording.page_words(survey.language_code)
    low, high = survey.score_range
    errors = {}
    try:
        services.clean_score(survey, raw_score)
    except ValidationError:
        errors["score"] = words["score_error"].format(low=low, high=high)
    try:
        services.clean_comment(comment)
    except ValidationError:
        errors["comment"] = words["comment_error"].format(limit=services.MAX_COMMENT)
    return errors


def _refused(
    request: HttpRequest, survey: Survey, exc: ValidationError
) -> HttpResponse | None:
    """Return the page of a token or state error (a race); None for field errors."""
    _, code = _first_error(exc)
    if code not in TOKEN_ERRORS:
        return None
    status, key = TOKEN_ERRORS[code]
    return _message(request, survey, key, status)


def _token_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    _, code = _first_error(exc)
    status, key = TOKEN_ERRORS.get(code, (404, "invalid"))
    return _message(request, None, key, status)


def _first_error(exc: ValidationError) -> tuple[str, str]:
    for field, errors in getattr(exc, "error_dict", {}).items():
        for error in errors:
            return field, str(error.code or "")
    return "__all__", str(getattr(exc, "code", "") or "")


def _score_or_none(survey: Survey, raw: Any) -> int | None:
    if raw is None:
        return None
    try:
        return services.clean_score(survey, raw)
    except ValidationError:
        return None


def _same_site(request: HttpRequest, settings: SupportSettings) -> bool:
    """Return False when the browser says another site than ours posted the form."""
    base = public_base_url(settings)
    if not base:
        return True
    expected = _origin(base)
    origin = request.headers.get("Origin", "")
    if origin and origin != "null":
        return _origin(origin) == expected
    referer = request.headers.get("Referer", "")
    if referer:
        return _origin(referer) == expected
    return True


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


# --- rendering


def _form(
    request: HttpRequest,
    survey: Survey,
    settings: SupportSettings,
    token: str,
    answer: _Answer,
    *,
    notice: str = "",
    errors: dict[str, str] | None = None,
    auto_submit: bool = False,
    status: int = 200,
) -> HttpResponse:
    language = wording.language(survey.language_code)
    words = wording.page_words(language)
    low, high = survey.score_range
    low_label, high_label = wording.scale_ends(survey.kind, language)
    store = store_name(settings)
    form = {
        "action": request.path,
        "token": token,
        "question": wording.question(
            survey.kind, survey.language_code, settings, store
        ),
        "scores": [
            {
                "value": score,
                "id": f"score-{score}",
                "label": words["score_label"].format(score=score, top=high),
                "checked": score == answer.score,
            }
            for score in range(low, high + 1)
        ],
        "low": low,
        "high": high,
        "low_label": low_label,
        "high_label": high_label,
        "comment": answer.comment,
        "max_comment": services.MAX_COMMENT,
        "comment_hint": words["chars_left"].format(limit=services.MAX_COMMENT),
        "quote": survey.kind == SurveyKind.NPS,
        "may_quote": answer.may_quote,
        "errors": errors or {},
    }
    return _render(
        language,
        {
            "store": store,
            "meta": _meta(survey, words, store),
            "form": form,
            "notice": notice,
            "auto_submit": auto_submit,
        },
        status,
    )


def _message(
    request: HttpRequest, survey: Survey | None, key: str, status: int
) -> HttpResponse:
    """Render one sentence: thanks, already answered, an invalid or expired link."""
    language = (
        wording.language(survey.language_code)
        if survey is not None
        else _header_language(request)
    )
    words = wording.page_words(language)
    return _render(language, {"message": words[key]}, status)


def _meta(survey: Survey, words: dict[str, str], store: str) -> str:
    order = survey.order or (survey.ticket.order if survey.ticket else None)
    if survey.kind == SurveyKind.CSAT and survey.ticket is not None:
        about = words["about_ticket"].format(reference=survey.ticket.reference)
    elif order is not None:
        about = words["about_order"].format(number=order.number)
    else:
        about = ""
    return " · ".join(part for part in (store, about) if part)


def _header_language(request: HttpRequest) -> str:
    """Return the built-in language the browser prefers (pages that know no survey)."""
    best, best_q = "en", 0.0
    for part in request.headers.get("Accept-Language", "")[:500].split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in wording.LANGUAGES and quality > best_q:
            best, best_q = base, quality
    return best


def _render(language: str, context: dict[str, Any], status: int) -> HttpResponse:
    nonce = secrets.token_urlsafe(16)
    words = wording.page_words(language)
    html = (
        _engine()
        .get_template("survey/page.html")
        .render(Context({**context, "lang": language, "words": words, "nonce": nonce}))
    )
    response = HttpResponse(
        html, status=status, content_type="text/html; charset=utf-8"
    )
    response["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    response["X-Frame-Options"] = "DENY"
    # The page's address holds the token: never send it to anyone in a Referer.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
