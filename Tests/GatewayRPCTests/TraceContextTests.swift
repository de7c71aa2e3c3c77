import DynamicJSON
import Foundation
import Testing

/// W3C trace context: a caller's `traceparent` is kept, its trace id is in the request's log lines,
/// answered in `traceresponse`, and sent on the upstream calls the request makes.
@Suite struct TraceContextTests {
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpan = "00f067aa0ba902b7"

    @Test func aCallersTraceIsKeptLoggedAnsweredAndSentUpstream() async throws {
        try await GatewayHarness.with { gateway in
            let id = gateway.alwaysActiveIDs[0]
            let answer = try await gateway.call(
                "campaigns.getStats", ["workspace": "main", "campaign_ids": [.string(id)], "start_date": "2024-02-01", "end_date": "2024-02-02"],
                headers: [("traceparent", "00-\(Self.traceID)-\(Self.callerSpan)-01"), ("X-Request-Id", "trace-test-1")])
            #expect(answer.json?["result"] != nil)
            #expect(answer.header("X-Request-Id") == "trace-test-1", "a request id is still returned")
            let response = try #require(answer.header("traceresponse")?.split(separator: "-").map(String.init))
            #expect(response.count == 4 && response[1] == Self.traceID && response[3] == "01")
            let gatewaySpan = response[2]
            #expect(gatewaySpan != Self.callerSpan && gatewaySpan.count == 16, "the gateway's own span, the caller's as its parent")
            let upstream = try await gateway.upstreamCalls().filter { $0["request_id"]?.stringValue == "trace-test-1" }
            #expect(!upstream.isEmpty)
            for call in upstream {
                #expect(call["traceparent"]?.stringValue == "00-\(Self.traceID)-\(gatewaySpan)-01")
            }
            let lines = gateway.logs.entries.filter { "\($0.metadata["request_id"] ?? "")" == "trace-test-1" }
            #expect(!lines.isEmpty)
            #expect(lines.allSatisfy { "\($0.metadata["trace_id"] ?? "")" == Self.traceID }, "every log line of the request carries the trace id")
        }
    }

    @Test(arguments: [
        "", "00-\(String(repeating: "0", count: 32))-00f067aa0ba902b7-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "garbage",
    ])
    func aMissingOrMalformedTraceparentStartsANewTrace(traceparent: String) async throws {
        try await GatewayHarness.with { gateway in
            let headers = traceparent.isEmpty ? [] : [("traceparent", traceparent)]
            let answer = try await gateway.call("rpc.discover", [:], headers: headers)
            #expect(answer.status == 200)
            let response = try #require(answer.header("traceresponse")?.split(separator: "-").map(String.init))
            #expect(response.count == 4 && response[0] == "00" && response[1].count == 32 && response[2].count == 16)
            #expect(response[1] != Self.traceID && response[1] != String(repeating: "0", count: 32))
            #expect(answer.header("X-Request-Id") != nil)
        }
    }
}
