import Dates
import DynamicJSON

/// The campaign-meta view of the simulator's campaigns: what `POST /core-services/v1/campaigns/meta` lists.
///
/// Every synthetic campaign is a parent-level campaign; every fourth one is periodic and has
/// two child campaigns (listed only with `include_child_campaigns`).
public struct CampaignMeta: Sendable, Hashable {
    /// The campaign id (children: the parent's id plus `-c1`, `-c2`).
    public let id: String
    /// The upstream object, exactly as the API lists it.
    public let object: JSON
    /// The day it was created.
    public let createdOn: CalendarDay
    /// The parent's id, for a child campaign.
    public let parentID: String?

    static let channels = ["PUSH", "EMAIL", "SMS", "INAPP"]
    static let creators = ["ana@example.com", "bo@example.com", "cy@example.com"]
    static let deliveryTypes = ["ONE_TIME", "PERIODIC", "EVENT_TRIGGERED", "BUSINESS_EVENT_TRIGGERED"]
    static let statuses = ["Active", "Scheduled", "Paused", "Retired", "Sent"]
    static let tags = ["activation", "engagement", "retention"]

    /// The meta entries of one synthetic campaign: itself, then its children if it has any.
    static func entries(for campaign: SyntheticCampaign, seed: UInt64) -> [CampaignMeta] {
        let h = StableHash.combine(seed, UInt64(campaign.index), 0x4D45_5441)
        let delivery = campaign.index % 4 == 3 ? "PERIODIC" : deliveryTypes[Int(h % 4) == 1 ? 0 : Int(h % 4)]
        let status = statuses[Int((h >> 8) % 5)]
        let created = campaign.active.start.adding(days: -Int((h >> 16) % 20) - 1)
        var object: [String: JSON] = [
            "campaign_id": .string(campaign.id), "channel": .string(channels[Int((h >> 24) % 4)]),
            "platform": .array(campaign.platforms.map { .string($0) }), "created_by": .string(creators[Int((h >> 32) % 3)]),
            "campaign_delivery_type": .string(delivery), "campaign_name": .string(campaign.name), "campaign_team": .string("Team \((h >> 40) % 3)"),
            "campaign_tags": .array(tags.enumerated().filter { (h >> (44 + $0.offset)) & 1 == 1 }.map { .string($0.element) }),
            "campaign_status": .string(status), "campaign_start_time": .string("\(campaign.active.start.iso)T05:30:00"),
        ]
        if status == "Scheduled", delivery != "PERIODIC" {
            object["reachability_details"] = ["count": .int(1_000 + Int(h % 50_000)), "last_updated_time": .string("\(created.iso)T09:05:42.661000")]
        }
        guard delivery == "PERIODIC" else { return [CampaignMeta(id: campaign.id, object: .object(object), createdOn: created, parentID: nil)] }
        object["total_child_campaigns"] = 2
        let children = (1...2).map { number -> CampaignMeta in
            var child = object
            let childID = "\(campaign.id)-c\(number)"
            child["campaign_id"] = .string(childID)
            child["campaign_name"] = .string("\(campaign.name) (run \(number))")
            child["parent_campaign_id"] = .string(campaign.id)
            child["total_child_campaigns"] = nil
            return CampaignMeta(id: childID, object: .object(child), createdOn: created.adding(days: number), parentID: campaign.id)
        }
        return [CampaignMeta(id: campaign.id, object: .object(object), createdOn: created, parentID: nil)] + children
    }
}

/// The filters of a campaign-meta request (`campaign_fields`), validated as MoEngage does.
struct MetaQuery {
    var requestID: String
    var page: Int
    var limit: Int
    var includeChildren: Bool
    var id: String?
    var lists: [String: Set<String>] = [:]
    var name: String?
    var created: DayRange?

    private static let listFields = ["channels", "created_by", "delivery_type", "status", "tags"]

