"""Clients generated from proto-docs/ by grpcio-tools call a running gateway, as a new team would.

Run by GatewayRPCTests/ThirdPartyClientTests (which starts the simulator and the gateway in
process and passes their addresses in the environment): every RPC over native gRPC (metadata
auth, deadlines, each error code's status and details), over Connect binary and over Connect
JSON (lowerCamelCase names, int64 as strings), and every answer parsed into its declared message
with unknown fields refused.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

import grpc
import httpx
from google.protobuf import json_format
from google.protobuf.unknown_fields import UnknownFieldSet
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

HTTP = os.environ["GATEWAY_HTTP"]
GRPC_TARGET = os.environ["GATEWAY_GRPC"]
SIM = os.environ["SIM_BASE"]
TOKEN = os.environ["REPORTING_TOKEN"]
NARROW_TOKEN = os.environ["NARROW_TOKEN"]
ADMIN_TOKEN = os.environ["ADMIN_TOKEN"]
SECRETS = [value for key, value in os.environ.items() if key.startswith("SECRET_")]


def generate_stubs():
    """Python stubs from proto-docs/, made now with grpcio-tools' protoc."""
    proto_dir = os.environ["PROTO_DIR"]
    out = tempfile.mkdtemp(prefix="gateway-stubs-")
    files = sorted(
        os.path.relpath(os.path.join(root, name), proto_dir)
        for root, _, names in os.walk(proto_dir)
        for name in names
        if name.endswith(".proto")
    )
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir, f"--python_out={out}", f"--grpc_python_out={out}", *files],
        check=True,
    )
    sys.path.insert(0, out)


generate_stubs()
from gateway.v1 import campaign_service_pb2 as cs  # noqa: E402
from gateway.v1 import campaign_service_pb2_grpc as cs_grpc  # noqa: E402
from gateway.v1 import report_service_pb2 as rs  # noqa: E402
from gateway.v1 import report_service_pb2_grpc as rs_grpc  # noqa: E402
from gateway.v1 import job_service_pb2 as js  # noqa: E402
from gateway.v1 import job_service_pb2_grpc as js_grpc  # noqa: E402


def assert_no_unknown_fields(message, path="answer"):
    """Refuses unknown fields anywhere in a parsed message (what the wire carries must be declared)."""
    unknown = UnknownFieldSet(message)
    if len(unknown):
        raise AssertionError(f"{path} ({message.DESCRIPTOR.full_name}) carries undeclared field numbers {[f.field_number for f in unknown]}")
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            for key, entry in value.items():
                if hasattr(entry, "DESCRIPTOR"):
                    assert_no_unknown_fields(entry, f"{path}.{field.name}[{key}]")
        elif field.is_repeated:
            for index, element in enumerate(value):
                assert_no_unknown_fields(element, f"{path}.{field.name}[{index}]")
        else:
            assert_no_unknown_fields(value, f"{path}.{field.name}")


def campaign_ids(count, active=True):
    """Ids of the simulator's campaigns (active over March to May 2025 unless `active` is false)."""
    with urllib.request.urlopen(f"{SIM}/_sim/campaigns") as answer:
        campaigns = json.load(answer)["campaigns"]
    chosen = [c["campaign_id"] for c in campaigns if not active or (c["active_from"] <= "2025-03-01" and c["active_to"] >= "2025-05-31")][:count]
    assert len(chosen) == count, f"the simulator has {len(chosen)} such campaigns, not {count}"
    return chosen


def set_upstream_latency(ms):
    request = urllib.request.Request(f"{SIM}/_sim/faults", data=json.dumps({"latency_ms": ms}).encode(), method="POST")
    urllib.request.urlopen(request).read()


def details_of(trailers):
    """The google.rpc.Status of a gRPC error's `grpc-status-details-bin` trailer, its details unpacked by type."""
    raw = dict(trailers or ()).get("grpc-status-details-bin")
    if raw is None:
        return None, {}
    status = status_pb2.Status.FromString(raw)
    unpacked = {}
    for any_detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo, error_details_pb2.BadRequest):
            if any_detail.Is(kind.DESCRIPTOR):
                detail = kind()
                any_detail.Unpack(detail)
                unpacked[kind.DESCRIPTOR.name] = detail
    return status, unpacked


