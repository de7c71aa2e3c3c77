import Dates
import DynamicJSON
import GatewayCore
import Testing

private func range(_ start: String, _ end: String) -> DayRange {
    DayRange(start: CalendarDay(iso: start)!, end: CalendarDay(iso: end)!)!
}

@Suite struct StatsPlanTests {
    @Test(arguments: [
        ("2025-03-01", "2025-03-30", ["2025-03-01..2025-03-30"]),
        ("2025-03-01", "2025-03-31", ["2025-03-01..2025-03-30", "2025-03-31..2025-03-31"]),
        ("2024-02-01", "2024-03-31", ["2024-02-01..2024-03-01", "2024-03-02..2024-03-31"]),
        ("2025-01-01", "2025-03-16", ["2025-01-01..2025-01-30", "2025-01-31..2025-03-01", "2025-03-02..2025-03-16"]),
    ])
    func coversTheRangeWithConsecutiveWindowsOfAtMostThirtyDays(start: String, end: String, windows: [String]) {
        #expect(StatsPlan.windows(covering: range(start, end)).map(\.description) == windows)
    }

    @Test func countsCallsAsChunksTimesWindows() {
        let plan = StatsPlan(range: range("2025-01-01", "2025-03-16"), ids: (0..<25).map { "c\($0)" })
        #expect(plan.idChunks.map(\.count) == [10, 10, 5])
        #expect(plan.estimatedCalls == 9)
    }

    @Test func rejectsImpossibleDates() {
        #expect(CalendarDay(iso: "2025-02-29") == nil)
        #expect(CalendarDay(iso: "2024-02-29") != nil)
        #expect(CalendarDay(iso: "1900-02-29") == nil)
        #expect(CalendarDay(iso: "2000-02-29") != nil)
        #expect(CalendarDay(iso: "2025-13-01") == nil)
        #expect(CalendarDay(iso: "2025-1-01") == nil)
    }
}

/// A campaign tree as MoEngage shapes it, with `sections` as the `all_variations` of one locale of one platform.
private func campaignTree(_ sections: JSON, platform: String = "ANDROID", locale: String = "all_locales") -> JSON {
    ["platforms": .object([platform: ["locales": .object([locale: ["variations": ["all_variations": sections]]])]])]
}

/// The `all_variations` sections of a campaign tree built by `campaignTree`.
private func sections(_ tree: JSON, platform: String = "ANDROID", locale: String = "all_locales") -> JSON? {
    tree["platforms"]?[platform]?["locales"]?[locale]?["variations"]?["all_variations"]
}

@Suite struct StatsFoldTests {
    private func leaf(attempted: Int, sent: Int, delivered: Int, click: Int, impression: Int, conversions: Int, revenue: Double) -> JSON {
        [
            "performance_stats": [
                "attempted": .int(attempted), "sent": .int(sent), "delivered": .int(delivered), "click": .int(click), "impression": .int(impression),
                "ctr": 999.0, "delivery_rate": 999.0,
            ],
            "conversion_goal_stats": ["Goal 1": ["conversions": .int(conversions), "revenue": .double(revenue), "cvr": 12.5, "uplift": 3.0]],
            "failure_breakdown": ["token_expired": .int(attempted - sent)],
        ]
    }

    @Test func sumsCountersAndRecomputesTableRatesAcrossWindows() throws {
        let first: JSON = [
            "platforms": [
                "ANDROID": [
                    "locales": [
                        "all_locales": [
                            "variations": [
                                "all_variations": leaf(
                                    attempted: 100, sent: 90, delivered: 80, click: 10, impression: 50, conversions: 3, revenue: 1.5)
                            ]
                        ]
                    ]
                ]
            ]
        ]
        let second: JSON = [
            "platforms": [
                "ANDROID": [
                    "locales": [
                        "all_locales": [
                            "variations": [
                                "all_variations": leaf(attempted: 50, sent: 50, delivered: 40, click: 0, impression: 0, conversions: 1, revenue: 2.25)
                            ]
                        ]
                    ]
                ]
            ]
        ]
        let merged = try StatsFold.mergeWindows([first, second])
        let variation = merged["platforms"]?["ANDROID"]?["locales"]?["all_locales"]?["variations"]?["all_variations"]
        let performance = variation?["performance_stats"]
        #expect(performance?["attempted"] == 150)
        #expect(performance?["sent"] == 140)
        #expect(performance?["delivered"] == 120)
        #expect(performance?["delivery_rate"] == .double(120.0 / 140.0 * 100))
        #expect(performance?["sent_rate"] == .double(140.0 / 150.0 * 100))
        #expect(performance?["failure_rate"] == .double(10.0 / 150.0 * 100))
        #expect(performance?["ctr"] == .double(10.0 / 50.0 * 100))
        #expect(performance?["open_rate"] == nil, "no opened counter: no open rate")
        let goal = variation?["conversion_goal_stats"]?["Goal 1"]
        #expect(goal?["conversions"] == 4)
        #expect(goal?["revenue"] == 3.75)
        #expect(goal?["cvr"] == nil)
        #expect(goal?["uplift"] == nil)
        #expect(variation?["failure_breakdown"]?["token_expired"] == 10)
    }

