import CurlHTTP
import Dates
import DynamicJSON
import Foundation
import GatewayCore
import MoEngageSimulator
import Testing

@Suite struct DailyReportTests {
    @Test func returnsThreeDaysEqualToTheSimulatorsRowsAndAnErrorForADayWithoutReport() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call("reports.getDaily", ["workspace": "main", "start_date": "2025-03-01", "end_date": "2025-03-03"])
            let days = answer.json?["result"]?["days"]?.arrayValue ?? []
            #expect(days.count == 3)
            for (index, iso) in ["2025-03-01", "2025-03-02", "2025-03-03"].enumerated() {
                let rows = gateway.simulator.catalog.dailyReportRows(on: CalendarDay(iso: iso)!)
                #expect(days[index]["date"] == .string(iso))
                #expect(days[index]["columns"] == .array(SyntheticCatalog.dailyReportColumns.map(JSON.string)))
                #expect(days[index]["rows"] == .array(rows.map { .array($0.map(JSON.string)) }))
                #expect(rows.contains { $0[1].contains("\n") && $0[1].contains(",") })
            }
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count == 3)
            #expect(calls.allSatisfy { $0["auth"] == "valid" && $0["status"] == 200 })
            let missing = try await gateway.call("reports.getDaily", ["workspace": "main", "date": "2024-12-31"])
            let day = missing.json?["result"]?["days"]?.arrayValue?.first
            #expect(day?["date"] == "2024-12-31")
            #expect(day?["error"]?.stringValue?.contains("not generated") == true)
            #expect(day?["rows"] == nil)
            let again = try await gateway.call("reports.getDaily", ["workspace": "main", "start_date": "2025-03-01", "end_date": "2025-03-03"])
            #expect(again.json?["result"]?["upstream"]?["calls"] == 0)
            for text in [answer.text, missing.text, again.text, gateway.renderedLogs] {
                #expect(!text.contains(TestSecrets.mainReportSecret))
                #expect(!text.contains("Signature="))
            }
        }
    }

    @Test func refusesBadSpansAndWorkspacesWithoutASecretKey() async throws {
        try await GatewayHarness.with { gateway in
            let long = try await gateway.call("reports.getDaily", ["workspace": "main", "start_date": "2025-03-01", "end_date": "2025-04-15"])
            #expect(long.json?["error"]?["data"]?["field"] == "end_date")
            let both = try await gateway.call("reports.getDaily", ["workspace": "main", "date": "2025-03-01", "start_date": "2025-03-01"])
            #expect(both.json?["error"]?["code"] == -32602)
            let noSecret = try await gateway.call("reports.getDaily", ["workspace": "other", "date": "2025-03-01"])
            #expect(noSecret.json?["error"]?["data"]?["reason"]?.stringValue?.contains("secret key") == true)
            let migma = try await gateway.call("reports.getDaily", ["workspace": "mig", "date": "2025-03-01"])
            #expect(migma.json?["error"]?["data"]?["reason"]?.stringValue?.contains("migma") == true)
            let calls = try await gateway.upstreamCalls()
            #expect(calls.isEmpty)
        }
    }

    @Test func servesTheRawZipWithCallerAuthAndScopes() async throws {
        try await GatewayHarness.with { gateway in
            let zip = try await gateway.send("/reports/daily/main/20250302.zip", body: nil, token: TestSecrets.soloToken, method: "GET")
            #expect(zip.status == 200)
            #expect(zip.header("Content-Type") == "application/zip")
            // Zip bytes carry a timestamp; the CSV inside is what must match.
            let expected = try ReportArchive.csv(in: try gateway.simulator.catalog.dailyReportZip(on: CalendarDay(iso: "2025-03-02")!))
            #expect(try ReportArchive.csv(in: zip.body) == expected)
            let anonymous = try await gateway.send("/reports/daily/main/20250302.zip", body: nil, token: nil, method: "GET")
            #expect(anonymous.status == 401)
            let otherWorkspace = try await gateway.send("/reports/daily/other/20250302.zip", body: nil, token: TestSecrets.soloToken, method: "GET")
            #expect(otherWorkspace.status == 403)
            let wrongMethod = try await gateway.send("/reports/daily/main/20250302.zip", body: nil, token: TestSecrets.narrowToken, method: "GET")
            #expect(wrongMethod.status == 403)
            let badDay = try await gateway.send("/reports/daily/main/20250230.zip", body: nil, token: TestSecrets.soloToken, method: "GET")
            #expect(badDay.status == 400)
            let noReport = try await gateway.send("/reports/daily/main/20241231.zip", body: nil, token: TestSecrets.soloToken, method: "GET")
            #expect(noReport.status == 404)
        }
    }

    @Test func isReachableAtItsConnectPath() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.connect("/gateway.v1.ReportService/GetDaily", ["workspace": "main", "date": "2025-03-05"])
            #expect(answer.status == 200)
            #expect(answer.json?["days"]?.arrayValue?.first?["rows"] != nil)
        }
    }
}