    /// Validates a body; the error names the field as the documented `{error: {details: [{target, message}]}}`.
    static func validate(_ body: JSON?) -> Result<MetaQuery, MetaRejection> {
        guard let body, body.objectValue != nil else { return .failure(.invalid("body", "a JSON object is required")) }
        guard let requestID = body["request_id"]?.stringValue else {
            return .failure(.invalid("request_id", "Field is required but value is None : None"))
        }
        guard let page = body["page"]?.intValue else { return .failure(.invalid("page", "Field is required but value is None : None")) }
        guard let limit = body["limit"]?.intValue else { return .failure(.invalid("limit", "Field is required but value is None : None")) }
        guard page >= 1 else { return .failure(.invalid("page", "must be at least 1")) }
        guard (1...15).contains(limit) else { return .failure(.invalid("limit", "must be between 1 and 15")) }
        var query = MetaQuery(requestID: requestID, page: page, limit: limit, includeChildren: body["include_child_campaigns"]?.boolValue ?? false)
        guard let fields = body["campaign_fields"] else { return .success(query) }
        guard let members = fields.objectValue else { return .failure(.invalid("campaign_fields", "must be an object")) }
        let known = Set(listFields + ["id", "name", "created_date"])
        if let unknown = members.keys.first(where: { !known.contains($0) }) { return .failure(.invalid(unknown, "unknown campaign field")) }
        if let id = members["id"] {
            guard let text = id.stringValue else { return .failure(.invalid("id", "must be a string")) }
            query.id = text
        }
        if let name = members["name"] {
            guard let text = name.stringValue else { return .failure(.invalid("name", "must be a string")) }
            query.name = text
        }
        for field in listFields {
            guard let value = members[field] else { continue }
            guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                return .failure(.invalid(field, "must be a list of strings"))
            }
            query.lists[field] = Set(list.compactMap { $0.stringValue?.uppercased() })
        }
        if let created = members["created_date"] {
            guard let from = created["from_date"]?.stringValue.flatMap(Self.dayMonthYear),
                let to = created["to_date"]?.stringValue.flatMap(Self.dayMonthYear)
            else { return .failure(.invalid("created_date", "from_date and to_date are required as DD-MM-YYYY")) }
            guard let range = DayRange(start: from, end: to) else { return .failure(.invalid("created_date", "from_date is after to_date")) }
            query.created = range
        }
        return .success(query)
    }

    /// Parses `DD-MM-YYYY` strictly.
    static func dayMonthYear(_ text: String) -> CalendarDay? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 2, parts[1].count == 2, parts[2].count == 4 else { return nil }
        return CalendarDay(iso: "\(parts[2])-\(parts[1])-\(parts[0])")
    }

    /// Whether an entry passes every filter.
    func matches(_ entry: CampaignMeta) -> Bool {
        if entry.parentID != nil, !includeChildren { return false }
        if let id, entry.id != id { return false }
        if let name, !(entry.object["campaign_name"]?.stringValue?.localizedLowercase.contains(name.localizedLowercase) ?? false) { return false }
        if let created, !(created.start...created.end).contains(entry.createdOn) { return false }
        let values: [String: [String]] = [
            "channels": [entry.object["channel"]?.stringValue ?? ""], "created_by": [entry.object["created_by"]?.stringValue ?? ""],
            "delivery_type": [entry.object["campaign_delivery_type"]?.stringValue ?? ""],
            "status": [entry.object["campaign_status"]?.stringValue ?? ""],
            "tags": entry.object["campaign_tags"]?.arrayValue?.compactMap(\.stringValue) ?? [],
        ]
        for (field, wanted) in lists where Set((values[field] ?? []).map { $0.uppercased() }).isDisjoint(with: wanted) { return false }
        return true
    }
}

/// A campaign-meta error answer: `{error: {code, message, details: [{target, message}], request_id}}`.
struct MetaRejection: Error {
    var status: Int
    var json: JSON

    static func invalid(_ target: String, _ message: String) -> Self {
        Self(
            status: 400,
            json: [
                "error": [
                    "code": "400 Bad Request", "message": "Bad request",
                    "details": [["target": .string(target), "message": .string("Invalid field value passed:\(target) - \(message)")]],
                    "request_id": "",
                ]
            ])
    }

    static let unauthenticated = Self(
        status: 401,
        json: [
            "error": [
                "code": "401 Authentication error", "message": "Authentication required",
                "details": [
                    [
                        "code": "InvalidValue", "target": "APP_SECRET_KEY",
                        "message": [["code": "InvalidValue", "target": "APP_SECRET_KEY", "message": "Invalid APP_SECRET_KEY is provided."]],
                    ]
                ],
                "request_id": "",
            ]
        ])
}

/// How the simulator wraps a campaign-meta page (the documentation shows none).
public enum MetaEnvelope: String, Sendable, CaseIterable {
    /// A bare JSON array.
    case bare
    /// `{"data": [...]}`.
    case data
    /// `{"campaigns": [...]}`.
    case campaigns
    /// `{"data": {"campaigns": [...]}}`.
    case dataCampaigns = "data.campaigns"

    /// Wraps a page.
    func wrap(_ page: [JSON]) -> JSON {
        switch self {
        case .bare: return .array(page)
        case .data: return ["data": .array(page)]
        case .campaigns: return ["campaigns": .array(page)]
        case .dataCampaigns: return ["data": ["campaigns": .array(page)]]
        }
    }
}
