"""The SendGrid hook: the real ``sendgrid`` client against a local HTTP server."""

from __future__ import annotations

import math

import pytest

from nps.dispatch import plan_batches
from nps.email.base import Batch, PermanentSendError, Recipient, TransientSendError, UncertainSendError
from nps.email.render import MessageTemplate
from nps.email.sendgrid import SendGridHook, build_payload
from nps.email.transports import sendgrid_from_connection
from tests.support.sendgrid_server import DEFAULT_API_KEY as KEY
from tests.support.sendgrid_server import FakeSendGrid

TEMPLATE = MessageTemplate("csat", "en", "How satisfied?", "Hi %nps_name%: %nps_t1%", "<p>Hi %nps_name_html%</p>")


def _batch(n: int = 2, batch_id: str = "2026-10-05T0600.abc123.00000") -> Batch:
    recipients = [
        Recipient(f"transactional/csat/2026-Q4/P{i}/E{i}", f"S{i:03d}", f"p{i}@a1.example.com", f"Person {i}",
                  {"%nps_name%": f"Person{i}", "%nps_t1%": f"tok{i}"})
        for i in range(1, n + 1)
    ]
    return Batch(batch_id, TEMPLATE, recipients, "2026-10-05T0600", "Acme CS", "feedback@example.com",
                 ["nps-invitation", "csat", "en"])



def test_a_prepared_batch_posts_the_body_encoded_ahead_and_a_changed_one_is_built_again():
    """``prepare`` encodes the request ahead (dispatch does it while the previous request is on the
    wire); the server receives exactly ``build_payload``'s JSON, in UTF-8 with the JSON content type.
    A batch whose recipients changed after ``prepare`` is never sent with the stale body."""
    from dataclasses import replace

    batch = _batch(3)
    batch = replace(batch, recipients=[replace(batch.recipients[0], name="Zoë Łukasz"), *batch.recipients[1:]])
    with FakeSendGrid() as sg:
        hook = SendGridHook(KEY, host=sg.url, timeout=5)
        prepared = hook.prepare(batch)
        assert prepared.prepared[3].startswith(b'{"from":') and "Zoë Łukasz".encode() in prepared.prepared[3]
        assert hook.send(prepared) == "msg-00001"
        assert hook.send(replace(prepared, recipients=prepared.recipients[:1])) == "msg-00002"
        assert SendGridHook(KEY, host=sg.url, sandbox=True).send(prepared) == "msg-00003"
    first, second, sandboxed = (r["body"] for r in sg.requests)
    assert first == build_payload(batch)
    assert first["personalizations"][0]["to"][0]["name"] == "Zoë Łukasz"
    assert second == build_payload(replace(batch, recipients=batch.recipients[:1]))
    assert sandboxed == build_payload(batch, sandbox=True)
    assert sg.requests[0]["headers"]["Content-Type"] == "application/json"
    assert sg.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"

class Sleeps(list):
    def __call__(self, s: float) -> None:
        self.append(s)


def test_exact_payload_headers_and_message_id():
    with FakeSendGrid() as sg:
        hook = SendGridHook("SG.test-key", host=sg.url, timeout=5)
        assert hook.send(_batch()) == "msg-00001"
    req = sg.requests[0]
    assert req["status"] == 202
    assert req["path"] == "/v3/mail/send"
    assert req["headers"]["Authorization"] == "Bearer SG.test-key"
    assert req["body"] == {
        "from": {"email": "feedback@example.com", "name": "Acme CS"},
        "subject": "How satisfied?",
        "personalizations": [
            {"to": [{"email": "p1@a1.example.com", "name": "Person 1"}],
             "substitutions": {"%nps_name%": "Person1", "%nps_t1%": "tok1"},
             "custom_args": {"survey_id": "S001", "send_key": "transactional/csat/2026-Q4/P1/E1"}},
            {"to": [{"email": "p2@a1.example.com", "name": "Person 2"}],
             "substitutions": {"%nps_name%": "Person2", "%nps_t1%": "tok2"},
             "custom_args": {"survey_id": "S002", "send_key": "transactional/csat/2026-Q4/P2/E2"}},
        ],
        "content": [{"type": "text/plain", "value": "Hi %nps_name%: %nps_t1%"},
                    {"type": "text/html", "value": "<p>Hi %nps_name_html%</p>"}],
        "custom_args": {"batch_id": "2026-10-05T0600.abc123.00000"},
        "categories": ["nps-invitation", "csat", "en"],
    }
    assert hook.requests == 1 and hook.retries == 0


