#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# docs/sync-api.yaml held against itself, the codec vectors and syncd. Static:
# the YAML reads the same as YAML 1.1 and 1.2, every schema is valid JSON
# Schema 2020-12 and uses no keyword outside it and OpenAPI's, every example
# validates against its own schema, every operation has a request example and
# every answer with a body a response example, every error code has one, and
# the Record schema takes every valid record of docs/vectors/codec.json and
# refuses the invalid ones. Live: two syncd on port 0 (one with
# --max-pushes-per-minute 1, --max-waits-per-account 1 and the test fault
# hooks) driven through every endpoint and every error they can be made to
# give; each real status, declared header and body is validated against the
# YAML, each answer is matched to the YAML's example of its case (same code
# and message, same results), and every response example must be met by a
# real answer and every request example sent. Never sleeps: waits are
# deadlines. Prints PASS/FAIL per case and "ok: N passed, M failed".
import copy
import ctypes
import decimal
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

try:
    import jsonschema
    import yaml
except ImportError as e:
    print(f"sync-api: skipped: {e.name} is missing (Debian: python3-jsonschema, python3-yaml)")
    sys.exit(77)

TOP = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BRIDGED_BUILD") or "build"
BUILD = BUILD if os.path.isabs(BUILD) else os.path.join(TOP, BUILD)
YAML_PATH = os.path.join(TOP, "docs", "sync-api.yaml")
TOKEN_A, TOKEN_B = "token-alice", "token-bob"
DEADLINE_S = 20

# Records of docs/vectors/codec.json a JSON Schema cannot refuse: the name's
# limit is 32 bytes of UTF-8, and maxLength counts characters.
UNEXPRESSIBLE = {"profile name of 34 UTF-8 bytes": "a length in UTF-8 bytes"}
# Response examples whose message holds a number of the moment (seconds to
# wait, the injected fault): only their code is compared.
VARIABLE_MESSAGE = {"tooManyPushes", "tooManyWaiting", "internal", "unavailable"}


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


# ---- Reading the YAML ----

