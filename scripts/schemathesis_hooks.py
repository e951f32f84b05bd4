"""Schemathesis hooks for scripts/schemathesis.sh.

The OpenAPI document says what JSON Schema can say about each input, made
from the very types the hub parses with. What it cannot say is below, each
rule with the reason; nothing else is left out.

- Cursors (`cursor`, `after`) are opaque: only the hub mints them (signed), so
  any other value is refused with 422 whatever the schema says; the API
  tests follow real cursors.
- Webhook, delivery and peer addresses: a name other than `localhost` would
  make the hub ask DNS, and a public address would send traffic off the
  machine; cases whose `url` names anything but loopback are dropped.
- `filter_failure` lets through, for "schema-valid request rejected" (ST202)
  only, the refusals of the rules in RULES: each names the operation, the
  status and problem code, and the field the hub names, so any other
  refusal of the same operation still fails the run.
"""
import ipaddress
import re
from urllib.parse import urlsplit

import schemathesis

OPAQUE = ("cursor", "after")


@schemathesis.hook
def filter_query(ctx, query):
    return not (isinstance(query, dict) and any(k in query for k in OPAQUE))


def _loopback(url):
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return True  # not a URL: refused before any lookup
    if host is None:
        return True
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@schemathesis.hook
def filter_case(ctx, case):
    # A case hook, so that the coverage phase (which runs no body hooks)
    # keeps to loopback too.
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        return _loopback(body["url"])
    return True


# tus PATCH bodies are raw bytes, as any octet stream.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

ANY = re.compile(r".*")

