import Dates
import DynamicJSON

/// Renders a getStats answer from collected per-window figures, following the contract's merge rules.
enum StatsAnswer {
    /// One window: figures as folded. Several: `by_window`, and `campaigns` merged (TOTAL) or null (UNIQUE).
    static func render(request: StatsRequest, collected: CollectedStats) -> JSON {
        let range = request.params.range!
        let present = Set(collected.windowFigures.flatMap(\.keys))
        var answer: [String: JSON] = [
            "workspace": .string(request.workspace.name), "start_date": .string(range.start.iso), "end_date": .string(range.end.iso),
            "attribution_type": .string(request.params.attribution), "metric_type": .string(request.params.metric),
            "windows": .array(collected.windows.map(windowJSON)),
            "missing": .array(request.params.campaignIDs.filter { !present.contains($0) }.map(JSON.string)),
            "upstream": collected.upstream.json,
            "stale": .bool(collected.staleAge != nil),
        ]
        if let age = collected.staleAge { answer["stale_age_s"] = .int(age.wholeMilliseconds / 1_000) }
        let view = request.params.view == "summary" ? { (figures: [String: JSON]) in figures.mapValues(StatsSummary.moengage) } : { $0 }
        if collected.windows.count == 1 {
            answer["campaigns"] = .object(view(collected.windowFigures[0]))
        } else {
            answer["by_window"] = .array(
                zip(collected.windows, collected.windowFigures).map { window, figures in
                    ["start_date": .string(window.start.iso), "end_date": .string(window.end.iso), "campaigns": .object(view(figures))]
                })
            answer["campaigns"] = request.params.metric == "TOTAL" ? .object(view(mergedAcrossWindows(collected.windowFigures, ids: present))) : .null
        }
        return .object(answer)
    }

    /// Each campaign's windows merged: counters summed, rates recomputed.
    private static func mergedAcrossWindows(_ windows: [[String: JSON]], ids: Set<String>) -> [String: JSON] {
        var merged: [String: JSON] = [:]
        for id in ids {
            merged[id] = StatsFold.mergeWindows(windows.compactMap { $0[id] })
        }
        return merged
    }

    /// `{start_date, end_date}` of a window.
    static func windowJSON(_ window: DayRange) -> JSON {
        ["start_date": .string(window.start.iso), "end_date": .string(window.end.iso)]
    }
}
