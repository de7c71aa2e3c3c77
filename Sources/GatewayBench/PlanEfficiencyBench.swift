import DynamicJSON

/// Upstream calls per query against the lower bound `ceil(uncached ids / 10) × windows`.
enum PlanEfficiencyBench {
    private struct Shape {
        let name: String
        let ids: Range<Int>
        let start: String
        let end: String
        let windows: Int
        let uncached: Int
    }

    static func run(_ gateway: BenchGateway) async throws {
        let shapes = [
            Shape(name: "25 ids × 75 days", ids: 0..<25, start: "2025-03-01", end: "2025-05-14", windows: 3, uncached: 25),
            Shape(name: "100 ids × 30 days", ids: 100..<200, start: "2025-07-01", end: "2025-07-30", windows: 1, uncached: 100),
            Shape(name: "7 ids × 366 days", ids: 200..<207, start: "2024-01-01", end: "2024-12-31", windows: 13, uncached: 7),
            Shape(name: "500 ids × 365 days", ids: 300..<800, start: "2023-01-01", end: "2023-12-31", windows: 13, uncached: 500),
            Shape(
                name: "overlap: ids 20–40 after 0–25 (same 75 days)", ids: 19..<40, start: "2025-03-01", end: "2025-05-14", windows: 3, uncached: 15),
            Shape(name: "repeat of the first query", ids: 0..<25, start: "2025-03-01", end: "2025-05-14", windows: 3, uncached: 0),
        ]
        for shape in shapes {
            let result = try await gateway.stats(ids: gateway.ids(shape.ids), from: shape.start, to: shape.end)
            let calls = result["upstream"]?["calls"]?.intValue ?? -1
            let bound = (shape.uncached + 9) / 10 * shape.windows
            let ratio = bound == 0 ? (calls == 0 ? "1.00 (0 = 0)" : "∞") : String(format: "%.2f", Double(calls) / Double(bound))
            GatewayBench.row("| calls per query, \(shape.name) | \(calls) calls, lower bound \(bound): ratio \(ratio) |")
        }
    }
}
