import DynamicJSON

/// What one page of an all-campaigns stats listing says about the listing, checked: counts are
/// non-negative integers, `total_pages` agrees with `total_campaigns`, and the page holds no more
/// campaigns than a page may or the listing has. Anything else is a broken upstream (-32050).
struct ListingPaging: Sendable, Equatable {
    /// `total_campaigns`, when given.
    var totalCampaigns: Int?
    /// `total_pages`, when given.
    var totalPages: Int?
    /// Pages to walk (at least 1).
    let pageCount: Int

    /// Reads the paging of a page holding `campaignsOnPage` campaigns.
    init(answer: JSON, campaignsOnPage: Int) throws(GatewayError) {
        let perPage = StatsPlan.maxIDsPerCall
        totalCampaigns = try Self.count("total_campaigns", in: answer)
        totalPages = try Self.count("total_pages", in: answer)
        guard campaignsOnPage <= perPage else { throw Self.broken("a page holds \(campaignsOnPage) campaigns; at most \(perPage) were asked for") }
        let fromCampaigns = totalCampaigns.map { $0 / perPage + ($0 % perPage == 0 ? 0 : 1) }
        if let fromCampaigns, let totalPages, fromCampaigns != totalPages {
            throw Self.broken("total_pages (\(totalPages)) disagrees with total_campaigns (\(fromCampaigns) pages)")
        }
        if let totalCampaigns, totalCampaigns < campaignsOnPage {
            throw Self.broken("total_campaigns (\(totalCampaigns)) is less than the \(campaignsOnPage) campaigns on the page")
        }
        if let pages = totalPages ?? fromCampaigns {
            guard pages > 0 || campaignsOnPage == 0 else { throw Self.broken("a listing of 0 pages holds campaigns") }
            pageCount = max(pages, 1)
        } else {
            guard campaignsOnPage < perPage else { throw Self.broken("a full page has neither total_pages nor total_campaigns") }
            pageCount = 1
        }
    }

    /// Throws -32050 when a later page describes another listing than the first (it changed while
    /// paged): another page count, or another total of campaigns.
    func checkSameListing(as first: ListingPaging) throws(GatewayError) {
        let campaignsAgree = totalCampaigns == nil || first.totalCampaigns == nil || totalCampaigns == first.totalCampaigns
        guard campaignsAgree, pageCount == first.pageCount else {
            throw Self.broken("the listing changed while it was paged (its totals differ between pages)")
        }
    }

    /// Throws -32050 when the pages together hold more campaigns than the listing said it had.
    func checkHolds(_ campaigns: Int) throws(GatewayError) {
        if let totalCampaigns, campaigns > totalCampaigns {
            throw Self.broken("the pages hold \(campaigns) campaigns; total_campaigns said \(totalCampaigns)")
        }
    }

    private static func count(_ name: String, in answer: JSON) throws(GatewayError) -> Int? {
        guard let value = answer[name], !value.isNull else { return nil }
        guard let number = value.intValue, number >= 0 else { throw broken("\(name) is not a count") }
        return number
    }

    private static func broken(_ detail: String) -> GatewayError {
        .upstreamFailed(status: 200, reason: "the upstream's campaign listing is inconsistent: \(detail)")
    }
}
