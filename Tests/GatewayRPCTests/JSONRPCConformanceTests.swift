import DynamicJSON
import Foundation
import Testing

@Suite struct JSONRPCConformanceTests {
    private let validParams: JSON = ["workspace": "main", "start_date": "2025-03-01", "end_date": "2025-03-02", "campaign_ids": ["x"]]

    @Test func answersParseErrorForABodyThatIsNotJSON() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.send("/rpc", body: Data("{\"jsonrpc\": ".utf8))
            #expect(answer.status == 200)
            #expect(answer.json?["error"]?["code"] == -32700)
            #expect(answer.json?["id"] == .null)
        }
    }

    @Test func answersInvalidRequestForAWrongVersionEchoingTheID() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.rpc(["jsonrpc": "1.0", "id": "a-7", "method": "campaigns.getStats"])
            #expect(answer.status == 200)
            #expect(answer.json?["error"]?["code"] == -32600)
            #expect(answer.json?["id"] == "a-7")
        }
    }

    @Test(arguments: [
        JSON.array([]), JSON.int(5), JSON.object(["jsonrpc": "2.0", "id": ["no"], "method": "x"]),
        JSON.object(["jsonrpc": "2.0", "id": 1, "method": 5]),
    ])
    func answersInvalidRequestForMalformedRequests(request: JSON) async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.rpc(request)
            #expect(answer.status == 200)
            #expect(answer.json?["error"]?["code"] == -32600)
        }
    }

    @Test func answersMethodNotFound() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call("campaigns.delete", [:])
            #expect(answer.json?["error"]?["code"] == -32601)
            #expect(answer.json?["id"] == 1)
        }
    }

    @Test(arguments: [
        ("start_date", JSON.object(["workspace": "main", "start_date": "2025-02-30", "end_date": "2025-03-02"])),
        ("end_date", JSON.object(["workspace": "main", "start_date": "2025-03-05", "end_date": "2025-03-02"])),
        ("end_date", JSON.object(["workspace": "main", "start_date": "2024-01-01", "end_date": "2025-01-01"])),
        ("metric_type", JSON.object(["workspace": "main", "start_date": "2025-03-01", "end_date": "2025-03-02", "metric_type": "SOME"])),
        ("campaign_ids", JSON.object(["workspace": "main", "start_date": "2025-03-01", "end_date": "2025-03-02", "campaign_ids": [1, 2]])),
        ("colour", JSON.object(["workspace": "main", "start_date": "2025-03-01", "end_date": "2025-03-02", "colour": "red"])),
        ("params", JSON.array(["main"])),
    ])
    func answersInvalidParamsNamingTheField(field: String, params: JSON) async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call("campaigns.getStats", params)
            #expect(answer.json?["error"]?["code"] == -32602)
            #expect(answer.json?["error"]?["data"]?["field"] == .string(field))
            let calls = try await gateway.upstreamCalls()
            #expect(calls.isEmpty)
        }
    }

    @Test func acceptsExactly366DaysAndRefuses367() async throws {
        try await GatewayHarness.with { gateway in
            let ok = try await gateway.call(
                "campaigns.getStats", ["workspace": "main", "start_date": "2024-01-01", "end_date": "2024-12-31", "dry_run": true])
            #expect(ok.json?["result"]?["windows"]?.arrayValue?.count == 13)
            let refused = try await gateway.call(
                "campaigns.getStats", ["workspace": "main", "start_date": "2024-01-01", "end_date": "2025-01-01", "dry_run": true])
            #expect(refused.json?["error"]?["code"] == -32602)
        }
    }

    @Test func answersABatchInOrderSkippingNotifications() async throws {
        try await GatewayHarness.with { gateway in
            let id = gateway.alwaysActiveIDs[0]
            let batch: JSON = [
                [
                    "jsonrpc": "2.0", "id": "first", "method": "campaigns.getStats",
                    "params": ["workspace": "main", "campaign_ids": [.string(id)], "start_date": "2025-03-01", "end_date": "2025-03-02"],
                ],
                [
                    "jsonrpc": "2.0", "method": "campaigns.getStats",
                    "params": ["workspace": "main", "campaign_ids": [.string(id)], "start_date": "2025-03-03", "end_date": "2025-03-04"],
                ],
                ["jsonrpc": "2.0", "id": 3, "method": "nope"],
            ]
            let answer = try await gateway.rpc(batch)
            #expect(answer.status == 200)
            let answers = answer.json?.arrayValue ?? []
            #expect(answers.count == 2)
            #expect(answers.first?["id"] == "first")
            #expect(answers.first?["result"]?["campaigns"]?[id] != nil)
            #expect(answers.last?["error"]?["code"] == -32601)
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count == 2, "the notification ran too")
        }
    }

    @Test func answers204ToABatchOfOnlyNotifications() async throws {
        try await GatewayHarness.with { gateway in
            let notification: JSON = [
                "jsonrpc": "2.0", "method": "campaigns.getStats",
                "params": ["workspace": "main", "campaign_ids": ["x"], "start_date": "2025-03-01", "end_date": "2025-03-02"],
            ]
            let answer = try await gateway.rpc([notification, notification])
            #expect(answer.status == 204)
            #expect(answer.body.isEmpty)
            let single = try await gateway.rpc(notification)
            #expect(single.status == 204)
        }
    }

    @Test func refusesABodyOverTheConfiguredSizeWith413() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(limits: ["max_body_bytes": 2048])) { gateway in
            let ids = JSON.array((0..<400).map { .string("campaign-\($0)") })
            let answer = try await gateway.call(
                "campaigns.getStats", ["workspace": "main", "campaign_ids": ids, "start_date": "2025-03-01", "end_date": "2025-03-02"])
            #expect(answer.status == 413)
            #expect(answer.json?["error"]?["code"] == -32600)
            let health = try await gateway.get("/healthz")
            #expect(health.status == 200)
        }
    }

    @Test func discoverReturnsAnOpenRPCDocumentOfTheMethods() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call("rpc.discover", [:])
            let document = answer.json?["result"]
            #expect(document?["openrpc"] == "1.2.6")
            let method = document?["methods"]?.arrayValue?.first { $0["name"] == "campaigns.getStats" }
            #expect(method?["x-connect-path"] == "/gateway.v1.CampaignService/GetStats")
            let params = Set(method?["params"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
            #expect(params.isSuperset(of: ["workspace", "campaign_ids", "start_date", "end_date", "dry_run", "view", "timeout_ms"]))
            let codes = Set(method?["errors"]?.arrayValue?.compactMap { $0["code"]?.intValue } ?? [])
            #expect(codes.isSuperset(of: [-32602, -32003, -32013, -32029, -32050, -32004]))
        }
    }
}
