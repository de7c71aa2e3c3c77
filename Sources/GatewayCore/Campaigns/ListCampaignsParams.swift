import Dates
import DynamicJSON
import GatewayProto

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

    /// Validates a request.
    public static func parse(_ request: Gateway_V1_ListCampaignsRequest) throws(GatewayError) -> ListCampaignsParams {
        var lists: [String: [String]] = [:]
        let listFields = [
            ("channels", request.channels), ("status", request.status), ("delivery_type", request.deliveryType), ("created_by", request.createdBy),
            ("tags", request.tags),
        ]
        for (field, given) in listFields {
            let values = try FieldRules.distinctStrings(field, given)
            if !values.isEmpty { lists[field] = values }
        }
        var created: DayRange?
        let from = try FieldRules.day("created_from", request.hasCreatedFrom ? request.createdFrom : nil)
        switch (from, try FieldRules.day("created_to", request.hasCreatedTo ? request.createdTo : nil)) {
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
        _ = try FieldRules.int("timeout_ms", request.hasTimeoutMs ? request.timeoutMs : nil, in: 1...CallContext.maxTimeoutMs)
        return ListCampaignsParams(
            workspace: try FieldRules.string("workspace", request.hasWorkspace ? request.workspace : nil),
            campaignIDs: try FieldRules.campaignIDs("campaign_ids", request.campaignIds), lists: lists,
            name: try FieldRules.string("name", request.hasName ? request.name : nil), created: created,
            includeChildren: request.includeChildCampaigns, dryRun: request.dryRun)
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