class StrictLoader(yaml.SafeLoader):
    """YAML 1.1 (PyYAML) and 1.2 (the npm validator's reader) differ on
    yes/no/on/off, leading zeros and sexagesimals: refuse every scalar they
    would read differently, and a mapping key given twice (which both would
    take silently, the last one winning)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for k, _ in node.value:
            key = self.construct_object(k, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", k.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_yaml_bool(self, node):
        if node.value not in ("true", "false"):
            raise yaml.constructor.ConstructorError(None, None, f"{node.value!r} reads as a boolean only in "
                                                    "YAML 1.1: quote it", node.start_mark)
        return super().construct_yaml_bool(node)

    def construct_yaml_int(self, node):
        if not re.fullmatch(r"-?(0|[1-9][0-9]*)", node.value):
            raise yaml.constructor.ConstructorError(None, None, f"{node.value!r}: write integers in decimal "
                                                    "without leading zeros, or quote it", node.start_mark)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        if not re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?", node.value):
            raise yaml.constructor.ConstructorError(None, None, f"{node.value!r}: not a plain decimal number; "
                                                    "quote it", node.start_mark)
        return super().construct_yaml_float(node)


StrictLoader.add_constructor("tag:yaml.org,2002:bool", StrictLoader.construct_yaml_bool)
StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)


def pointer_escape(s):
    return s.replace("~", "~0").replace("/", "~1")


def pointer_get(doc, ptr):
    node = doc
    for part in ptr.lstrip("#").split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


# ---- JSON Schema ----

def exact_multiple_of(validator, divisor, instance, schema):
    """multipleOf as the YAML means it: exactly, in decimal. jsonschema
    divides binary floats, so 0.3 would not be a multiple of 0.1. A number
    read from JSON is the shortest decimal that reads back as it (repr), so
    this is exact for what a client wrote."""
    if not validator.is_type(instance, "number"):
        return
    with decimal.localcontext() as ctx:
        ctx.prec = 800
        if decimal.Decimal(repr(instance)) % decimal.Decimal(repr(divisor)) != 0:
            yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {divisor!r}")


Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"multipleOf": exact_multiple_of})

KEYWORDS = set("""$schema $id $ref $anchor $dynamicRef $dynamicAnchor $vocabulary $comment $defs
prefixItems items contains additionalProperties properties patternProperties dependentSchemas propertyNames
if then else allOf anyOf oneOf not unevaluatedItems unevaluatedProperties type const enum multipleOf maximum
exclusiveMaximum minimum exclusiveMinimum maxLength minLength pattern maxItems minItems uniqueItems maxContains
minContains maxProperties minProperties required dependentRequired title description default deprecated
readOnly writeOnly examples format contentEncoding contentMediaType contentSchema
discriminator xml externalDocs example""".split())
ONE_SUBSCHEMA = {"items", "contains", "additionalProperties", "propertyNames", "if", "then", "else", "not",
                 "unevaluatedItems", "unevaluatedProperties", "contentSchema"}
LIST_SUBSCHEMAS = {"prefixItems", "allOf", "anyOf", "oneOf"}
MAP_SUBSCHEMAS = {"properties", "patternProperties", "dependentSchemas", "$defs"}


def unknown_keywords(schema, ptr):
    """A misspelt keyword (minimun) is no error to JSON Schema: it is ignored,
    and the schema allows what it meant to refuse."""
    if not isinstance(schema, dict):
        return []
    found = [f"{ptr}/{k}" for k in schema if k not in KEYWORDS and not k.startswith("x-")]
    for k, v in schema.items():
        if k in ONE_SUBSCHEMA:
            found += unknown_keywords(v, f"{ptr}/{k}")
        elif k in LIST_SUBSCHEMAS:
            for i, s in enumerate(v):
                found += unknown_keywords(s, f"{ptr}/{k}/{i}")
        elif k in MAP_SUBSCHEMAS:
            for name, s in v.items():
                found += unknown_keywords(s, f"{ptr}/{k}/{pointer_escape(name)}")
    return found


class Spec:
    """The YAML, and the questions the tests ask of it."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.load(f, Loader=StrictLoader)
        self.seen = set()               # response examples met by a real answer
        self.sent = set()               # request examples sent

    def deref(self, obj, ptr):
        """An OpenAPI Reference Object followed (to its target's pointer)."""
        while isinstance(obj, dict) and "$ref" in obj:
            ptr = obj["$ref"]
            obj = pointer_get(self.doc, ptr)
        return obj, ptr

    def errors(self, schema_ptr, instance):
        """Validation errors of instance against the schema at schema_ptr; the
        whole document is the root, so every #/components/... resolves."""
        root = dict(self.doc)
        root["$ref"] = schema_ptr
        return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in Validator(root).iter_errors(instance)]

    # -- walking the document --

    def operations(self):
        for path, item in self.doc["paths"].items():
            for method in ("get", "put", "post", "delete", "patch", "head", "options"):
                if method in item:
                    yield path, method, item[method], f"#/paths/{pointer_escape(path)}/{method}"

    def media(self):
        """(pointer of the media type, its object) of every body the YAML describes."""
        for path, method, op, ptr in self.operations():
            body = op.get("requestBody")
            if body:
                body, bptr = self.deref(body, f"{ptr}/requestBody")
                for ct, m in body.get("content", {}).items():
                    yield f"{bptr}/content/{pointer_escape(ct)}", m
            for status, resp in op["responses"].items():
                resp, rptr = self.deref(resp, f"{ptr}/responses/{status}")
                for ct, m in resp.get("content", {}).items():
                    yield f"{rptr}/content/{pointer_escape(ct)}", m
        for name, resp in self.doc["components"].get("responses", {}).items():
            for ct, m in resp.get("content", {}).items():
                yield f"#/components/responses/{name}/content/{pointer_escape(ct)}", m

    def parameters_and_headers(self):
        for path, method, op, ptr in self.operations():
            for i, p in enumerate(op.get("parameters", [])):
                yield self.deref(p, f"{ptr}/parameters/{i}")
            for status, resp in op["responses"].items():
                resp, rptr = self.deref(resp, f"{ptr}/responses/{status}")
                for name, h in resp.get("headers", {}).items():
                    yield self.deref(h, f"{rptr}/headers/{name}")
        for name, resp in self.doc["components"].get("responses", {}).items():
            for hname, h in resp.get("headers", {}).items():
                yield self.deref(h, f"#/components/responses/{name}/headers/{hname}")

    def schema_roots(self):
        for name in self.doc["components"]["schemas"]:
            yield f"#/components/schemas/{name}"
        for ptr, m in self.media():
            yield f"{ptr}/schema"
        for obj, ptr in self.parameters_and_headers():
            yield f"{ptr}/schema"

    def examples_of(self, obj, ptr):
        """(pointer, value) of an object's example and examples."""
        if "example" in obj:
            yield f"{ptr}/example", obj["example"]
        for name, ex in obj.get("examples", {}).items():
            ex, eptr = self.deref(ex, f"{ptr}/examples/{name}")
            yield eptr, ex["value"]

    # -- what a live answer is checked against --

    def find(self, method, path):
        """The operation (and its pointer) for a request; None, and whether the
        path is known, when there is none."""
        path_known = False
        for template, item in self.doc["paths"].items():
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(regex, path):
                path_known = True
                if method.lower() in item:
                    return item[method.lower()], f"#/paths/{pointer_escape(template)}/{method.lower()}", True
        return None, None, path_known

    def response_for(self, method, path, status):
        op, ptr, path_known = self.find(method, path)
        if op is None:
            name = "MethodNotAllowed" if path_known else "NotFound"
            return self.deref({"$ref": f"#/components/responses/{name}"}, None)
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in op["responses"]:
                return self.deref(op["responses"][key], f"{ptr}/responses/{key}")
        raise Fail(f"{method} {path}: syncd answered {status}, which the YAML does not declare")

    def request_example(self, method, path, name, where="body"):
        """A request example of the operation, as a deep copy, counted as sent."""
        op, ptr, _ = self.find(method, path)
        if where == "body":
            body, bptr = self.deref(op["requestBody"], f"{ptr}/requestBody")
            ex, eptr = self.deref(body["content"]["application/json"]["examples"][name],
                                  f"{bptr}/content/application~1json/examples/{name}")
        else:
            for i, p in enumerate(op.get("parameters", [])):
                p, pptr = self.deref(p, f"{ptr}/parameters/{i}")
                if p["name"] == where:
                    if "examples" in p:
                        ex, eptr = self.deref(p["examples"][name], f"{pptr}/examples/{name}")
                    else:
                        ex, eptr = {"value": p["example"]}, f"{pptr}/example"
                    break
            else:
                raise Fail(f"{method} {path}: no parameter {where}")
        self.sent.add(eptr)
        return copy.deepcopy(ex["value"])


