import Dates
import DynamicJSON

/// Renders a getStats answer from collected per-window figures, following the contract's merge rules.
enum StatsAnswer {
    /// One window: figures as folded. Several: `by_window`, and `campaigns` merged (TOTAL) or null (UNIQUE).
    static func render(request: StatsRequest, collected: CollectedStats) throws(GatewayError) -> JSON {
        let range = request.params.range!
        let present = Set(collected.windowFigures.flatMap(\.keys))
        var answer: [String: JSON] = [
            "workspace": .string(request.workspace.name), "start_date": .string(range.start.iso), "end_date": .string(range.end.iso),
            "attribution_type": .string(request.params.attribution), "metric_type": .string(request.params.metric),
            "windows": .array(collected.windows.map(windowJSON)),
            "missing": .array(request.params.campaignIDs.filter { !present.contains($0) }.map(JSON.string)),
            "upstream": collected.upstream.json,
        ]
        let summary = request.params.view == "summary"
        func view(_ figures: [String: JSON]) throws(GatewayError) -> JSON {
            guard summary else { return .object(figures) }
            var summaries: [String: JSON] = [:]
            for (id, tree) in figures { summaries[id] = try StatsSummary.moengage(tree) }
            return .object(summaries)
        }
        if collected.windows.count == 1 {
            answer["campaigns"] = try view(collected.windowFigures[0])
        } else {
            var byWindow: [JSON] = []
            for (window, figures) in zip(collected.windows, collected.windowFigures) {
                byWindow.append(["start_date": .string(window.start.iso), "end_date": .string(window.end.iso), "campaigns": try view(figures)])
            }
            answer["by_window"] = .array(byWindow)
            answer["campaigns"] = request.params.metric == "TOTAL" ? try view(mergedAcrossWindows(collected.windowFigures, ids: present)) : .null
        }
        Staleness.mark(&answer, collected.staleness)
        return .object(answer)
    }

    /// Each campaign's windows merged: counters summed, rates recomputed.
    private static func mergedAcrossWindows(_ windows: [[String: JSON]], ids: Set<String>) throws(GatewayError) -> [String: JSON] {
        var merged: [String: JSON] = [:]
        for id in ids {
            merged[id] = try StatsFold.mergeWindows(windows.compactMap { $0[id] })
        }
        return merged
    }

    /// `{start_date, end_date}` of a window.
    static func windowJSON(_ window: DayRange) -> JSON {
        ["start_date": .string(window.start.iso), "end_date": .string(window.end.iso)]
    }
}
