import CurlHTTP
import DynamicJSON
import Foundation
import MoEngageSimulator
import ServerTesting

/// Starts a simulator in-process on an ephemeral port and talks to it over real HTTP.
struct SimulatorHarness {
    let base: String
    let simulator: MoEngageSimulator
    let client: CurlHTTPClient

    static func with<T: Sendable>(_ configuration: SimulatorConfiguration = SimulatorConfiguration(), _ body: (SimulatorHarness) async throws -> T)
        async throws -> T
    {
        let simulator = MoEngageSimulator(configuration: configuration)
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        return try await LiveServer.withRunning({ onRunning in
            simulator.makeApplication(logger: LiveServer.quietLogger, onServerRunning: onRunning)
        }) { port in
            try await body(SimulatorHarness(base: "http://127.0.0.1:\(port)", simulator: simulator, client: client))
        }
    }

    /// POSTs a stats body with the given credentials.
    func stats(_ body: JSON, workspace: String = "DEMO_WORKSPACE", key: String = "demo-api-key", appKey: String? = nil) async throws
        -> (status: Int, json: JSON?)
    {
        let credentials = Data("\(workspace):\(key)".utf8).base64EncodedString()
        let response = try await client.execute(
            HTTPClientRequest(
                method: "POST", url: "\(base)/core-services/v1/campaign-stats",
                headers: [("Authorization", "Basic \(credentials)"), ("MOE-APPKEY", appKey ?? workspace), ("Content-Type", "application/json")],
                body: body.encoded()))
        return (response.status, try? JSON.parse(response.body))
    }

    /// The admin call log.
    func calls() async throws -> JSON {
        try JSON.parse(try await client.execute(HTTPClientRequest(url: "\(base)/_sim/calls")).body)
    }

    /// A valid body for one campaign over a range.
    static func body(ids: [String]?, from start: String, to end: String, metric: String = "TOTAL", offset: Int? = nil, limit: Int? = nil) -> JSON {
        var body: [String: JSON] = [
            "request_id": "t-1", "start_date": .string(start), "end_date": .string(end),
            "attribution_type": "VIEW_THROUGH", "metric_type": .string(metric),
        ]
        if let ids { body["campaign_ids"] = .array(ids.map(JSON.string)) }
        if let offset { body["offset"] = .int(offset) }
        if let limit { body["limit"] = .int(limit) }
        return .object(body)
    }

    /// Ids of campaigns active over the whole horizon.
    var alwaysActiveIDs: [String] {
        simulator.catalog.campaigns.filter { $0.active.dayCount > 700 }.map(\.id)
    }
}
