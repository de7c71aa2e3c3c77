import Dates
import DynamicJSON
import Foundation
import GatewayCore
import Testing

/// Upstream answers are input too: names chosen by MoEngage users, any number, paging that
/// disagrees with itself, bodies that echo the request. Each answer here is scripted into the
/// simulator and reaches the gateway over the wire.
private let statsPath = "/core-services/v1/campaign-stats"

/// One campaign's `all_variations` figures under platform `platform` and locale `pirate`.
private func element(platform: String = "ANDROID", sent: JSON = 100, leadConversions: Int = 10) -> JSON {
    [
        "campaign_name": "Spring sale", "archived": false,
        "platforms": .object([
            platform: [
                "locales": [
                    "pirate": [
                        "variations": [
                            "all_variations": [
                                "performance_stats": [
                                    "sent": sent, "delivered": 90, "click": 10, "impression": 50, "ctr": 20.0, "delivery_rate": 90.0,
                                ],
                                "conversion_goal_stats": [
                                    "Generate Lead": ["conversions": .int(leadConversions), "cvr": 100.0], "Purchase": ["conversions": 10],
                                ],
                                "failure_breakdown": ["rate_limited": 3, "token_expired": 1],
                            ]
                        ]
                    ]
                ]
            ]
        ]),
    ]
}

/// A stats answer holding `data`, as MoEngage sends it.
private func statsAnswer(_ data: [String: [JSON]], totalCampaigns: JSON = 1, totalPages: JSON = 1) -> JSON {
    [
        "path": .string(statsPath), "status": 200,
        "body": [
            "response_id": "r", "total_campaigns": totalCampaigns, "current_page": 1, "total_pages": totalPages,
            "data": .object(data.mapValues(JSON.array)),
        ],
    ]
}

private func params(_ ids: [String], from start: String = "2025-03-01", to end: String, extra: [String: JSON] = [:]) -> JSON {
    var members: [String: JSON] = ["workspace": "main", "start_date": .string(start), "end_date": .string(end)]
    if !ids.isEmpty { members["campaign_ids"] = .array(ids.map(JSON.string)) }
    return .object(members.merging(extra) { _, new in new })
}

private func allVariations(_ campaign: JSON?, platform: String = "ANDROID") -> JSON? {
    campaign?["platforms"]?[platform]?["locales"]?["pirate"]?["variations"]?["all_variations"]
}

@Suite struct HostileUpstreamTests {
    @Test func addsGoalsReasonsAndLocalesWhoseNamesContainRate() async throws {
        try await GatewayHarness.with { gateway in
            // Window 1 holds the campaign twice in its array (folded), window 2 once: three times the figures in all.
            try await gateway.script([statsAnswer(["c1": [element(), element()]]), statsAnswer(["c1": [element()]])])
            let answer = try await gateway.call("campaigns.getStats", params(["c1"], to: "2025-04-29"))
            let result = answer.json?["result"]
            let merged = allVariations(result?["campaigns"]?["c1"])
            #expect(merged?["conversion_goal_stats"]?["Generate Lead"]?["conversions"] == 30)
            #expect(merged?["conversion_goal_stats"]?["Generate Lead"]?["cvr"] == nil, "cvr is a ratio: left out of a merge")
            #expect(merged?["conversion_goal_stats"]?["Purchase"]?["conversions"] == 30)
            #expect(merged?["failure_breakdown"]?["rate_limited"] == 9)
            #expect(merged?["performance_stats"]?["sent"] == 300)
            #expect(merged?["performance_stats"]?["delivery_rate"] == .double(270.0 / 300.0 * 100))
            // The two windows are fetched at once, so either may get the two-element answer.
            let perWindow = (result?["by_window"]?.arrayValue ?? []).compactMap {
                allVariations($0["campaigns"]?["c1"])?["conversion_goal_stats"]?["Generate Lead"]?["conversions"]?.intValue
            }
            #expect(perWindow.sorted() == [10, 20])
            #expect(result?["campaigns"]?["c1"]?["campaign_name"] == "Spring sale", "strings both sides hold are kept")
            #expect(result?["campaigns"]?["c1"]?["archived"] == false)

            let summary = try await gateway.call("campaigns.getStats", params(["c1"], to: "2025-04-29", extra: ["view": "summary"]))
            #expect(summary.json?["result"]?["campaigns"]?["c1"]?["conversions"] == 60)
            #expect(summary.json?["result"]?["upstream"]?["calls"] == 0)
        }
    }