# ---- Static checks ----

def case_yaml_reads_alike(spec):
    check(spec.doc.get("openapi", "").startswith("3.1."), "openapi is not 3.1.x")


def case_schemas_are_2020_12(spec):
    problems = []
    for ptr in spec.schema_roots():
        schema = pointer_get(spec.doc, ptr)
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            problems.append(f"{ptr}: {e.message}")
        problems += [f"{p}: not a keyword of JSON Schema 2020-12 or OpenAPI" for p in unknown_keywords(schema, ptr)]
    check(not problems, "\n".join(problems))


def case_examples_match_their_schemas(spec):
    problems, n = [], 0
    for ptr, m in spec.media():
        for eptr, value in spec.examples_of(m, ptr):
            n += 1
            problems += [f"{eptr}: {e}" for e in spec.errors(f"{ptr}/schema", value)]
    for obj, ptr in spec.parameters_and_headers():
        for eptr, value in spec.examples_of(obj, ptr):
            n += 1
            problems += [f"{eptr}: {e}" for e in spec.errors(f"{ptr}/schema", value)]
    check(not problems, "\n".join(problems))
    check(n > 50, f"only {n} examples found")


def case_every_case_has_examples(spec):
    problems, codes = [], set()
    for path, method, op, ptr in spec.operations():
        has_request = "requestBody" in op or any(
            "example" in p or "examples" in p for p in (spec.deref(p, None)[0] for p in op.get("parameters", [])))
        if not has_request and "Request example" not in op.get("description", ""):
            problems.append(f"{method.upper()} {path}: no request example")
        for status, resp in op["responses"].items():
            resp, rptr = spec.deref(resp, f"{ptr}/responses/{status}")
            for ct, m in resp.get("content", {}).items():
                if not m.get("examples"):
                    problems.append(f"{method.upper()} {path} {status}: no response example")
    for ptr, m in spec.media():
        for eptr, value in spec.examples_of(m, ptr):
            if isinstance(value, dict) and isinstance(value.get("error"), dict):
                codes.add(value["error"].get("code"))
    enum = pointer_get(spec.doc, "#/components/schemas/Error/properties/error/properties/code/enum")
    problems += [f"error code {c}: no example" for c in enum if c not in codes]
    problems += [f"error code {c}: in an example, not in the Error schema" for c in codes - set(enum)]
    check(not problems, "\n".join(problems))


def case_record_schema_and_vectors(spec):
    with open(os.path.join(TOP, "docs", "vectors", "codec.json"), encoding="utf-8") as f:
        vectors = json.load(f)
    problems = []
    for v in vectors["valid"]:
        for ptr in ("#/components/schemas/Record", "#/components/schemas/ServerRecord"):
            problems += [f"valid {v['name']!r} refused by {ptr}: {e}" for e in spec.errors(ptr, v["json"])]
    for v in vectors["invalid_json"]:
        if "json" not in v:
            continue                    # text that is not JSON, or not as JSON reads it: the reader's
        taken = not spec.errors("#/components/schemas/Record", v["json"])
        if taken and v["name"] not in UNEXPRESSIBLE:
            problems.append(f"invalid {v['name']!r} taken by the Record schema")
        if not taken and v["name"] in UNEXPRESSIBLE:
            problems.append(f"invalid {v['name']!r} is refused now: drop it from UNEXPRESSIBLE")
    check(not problems, "\n".join(problems))


