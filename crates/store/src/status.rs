//! Where a quote stands, and the moves between standings that are legal.
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuoteStatus {
    Draft,
    PendingApproval,
    Approved,
    Rejected,
    Sent,
    Accepted,
    Lost,
    Expired,
}

impl QuoteStatus {
    pub const ALL: [QuoteStatus; 8] = [
        QuoteStatus::Draft,
        QuoteStatus::PendingApproval,
        QuoteStatus::Approved,
        QuoteStatus::Rejected,
        QuoteStatus::Sent,
        QuoteStatus::Accepted,
        QuoteStatus::Lost,
        QuoteStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuoteStatus::Draft => "draft",
            QuoteStatus::PendingApproval => "pending_approval",
            QuoteStatus::Approved => "approved",
            QuoteStatus::Rejected => "rejected",
            QuoteStatus::Sent => "sent",
            QuoteStatus::Accepted => "accepted",
            QuoteStatus::Lost => "lost",
            QuoteStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether no change may follow (the quote is closed).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            QuoteStatus::Accepted | QuoteStatus::Lost | QuoteStatus::Expired
        )
    }

    /// Whether its lines may be edited (a new version, back to draft): not
    /// while approvers look at it, and never once closed.
    pub fn is_editable(self) -> bool {
        !self.is_final() && self != QuoteStatus::PendingApproval
    }

    /// The legal moves: draft → pending approval → approved / rejected →
    /// sent → accepted / lost / expired; a recall (pending → draft); an
    /// approved quote may be sent, a draft needing no approval too; any
    /// open quote past its validity expires.
    pub fn can_become(self, to: QuoteStatus) -> bool {
        use QuoteStatus::*;
        match (self, to) {
            (Draft, PendingApproval | Sent) => true,
            (PendingApproval, Approved | Rejected | Draft) => true,
            (Approved, Sent) => true,
            (Sent, Accepted | Lost) => true,
            (from, Expired) => !from.is_final(),
            _ => false,
        }
    }
}

impl fmt::Display for QuoteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_quotes_go_nowhere_and_names_round_trip() {
        for from in QuoteStatus::ALL {
            assert_eq!(QuoteStatus::parse(from.as_str()), Some(from));
            for to in QuoteStatus::ALL {
                if from.is_final() {
                    assert!(!from.can_become(to), "{from} → {to}");
                }
            }
        }
        assert!(QuoteStatus::Draft.can_become(QuoteStatus::PendingApproval));
        assert!(!QuoteStatus::Draft.can_become(QuoteStatus::Approved));
        assert!(QuoteStatus::PendingApproval.can_become(QuoteStatus::Draft));
        assert!(!QuoteStatus::Rejected.can_become(QuoteStatus::Sent));
    }
}