    @Test func answersUpstreamFailedForFiguresThatOverflowAndKeepsServing() async throws {
        try await GatewayHarness.with { gateway in
            try await gateway.script([statsAnswer(["c1": [element(sent: .int(Int.max)), element(platform: "ANDROID")]])])
            let folded = try await gateway.call("campaigns.getStats", params(["c1"], to: "2025-03-30"))
            #expect(folded.json?["error"]?["code"] == -32050)
            #expect(folded.json?["error"]?["data"]?["reason"]?.stringValue?.contains("overflow") == true)

            try await gateway.script([statsAnswer(["c2": [element(leadConversions: Int.max)]])])
            let summary = try await gateway.call("campaigns.getStats", params(["c2"], to: "2025-03-30", extra: ["view": "summary"]))
            #expect(summary.json?["error"]?["code"] == -32050)

            try await gateway.script([statsAnswer([:], totalCampaigns: .int(Int.max), totalPages: .int(Int.max / 10 + 1))])
            let paging = try await gateway.call("campaigns.getStats", params([], to: "2025-03-30"))
            #expect(paging.json?["error"]?["code"] == -32013)

            let healthy = try await gateway.call("campaigns.getStats", params([gateway.alwaysActiveIDs[0]], to: "2025-03-30"))
            #expect(healthy.json?["result"]?["campaigns"] != nil)
        }
    }

    @Test func foldsACampaignListedOnTwoPagesAndCrossChecksThePageCount() async throws {
        try await GatewayHarness.with { gateway in
            try await gateway.script([
                statsAnswer(["dup": [element(platform: "ANDROID")]], totalCampaigns: 11, totalPages: 2),
                statsAnswer(["dup": [element(platform: "IOS")]], totalCampaigns: 11, totalPages: 2),
            ])
            let answer = try await gateway.call("campaigns.getStats", params([], to: "2025-03-30"))
            let campaign = answer.json?["result"]?["campaigns"]?["dup"]
            #expect(allVariations(campaign, platform: "ANDROID")?["performance_stats"]?["sent"] == 100)
            #expect(allVariations(campaign, platform: "IOS")?["performance_stats"]?["sent"] == 100)
            #expect(campaign?["campaign_name"] == "Spring sale")
            #expect(answer.json?["result"]?["upstream"]?["calls"] == 2)

            try await gateway.script([statsAnswer(["c": [element()]], totalCampaigns: 11, totalPages: 5)])
            let disagreeing = try await gateway.call("campaigns.getStats", params([], from: "2025-05-01", to: "2025-05-30"))
            #expect(disagreeing.json?["error"]?["code"] == -32050)
            #expect(disagreeing.json?["error"]?["data"]?["reason"]?.stringValue?.contains("total_pages") == true)

            try await gateway.script([statsAnswer(["c": [element()]], totalCampaigns: .null, totalPages: 3)])
            let pagesOnly = try await gateway.call("campaigns.getStats", params([], from: "2025-06-01", to: "2025-06-30"))
            #expect(pagesOnly.json?["result"]?["upstream"]?["calls"] == 3, "total_pages alone decides the walk")
        }
    }

    @Test func neverEchoesDerivedCredentialsOrSignaturesFromUpstreamBodies() async throws {
        try await GatewayHarness.with { gateway in
            let echo = "echo: Authorization: {{authorization}} url {{url}}"
            try await gateway.script(
                Array(
                    repeating: [
                        "path": .string(statsPath), "status": 400,
                        "body": ["title": .string(echo), "description": .string(echo), "code": "{{authorization}}"],
                    ], count: 1))
            let stats = try await gateway.call("campaigns.getStats", params(["c1"], to: "2025-03-30"))
            #expect(stats.json?["error"]?["code"] == -32050)

            try await gateway.script([["path": "/dailyCampaignReportDump/", "status": 404, "body": ["message": .string(echo)]]])
            let daily = try await gateway.call("reports.getDaily", ["workspace": "main", "date": "2025-03-01"])
            #expect(daily.json?["result"]?["days"]?.arrayValue?.first?["error"]?.stringValue?.hasPrefix("no report") == true)

            try await gateway.script([["path": "/dailyCampaignReportDump/", "status": 404, "body": ["message": .string(echo)]]])
            let zip = try await gateway.send("/reports/daily/main/20250302.zip", body: nil, method: "GET")
            #expect(zip.status == 404)

            let basic = "V1NfTUFJTjptYWluLWtleS1aeDgxLXNlY3JldA"  // base64("WS_MAIN:main-key-Zx81-secret"), unpadded
            let signature = DailyReportSignature.sign(appID: "WS_MAIN", day: CalendarDay(iso: "2025-03-01")!, secret: TestSecrets.mainReportSecret)
            let seen = [stats.text, daily.text, zip.text, gateway.renderedLogs]
            for text in seen {
                for leaked in TestSecrets.all + [basic, signature, "Signature="] {
                    #expect(!text.contains(leaked), "an answer or log line carries \(leaked.prefix(12))…")
                }
            }
            #expect(stats.json?["error"]?["data"]?["title"] == nil, "a title that is not plain words is not passed on")
        }
    }