class Calls:
    """The RPCs every transport is tried with: (service stub attribute, method, request, response type)."""

    @staticmethod
    def all():
        ids = campaign_ids(3)
        return [
            ("campaign", "GetStats", cs.GetStatsRequest(workspace="main", campaign_ids=ids, start_date="2025-03-01", end_date="2025-03-10"), cs.GetStatsResponse),
            ("campaign", "GetStats", cs.GetStatsRequest(workspace="main", campaign_ids=ids, start_date="2025-03-01", end_date="2025-05-14", view="summary"), cs.GetStatsResponse),
            ("campaign", "GetStats", cs.GetStatsRequest(workspace="main", campaign_ids=ids, start_date="2025-03-01", end_date="2025-05-14", metric_type="UNIQUE"), cs.GetStatsResponse),
            ("campaign", "GetStats", cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-02", timeout_ms=60000), cs.GetStatsResponse),
            ("campaign", "GetStats", cs.GetStatsRequest(workspace="main", start_date="2025-01-01", end_date="2025-12-31", dry_run=True), cs.GetStatsResponse),
            ("campaign", "GetStats", cs.GetStatsRequest(workspace="mig", campaign_ids=ids[:2] + ["nosuchcampaign"]), cs.GetStatsResponse),
            ("campaign", "List", cs.ListCampaignsRequest(workspace="main", include_child_campaigns=True), cs.ListCampaignsResponse),
            ("campaign", "List", cs.ListCampaignsRequest(workspace="main", campaign_ids=ids, dry_run=True), cs.ListCampaignsResponse),
            ("report", "GetDaily", rs.GetDailyRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-02"), rs.GetDailyResponse),
            ("report", "GetDaily", rs.GetDailyRequest(workspace="main", date="2025-03-03", dry_run=True), rs.GetDailyResponse),
        ]


class NativeGRPCTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        authority = os.environ.get("GATEWAY_GRPC_CA")
        if authority:
            with open(authority, "rb") as pem:
                cls.channel = grpc.secure_channel(GRPC_TARGET, grpc.ssl_channel_credentials(root_certificates=pem.read()))
        else:
            cls.channel = grpc.insecure_channel(GRPC_TARGET)
        cls.stubs = {
            "campaign": cs_grpc.CampaignServiceStub(cls.channel),
            "report": rs_grpc.ReportServiceStub(cls.channel),
            "job": js_grpc.JobServiceStub(cls.channel),
        }

    def call(self, stub, method, request, token=TOKEN, timeout=60):
        metadata = [("authorization", f"Bearer {token}")] if token else []
        return getattr(self.stubs[stub], method).with_call(request, metadata=metadata, timeout=timeout)

    def test_every_rpc_answers_its_declared_message(self):
        for stub, method, request, response_type in Calls.all():
            with self.subTest(method=method, request=str(request)):
                answer, _ = self.call(stub, method, request)
                self.assertIsInstance(answer, response_type)
                assert_no_unknown_fields(answer)
                self.assertEqual(answer.workspace, request.workspace)

    def test_a_job_round_trip_answers_what_the_synchronous_call_answers(self):
        ids = campaign_ids(2)
        submitted, _ = self.call(
            "job", "Submit", js.SubmitJobRequest(workspace="main", campaign_ids=ids, start_date="2025-04-01", end_date="2025-04-20")
        )
        assert_no_unknown_fields(submitted)
        self.assertEqual(submitted.estimated_calls, 1)
        self.assertEqual(len(submitted.job_id), 32)
        for _ in range(600):
            job, _ = self.call("job", "Get", js.GetJobRequest(job_id=submitted.job_id))
            if job.state not in ("queued", "running"):
                break
        assert_no_unknown_fields(job)
        self.assertEqual(job.state, "done")
        self.assertEqual(job.progress.calls_done, 1)
        sync, _ = self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="main", campaign_ids=ids, start_date="2025-04-01", end_date="2025-04-20"))
        self.assertEqual(json_format.MessageToDict(job.result)["campaigns"], json_format.MessageToDict(sync.campaigns))
        listed, _ = self.call("job", "List", js.ListJobsRequest())
        self.assertIn(submitted.job_id, [entry.job_id for entry in listed.jobs])
        with self.assertRaises(grpc.RpcError) as finished:
            self.call("job", "Cancel", js.CancelJobRequest(job_id=submitted.job_id))
        self.assertEqual(finished.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        with self.assertRaises(grpc.RpcError) as unknown:
            self.call("job", "Get", js.GetJobRequest(job_id="0" * 32))
        self.assertEqual(unknown.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_a_stats_answer_carries_the_figures_json_rpc_gives(self):
        ids = campaign_ids(2)
        request = cs.GetStatsRequest(workspace="main", campaign_ids=ids, start_date="2025-03-01", end_date="2025-03-10")
        answer, _ = self.call("campaign", "GetStats", request)
        via_json_rpc = json.loads(post_json(f"{HTTP}/rpc", {"jsonrpc": "2.0", "id": 1, "method": "campaigns.getStats", "params": json_format.MessageToDict(request, preserving_proto_field_name=True)})[1])
        self.assertEqual(json_format.MessageToDict(answer.campaigns), via_json_rpc["result"]["campaigns"])
        self.assertEqual([w.start_date for w in answer.windows], [w["start_date"] for w in via_json_rpc["result"]["windows"]])

    def test_without_a_token_the_status_is_unauthenticated(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-01"), token=None)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-01"), token="not-a-token")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

    def test_an_unknown_method_is_unimplemented(self):
        call = self.channel.unary_unary("/gateway.v1.CampaignService/Nope", request_serializer=None, response_deserializer=None)
        with self.assertRaises(grpc.RpcError) as caught:
            call(b"", metadata=[("authorization", f"Bearer {TOKEN}")], timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNIMPLEMENTED)

    def test_a_bad_field_is_invalid_argument_naming_it(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="main", start_date="2025-03-10", end_date="2025-03-01"))
        error = caught.exception
        self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        status, details = details_of(error.trailing_metadata())
        self.assertEqual(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertEqual(details["BadRequest"].field_violations[0].field, "end_date")
        self.assertEqual(details["ErrorInfo"].metadata["jsonrpc_code"], "-32602")
        self.assertEqual(details["ErrorInfo"].domain, "campaign-gateway")

    def test_a_method_outside_the_callers_scopes_is_permission_denied(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-01"), token=NARROW_TOKEN)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(details_of(caught.exception.trailing_metadata())[1]["ErrorInfo"].metadata["method"], "campaigns.getStats")

    def test_a_plan_over_the_call_cap_is_resource_exhausted(self):
        ids = campaign_ids(25, active=False)
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="main", campaign_ids=ids, start_date="2025-01-01", end_date="2025-12-31"))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        info = details_of(caught.exception.trailing_metadata())[1]["ErrorInfo"]
        self.assertEqual(info.reason, "PLAN_TOO_LARGE")
        self.assertEqual(info.metadata["jsonrpc_code"], "-32013")

    def test_a_budget_that_cannot_serve_before_grpc_timeout_is_resource_exhausted_with_a_retry_delay(self):
        # `tight` allows one call per 20 s: three calls need 40 s, far past the 3 s grpc-timeout
        # (and well within the gateway's default deadline, so only grpc-timeout can refuse it).
        ids = campaign_ids(3)
        request = cs.GetStatsRequest(workspace="tight", campaign_ids=ids, start_date="2025-03-01", end_date="2025-05-14")
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("campaign", "GetStats", request, token=ADMIN_TOKEN, timeout=3)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        details = details_of(caught.exception.trailing_metadata())[1]
        self.assertEqual(details["ErrorInfo"].metadata["jsonrpc_code"], "-32029")
        self.assertGreater(details["RetryInfo"].retry_delay.ToMilliseconds(), 0)

    def test_an_upstream_refusal_is_unavailable(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="other", campaign_ids=campaign_ids(1), start_date="2025-03-01", end_date="2025-03-01"))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(details_of(caught.exception.trailing_metadata())[1]["ErrorInfo"].metadata["jsonrpc_code"], "-32050")

    def test_a_passed_deadline_is_deadline_exceeded(self):
        # The deadline is long enough for the budget to admit the call (it projects a typical call's
        # duration, which a loaded machine lengthens) and far shorter than the slowed upstream.
        set_upstream_latency(4000)
        try:
            request = cs.GetStatsRequest(workspace="main", campaign_ids=campaign_ids(1), start_date="2024-06-01", end_date="2024-06-02", timeout_ms=1500)
            with self.assertRaises(grpc.RpcError) as caught:
                self.call("campaign", "GetStats", request)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            self.assertEqual(details_of(caught.exception.trailing_metadata())[1]["ErrorInfo"].metadata["jsonrpc_code"], "-32004")
            # The client's own deadline, sent as grpc-timeout, ends the call the same way.
            request.ClearField("timeout_ms")
            request.start_date, request.end_date = "2024-07-01", "2024-07-02"
            with self.assertRaises(grpc.RpcError) as caught:
                self.call("campaign", "GetStats", request, timeout=0.3)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        finally:
            set_upstream_latency(0)

    def test_errors_never_carry_a_secret(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="other", campaign_ids=campaign_ids(1), start_date="2025-03-02", end_date="2025-03-02"))
        text = caught.exception.details() + repr(caught.exception.trailing_metadata())
        for secret in SECRETS:
            self.assertNotIn(secret, text)

    def test_reflection_lists_the_services_and_describes_their_messages(self):
        database = ProtoReflectionDescriptorDatabase(self.channel)
        services = database.get_services()
        for service in ("gateway.v1.CampaignService", "gateway.v1.ReportService", "grpc.health.v1.Health"):
            self.assertIn(service, services)
        from google.protobuf.descriptor_pool import DescriptorPool

        pool = DescriptorPool(database)
        method = pool.FindServiceByName("gateway.v1.CampaignService").FindMethodByName("GetStats")
        self.assertEqual(method.input_type.full_name, "gateway.v1.GetStatsRequest")
        self.assertEqual([f.name for f in method.input_type.fields], [f.name for f in cs.GetStatsRequest.DESCRIPTOR.fields])

    def test_health_reports_the_gateway_to_anyone_and_a_workspace_only_to_its_callers(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        serving = health_pb2.HealthCheckResponse.SERVING
        for service in ("", "gateway.v1.CampaignService", "grpc.health.v1.Health"):
            self.assertEqual(health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status, serving, service)
        allowed = [("authorization", f"Bearer {TOKEN}")]
        for service in ("main", "mig"):
            self.assertEqual(health.Check(health_pb2.HealthCheckRequest(service=service), metadata=allowed, timeout=10).status, serving, service)
        for service, metadata in (("no-such-service", allowed), ("main", []), ("tight", allowed)):
            with self.subTest(service=service, token=bool(metadata)):
                with self.assertRaises(grpc.RpcError) as caught:
                    health.Check(health_pb2.HealthCheckRequest(service=service), metadata=metadata, timeout=10)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(set(health.List(health_pb2.HealthListRequest(), timeout=10).statuses) & {"main", "mig", "tight"}, set())

    def test_a_malformed_grpc_timeout_is_invalid_argument_and_the_gateway_keeps_serving(self):
        message = cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-01", dry_run=True).SerializeToString()
        frame = b"\0" + len(message).to_bytes(4, "big") + message
        with httpx.Client(http1=False, http2=True, timeout=20) as raw:  # grpcio will not send a malformed grpc-timeout
            for value in ("-5m", "-1S", "1x", "123456789S", "5"):
                with self.subTest(grpc_timeout=value):
                    answer = raw.post(
                        f"http://{GRPC_TARGET}/gateway.v1.CampaignService/GetStats",
                        content=frame,
                        headers={"content-type": "application/grpc", "te": "trailers", "grpc-timeout": value, "authorization": f"Bearer {TOKEN}"},
                    )
                    self.assertEqual(answer.headers.get("grpc-status"), str(grpc.StatusCode.INVALID_ARGUMENT.value[0]), answer.headers)
        answer, _ = self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-01", dry_run=True))
        self.assertTrue(answer.dry_run)

    def test_more_streams_than_a_connection_allows_at_once_queue_instead_of_failing(self):
        # 150 identical calls at once on one connection: one upstream call, slowed so that every
        # stream is open together; past the advertised limit the client queues (the gateway under test
        # allows this caller 200 requests in flight, above the 150).
        request = cs.GetStatsRequest(workspace="main", campaign_ids=campaign_ids(1), start_date="2024-09-01", end_date="2024-09-01")
        set_upstream_latency(1000)
        try:
            calls = [
                self.stubs["campaign"].GetStats.future(request, metadata=[("authorization", f"Bearer {TOKEN}")], timeout=60) for _ in range(150)
            ]
            answers = [call.result() for call in calls]
        finally:
            set_upstream_latency(0)
        self.assertEqual(len({json_format.MessageToJson(answer.campaigns, sort_keys=True) for answer in answers}), 1)
        self.assertLessEqual(sum(answer.upstream.calls for answer in answers), 4, "identical calls are made once (retries aside)")

    def test_the_request_id_comes_back(self):
        _, call = self.call("campaign", "GetStats", cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-01", dry_run=True))
        self.assertTrue(dict(call.initial_metadata()).get("x-request-id"))
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        metadata = [("authorization", f"Bearer {TOKEN}"), ("x-request-id", "trace-42"), ("traceparent", f"00-{trace}-00f067aa0ba902b7-01")]
        with self.assertRaises(grpc.RpcError) as caught:
            self.stubs["campaign"].GetStats(cs.GetStatsRequest(workspace="main", start_date="2025-03-02", end_date="2025-03-01"), metadata=metadata, timeout=10)
        trailers = dict(caught.exception.trailing_metadata())
        self.assertEqual(trailers.get("x-request-id"), "trace-42")
        self.assertEqual(trailers.get("traceresponse", "").split("-")[1], trace)


def post(url, body, headers, token=TOKEN):
    fields = dict(headers)
    if token:
        fields["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=fields, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def post_json(url, document):
    status, body, _ = post(url, json.dumps(document).encode(), {"Content-Type": "application/json"})
    return status, body


def path_of(stub, method):
    return f"/gateway.v1.{'CampaignService' if stub == 'campaign' else 'ReportService'}/{method}"


class ConnectBinaryTests(unittest.TestCase):
    def test_every_rpc_answers_its_declared_message_in_binary(self):
        for stub, method, request, response_type in Calls.all():
            with self.subTest(method=method, request=str(request)):
                status, body, headers = post(
                    HTTP + path_of(stub, method), request.SerializeToString(), {"Content-Type": "application/proto", "Connect-Protocol-Version": "1"}
                )
                self.assertEqual(status, 200, body[:300])
                self.assertEqual(headers["Content-Type"], "application/proto")
                answer = response_type.FromString(body)
                assert_no_unknown_fields(answer)
                self.assertEqual(answer.workspace, request.workspace)

    def test_get_carries_the_message_in_the_query(self):
        request = cs.GetStatsRequest(workspace="main", campaign_ids=campaign_ids(1), start_date="2025-03-01", end_date="2025-03-03")
        query = urllib.parse.urlencode(
            {"encoding": "proto", "base64": "1", "connect": "v1", "message": base64.urlsafe_b64encode(request.SerializeToString()).decode().rstrip("=")}
        )
        http = urllib.request.Request(f"{HTTP}/gateway.v1.CampaignService/GetStats?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(http, timeout=60) as answer:
            parsed = cs.GetStatsResponse.FromString(answer.read())
        assert_no_unknown_fields(parsed)
        self.assertEqual(parsed.start_date, "2025-03-01")

    def test_an_error_is_connect_json_with_its_status_and_details(self):
        request = cs.GetStatsRequest(workspace="main", start_date="2025-03-10", end_date="2025-03-01")
        status, body, headers = post(HTTP + "/gateway.v1.CampaignService/GetStats", request.SerializeToString(), {"Content-Type": "application/proto"})
        self.assertEqual(status, 400)
        self.assertEqual(headers["Content-Type"], "application/json")
        error = json.loads(body)
        self.assertEqual(error["code"], "invalid_argument")
        kinds = {detail["type"]: detail for detail in error["details"]}
        violation = error_details_pb2.BadRequest.FromString(base64.b64decode(kinds["google.rpc.BadRequest"]["value"] + "=="))
        self.assertEqual(violation.field_violations[0].field, "end_date")

    def test_an_unknown_field_number_is_refused(self):
        body = cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-01").SerializeToString() + bytes([0xA0, 0x06, 0x01])
        status, answer, _ = post(HTTP + "/gateway.v1.CampaignService/GetStats", body, {"Content-Type": "application/proto"})
        self.assertEqual(status, 400)
        self.assertIn("unknown field number 100", json.loads(answer)["message"])

    def test_statuses_follow_the_connect_table(self):
        cases = [
            (cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-01"), NARROW_TOKEN, 403, "permission_denied"),
            (cs.GetStatsRequest(workspace="main", start_date="2025-03-01", end_date="2025-03-01"), None, 401, "unauthenticated"),
            (cs.GetStatsRequest(workspace="main", campaign_ids=campaign_ids(25, active=False), start_date="2025-01-01", end_date="2025-12-31"), TOKEN, 429, "resource_exhausted"),
            (cs.GetStatsRequest(workspace="other", campaign_ids=campaign_ids(1), start_date="2025-03-04", end_date="2025-03-04"), TOKEN, 503, "unavailable"),
        ]
        for request, token, expected_status, expected_code in cases:
            with self.subTest(expected_code=expected_code):
                status, body, _ = post(
                    HTTP + "/gateway.v1.CampaignService/GetStats", request.SerializeToString(), {"Content-Type": "application/proto"}, token=token
                )
                self.assertEqual(status, expected_status, body[:300])
                self.assertEqual(json.loads(body)["code"], expected_code)


class ConnectJSONTests(unittest.TestCase):
    def test_every_rpc_takes_lower_camel_case_and_int64_strings_and_answers_its_declared_message(self):
        for stub, method, request, response_type in Calls.all():
            with self.subTest(method=method, request=str(request)):
                text = json_format.MessageToJson(request)  # lowerCamelCase names, int64 as strings
                status, body, headers = post(HTTP + path_of(stub, method), text.encode(), {"Content-Type": "application/json"})
                self.assertEqual(status, 200, body[:300])
                answer = json_format.Parse(body, response_type(), ignore_unknown_fields=False)
                self.assertEqual(answer.workspace, request.workspace)

    def test_timeout_ms_as_a_string_is_honoured(self):
        ids = campaign_ids(1)
        status, body, _ = post(
            HTTP + "/gateway.v1.CampaignService/GetStats",
            json.dumps({"workspace": "main", "campaignIds": ids, "startDate": "2025-03-01", "endDate": "2025-03-01", "timeoutMs": "20000"}).encode(),
            {"Content-Type": "application/json"},
        )
        self.assertEqual(status, 200, body[:300])

    def test_an_unknown_field_is_refused_naming_it(self):
        status, body, _ = post(
            HTTP + "/gateway.v1.CampaignService/GetStats",
            json.dumps({"workspace": "main", "startDate": "2025-03-01", "endDate": "2025-03-01", "endDay": "x"}).encode(),
            {"Content-Type": "application/json"},
        )
        self.assertEqual(status, 400)
        error = json.loads(body)
        self.assertEqual(error["code"], "invalid_argument")
        self.assertIn("endDay", error["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
