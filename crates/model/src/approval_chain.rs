//! Who decides on a quote's approvals: approver groups (first responder or
//! all members), the routes that send approval rules (or whole levels) to
//! groups, and escalation of a group that does not answer.

/// How a group decides a seat it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decide {
    /// The first member's decision counts.
    First,
    /// Every member must approve (any one may reject).
    All,
}

/// A named set of approvers (principals' names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverGroup {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    pub decide: Decide,
    /// After this many days waiting on the group, the members of
    /// `escalate_to` may decide in its place.
    pub escalate_after_days: Option<u32>,
    pub escalate_to: Option<String>,
}

/// What a route sends to groups: one approval rule, or every rule of a
/// level that has no route of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteFor {
    Rule(String),
    Level(String),
}

/// The groups that decide (in parallel, each its own seat) when a rule
/// (or a level's rules) triggers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRoute {
    pub applies_to: RouteFor,
    pub groups: Vec<String>,
}