    @Test func passesOnlyPlainWordsOfAnUpstreamErrorWhateverItEncodes() async throws {
        try await GatewayHarness.with { gateway in
            let key = Array(TestSecrets.mainKey.utf8)
            let shifted: String = Data([0x41] + key).base64EncodedString()
            let shiftedTwice: String = Data([0x41, 0x42] + key).base64EncodedString()
            var keyForms: [String] = [Data(key).base64EncodedString(), TestSecrets.mainKey.uppercased()]
            keyForms += [String(shifted.dropFirst(2)), String(shiftedTwice.dropFirst(3))]
            keyForms += [
                TestSecrets.mainKey.unicodeScalars.map { String(format: "%%%02x", $0.value) }.joined(),
                TestSecrets.mainKey.utf8.map { String(format: "%02x", $0) }.joined(),
            ]
            for form in keyForms {
                try await gateway.script([
                    ["path": .string(statsPath), "status": 400, "body": ["title": .string("oops \(form)"), "code": .string(form)]]
                ])
                let answer = try await gateway.call("campaigns.getStats", params(["echo"], to: "2025-03-30"))
                #expect(answer.json?["error"]?["code"] == -32050)
                #expect(!answer.text.contains(form), "\(form) came back")
            }
            #expect(!gateway.renderedLogs.contains(Data(TestSecrets.mainKey.utf8).base64EncodedString()))
            try await gateway.script([["path": .string(statsPath), "status": 400, "body": ["title": "Bad Request", "code": "E400"]]])
            let plain = try await gateway.call("campaigns.getStats", params(["plain"], to: "2025-03-30"))
            #expect(plain.json?["error"]?["data"]?["title"] == "Bad Request")
            #expect(plain.json?["error"]?["data"]?["code"] == "E400")
        }
    }

    @Test func refusesMalformedTreesAndCountersPastExactRange() async throws {
        try await GatewayHarness.with { gateway in
            let shapes: [[JSON]] = [[5, element()], ["x", element()], [["platforms": "none"], element()]]
            for (index, shape) in shapes.enumerated() {
                try await gateway.script([statsAnswer(["s\(index)": shape])])
                let answer = try await gateway.call("campaigns.getStats", params(["s\(index)"], to: "2025-03-30"))
                #expect(answer.json?["error"]?["code"] == -32050, "\(shape)")
            }
            try await gateway.script([statsAnswer(["big": [element(sent: .double(1e23))]])])
            let summary = try await gateway.call("campaigns.getStats", params(["big"], to: "2025-03-30", extra: ["view": "summary"]))
            #expect(summary.json?["error"]?["code"] == -32050)
            // Past the exact range on one side of a fold is as much an error as on both.
            try await gateway.script([statsAnswer(["side": [element(sent: .double(1e23)), element()]])])
            let oneSided = try await gateway.call("campaigns.getStats", params(["side"], to: "2025-03-30"))
            #expect(oneSided.json?["error"]?["code"] == -32050)
            // A null figure is an absent one, not a type clash.
            try await gateway.script([statsAnswer(["nul": [element(sent: .null), element()]])])
            let nulls = try await gateway.call("campaigns.getStats", params(["nul"], to: "2025-03-30"))
            #expect(allVariations(nulls.json?["result"]?["campaigns"]?["nul"])?["performance_stats"]?["sent"] == 100)
        }
    }

    @Test func refusesPagingThatContradictsItselfAndCountsRepeatedPagesOnce() async throws {
        try await GatewayHarness.with { gateway in
            // The listing shifted: page 2 repeats page 1's campaign with the same figures.
            try await gateway.script([
                statsAnswer(["same": [element()]], totalCampaigns: 11, totalPages: 2),
                statsAnswer(["same": [element()]], totalCampaigns: 11, totalPages: 2),
            ])
            let repeated = try await gateway.call("campaigns.getStats", params([], to: "2025-03-30"))
            #expect(allVariations(repeated.json?["result"]?["campaigns"]?["same"])?["performance_stats"]?["sent"] == 100)

            let contradictions: [[JSON]] = [
                [
                    statsAnswer(["a": [element()]], totalCampaigns: 20, totalPages: 2),
                    statsAnswer(["b": [element()]], totalCampaigns: 50, totalPages: 5),
                ],
                [statsAnswer(Dictionary(uniqueKeysWithValues: (0..<10).map { ("k\($0)", [element()]) }), totalCampaigns: 5, totalPages: 1)],
                [statsAnswer(["a": [element()]], totalCampaigns: .null, totalPages: 0)],
            ]
            for (index, answers) in contradictions.enumerated() {
                try await gateway.script(answers)
                let month = String(format: "%02d", 4 + index)
                let answer = try await gateway.call("campaigns.getStats", params([], from: "2025-\(month)-01", to: "2025-\(month)-30"))
                #expect(answer.json?["error"]?["code"] == -32050, "case \(index)")
            }
        }
    }
}