    @Test func neverSumsARateThatArrivesAsAnInteger() throws {
        let window = campaignTree([
            "performance_stats": ["sent": 2, "delivered": 2, "delivery_rate": 100, "ctr": 200, "click": 4, "impression": 2],
            "conversion_goal_stats": ["G": ["conversions": 1, "cvr": 50, "gcg_uplift": 3]],
        ])
        let merged = try sections(StatsFold.mergeWindows([window, window]))
        #expect(merged?["performance_stats"]?["delivery_rate"] == 100.0)
        #expect(merged?["performance_stats"]?["ctr"] == 200.0)
        #expect(merged?["conversion_goal_stats"]?["G"]?["cvr"] == nil)
        #expect(merged?["conversion_goal_stats"]?["G"]?["gcg_uplift"] == nil)
        #expect(merged?["conversion_goal_stats"]?["G"]?["conversions"] == 2)
    }

    @Test func addsCountersWhoseNamesMerelyContainARatioWord() throws {
        let window = campaignTree(
            [
                "performance_stats": ["sent": 2, "generate_rate_count": 3],
                "conversion_goal_stats": ["Generate Lead": ["conversions": 7, "total": 9], "Rate us": ["conversions": 1]],
                "failure_breakdown": ["rate_limited": 4, "uplift": 2, "average_wait": 1],
                "delivery_funnel": ["ctr": 5],
            ], locale: "pirate")
        let merged = try sections(StatsFold.mergeWindows([window, window]), locale: "pirate")
        #expect(merged?["performance_stats"]?["generate_rate_count"] == 6)
        #expect(merged?["conversion_goal_stats"]?["Generate Lead"] == ["conversions": 14, "total": 18])
        #expect(merged?["conversion_goal_stats"]?["Rate us"]?["conversions"] == 2)
        #expect(merged?["failure_breakdown"] == ["rate_limited": 8, "uplift": 4, "average_wait": 2])
        #expect(merged?["delivery_funnel"]?["ctr"] == 10, "a ctr outside performance_stats is not the table's rate")
        let folded = try sections(StatsFold.fold([window, window]), locale: "pirate")
        #expect(folded?["conversion_goal_stats"]?["Generate Lead"]?["conversions"] == 14)
    }

    @Test func refusesCountersWhoseSumLeavesSixtyFourBits() {
        let huge = campaignTree(["performance_stats": ["sent": .int(Int.max)]])
        #expect(throws: GatewayError.self) { try StatsFold.mergeWindows([huge, huge]) }
        #expect(throws: GatewayError.self) { try StatsFold.fold([huge, huge]) }
        let goals = campaignTree(["conversion_goal_stats": ["a": ["conversions": .int(Int.max)], "b": ["conversions": 1]]])
        #expect(throws: GatewayError.self) { try StatsSummary.moengage(goals) }
    }

    @Test func keepsTheStringsAndFlagsBothSidesHold() throws {
        let first: JSON = ["platforms": ["IOS": ["label": "x", "flag": true, "count": 1]]]
        let second: JSON = ["platforms": ["IOS": ["label": "x", "flag": true, "count": 2]]]
        #expect(try StatsFold.merge(first, second) == ["platforms": ["IOS": ["label": "x", "flag": true, "count": 3]]])
    }

    @Test func omitsARateWhoseDenominatorIsZero() throws {
        let zero = campaignTree(["performance_stats": ["click": 0, "impression": 0, "sent": 0, "delivered": 0]])
        let merged = try sections(StatsFold.mergeWindows([zero, zero]))
        #expect(merged?["performance_stats"]?["ctr"] == nil)
        #expect(merged?["performance_stats"]?["delivery_rate"] == nil)
    }

    @Test func keepsLeavesPresentInOneWindowOnlyAndRecomputesTheirRates() throws {
        let first = campaignTree(["performance_stats": ["sent": 10, "delivered": 5, "delivery_rate": 77.0]], platform: "IOS")
        let second = campaignTree(["performance_stats": ["sent": 4, "delivered": 4]], platform: "WEB")
        let merged = try StatsFold.mergeWindows([first, second])
        #expect(sections(merged, platform: "IOS")?["performance_stats"]?["delivery_rate"] == 50.0)
        #expect(sections(merged, platform: "WEB")?["performance_stats"]?["delivery_rate"] == 100.0)
    }

    @Test func foldsTheElementsOfOneWindowIntoTheUnionOfTheirPlatforms() throws {
        let folded = try StatsFold.fold([["platforms": ["ANDROID": ["x": 1]]], ["platforms": ["IOS": ["x": 2]]]])
        #expect(folded == ["platforms": ["ANDROID": ["x": 1], "IOS": ["x": 2]]])
    }
}

@Suite struct RetryPolicyTests {
    @Test func backsOffExponentiallyWithJitterCappedAndHonoursRetryAfter() {
        let policy = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(200), maxDelay: .seconds(1))
        #expect(policy.delay(afterAttempt: 1, jitter: 1, retryAfter: nil) == .milliseconds(200))
        #expect(policy.delay(afterAttempt: 2, jitter: 1, retryAfter: nil) == .milliseconds(400))
        #expect(policy.delay(afterAttempt: 2, jitter: 0, retryAfter: nil) == .milliseconds(200))
        #expect(policy.delay(afterAttempt: 5, jitter: 1, retryAfter: nil) == .seconds(1))
        #expect(policy.delay(afterAttempt: 1, jitter: 1, retryAfter: .seconds(3)) == .seconds(3))
    }
}