def test_list_unsubscribe_headers_per_recipient():
    tmpl = MessageTemplate("csat", "en", "How satisfied?", "Hi", "<p>Hi</p>",
                           list_unsubscribe="<https://feedback.example.com/unsubscribe?t=%nps_token%>")
    r = Recipient("K1", "S001", "p1@a1.example.com", "", {"%nps_token%": "v2.UzAwMQ.sig"})
    payload = build_payload(Batch("b1", tmpl, [r], "f", "Acme CS", "feedback@example.com"))
    # SendGrid substitutes tags in content and subject only, so each personalization carries its URL.
    assert payload["personalizations"] == [{
        "to": [{"email": "p1@a1.example.com"}],
        "substitutions": {"%nps_token%": "v2.UzAwMQ.sig"},
        "custom_args": {"survey_id": "S001", "send_key": "K1"},
        "headers": {"List-Unsubscribe": "<https://feedback.example.com/unsubscribe?t=v2.UzAwMQ.sig>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    }]


def test_sandbox_mode_by_config_or_connection_extra(program_config):
    assert build_payload(_batch(1), sandbox=True)["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert "mail_settings" not in build_payload(_batch(1))

    class Conn:
        password = "SG.k"
        host = None
        extra_dejson = {"host": "http://127.0.0.1:9", "sandbox_mode": "true", "timeout": 7}

    hook = sendgrid_from_connection(Conn(), program_config)
    assert (hook.host, hook.sandbox, hook.timeout, hook.max_retries) == ("http://127.0.0.1:9", True, 7.0, 5)
    assert "SG.k" not in repr(hook)


@pytest.mark.parametrize(
    ("first", "expected_sleep"),
    [
        pytest.param(429, 1.0, id="429-without-rate-limit-headers-backs-off"),
        pytest.param((429, None, {"Retry-After": "3"}), 3.0, id="429-honours-retry-after"),
        pytest.param(500, 1.0, id="500-exponential-backoff"),
    ],
)
def test_throttled_or_server_error_then_success(first, expected_sleep):
    sleeps = Sleeps()
    with FakeSendGrid() as sg:
        sg.script(first)
        hook = SendGridHook(KEY, host=sg.url, sleep=sleeps)
        assert hook.send(_batch()) == "msg-00001"
    assert [r["status"] for r in sg.requests] == [first, 202]
    assert sg.requests[0]["body"] == sg.requests[1]["body"]  # the same batch again
    assert sleeps == [expected_sleep] and (hook.requests, hook.retries) == (2, 1)


def test_backoff_doubles_then_gives_up():
    sleeps = Sleeps()
    with FakeSendGrid() as sg:
        sg.script(503, 502, 500, 500)
        hook = SendGridHook(KEY, host=sg.url, sleep=sleeps, max_retries=3)
        with pytest.raises(TransientSendError, match=r"HTTP 500 to batch 2026-10-05T0600.abc123.00000 .* 4 times"):
            hook.send(_batch())
    assert sleeps == [1.0, 2.0, 4.0] and len(sg.requests) == 4


def test_400_fails_clearly_naming_the_batch():
    with FakeSendGrid() as sg:
        sg.script((400, {"errors": [{"message": "The from email does not match a verified Sender Identity.",
                                     "field": "from", "help": None}]}))
        hook = SendGridHook(KEY, host=sg.url, sleep=Sleeps())
        with pytest.raises(PermanentSendError) as err:
            hook.send(_batch(3))
    msg = str(err.value)
    assert msg == ("SendGrid rejected batch 2026-10-05T0600.abc123.00000 (csat/en, 3 recipients): HTTP 400: "
                   "from: The from email does not match a verified Sender Identity.")
    assert "@" not in msg.replace("email", "")  # no addresses in errors
    assert len(sg.requests) == 1  # never retried


def test_timeout_is_uncertain_not_failed():
    with FakeSendGrid() as sg:
        sg.script(("sleep", 1.5))
        hook = SendGridHook(KEY, host=sg.url, timeout=0.3)
        with pytest.raises(UncertainSendError, match="timed out after 0.3s"):
            hook.send(_batch())


def test_connection_refused_is_transient():
    hook = SendGridHook(KEY, host="http://127.0.0.1:9", max_retries=1, sleep=Sleeps())
    with pytest.raises(TransientSendError, match="refused the connection"):
        hook.send(_batch())


@pytest.mark.parametrize("n", [1, 999, 1000, 1001, 2500])
def test_batches_of_1000_per_template_and_locale(n):
    rows = [{"survey_type": "nps", "locale": "en", "email": f"p{i}@x.example.com", "send_key": str(i)} for i in range(n)]
    rows += [{"survey_type": "nps", "locale": "pl", "email": "pl@x.example.com", "send_key": "pl"}]
    plan = plan_batches(rows, 1000)
    assert [(k, len(m)) for k, m in plan] == [(("nps", "en"), min(1000, n - 1000 * i)) for i in range(math.ceil(n / 1000))] + [
        (("nps", "pl"), 1)
    ]


def test_an_address_appears_once_per_batch():
    rows = [{"survey_type": "nps", "locale": "en", "email": e, "send_key": k}
            for k, e in [("a", "x@e.com"), ("b", "X@e.com"), ("c", "y@e.com")]]
    assert [[r["send_key"] for r in m] for _, m in plan_batches(rows, 1000)] == [["a", "c"], ["b"]]


def test_connection_dropped_after_acceptance_is_uncertain():
    with FakeSendGrid() as sg:
        sg.script("drop")
        with pytest.raises(UncertainSendError, match="closed before an answer"):
            SendGridHook(KEY, host=sg.url, sleep=Sleeps()).send(_batch())
        assert len(sg.accepted) == 1  # it was accepted: only evidence can tell


def _post(sg: FakeSendGrid, body, key: str = KEY) -> tuple[int, dict]:
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{sg.url}/v3/mail/send", data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, {}
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _valid() -> dict:
    return build_payload(_batch(2))


def _with(path: str, value) -> dict:
    body = _valid()
    node = body
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is _DELETE:
        del node[int(leaf) if leaf.isdigit() else leaf]
    else:
        node[int(leaf) if leaf.isdigit() else leaf] = value
    return body


_DELETE = object()
_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"


@pytest.mark.parametrize(
    ("body", "status", "field", "message_start"),
    [
        pytest.param(_with("subject", _DELETE), 400, "subject", "The subject is required.", id="subject-required"),
        pytest.param(_with("from", {"name": "x"}), 400, "from.email", "The from object must be provided", id="from-required"),
        pytest.param(_with("content", []), 400, "content", "Unless a valid template_id is provided", id="content-required"),
        pytest.param(_with("personalizations", []), 400, "personalizations", "The personalizations field is required",
                     id="personalizations-required"),
        pytest.param(_with("personalizations.0.to", []), 400, "personalizations.0.to", "The to array is required",
                     id="to-required"),
        pytest.param(_with("personalizations.1.to.0.email", "P1@a1.example.com"), 400, "personalizations.1.to",
                     "Each email address in the personalization block should be unique", id="address-once-per-request"),
        pytest.param(_with("personalizations.0.custom_args.survey_id", 17), 400, "personalizations.0.custom_args.survey_id",
                     "Invalid type. Expected: string, given: int.", id="custom-args-strings"),
        pytest.param(_with("personalizations.0.custom_args.note", "x" * 9_950), 400, "personalizations.0.custom_args",
                     "The custom_args of a personalization must total less than 10000 bytes", id="custom-args-size"),
        pytest.param(_with("categories", [f"c{i}" for i in range(11)]), 400, "categories", "Too many categories",
                     id="categories-10"),
        pytest.param(_with("personalizations", [{"to": [{"email": f"p{i}@x.example.com"}]} for i in range(1001)]), 400,
                     "personalizations", "The personalizations field is limited to 1000 personalizations",
                     id="1000-personalizations"),
    ],
)
def test_strict_server_enforces_the_mail_send_rules(body, status, field, message_start):
    with FakeSendGrid() as sg:
        assert _post(sg, _valid()) == (202, {})
        code, reply = _post(sg, body)
        assert code == status
        [err] = reply["errors"]
        assert (err["field"], err["help"]) == (field, _HELP) and err["message"].startswith(message_start)
        assert len(sg.accepted) == 1  # the broken request was not accepted


def test_strict_server_checks_the_api_key_and_9999_bytes_of_custom_args_pass():
    with FakeSendGrid() as sg:
        assert _post(sg, _valid(), key="SG.other") == (401, {"errors": [{
            "message": "The provided authorization grant is invalid, expired, or revoked", "field": None, "help": None}]})
        base = len(b'{"batch_id":"2026-10-05T0600.abc123.00000","survey_id":"S001","send_key":"transactional/csat/2026-Q4/P1/E1","note":""}')
        assert _post(sg, _with("personalizations.0.custom_args.note", "x" * (9_999 - base)))[0] == 202
        assert _post(sg, _with("personalizations.0.custom_args.note", "x" * (10_000 - base)))[0] == 400


def test_rejection_naming_an_address_is_logged_without_it():
    with FakeSendGrid() as sg:
        dup = _batch(2)
        dup.recipients[1] = Recipient(dup.recipients[1].send_key, "S002", "P1@a1.example.com", "Again", {})
        with pytest.raises(PermanentSendError) as err:
            SendGridHook(KEY, host=sg.url, sleep=Sleeps()).send(dup)
    assert "We found the first duplicate instance of [<address>] in the personalizations.1.to field" in str(err.value)
    assert "a1.example.com" not in str(err.value)