# ---- syncd ----

class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Syncd:
    def __init__(self, workdir, name, extra, faults=False):
        self.dir = os.path.join(workdir, name)
        os.mkdir(self.dir)
        self.log_path = os.path.join(self.dir, "stderr")
        env = dict(os.environ)
        env.pop("SYNCD_TEST_FAULTS", None)
        if faults:
            env["SYNCD_TEST_FAULTS"] = "1"
        argv = [os.path.join(BUILD, "server", "syncd"), "--listen", "127.0.0.1:0",
                "--cert", os.path.join(workdir, "server.pem"), "--key", os.path.join(workdir, "server.key"),
                "--db", os.path.join(self.dir, "db"), "--tokens", os.path.join(workdir, "tokens")] + extra
        with open(self.log_path, "wb") as log:
            # PR_SET_PDEATHSIG: a test killed at its deadline leaves no server behind
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, env=env,
                                         preexec_fn=lambda: ctypes.CDLL(None).prctl(1, signal.SIGTERM))
        line = b""
        end = time.monotonic() + DEADLINE_S
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0, end - time.monotonic()))
            chunk = os.read(self.proc.stdout.fileno(), 256) if ready else b""
            if not chunk:
                self.proc.kill()
                raise Fail(f"syncd did not say where it listens: {self.log()}")
            line += chunk
        m = re.match(rb"syncd: listening on 127\.0\.0\.1:(\d+)\n", line)
        check(m, f"syncd's first line: {line!r}")
        self.port = int(m.group(1))
        self.ctx = ssl.create_default_context(cafile=os.path.join(workdir, "ca.pem"))

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-2000:]

    def stop(self):
        """SIGTERM; its exit status (None when it did not end in time)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def request(self, method, path, token=TOKEN_A, body=None, headers=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=DEADLINE_S + 60)
        h = {"Authorization": f"Bearer {token}"} if token else {}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def raw(self):
        """A TLS connection to write requests on by hand."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE_S + 60)
        # else Nagle holds a request sent right after the handshake for the
        # server's delayed ACK (40 ms), and a request sent later overtakes it
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.ctx.wrap_socket(s, server_hostname="127.0.0.1")


