import DynamicJSON

/// Reads campaign-meta pages and shapes the listing callers get.
public enum CampaignListing {
    /// MoEngage's page size limit for campaign meta.
    public static let pageSize = 15

    /// The campaign objects of a page, whatever the envelope: a bare array, `data: [..]`,
    /// `campaigns: [..]` or `data: {campaigns: [..]}`; nil when none of these holds objects.
    public static func campaigns(in page: JSON) -> [JSON]? {
        let list = page.arrayValue ?? page["data"]?.arrayValue ?? page["data"]?["campaigns"]?.arrayValue ?? page["campaigns"]?.arrayValue
        guard let list, list.allSatisfy({ $0["campaign_id"]?.stringValue != nil }) else { return nil }
        return list
    }

    /// The flat list with `children: [ids]` added to every parent present whose children are listed.
    public static func groupingChildren(_ campaigns: [JSON]) -> [JSON] {
        var children: [String: [JSON]] = [:]
        for campaign in campaigns {
            if let parent = campaign["parent_campaign_id"]?.stringValue, let id = campaign["campaign_id"] {
                children[parent, default: []].append(id)
            }
        }
        return campaigns.map { campaign in
            guard case .object(var members) = campaign, let id = members["campaign_id"]?.stringValue, let ids = children[id] else { return campaign }
            members["children"] = .array(ids)
            return .object(members)
        }
    }
}
