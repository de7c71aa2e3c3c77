import Dates
import DynamicJSON

/// Validated params of `campaigns.list`.
public struct ListCampaignsParams: Sendable {
    /// The workspace named, if any.
    public var workspace: String?
    /// Campaign ids to return (all matching campaigns when empty).
    public var campaignIDs: [String]
    /// The list filters, by upstream field name (`channels`, `status`, `delivery_type`, `created_by`, `tags`).
    public var lists: [String: [String]]
    /// A name filter.
    public var name: String?
    /// Campaigns created within these days (both or neither of created_from/created_to).
    public var created: DayRange?
    /// Whether child campaigns are listed too.
    public var includeChildren: Bool
    /// Return the plan; spend nothing.
    public var dryRun: Bool

    static let listFields = ["channels", "status", "delivery_type", "created_by", "tags"]
    static let fields = Set(
        listFields + ["workspace", "campaign_ids", "name", "created_from", "created_to", "include_child_campaigns", "dry_run", "timeout_ms"])

    /// Validates params.
    public static func parse(_ params: JSON?) throws(GatewayError) -> ListCampaignsParams {
        let reader = try ParamReader(params, allowed: fields)
        var lists: [String: [String]] = [:]
        for field in listFields {
            let values = try reader.distinctStrings(field)
            if !values.isEmpty { lists[field] = values }
        }
        var created: DayRange?
        switch (try reader.day("created_from"), try reader.day("created_to")) {
        case (let from?, let to?):
            guard let range = DayRange(start: from, end: to) else {
                throw .invalidParams(field: "created_to", reason: "must not be before created_from")
            }
            created = range
        case (nil, nil):
            created = nil
        case (nil, _?):
            throw .invalidParams(field: "created_from", reason: "required with created_to")
        case (_?, nil):
            throw .invalidParams(field: "created_to", reason: "required with created_from")
        }
        _ = try reader.int("timeout_ms", in: 1...CallContext.maxTimeoutMs)
        return ListCampaignsParams(
            workspace: try reader.string("workspace"), campaignIDs: try reader.campaignIDs("campaign_ids"), lists: lists,
            name: try reader.string("name"), created: created, includeChildren: try reader.bool("include_child_campaigns"),
            dryRun: try reader.bool("dry_run"))
    }

    /// The upstream `campaign_fields` for these filters (without `id`), dates as `DD-MM-YYYY`.
    var campaignFields: [String: JSON] {
        var fields = lists.mapValues { JSON.array($0.map(JSON.string)) }
        if let name { fields["name"] = .string(name) }
        if let created {
            fields["created_date"] = ["from_date": .string(created.start.dayMonthYear), "to_date": .string(created.end.dayMonthYear)]
        }
        return fields
    }
}