def read_response(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        check(chunk, f"connection closed before an answer's headers ({buf!r})")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = sock.recv(65536)
        check(chunk, "connection closed in an answer's body")
        body += chunk
    return Resp(int(lines[0].split()[1]), headers, body[:n])


def header_value(schema, text):
    """A header's text as the type its schema says (style simple)."""
    if schema.get("type") == "integer" and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text


def conforms(spec, method, path, r, status, example=None):
    """r's status is status, and r is what the YAML says of that answer: its
    declared headers, its body against its schema. With example, the answer
    is that example's case: same error code and (unless the message holds a
    number of the moment) message, same push results, pull records, devices."""
    route = path.split("?", 1)[0]
    where = f"{method} {path[:90]}"
    body_text = r.body[:300].decode("utf-8", "replace")
    check(r.status == status, f"{where}: {r.status}, expected {status}: {body_text}")
    resp, rptr = spec.response_for(method, route, r.status)
    for name, h in resp.get("headers", {}).items():
        h, hptr = spec.deref(h, f"{rptr}/headers/{name}")
        value = r.headers.get(name.lower())
        if value is None:
            check(not h.get("required"), f"{where}: no {name} header")
            continue
        errs = spec.errors(f"{hptr}/schema", header_value(h["schema"], value))
        check(not errs, f"{where}: {name}: {value!r}: {errs}")
    if "content" not in resp:
        check(r.body == b"", f"{where}: a body where the YAML has none: {body_text}")
        check(example is None, f"{where}: example {example} of an answer without a body")
        return None
    check(r.headers.get("content-type", "").split(";")[0] == "application/json",
          f"{where}: Content-Type {r.headers.get('content-type')!r}")
    media_ptr = f"{rptr}/content/application~1json"
    try:
        body = r.json()
    except ValueError:
        raise Fail(f"{where}: not JSON: {body_text}")
    errs = spec.errors(f"{media_ptr}/schema", body)
    check(not errs, f"{where}: {r.status} body against {media_ptr}/schema:\n  " + "\n  ".join(errs) +
          f"\n  body: {body_text}")
    if example is not None:
        examples = resp["content"]["application/json"].get("examples", {})
        check(example in examples, f"{where}: no example {example} at {media_ptr}")
        ex, eptr = spec.deref(examples[example], f"{media_ptr}/examples/{example}")
        same_case(where, example, ex["value"], body)
        spec.seen.add(eptr)
    return body


def same_case(where, name, want, got):
    if "error" in want:
        check(got["error"]["code"] == want["error"]["code"],
              f"{where}: code {got['error']['code']}, example {name} says {want['error']['code']}")
        if name not in VARIABLE_MESSAGE:
            check(got["error"]["message"] == want["error"]["message"],
                  f"{where}: message {got['error']['message']!r}, example {name} says {want['error']['message']!r}")
        return
    # a cursor is bound to its server's database, and the time is the moment's
    for member in sorted((set(want) | set(got)) - {"cursor", "server_time_ms"}):
        check(want.get(member) == got.get(member),
              f"{where}: {member} {json.dumps(got.get(member))[:400]}\n  example {name} says "
              f"{json.dumps(want.get(member))[:400]}")


# ---- Live cases ----

PUSH, PULL, WAIT, STATUS, DEVICES = "/v1/sync/push", "/v1/sync/pull", "/v1/sync/wait", "/v1/sync/status", "/v1/devices"
BIG = b'{"cursor": null, "limit": 1, "pad": "' + b"x" * (1 << 20) + b'"}'


def new_key(n):
    return f"0b8d2e47-91a6-4c3f-b5e2-{n:012x}"


class Live:
    """The state the live cases share: the servers and what they answered."""

    def __init__(self, spec, a, b):
        self.spec, self.a, self.b = spec, a, b
        self.dev = spec.request_example("POST", PUSH, None, where="Device-Id")
        self.key = spec.request_example("POST", PUSH, None, where="Idempotency-Key")
        self.one_of_each = spec.request_example("POST", PUSH, "oneOfEach")
        self.keys = 0

    def push(self, server, body, key=None, dev=None, extra=None):
        if key is None:
            self.keys += 1
            key = new_key(self.keys)
        h = {"Idempotency-Key": key, "Device-Id": dev or self.dev}
        h.update(extra or {})
        return server.request("POST", PUSH, body=body, headers=h)

    def ok(self, *args, **kw):
        return conforms(self.spec, *args, **kw)


def case_status_and_auth(t):
    t.start_cursor = t.ok("GET", STATUS, t.a.request("GET", STATUS), 200, "status")["cursor"]
    t.ok("GET", STATUS, t.a.request("GET", STATUS, token=None), 401, "noToken")
    r = t.a.request("GET", STATUS, token="not-a-token")
    t.ok("GET", STATUS, r, 401, "unknownToken")
    check(r.headers.get("www-authenticate") == "Bearer", "401 without WWW-Authenticate: Bearer")


def case_not_found_and_method(t):
    t.ok("GET", "/v1/sync/state", t.a.request("GET", "/v1/sync/state"), 404, "unknownPath")
    t.ok("PUT", "/v1/devices/", t.a.request("PUT", "/v1/devices/", body=b"{}"), 404)
    t.ok("GET", PULL, t.a.request("GET", PULL), 405, "wrongMethod")
    for method, path, allow in (("DELETE", STATUS, "GET"), ("POST", DEVICES, "GET"),
                                ("GET", "/v1/devices/a4c1380f2b6d9e57", "PUT"), ("PUT", PUSH, "POST")):
        r = t.a.request(method, path, token=None, body=b"" if method != "GET" else None)
        t.ok(method, path, r, 405)
        check(r.headers.get("allow") == allow, f"{method} {path}: Allow {r.headers.get('allow')!r}")


def case_push_applied_replay_reused(t):
    r = t.push(t.a, t.one_of_each, key=t.key)
    t.ok("POST", PUSH, r, 200, "applied")
    check("idempotent-replay" not in r.headers, "a first answer marked as a replay")
    r2 = t.push(t.a, t.one_of_each, key=t.key)
    t.ok("POST", PUSH, r2, 200, "replay")
    check(r2.headers.get("idempotent-replay") == "true", "a replay without Idempotent-Replay: true")
    check(r2.body == r.body, "a replay that is not the first answer byte for byte")
    derived = t.spec.request_example("POST", PUSH, "derivedCopy")
    t.ok("POST", PUSH, t.push(t.a, derived, key=t.key), 422, "keyReused")
    body = t.ok("POST", PUSH, t.push(t.a, derived), 200)
    check([x["status"] for x in body["results"]] == ["applied"], f"derivedCopy: {body}")


def case_push_stale_and_rejected(t):
    profile = t.one_of_each["records"][0]
    std = {"key": "eq.custom", "family": "standard", "stamp": {"ms": 1763700000000, "c": 9, "origin": t.dev},
           "value": {"bands_db": [0, 0, 0, 0, 12.5]}}
    future = copy.deepcopy(std)
    future["value"]["bands_db"][4] = 12
    future["stamp"]["ms"] = 4102444800000               # 2100-01-01
    unknown = dict(std, key="eq.preset", family="pro")
    t.ok("POST", PUSH, t.push(t.a, {"schema": 1, "records": [profile, unknown, std, future]}), 200,
         "staleAndRejected")


def case_push_bad_requests(t):
    body = t.one_of_each
    t.ok("POST", PUSH, t.a.request("POST", PUSH, body=body, headers={"Device-Id": t.dev}), 400, "noIdempotencyKey")
    t.ok("POST", PUSH, t.push(t.a, body, key="42"), 400, "badIdempotencyKey")
    t.ok("POST", PUSH, t.push(t.a, body, dev=t.dev.upper()), 400, "badDeviceId")
    t.ok("POST", PUSH, t.push(t.a, b"records"), 400, "notJson")
    t.ok("POST", PUSH, t.push(t.a, {"schema": 1, "records": []}), 400, "noRecords")
    t.ok("POST", PUSH, t.push(t.a, {"schema": 1, "records": [42]}), 400, "unnamedRecord")
    r = t.push(t.a, {"schema": 2, "records": []})
    check(t.ok("POST", PUSH, r, 400, "schemaMismatch")["error"].get("required_schema") == 1, "no required_schema")
    t.ok("POST", PUSH, t.a.request("POST", PUSH, token=None, body=body), 401, "noToken")


def case_too_large(t):
    many = {"schema": 1, "records": [t.one_of_each["records"][0]] * 1001}
    t.ok("POST", PUSH, t.push(t.a, many), 413, "tooManyRecords")
    t.ok("POST", PUSH, t.push(t.a, BIG), 413, "bodyTooLarge")
    t.ok("POST", PULL, t.a.request("POST", PULL, body=BIG), 413, "bodyTooLarge")
    t.ok("PUT", "/v1/devices/a4c1380f2b6d9e57", t.a.request("PUT", "/v1/devices/a4c1380f2b6d9e57", body=BIG),
         413, "bodyTooLarge")


def case_push_in_progress(t):
    """409: the first push with a key has sent its headers (syncd said 100
    Continue, so it has claimed the key) but not its body yet."""
    t.keys += 1
    key, body = new_key(t.keys), json.dumps(t.one_of_each).encode()
    first = t.a.raw()
    try:
        first.sendall((f"POST {PUSH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN_A}\r\n"
                       f"Idempotency-Key: {key}\r\nDevice-Id: {t.dev}\r\nContent-Type: application/json\r\n"
                       f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n").encode())
        check(read_response(first).status == 100, "no 100 Continue")
        t.ok("POST", PUSH, t.push(t.a, body, key=key), 409, "inProgress")
        first.sendall(body)
        res = t.ok("POST", PUSH, read_response(first), 200)
        check([x["status"] for x in res["results"]] == ["stale"] * 3, f"the first push: {res}")
    finally:
        first.close()
    r = t.push(t.a, body, key=key)
    t.ok("POST", PUSH, r, 200)
    check(r.headers.get("idempotent-replay") == "true", "no replay after the 409")


def case_pull(t):
    first = t.ok("POST", PULL, t.a.request("POST", PULL, body=t.spec.request_example("POST", PULL, "fromStart")),
                 200, "morePages")
    req = t.spec.request_example("POST", PULL, "fromCursor")
    req["cursor"] = first["cursor"]
    t.ok("POST", PULL, t.a.request("POST", PULL, body=req), 200, "lastPage")
    t.ok("POST", PULL, t.a.request("POST", PULL, body={"cursor": None, "limit": 0}), 400, "badLimit")
    t.ok("POST", PULL, t.a.request("POST", PULL, body=b""), 400, "notJson")
    t.ok("POST", PULL, t.a.request("POST", PULL, body={"cursor": "00000000000000030000000000000000", "limit": 10}),
         400, "foreignCursor")
    # bob's view: his own cursor, none of alice's records
    bob = t.ok("POST", PULL, t.a.request("POST", PULL, token=TOKEN_B, body={"cursor": None, "limit": 10}), 200)
    check(bob["records"] == [], "another account's records")
    t.ok("POST", PULL, t.a.request("POST", PULL, token=TOKEN_B, body={"cursor": first["cursor"], "limit": 1}), 400,
         "foreignCursor")


def case_wait(t):
    cursor = t.spec.request_example("GET", WAIT, None, where="cursor")
    timeout = t.spec.request_example("GET", WAIT, None, where="timeout")
    check(re.fullmatch("[0-9a-f]{32}", cursor) and timeout == 30, "the wait's parameter examples")
    t.ok("GET", WAIT, t.a.request("GET", f"{WAIT}?cursor={t.start_cursor}&timeout={timeout}"), 200, "changed")
    now = t.ok("GET", STATUS, t.a.request("GET", STATUS), 200)["cursor"]
    started = time.monotonic()
    t.ok("GET", WAIT, t.a.request("GET", f"{WAIT}?cursor={now}&timeout=1"), 204)
    check(time.monotonic() - started >= 0.9, "a 204 before its timeout")
    t.ok("GET", WAIT, t.a.request("GET", f"{WAIT}?cursor={now}&timeout=61"), 400, "badQuery")
    t.ok("GET", WAIT, t.a.request("GET", f"{WAIT}?cursor={now}"), 400, "badQuery")
    t.ok("GET", WAIT, t.a.request("GET", f"{WAIT}?cursor={now}&timeout=5&x=1"), 400, "badQuery")
    t.ok("GET", WAIT, t.a.request("GET", f"{WAIT}?cursor=00000000000000030000000000000000&timeout=30"), 400,
         "foreignCursor")


def case_devices(t):
    for name in ("buds", "bridge"):
        id_ = t.spec.request_example("PUT", "/v1/devices/x", name, where="id")
        body = t.spec.request_example("PUT", "/v1/devices/x", name)
        path = f"{DEVICES}/{id_}"
        t.ok("PUT", path, t.a.request("PUT", path, body=body), 200, name)
    phone = {"kind": "host", "name": "Anna's phone", "last_seen_ms": 1763699000000}
    t.ok("PUT", f"{DEVICES}/5e2f0c9a1b8d7364", t.a.request("PUT", f"{DEVICES}/5e2f0c9a1b8d7364", body=phone), 200)
    limit = t.spec.request_example("GET", DEVICES, None, where="limit")
    after = t.spec.request_example("GET", DEVICES, None, where="after")
    page = t.ok("GET", DEVICES, t.a.request("GET", f"{DEVICES}?limit={limit}"), 200, "firstPage")
    check(page["next"] == after, "the after example is not the first page's next")
    t.ok("GET", DEVICES, t.a.request("GET", f"{DEVICES}?limit={limit}&after={after}"), 200, "lastPage")
    whole = t.ok("GET", DEVICES, t.a.request("GET", DEVICES), 200)
    check(len(whole["devices"]) == 3 and "next" not in whole, f"the whole registry: {whole}")
    buds = t.spec.request_example("PUT", "/v1/devices/x", "buds")
    t.ok("PUT", f"{DEVICES}/A4C1380F2B6D9E57", t.a.request("PUT", f"{DEVICES}/A4C1380F2B6D9E57", body=buds), 400,
         "badId")
    t.ok("PUT", f"{DEVICES}/a4c1380f2b6d9e57", t.a.request("PUT", f"{DEVICES}/a4c1380f2b6d9e57", body=dict(
        buds, id="a4c1380f2b6d9e57")), 400, "unknownMember")
    t.ok("PUT", f"{DEVICES}/a4c1380f2b6d9e57", t.a.request("PUT", f"{DEVICES}/a4c1380f2b6d9e57", body={
        "kind": "phone", "last_seen_ms": 1763700000000}), 400, "badKind")
    t.ok("GET", DEVICES, t.a.request("GET", f"{DEVICES}?limit=0"), 400, "badQuery")
    t.ok("GET", DEVICES, t.a.request("GET", f"{DEVICES}?after=Buds"), 400, "badAfter")
    t.ok("GET", DEVICES, t.a.request("GET", DEVICES, token=None), 401, "noToken")
    t.ok("PUT", f"{DEVICES}/a4c1380f2b6d9e57", t.a.request("PUT", f"{DEVICES}/a4c1380f2b6d9e57", token="x",
                                                          body=buds), 401, "unknownToken")


def case_malformed(t):
    for path in (STATUS, DEVICES):
        s = t.a.raw()
        try:
            s.sendall(f"GET {path} HTTP/1.1\r\nAuthorization: Bearer {TOKEN_A}\r\n\r\n".encode())
            r = read_response(s)
            t.ok("GET", path, r, 400, "malformed")
            check(r.headers.get("connection", "").lower() == "close", "a malformed request's connection kept")
        finally:
            s.close()


def case_rate_limit_and_faults(t):
    t.ok("POST", PUSH, t.push(t.b, t.one_of_each), 200, "applied")
    r = t.push(t.b, t.one_of_each)
    t.ok("POST", PUSH, r, 429, "tooManyPushes")
    check(1 <= int(r.headers["retry-after"]) <= 60, f"Retry-After {r.headers['retry-after']}")
    rules = [{"path": STATUS, "action": "status", "status": 500},
             {"path": STATUS, "action": "status", "status": 503, "retry_after": 5}]
    check(t.b.request("POST", "/test/faults", token=None, body=rules).status == 200, "fault rules refused")
    t.ok("GET", STATUS, t.b.request("GET", STATUS), 500, "internal")
    r = t.b.request("GET", STATUS)
    t.ok("GET", STATUS, r, 503, "unavailable")
    check(r.headers.get("retry-after") == "5", "an injected 503 without its Retry-After")


def case_waits_limited_then_stopping(t):
    """One long poll parked (--max-waits-per-account 1): the next is 429; then
    syncd stops, and the parked one is answered 503."""
    cursor = t.ok("GET", STATUS, t.b.request("GET", STATUS), 200)["cursor"]

    def park():
        s = t.b.raw()
        s.sendall(f"GET {WAIT}?cursor={cursor}&timeout=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Bearer {TOKEN_A}\r\n\r\n".encode())
        return s

    parked = park()
    try:
        end = time.monotonic() + DEADLINE_S
        while True:
            r = t.b.request("GET", f"{WAIT}?cursor={cursor}&timeout=1")
            if r.status != 204 or time.monotonic() > end:
                break
            # this one was parked first, and the first may have been refused
            # meanwhile: park it again
            if select.select([parked], [], [], 0)[0]:
                parked.close()
                parked = park()
        t.ok("GET", WAIT, r, 429, "tooManyWaiting")
        t.b.proc.send_signal(signal.SIGTERM)
        t.ok("GET", WAIT, read_response(parked), 503, "stopping")
    finally:
        parked.close()
    check(t.b.stop() == 0, f"syncd did not exit 0 on SIGTERM: {t.b.log()}")


def case_every_example_met(t):
    spec, missing = t.spec, []
    for obj, ptr in spec.parameters_and_headers():
        if "in" in obj:
            missing += [f"{eptr}: never sent" for eptr, _ in spec.examples_of(obj, ptr) if eptr not in spec.sent]
    for ptr, m in spec.media():
        if "/responses/" not in ptr:
            for eptr, _ in spec.examples_of(m, ptr):
                if eptr not in spec.sent:
                    missing.append(f"{eptr}: never sent")
            continue
        for eptr, _ in spec.examples_of(m, ptr):
            if eptr not in spec.seen:
                missing.append(f"{eptr}: no real answer met it")
    check(not missing, "\n".join(sorted(set(missing))))


# ---- Main ----

def run(cases, *args):
    passed = failed = 0
    for case in cases:
        name = case.__name__[5:].replace("_", " ")
        try:
            case(*args)
            print(f"PASS {name}")
            passed += 1
        except Fail as e:
            print(f"FAIL {name}: {e}")
            failed += 1
        except Exception as e:          # a crash of the test is a failure too, with its cause
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            failed += 1
    return passed, failed


def main():
    try:
        spec = Spec(YAML_PATH)
    except (OSError, yaml.YAMLError) as e:
        print(f"FAIL yaml reads alike: {e}")
        print("ok: 0 passed, 1 failed")
        return 1
    passed, failed = run([case_yaml_reads_alike, case_schemas_are_2020_12, case_examples_match_their_schemas,
                          case_every_case_has_examples, case_record_schema_and_vectors], spec)
    workdir = tempfile.mkdtemp(prefix="sync-api.")
    servers = []
    try:
        subprocess.run([os.path.join(TOP, "tests", "lib", "mkcerts.sh"), workdir], check=True)
        with open(os.open(os.path.join(workdir, "tokens"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"{TOKEN_A} alice\n{TOKEN_B} bob\n")
        a = Syncd(workdir, "a", [])
        servers.append(a)
        b = Syncd(workdir, "b", ["--max-pushes-per-minute", "1", "--max-waits-per-account", "1"], faults=True)
        servers.append(b)
        live = Live(spec, a, b)
        p, f = run([case_status_and_auth, case_not_found_and_method, case_push_applied_replay_reused,
                    case_push_stale_and_rejected, case_push_bad_requests, case_too_large, case_push_in_progress,
                    case_pull, case_wait, case_devices, case_malformed, case_rate_limit_and_faults,
                    case_waits_limited_then_stopping, case_every_example_met], live)
        passed, failed = passed + p, failed + f
        status = a.stop()
        if status != 0:
            print(f"FAIL syncd a exited {status}: {a.log()}")
            failed += 1
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"ok: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
