import DynamicJSON
import Foundation
import GatewayProto
import SwiftProtobuf
import Testing

/// Binary answers (Connect `application/proto`) carry what JSON answers carry, or a coded error:
/// never a rounded figure, never a failure JSON does not have.
@Suite struct BinaryAnswerTests {
    static let path = "/gateway.v1.CampaignService/GetStats"

    /// A Migma stats answer for one id whose `data` holds `figures`.
    static func migmaAnswer(_ id: String, _ figures: JSON) -> JSON {
        ["path": .string("/v1/campaigns/\(id)/stats"), "status": 200, "body": ["data": figures]]
    }

    func binaryStats(_ gateway: GatewayHarness, id: String) async throws -> Answer {
        let request = Gateway_V1_GetStatsRequest.with {
            $0.workspace = "mig"
            $0.campaignIds = [id]
        }
        return try await gateway.send(Self.path, body: try request.serializedBytes() as Data, headers: [("Content-Type", "application/proto")])
    }

    @Test func deeplyNestedUpstreamFiguresAnswerInBinaryAsInJSON() async throws {
        var nested: JSON = ["sent": 1]
        for _ in 0..<60 { nested = ["level": nested] }
        try await GatewayHarness.with { gateway in
            try await gateway.script([Self.migmaAnswer("deep60", nested)])
            let json = try await gateway.connect(Self.path, ["workspace": "mig", "campaign_ids": ["deep60"]])
            #expect(json.status == 200)
            let binary = try await binaryStats(gateway, id: "deep60")
            #expect(binary.status == 200, "\(binary.text.prefix(300))")
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 400
            let decoded = try Gateway_V1_GetStatsResponse(serializedBytes: binary.body, options: options)
            #expect(decoded.campaigns.fields["deep60"] != nil)
        }
    }

    @Test func aFigurePastTwoToTheFiftyThirdIsRefusedInBinaryNotRounded() async throws {
        try await GatewayHarness.with { gateway in
            try await gateway.script([Self.migmaAnswer("huge", ["totalSent": 9_007_199_254_740_993])])
            let json = try await gateway.connect(Self.path, ["workspace": "mig", "campaign_ids": ["huge"]])
            #expect(json.text.contains("9007199254740993"), "JSON carries the figure exactly")
            let binary = try await binaryStats(gateway, id: "huge")
            #expect(binary.status == 503)
            #expect(binary.json?["data"]?["reason"]?.stringValue?.contains("2^53") == true)
        }
    }

    @Test func aFigurePastTwoToTheFiftyThirdIsRefusedInBinaryAtAnyDepth() async throws {
        // The deepest body the gateway reads from the upstream, the figure at its bottom: the answer wraps it deeper still.
        let depth = 126
        let raw = "{\"data\":" + String(repeating: "{\"l\":", count: depth - 2) + "{\"totalSent\":9007199254740993}" + String(repeating: "}", count: depth - 1)
        try await GatewayHarness.with { gateway in
            try await gateway.script([["path": "/v1/campaigns/deepHuge/stats", "status": 200, "raw": .string(raw)]])
            let json = try await gateway.connect(Self.path, ["workspace": "mig", "campaign_ids": ["deepHuge"]])
            #expect(json.status == 200)
            #expect(json.text.contains("9007199254740993"))
            let binary = try await binaryStats(gateway, id: "deepHuge")
            #expect(binary.status == 503, "\(binary.text.prefix(200))")
        }
    }

    @Test func equalAnswersAreEqualBytes() async throws {
        try await GatewayHarness.with { gateway in
            let ids = (0..<3).map { gateway.simulator.catalog.campaigns[$0].id }
            let params: JSON = ["workspace": "main", "campaign_ids": .array(ids.map(JSON.string)), "start_date": "2025-03-01", "end_date": "2025-03-10"]
            #expect(try await gateway.connect(Self.path, params).status == 200)
            var bodies: [Data] = []
            for timeout: Int64 in [20_000, 30_000] {  // two requests (neither a replay of the other), both answered from the cache
                let request = Gateway_V1_GetStatsRequest.with {
                    $0.workspace = "main"
                    $0.campaignIds = ids
                    $0.startDate = "2025-03-01"
                    $0.endDate = "2025-03-10"
                    $0.timeoutMs = timeout
                }
                let answer = try await gateway.send(Self.path, body: try request.serializedBytes() as Data, headers: [("Content-Type", "application/proto")])
                #expect(answer.status == 200)
                bodies.append(answer.body)
            }
            #expect(bodies[0] == bodies[1])
        }
    }

    @Test func binaryFieldsWithTheWrongWireTypeAreNamed() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.send(Self.path, body: Data([0x08, 0x01]), headers: [("Content-Type", "application/proto")])
            #expect(answer.status == 400)
            #expect(answer.json?["data"]?["field"] == "workspace")
        }
    }

    @Test func connectJSONInt64StringsFollowProto3sGrammarAndNameTheField() async throws {
        try await GatewayHarness.with { gateway in
            for text in ["+5000", "0005000", "5e3", " 5000"] {
                let answer = try await gateway.connect(
                    Self.path, ["workspace": "main", "startDate": "2025-03-01", "endDate": "2025-03-01", "timeoutMs": .string(text)])
                #expect(answer.status == 400, "\(text)")
                #expect(answer.json?["data"]?["field"] == "timeoutMs", "\(text)")
            }
            let latin = try await gateway.connect(
                Self.path, ["workspace": "main", "startDate": "2025-03-01", "endDate": "2025-03-01"],
                headers: [("Content-Type", "application/json; charset=latin1")])
            #expect(latin.status == 415)
        }
    }
}