# (operation label regex, status, problem code, field regex, message regex):
# a refusal the schema cannot foresee.
RULES = [
    # Cursors are opaque (above): an `after` or `cursor` the hub did not mint.
    (ANY, 422, "validation_failed", r"(cursor|after)", ANY),
    # Text: the hub refuses format, separator, noncharacter and
    # default-ignorable characters by Unicode property (`domain::text::tidy`);
    # the tools' regex dialect (Python's `re`) has no `\p{..}` to say so, so
    # the document's patterns exclude the control characters only.
    (ANY, 422, "validation_failed", ANY, r"invisible or direction-changing characters"),
    # A language tag's shape is in the pattern; that its language is one of
    # ISO 639's ~8 000 would take a pattern of some 100 KB.
    (ANY, 422, "validation_failed", r"(language|languages\[\d+\])", r"known language"),
    # A query must hold a word: a letter or digit in Unicode's sense
    # (Alphabetic, Numeric), which the tools' regex dialect cannot name.
    (r"GET /api/v1/programs$", 422, "validation_failed", r"q", r"letter or digit"),
    # The report's `to` must come after its `from` (or after the default
    # `from`, 1 January): a relation between two parameters.
    (r"GET /api/v1/reports/exchange$", 422, "validation_failed", r"to", r"must be after from"),
    # tus: exactly one of `Upload-Length` and `Upload-Defer-Length` is sent,
    # which OpenAPI cannot say of two optional headers.
    (r"POST /api/v1/uploads$", 400, "invalid_header", ANY, r"Upload-Length,? or Upload-Defer-Length"),
    # tus: `Upload-Metadata` names a program (that exists, and that the
    # caller owns), a file role and a file name, base64 of UTF-8 each.
    (r"POST /api/v1/uploads$", 400, "invalid_metadata", ANY, ANY),
    (r"POST /api/v1/uploads$", 422, "validation_failed", r"Upload-Metadata\..*", ANY),
    # tus: a chunk whose bytes do not have the `Upload-Checksum` it came with
    # is discarded (460); the schema says the header's form, not the bytes'.
    (r"PATCH /api/v1/uploads/\{id\}$", 460, "checksum_mismatch", ANY, ANY),
    # A file's Content-Type depends on its role (a master is audio/*,
    # video/* or application/mxf), which is a path parameter.
    (r"PUT /api/v1/programs/\{id\}/files/\{role\}$", 415, "unsupported_media_type", ANY, ANY),
    # A rebroadcast has aired: `aired_at` is not in the future (the hub's
    # clock; a schema has no "now").
    (r"POST /api/v1/programs/\{id\}/rebroadcasts$", 422, "validation_failed", r"aired_at", r"once it has aired"),
    # Rights: `stations` is named exactly when `audience` is `stations`, each
    # an existing station; `available_until` comes after `available_from`
    # (for a patch, after the merge with what is stored).
    (r"(POST|PATCH) /api/v1/programs(/\{id\})?$", 422, "validation_failed",
     r"rights\.(stations(\[\d+\])?|available_until)", ANY),
    # A follow's value depends on its kind (a genre, an existing station's
    # id, a series name with a letter or digit, or a query string as the
    # search takes it); a push target needs `deliver: true`; `profile` and
    # `target` name ones that exist.
    (r"POST /api/v1/follows$", 422, "validation_failed", r"(value|target|profile)", ANY),
    # A profile: the codecs, rates, depths and channels each container and
    # codec take (and none for `keep`).
    (r"POST /api/v1/profiles$", 422, "validation_failed",
     r"(audio_codec|video_codec|sample_rate|bit_depth|channels|loudness)", ANY),
    # A station's default profile is one that exists.
    (r"PATCH /api/v1/stations/\{id\}$", 422, "validation_failed", r"default_profile", r"no profile has this id"),
    # A station's province is required unless it is a peer hub's (kind
    # `peer`); a token's role must fit the station's kind, which is stored.
    (r"POST /api/v1/stations$", 422, "validation_failed", r"province", ANY),
    (r"POST /api/v1/stations/\{id\}/tokens$", 422, "validation_failed", r"role", ANY),
    # A webhook's address must be one the operator allows
    # (`PXHUB_WEBHOOK_ALLOW`), judged after name resolution.
    (r"POST /api/v1/webhooks$", 422, "validation_failed", r"url", r"must be a public address"),
    # Its host name must pass IDNA (UTS 46) processing, which no pattern
    # states; the document's pattern says the scheme and that a host follows.
    (r"POST /api/v1/webhooks$", 422, "validation_failed", r"url", r"must be an absolute http or https URL"),
    # A peer hub: its id is a station's id but `local` (which names this
    # hub's own programs in `origin=`); its address passes the same rule and
    # the same IDNA processing as a webhook's.
    (r"POST /api/v1/peers$", 422, "validation_failed", r"id", r"`local` names"),
    (r"POST /api/v1/peers$", 422, "validation_failed", r"url", ANY),
    # A push target: its URL's scheme and shape depend on its `kind` (and
    # the address passes the webhook rule); the path may not climb out with
    # `..` and for `s3` starts with a bucket's name; the profile is one that
    # exists; the template is parsed with the pull agent's fields.
    (r"POST /api/v1/deliveries/targets$", 422, "validation_failed", r"url", ANY),
    (r"POST /api/v1/deliveries/targets$", 422, "validation_failed", r"path", r"(\.\.|bucket)"),
    (r"POST /api/v1/deliveries/targets$", 422, "validation_failed", r"profile", r"no profile has this id"),
    (r"POST /api/v1/deliveries/targets$", 422, "validation_failed", r"template", ANY),
]


def _known(label, status, problem):
    """Whether every error of the refusal is one of RULES's."""
    rules = [
        (field, message)
        for op, st, code, field, message in RULES
        if st == status and problem.get("code") == code and re.match(op, label)
    ]
    errors = problem.get("errors") or [{"field": "", "message": problem.get("detail", "")}]
    return bool(rules) and all(
        any(
            re.fullmatch(field, str(e.get("field", ""))) and re.search(message, str(e.get("message", "")))
            for field, message in rules
        )
        for e in errors
    )


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    if getattr(failure, "code", None) != "ST202":
        return True
    try:
        problem = response.json()
    except Exception:
        return True
    if not isinstance(problem, dict):
        return True
    return not _known(case.operation.label, response.status_code, problem)
