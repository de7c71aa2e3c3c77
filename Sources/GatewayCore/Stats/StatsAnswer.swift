import Dates
import DynamicJSON

/// Renders a getStats answer from collected per-window figures, following the contract's merge rules.
///
/// One window in the full view splices each campaign's cached bytes into the answer as they are;
/// merges and summaries read the figures back first.
enum StatsAnswer {
    /// One window: figures as folded. Several: `by_window`, and `campaigns` merged (TOTAL) or null (UNIQUE).
    static func render(request: StatsRequest, collected: CollectedStats) throws -> JSONDocument {
        let range = request.params.range!
        let present = Set(collected.windowFigures.flatMap(\.keys))
        var answer: [String: JSONDocument] = [
            "workspace": .value(.string(request.workspace.name)), "start_date": .value(.string(range.start.iso)),
            "end_date": .value(.string(range.end.iso)), "attribution_type": .value(.string(request.params.attribution)),
            "metric_type": .value(.string(request.params.metric)), "windows": .value(.array(collected.windows.map(windowJSON))),
            "missing": .value(.array(request.params.campaignIDs.filter { !present.contains($0) }.map(JSON.string))),
            "upstream": .value(collected.upstream.json),
        ]
        let summary = request.params.view == "summary"
        func view(_ figures: [String: EncodedJSON]) throws -> JSONDocument {
            guard summary else { return .object(figures.mapValues(JSONDocument.encoded)) }
            return try summaries(figures.mapValues { try $0.decoded() })
        }
        if collected.windows.count == 1 {
            answer["campaigns"] = try view(collected.windowFigures[0])
        } else {
            var byWindow: [JSONDocument] = []
            for (window, figures) in zip(collected.windows, collected.windowFigures) {
                byWindow.append(
                    .object([
                        "start_date": .value(.string(window.start.iso)), "end_date": .value(.string(window.end.iso)), "campaigns": try view(figures),
                    ]))
            }
            answer["by_window"] = .array(byWindow)
            if request.params.metric == "TOTAL" {
                let merged = try mergedAcrossWindows(collected.windowFigures, ids: present)
                answer["campaigns"] = summary ? try summaries(merged) : .value(.object(merged))
            } else {
                answer["campaigns"] = .value(.null)
            }
        }
        Staleness.mark(&answer, collected.staleness)
        return .object(answer)
    }

    /// The summary view of each campaign's figures.
    private static func summaries(_ figures: [String: JSON]) throws -> JSONDocument {
        var summaries: [String: JSON] = [:]
        for (id, tree) in figures { summaries[id] = try StatsSummary.moengage(tree) }
        return .value(.object(summaries))
    }

    /// Each campaign's windows merged: counters summed, rates recomputed.
    private static func mergedAcrossWindows(_ windows: [[String: EncodedJSON]], ids: Set<String>) throws -> [String: JSON] {
        var merged: [String: JSON] = [:]
        for id in ids {
            merged[id] = try StatsFold.mergeWindows(windows.compactMap { $0[id] }.map { try $0.decoded() })
        }
        return merged
    }

    /// `{start_date, end_date}` of a window.
    static func windowJSON(_ window: DayRange) -> JSON {
        ["start_date": .string(window.start.iso), "end_date": .string(window.end.iso)]
    }
}
