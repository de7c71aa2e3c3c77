import Dates
import DynamicJSON

/// The simulator's deterministic data: campaigns and their per-day counters, all derived from a seed.
///
/// TOTAL figures for a range are the sums of the per-day figures, so merges across windows can
/// be checked exactly; UNIQUE figures for a range are not the sum of their parts.
public struct SyntheticCatalog: Sendable {
    /// Every campaign, sorted by id.
    public let campaigns: [SyntheticCampaign]
    /// Campaign meta entries, children after their parent, sorted by parent id.
    public let meta: [CampaignMeta]
    private let byID: [String: SyntheticCampaign]
    let seed: UInt64

    /// The first day any campaign can be active: 2025-01-01.
    public static let epoch = CalendarDay(year: 2025, month: 1, day: 1)!
    /// The last day any campaign can be active: 2026-12-31.
    public static let horizon = CalendarDay(year: 2026, month: 12, day: 31)!

    /// Builds `count` campaigns from `seed`. Every fifth campaign is active over the whole horizon.
    public init(seed: UInt64, count: Int) {
        self.seed = seed
        let allPlatforms = ["ANDROID", "IOS", "WEB"]
        let campaigns = (0..<count).map { index -> SyntheticCampaign in
            let h = StableHash.combine(seed, UInt64(index))
            let id = String(StableHash.mix(h), radix: 16).leftPadded(to: 16) + String(UInt32(index), radix: 16).leftPadded(to: 8)
            let active: DayRange
            if index % 5 == 0 {
                active = DayRange(start: Self.epoch, end: Self.horizon)!
            } else {
                let start = Self.epoch.adding(days: Int(h % 500))
                let end = min(start.adding(days: 20 + Int((h >> 16) % 300)), Self.horizon)
                active = DayRange(start: start, end: end)!
            }
            let platformCount = 1 + Int((h >> 24) % 3)
            let locales = (h >> 28) % 3 == 0 ? ["all_locales", "en"] : ["all_locales"]
            let goals = (h >> 32) % 2 == 0 ? ["Goal 1", "Purchase"] : ["Goal 1"]
            return SyntheticCampaign(
                id: id, name: "Synthetic campaign \(index)", active: active,
                platforms: Array(allPlatforms.prefix(platformCount)), locales: locales, goals: goals,
                splitsPlatformsAcrossElements: platformCount > 1 && (h >> 36) % 2 == 0, index: index)
        }
        self.campaigns = campaigns.sorted { $0.id < $1.id }
        self.byID = Dictionary(uniqueKeysWithValues: campaigns.map { ($0.id, $0) })
        self.meta = self.campaigns.flatMap { CampaignMeta.entries(for: $0, seed: seed) }
    }

    /// The campaign with this id, if it exists.
    public func campaign(id: String) -> SyntheticCampaign? {
        byID[id]
    }

    /// Campaigns with figures on at least one day of `range`, sorted by id.
    public func campaigns(activeIn range: DayRange) -> [SyntheticCampaign] {
        campaigns.filter { $0.active.intersection(range) != nil }
    }

    /// The upstream `data[id]` array for a campaign over a range, or nil when it has no active day there.
    public func statsElements(for campaign: SyntheticCampaign, range: DayRange, metric: String, attribution: String) -> JSON? {
        guard let days = campaign.active.intersection(range) else { return nil }
        var platformObjects: [String: JSON] = [:]
        for platform in campaign.platforms {
            var locales: [String: JSON] = [:]
            for locale in campaign.locales {
                let leaf = LeafKey(seed: seed, campaign: campaign, platform: platform, locale: locale, attribution: attribution)
                let figures = VariationFigures.aggregate(days.days.map { leaf.figures(on: $0) }, unique: metric == "UNIQUE")
                locales[locale] = ["variations": figures.json(goals: campaign.goals, uplift: leaf.uplift)]
            }
            platformObjects[platform] = ["locales": .object(locales)]
        }
        if campaign.splitsPlatformsAcrossElements {
            let first = campaign.platforms[0]
            let rest = platformObjects.filter { $0.key != first }
            return [["platforms": [first: platformObjects[first]!]], ["platforms": .object(rest)]]
        }
        return [["platforms": .object(platformObjects)]]
    }
}

extension SyntheticCatalog {
    /// Migma's stats object for a campaign: an email sent over the first 14 days of its activity.
    public func migmaStats(for campaign: SyntheticCampaign) -> JSON {
        let sendDays = DayRange(start: campaign.active.start, end: min(campaign.active.end, campaign.active.start.adding(days: 13)))!
        let leaf = LeafKey(seed: seed, campaign: campaign, platform: "EMAIL", locale: "all_locales", attribution: "VIEW_THROUGH")
        let daily = sendDays.days.map { leaf.figures(on: $0) }
        let total = VariationFigures.aggregate(daily, unique: false).counters
        let unique = VariationFigures.aggregate(daily, unique: true).counters
        let delivered = total["p.delivered"] ?? 0
        let uniqueOpens = min(unique["p.opened"] ?? 0, total["p.opened"] ?? 0)
        let uniqueClicks = min(unique["p.click"] ?? 0, total["p.click"] ?? 0)
        var stats: [String: JSON] = [
            "totalSent": .int(total["p.sent"] ?? 0), "totalDelivered": .int(delivered),
            "uniqueOpens": .int(uniqueOpens), "totalOpens": .int(total["p.opened"] ?? 0),
            "uniqueClicks": .int(uniqueClicks), "totalClicks": .int(total["p.click"] ?? 0),
            "unsubscribes": .int(total["p.unsubscribe"] ?? 0), "bounces": .int(total["p.bounced"] ?? 0),
            "openRate": .double(delivered == 0 ? 0 : Double(uniqueOpens) / Double(delivered)),
            "clickRate": .double(delivered == 0 ? 0 : Double(uniqueClicks) / Double(delivered)),
            "lastUpdated": .string("\(sendDays.end.iso)T23:59:59Z"),
        ]
        if campaign.index % 2 == 0 {
            stats["botOpens"] = .int((total["p.opened"] ?? 0) / 50)
            stats["mppOpens"] = .int((total["p.opened"] ?? 0) / 7)
        }
        return .object(stats)
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}
