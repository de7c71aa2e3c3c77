import Dates

/// One campaign of the simulator's synthetic data set.
public struct SyntheticCampaign: Sendable, Hashable {
    /// 24 hex digits, like MoEngage's ids.
    public let id: String
    /// Human-readable name.
    public let name: String
    /// Days on which the campaign has figures.
    public let active: DayRange
    /// Platforms with figures, e.g. `ANDROID`, `IOS`, `WEB`.
    public let platforms: [String]
    /// Locales with figures; always includes `all_locales`.
    public let locales: [String]
    /// Conversion goal names.
    public let goals: [String]
    /// Whether the upstream answer splits the platforms over two array elements.
    public let splitsPlatformsAcrossElements: Bool
    /// Position in the catalog; the root of this campaign's hashes.
    let index: Int
}
