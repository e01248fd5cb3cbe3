//! Callers with roles, and a stored quote's status flow over gRPC: API
//! keys and HS256/RS256 tokens from an auth file, the permission matrix
//! tried role by role against every method, approval limits and "never
//! your own quote", tenants kept apart, and the audit chain that records
//! it all.
#![allow(clippy::unwrap_used)]

use std::{path::Path, sync::Arc};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use quotecast_server::{
    AppState,
    auth::{Role, key_hash},
    auth_layer::PERMISSIONS,
    pb::{
        ManualDiscount, PriceQuoteRequest, QuoteActionRequest, QuoteActionResponse, QuoteStatus,
        SaveQuoteRequest, manual_discount, quote_service_client::QuoteServiceClient,
    },
    reload::{LiveAuth, reload_callers},
};
use quotecast_tests::{TestServer, field_violations, pb_line, rules_dir};
use tonic::{Code, Request, Status, metadata::MetadataValue, transport::Channel};

const SECRET: &str = "a shared secret of the test CRM, 32+ bytes long";

/// The API key of each principal of the test's auth file (by first name).
fn key(name: &str) -> String {
    format!("qc_test_key_of_{name}")
}

/// A principal's name: the approver groups of rules/approval_chains.toml
/// name acme's people so.
fn who(name: &str) -> String {
    if name == "zed" {
        "zed@globex.example".to_owned()
    } else {
        format!("{name}@acme.example")
    }
}

/// An auth file: reps, approvers with limits, an admin, a service, a rep
/// of another tenant, and two token issuers.
fn write_auth(dir: &Path) -> std::path::PathBuf {
    let principals = [
        ("ana", "acme", "rep", None),
        ("ben", "acme", "rep", None),
        ("mia", "acme", "approver", Some("manager")),
        ("max", "acme", "approver", Some("manager")),
        ("val", "acme", "approver", Some("vp")),
        ("fay", "acme", "approver", Some("director")),
        ("cfo", "acme", "approver", Some("vp")),
        ("ada", "acme", "admin", Some("vp")),
        ("erp", "acme", "service", None),
        ("zed", "globex", "rep", None),
    ];
    let mut text = String::from("# the test's callers\n");
    for (name, tenant, role, limit) in principals {
        text += &format!(
            "\n[[principal]]\nname = \"{}\"\ntenant = \"{tenant}\"\nrole = \"{role}\"\n\
             api_key_blake3 = [\"{}\"]\n",
            who(name),
            key_hash(&key(name))
        );
        if let Some(limit) = limit {
            text += &format!("approval_limit = \"{limit}\"\n");
        }
    }
    std::fs::write(dir.join("crm.secret"), SECRET).unwrap();
    std::fs::copy(
        rules_dir().join("../tests/fixtures/auth/test_rs256_public.pem"),
        dir.join("erp.pem"),
    )
    .unwrap();
    text += "\n[[issuer]]\nname = \"crm\"\nalgorithm = \"HS256\"\nsecret_file = \"crm.secret\"\n\
             audience = \"quotecast\"\n\n[[issuer]]\nname = \"erp-idp\"\nalgorithm = \"RS256\"\n\
             public_key_file = \"erp.pem\"\n";
    let path = dir.join("auth.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn start() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_auth(dir.path());
    let server = TestServer::start_with_state(
        |_| {},
        |s| AppState {
            auth: Arc::new(LiveAuth::from_file(&path, &s.rules).unwrap()),
            ..s
        },
    )
    .await;
    (server, dir)
}

/// `message` with `credential` as its bearer.
fn as_<T>(credential: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {credential}")).unwrap(),
    );
    request
}

fn token(alg: Algorithm, iss: &str, sub: &str, exp_in: i64, aud: &str) -> String {
    let claims = serde_json::json!({
        "iss": iss,
        "sub": who(sub),
        "aud": aud,
        "exp": chrono::Utc::now().timestamp() + exp_in,
    });
    let key = match alg {
        Algorithm::HS256 => EncodingKey::from_secret(SECRET.as_bytes()),
        _ => EncodingKey::from_rsa_pem(
            &std::fs::read(rules_dir().join("../tests/fixtures/auth/test_rs256_private.pem"))
                .unwrap(),
        )
        .unwrap(),
    };
    jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap()
}

fn discounted(sku: &str, quantity: &str, discount: &str) -> quotecast_server::pb::QuoteLineInput {
    let mut line = pb_line(sku, quantity);
    line.discount = Some(ManualDiscount {
        kind: Some(manual_discount::Kind::Percent(discount.into())),
    });
    line
}

/// DSP-24 × 10 at `discount` % off: 0 needs no approval, 12 a manager
/// (rep discount above 10 %), 22 a director (above 20 %, and a margin of
/// 24.03 % below 25 %); see rules/approvals.toml.
fn quote(discount: &str) -> SaveQuoteRequest {
    quote_of(vec![discounted("DSP-24", "10", discount)])
}

fn quote_of(lines: Vec<quotecast_server::pb::QuoteLineInput>) -> SaveQuoteRequest {
    SaveQuoteRequest {
        quote_number: 0,
        base_version: 0,
        quote: Some(PriceQuoteRequest {
            currency_code: "USD".into(),
            price_date: "2026-03-02".into(),
            account_id: "initech".into(),
            lines,
            ..Default::default()
        }),
        // Past any sweep the tests run.
        valid_until: "2099-12-31".into(),
    }
}

/// The seats a response says the quote waits for, as `seat (members)`.
fn waiting(r: &QuoteActionResponse) -> Vec<String> {
    r.waiting_for
        .iter()
        .map(|s| format!("{} ({})", s.seat, s.members.join(", ")))
        .collect()
}

fn act(number: i64, base: i64, comment: &str) -> QuoteActionRequest {
    QuoteActionRequest {
        quote_number: number,
        base_version: base,
        comment: comment.into(),
    }
}

fn status(r: &QuoteActionResponse) -> QuoteStatus {
    QuoteStatus::try_from(r.status).unwrap()
}

#[tokio::test]
async fn callers_are_who_their_keys_and_tokens_say_or_are_refused() {
    let (server, _dir) = start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let price = || quote("0").quote.unwrap();
    // No credentials, a wrong key, a malformed header: UNAUTHENTICATED.
    let none = client.price_quote(price()).await.unwrap_err();
    assert_eq!(none.code(), Code::Unauthenticated, "{none:?}");
    let wrong = client
        .price_quote(as_("qc_not_a_key", price()))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let mut basic = Request::new(price());
    basic
        .metadata_mut()
        .insert("authorization", MetadataValue::from_static("Basic YTpi"));
    assert_eq!(
        client.price_quote(basic).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // A key, in either header.
    client.price_quote(as_(&key("ana"), price())).await.unwrap();
    let mut by_header = Request::new(price());
    by_header
        .metadata_mut()
        .insert("x-api-key", MetadataValue::try_from(key("erp")).unwrap());
    client.price_quote(by_header).await.unwrap();
    // Tokens: HS256 from the CRM, RS256 from the ERP's identity provider.
    let hs = token(Algorithm::HS256, "crm", "ana", 300, "quotecast");
    let saved = client
        .save_quote(as_(&hs, quote("0")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(saved.saved_by, who("ana"));
    let rs = token(Algorithm::RS256, "erp-idp", "erp", 300, "");
    client.price_quote(as_(&rs, price())).await.unwrap();
    // Expired, for another audience, from an unknown issuer, for nobody
    // known, or signed with the wrong key: refused.
    for bad in [
        token(Algorithm::HS256, "crm", "ana", -3600, "quotecast"),
        token(Algorithm::HS256, "crm", "ana", 300, "someone-else"),
        token(Algorithm::HS256, "elsewhere", "ana", 300, "quotecast"),
        token(Algorithm::HS256, "crm", "mallory", 300, "quotecast"),
        token(Algorithm::RS256, "crm", "ana", 300, "quotecast"),
        format!("{hs}x"),
    ] {
        let refused = client.price_quote(as_(&bad, price())).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{bad}: {refused:?}");
    }
    // Health stays open.
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
}

/// One call of `method` as `role`'s principal with a body no handler would
/// accept: whether the call got past the permission check.
async fn permitted(channel: Channel, method: &str, credential: &str) -> bool {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path: &'static str = Box::leak(format!("/{method}").into_boxed_str());
    // Not a protobuf message: refused by decoding if it gets that far.
    let result: Result<tonic::Response<usize>, Status> = grpc
        .unary(
            as_(credential, prost::bytes::Bytes::from_static(&[0xff, 0xff])),
            tonic::codegen::http::uri::PathAndQuery::from_static(path),
            quotecast_tests::RawCodec,
        )
        .await;
    match result {
        Err(status) if status.code() == Code::PermissionDenied => false,
        Err(status) if status.code() == Code::Unauthenticated => panic!("{method}: {status:?}"),
        _ => true,
    }
}

#[tokio::test]
async fn every_role_is_allowed_exactly_the_methods_of_the_permission_matrix() {
    // Every method of the API has its row.
    let descriptors = <prost_types::FileDescriptorSet as prost::Message>::decode(
        quotecast_server::pb::FILE_DESCRIPTOR_SET,
    )
    .unwrap();
    let mut methods: Vec<String> = descriptors
        .file
        .iter()
        .flat_map(|f| {
            f.service.iter().flat_map(move |s| {
                s.method
                    .iter()
                    .map(move |m| format!("{}.{}/{}", f.package(), s.name(), m.name()))
            })
        })
        .collect();
    methods.sort();
    let mut listed: Vec<String> = PERMISSIONS.iter().map(|(m, _)| m.to_string()).collect();
    listed.sort();
    assert_eq!(methods, listed, "the matrix lists every method once");
    let (server, _dir) = start().await;
    let channel = server.channel().await;
    let as_role = [
        (Role::Rep, "ana"),
        (Role::Approver, "mia"),
        (Role::Admin, "ada"),
        (Role::Service, "erp"),
    ];
    for (method, roles) in PERMISSIONS {
        for (role, name) in as_role {
            assert_eq!(
                permitted(channel.clone(), method, &key(name)).await,
                roles.contains(&role),
                "{method} as {}",
                role.as_str()
            );
        }
    }
}

#[tokio::test]
async fn a_quote_moves_from_draft_to_accepted_through_its_approval_chain() {
    let (server, _dir) = start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let [ana, ben, mia, max, val, fay, ada, zed] =
        ["ana", "ben", "mia", "max", "val", "fay", "ada", "zed"].map(key);

    // Ana saves a quote that needs a manager, then a director and finance.
    let saved = client
        .save_quote(as_(&ana, quote("22")))
        .await
        .unwrap()
        .into_inner();
    let n = saved.quote_number;
    assert_eq!(saved.saved_by, who("ana"));
    // It cannot go to the customer before approval.
    let early = client
        .mark_sent(as_(&ana, act(n, 1, "")))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
    let submitted = client
        .submit(as_(&ana, act(n, 1, "customer asks for 22 %")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&submitted), QuoteStatus::PendingApproval);
    assert_eq!(submitted.approval_level, "director");
    assert!(
        submitted
            .approval_reasons
            .iter()
            .any(|r| r.contains("appr-manual-20") && r.contains("22.00%")),
        "{:?}",
        submitted.approval_reasons
    );
    assert_eq!(
        waiting(&submitted),
        [format!(
            "group:sales-managers ({}, {})",
            who("mia"),
            who("max")
        )]
    );
    assert_eq!(submitted.waiting_for[0].rules, ["appr-manual-10: 22.00"]);
    // A rep cannot approve; finance is not asked yet; another tenant does
    // not see the quote; a rejection needs its reason.
    let rep = client.approve(as_(&ben, act(n, 2, ""))).await.unwrap_err();
    assert_eq!(rep.code(), Code::PermissionDenied);
    let early_finance = client
        .approve(as_(&fay, act(n, 2, "ok")))
        .await
        .unwrap_err();
    assert_eq!(early_finance.code(), Code::PermissionDenied);
    assert!(
        early_finance.message().contains("group:sales-managers"),
        "{}",
        early_finance.message()
    );
    let stranger = client.submit(as_(&zed, act(n, 2, ""))).await.unwrap_err();
    assert_eq!(stranger.code(), Code::NotFound);
    let silent = client.reject(as_(&mia, act(n, 2, " "))).await.unwrap_err();
    assert_eq!(silent.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&silent)[0].0, "comment");
    // None of that changed anything.
    let get = |credential: &str, version: i64| {
        as_(
            credential,
            quotecast_server::pb::GetQuoteRequest {
                quote_number: n,
                version,
            },
        )
    };
    assert_eq!(
        client
            .get_quote(get(&ana, 0))
            .await
            .unwrap()
            .into_inner()
            .version,
        2
    );
    // The first manager to answer decides for the group; then the
    // director and finance, in parallel.
    let managed = client
        .approve(as_(&max, act(n, 2, "ok from sales")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&managed), QuoteStatus::PendingApproval);
    assert_eq!(
        waiting(&managed),
        [
            format!("group:finance ({})", who("fay")),
            format!("group:sales-directors ({})", who("val")),
        ]
    );
    let too_late = client.approve(as_(&mia, act(n, 3, ""))).await.unwrap_err();
    assert_eq!(
        too_late.code(),
        Code::PermissionDenied,
        "the managers' seat is taken"
    );
    let directed = client
        .approve(as_(&val, act(n, 3, "strategic account")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        waiting(&directed),
        [format!("group:finance ({})", who("fay"))]
    );
    // A decision from a version that is no longer current is stale.
    let stale = client.approve(as_(&fay, act(n, 3, ""))).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let approved = client
        .approve(as_(&fay, act(n, 4, "margin accepted")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&approved), QuoteStatus::Approved);
    assert!(approved.waiting_for.is_empty());
    // Sent, accepted; then nothing more.
    let sent = client
        .mark_sent(as_(&ana, act(n, approved.version, "")))
        .await
        .unwrap()
        .into_inner();
    let accepted = client
        .mark_accepted(as_(&ana, act(n, sent.version, "PO 4711")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&accepted), QuoteStatus::Accepted);
    // The accepted quote is a won order with its exact lines, for the ERP.
    {
        use quotecast_server::pb::{ListOrdersRequest, order_service_client::OrderServiceClient};
        let mut orders = OrderServiceClient::new(server.channel().await);
        let list = |credential: &str, product_line: &str, from: &str| {
            as_(
                credential,
                ListOrdersRequest {
                    product_line: product_line.into(),
                    accepted_from: from.into(),
                    ..Default::default()
                },
            )
        };
        let erp = key("erp");
        let won = orders
            .list_orders(list(&erp, "", ""))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(won.orders.len(), 1);
        let order = &won.orders[0];
        assert_eq!((order.order_number, order.quote_version), (n, 6));
        assert_eq!(order.account_id, "initech");
        assert_eq!(order.accepted_by, who("ana"));
        assert_eq!(
            order.priced, saved.priced,
            "the figures approved and accepted"
        );
        assert_eq!(order.quote.as_ref().unwrap().lines[0].sku, "DSP-24");
        let displays = orders
            .list_orders(list(&erp, "displays", ""))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(displays.orders.len(), 1);
        let servers = orders
            .list_orders(list(&erp, "servers", ""))
            .await
            .unwrap()
            .into_inner();
        assert!(servers.orders.is_empty());
        let future = orders
            .list_orders(list(&erp, "", "2099-01-01"))
            .await
            .unwrap()
            .into_inner();
        assert!(future.orders.is_empty());
        let elsewhere = orders
            .list_orders(list(&zed, "", ""))
            .await
            .unwrap()
            .into_inner();
        assert!(
            elsewhere.orders.is_empty(),
            "another tenant's orders are not listed"
        );
        let bad = orders
            .list_orders(list(&erp, "", "May 1"))
            .await
            .unwrap_err();
        assert_eq!(field_violations(&bad)[0].0, "accepted_from");
    }
    let closed = client
        .mark_lost(as_(&ana, act(n, accepted.version, "")))
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);
    // Each version says who did what, with the figures unchanged.
    let v4 = client.get_quote(get(&ana, 4)).await.unwrap().into_inner();
    assert_eq!(
        (v4.action.as_str(), v4.saved_by.as_str()),
        ("approve", who("val").as_str())
    );
    assert_eq!(v4.comment, "strategic account");
    assert_eq!(v4.priced, saved.priced);

    // An admin does not approve a quote it submitted itself; only the
    // submitter (or an admin) recalls; a manager approves.
    let own = client
        .save_quote(as_(&ada, quote("12")))
        .await
        .unwrap()
        .into_inner();
    let on = own.quote_number;
    client.submit(as_(&ada, act(on, 1, ""))).await.unwrap();
    let self_approval = client.approve(as_(&ada, act(on, 2, ""))).await.unwrap_err();
    assert_eq!(self_approval.code(), Code::PermissionDenied);
    let recall = client.recall(as_(&ana, act(on, 2, ""))).await.unwrap_err();
    assert_eq!(recall.code(), Code::PermissionDenied);
    let ok = client
        .approve(as_(&mia, act(on, 2, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&ok), QuoteStatus::Approved);

    // A quote that needs no approval is approved by the rules at submit.
    let plain = client
        .save_quote(as_(&ana, quote("0")))
        .await
        .unwrap()
        .into_inner();
    let auto = client
        .submit(as_(&ana, act(plain.quote_number, 1, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (status(&auto), auto.version, auto.approval_level.as_str()),
        (QuoteStatus::Approved, 3, "none")
    );
    let by_rules = client
        .get_quote(as_(
            &ana,
            quotecast_server::pb::GetQuoteRequest {
                quote_number: plain.quote_number,
                version: 3,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_rules.saved_by, "approval rules");

    // The audit log holds every action, chained, and who took it.
    let store = quotecast_store::Store::open_in(server.data.path())
        .await
        .unwrap();
    let check = store.verify_audit().await.unwrap();
    assert_eq!((check.entries, check.broken), (13, None));
    let entries = store.audit_entries(Some("acme"), 0, 100).await.unwrap();
    let trail: Vec<(&str, &str, &str)> = entries
        .iter()
        .take(7)
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.role.as_str()))
        .collect();
    let names = ["ana", "max", "val", "fay"].map(who);
    assert_eq!(
        trail,
        [
            ("save", names[0].as_str(), "rep"),
            ("submit", names[0].as_str(), "rep"),
            ("approve", names[1].as_str(), "approver"),
            ("approve", names[2].as_str(), "approver"),
            ("approve", names[3].as_str(), "approver"),
            ("send", names[0].as_str(), "rep"),
            ("accept", names[0].as_str(), "rep"),
        ]
    );
}

#[tokio::test]
async fn edits_are_approved_again_only_where_a_figure_moved_and_waiting_work_reaches_stand_ins() {
    use quotecast_server::pb::{
        DelegateRequest, ListPendingApprovalsRequest,
        approval_service_client::ApprovalServiceClient,
    };
    let (server, _dir) = start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let mut approvals = ApprovalServiceClient::new(server.channel().await);
    let [ana, mia, max, val, fay] = ["ana", "mia", "max", "val", "fay"].map(key);
    let pending_for = |credential: &str| as_(credential, ListPendingApprovalsRequest::default());

    // Round 1: the whole chain approves 22 % off.
    let n = client
        .save_quote(as_(&ana, quote("22")))
        .await
        .unwrap()
        .into_inner()
        .quote_number;
    client.submit(as_(&ana, act(n, 1, ""))).await.unwrap();
    for (version, approver) in [(2, &max), (3, &val), (4, &fay)] {
        client
            .approve(as_(approver, act(n, version, "")))
            .await
            .unwrap();
    }
    // Ana adds two laptops at 21 %: the largest rep discount is still 22 %
    // but the margin falls from 24.03 % to 23.44 %.
    let mut edit = quote_of(vec![
        discounted("DSP-24", "10", "22"),
        discounted("LT-14-PRO", "2", "21"),
    ]);
    edit.quote_number = n;
    edit.base_version = 5;
    client.save_quote(as_(&ana, edit)).await.unwrap();
    let again = client
        .submit(as_(&ana, act(n, 6, "two laptops more")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&again), QuoteStatus::PendingApproval);
    assert_eq!(
        again.carried_over,
        [format!("group:sales-managers by {}", who("max"))]
    );
    assert_eq!(
        waiting(&again),
        [
            format!("group:finance ({})", who("fay")),
            format!("group:sales-directors ({})", who("val")),
        ]
    );
    // What waits for whom.
    let for_val = approvals
        .list_pending_approvals(pending_for(&val))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(for_val.approvals.len(), 1);
    let item = &for_val.approvals[0];
    assert_eq!((item.quote_number, item.version), (n, 7));
    assert_eq!(item.seat.as_ref().unwrap().seat, "group:sales-directors");
    assert_eq!(item.on_behalf_of, who("val"));
    assert_eq!(item.submitted_by, who("ana"));
    assert!(
        approvals
            .list_pending_approvals(pending_for(&mia))
            .await
            .unwrap()
            .into_inner()
            .approvals
            .is_empty()
    );
    let rep = approvals
        .list_pending_approvals(pending_for(&ana))
        .await
        .unwrap_err();
    assert_eq!(rep.code(), Code::PermissionDenied);
    client.approve(as_(&val, act(n, 7, ""))).await.unwrap();
    let done = client
        .approve(as_(&fay, act(n, 8, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&done), QuoteStatus::Approved);
    // Back to 21 % on the display alone: every figure is better than
    // approved, so the submit is approved at once.
    let mut better = quote("21");
    better.quote_number = n;
    better.base_version = 9;
    client.save_quote(as_(&ana, better)).await.unwrap();
    let at_once = client
        .submit(as_(&ana, act(n, 10, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&at_once), QuoteStatus::Approved);
    assert_eq!(at_once.carried_over.len(), 3, "{:?}", at_once.carried_over);

    // Val is away for a week and hands her approvals to Mia; Mia may not
    // hand on someone else's.
    let week = |from: &str, to: &str| DelegateRequest {
        from: from.into(),
        to: to.into(),
        starts: "2026-05-10".into(),
        ends: "2026-05-16".into(),
    };
    let foreign = approvals
        .delegate(as_(&mia, week(&who("fay"), &who("max"))))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let nobody = approvals
        .delegate(as_(&val, week("", "nobody@acme.example")))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&nobody)[0].0, "to");
    approvals
        .delegate(as_(&val, week("", &who("mia"))))
        .await
        .unwrap();
    let m = client
        .save_quote(as_(&ana, quote("22")))
        .await
        .unwrap()
        .into_inner()
        .quote_number;
    client.submit(as_(&ana, act(m, 1, ""))).await.unwrap();
    client.approve(as_(&max, act(m, 2, ""))).await.unwrap();
    let for_mia = approvals
        .list_pending_approvals(pending_for(&mia))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(for_mia.approvals[0].on_behalf_of, who("val"));
    let stood_in = client
        .approve(as_(&mia, act(m, 3, "for Val")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        waiting(&stood_in),
        [format!("group:finance ({})", who("fay"))]
    );

    // The managers leave a 12 % quote waiting: after two days the sweep
    // lets the directors decide for them.
    let e = client
        .save_quote(as_(&ana, quote("12")))
        .await
        .unwrap()
        .into_inner()
        .quote_number;
    client.submit(as_(&ana, act(e, 1, ""))).await.unwrap();
    let store = quotecast_store::Store::open_in(server.data.path())
        .await
        .unwrap();
    let rules = quotecast_tests::example_rules();
    let today = chrono::Utc::now().date_naive();
    let soon = quotecast_server::sweep(
        &store,
        &rules,
        today + chrono::Days::new(1),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert!(soon.escalated.is_empty());
    let not_yet = client.approve(as_(&val, act(e, 2, ""))).await.unwrap_err();
    assert_eq!(not_yet.code(), Code::PermissionDenied);
    let later = quotecast_server::sweep(
        &store,
        &rules,
        today + chrono::Days::new(3),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(later.escalated, [("acme".to_owned(), e)]);
    let for_val = approvals
        .list_pending_approvals(pending_for(&val))
        .await
        .unwrap()
        .into_inner();
    let escalated = for_val
        .approvals
        .iter()
        .find(|a| a.quote_number == e)
        .unwrap();
    assert_eq!(
        (escalated.version, escalated.on_behalf_of.as_str()),
        (3, "escalated")
    );
    let decided = client
        .approve(as_(&val, act(e, 3, "managers away")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&decided), QuoteStatus::Approved);
    assert_eq!(store.verify_audit().await.unwrap().broken, None);
}

#[tokio::test]
async fn of_parallel_approvers_deciding_from_one_version_exactly_one_wins_each_round() {
    let (server, _dir) = start().await;
    let channel = server.channel().await;
    let mut client = QuoteServiceClient::new(channel.clone());
    let [ana, max, val, fay] = ["ana", "max", "val", "fay"].map(key);
    for round in 0..8 {
        let n = client
            .save_quote(as_(&ana, quote("22")))
            .await
            .unwrap()
            .into_inner()
            .quote_number;
        client.submit(as_(&ana, act(n, 1, ""))).await.unwrap();
        client.approve(as_(&max, act(n, 2, ""))).await.unwrap();
        // Finance and the director decide at once, from version 3.
        let tasks: Vec<_> = [val.clone(), fay.clone()]
            .into_iter()
            .map(|credential| {
                let mut client = QuoteServiceClient::new(channel.clone());
                tokio::spawn(async move { client.approve(as_(&credential, act(n, 3, ""))).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let won: Vec<_> = outcomes.iter().filter(|o| o.is_ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {outcomes:?}");
        let lost = outcomes.iter().find_map(|o| o.as_ref().err()).unwrap();
        assert_eq!(lost.code(), Code::Aborted, "round {round}");
        // The loser reads the current version and decides again.
        let loser = if outcomes[0].is_err() { &val } else { &fay };
        let last = client
            .approve(as_(loser, act(n, 4, "")))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status(&last), QuoteStatus::Approved, "round {round}");
    }
    let store = quotecast_store::Store::open_in(server.data.path())
        .await
        .unwrap();
    assert_eq!(store.verify_audit().await.unwrap().broken, None);
}

/// A small snapshot of two open deals, as a CRM exports it.
const SNAPSHOT: &str = "\
opportunity_id,owner,team,region,stage,stage_entered,created,expected_close,forecast_category,currency,sku,product_line,quantity,amount
O-1,ann,A,na,negotiate,2026-10-20,2026-08-01,2026-12-10,,USD,SRV-1U,servers,2,8000.00
O-2,ann,A,na,propose,2026-11-01,2026-09-01,2027-01-20,,USD,DSP-27,displays,4,2000.00
";

#[tokio::test]
async fn pipelines_inventory_and_plans_are_kept_per_tenant() {
    use quotecast_server::pb::{
        InventoryRows, ListInventoryVersionsRequest, ListPipelinesRequest, OnHand, PipelineFile,
        PlanTableRequest, PushInventoryRequest, RunPlanRequest,
        demand_service_client::DemandServiceClient, forecast_service_client::ForecastServiceClient,
    };
    let (server, dir) = start().await;
    let mut forecasts = ForecastServiceClient::new(server.channel().await);
    let mut demand = DemandServiceClient::new(server.channel().await);
    // acme's ERP stores pipeline `demo` and an inventory.
    let upload = quotecast_tests::csv_upload("demo", PipelineFile::Snapshot, SNAPSHOT.as_bytes());
    forecasts
        .upload_pipeline(as_(&key("erp"), tokio_stream::iter(upload)))
        .await
        .unwrap();
    let pushed = PushInventoryRequest {
        rows: Some(InventoryRows {
            on_hand: vec![OnHand {
                item: "SRV-1U".into(),
                quantity: "3".into(),
            }],
            receipts: vec![],
        }),
    };
    demand
        .push_inventory(as_(&key("erp"), tokio_stream::iter(vec![pushed])))
        .await
        .unwrap();
    let pipelines = |who: &str| as_(&key(who), ListPipelinesRequest {});
    let listed = forecasts.list_pipelines(pipelines("ana")).await.unwrap();
    assert_eq!(listed.get_ref().pipelines.len(), 1, "{listed:?}");
    let versions = |who: &str| as_(&key(who), ListInventoryVersionsRequest {});
    let acme = demand
        .list_inventory_versions(versions("ana"))
        .await
        .unwrap();
    assert_eq!(acme.get_ref().versions.len(), 1);
    let plan_of = |who: &str| {
        as_(
            &key(who),
            RunPlanRequest {
                pipeline: "demo".into(),
                as_of: "2026-11-20".into(),
                horizon: 13,
                trials: 50,
                seed: 1,
                ..RunPlanRequest::default()
            },
        )
    };
    let plan = demand.run_plan(plan_of("ana")).await.unwrap().into_inner();
    assert_eq!(plan.inventory_version, acme.get_ref().versions[0].version);

    // globex sees none of it: no pipeline, no inventory, and acme's plan
    // and pipeline are not found rather than shown.
    let listed = forecasts.list_pipelines(pipelines("zed")).await.unwrap();
    assert!(listed.get_ref().pipelines.is_empty(), "{listed:?}");
    let globex = demand
        .list_inventory_versions(versions("zed"))
        .await
        .unwrap();
    assert!(globex.get_ref().versions.is_empty(), "{globex:?}");
    let refused = demand.run_plan(plan_of("zed")).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    let tables = as_(
        &key("zed"),
        PlanTableRequest {
            plan_id: plan.plan_id.clone(),
        },
    );
    let refused = demand.planned_orders(tables).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    // acme's own caller reads its plan; its files are under its tenant.
    let tables = as_(
        &key("ana"),
        PlanTableRequest {
            plan_id: plan.plan_id,
        },
    );
    demand.planned_orders(tables).await.unwrap();
    let data = server.data.path();
    assert!(data.join("tenants/acme/pipelines/demo").is_dir());
    assert!(!data.join("pipelines/demo").exists());
    // A tenant names a directory: an auth file with any other name is
    // refused at load, by line.
    let auth = dir.path().join("tenants.toml");
    std::fs::write(
        &auth,
        "[[principal]]\nname = \"ana\"\ntenant = \"../acme\"\nrole = \"rep\"\n",
    )
    .unwrap();
    let Err(refused) = LiveAuth::from_file(&auth, &quotecast_tests::example_rules()) else {
        panic!("a tenant named `../acme` was accepted");
    };
    let refused = refused.to_string();
    assert!(
        refused.contains("tenants.toml:3") && refused.contains("`../acme` is not a tenant name"),
        "{refused}"
    );
}

/// SIGHUP's reload of the callers: a key revoked in the auth file stops
/// working and a new one starts, without a restart; a file with a mistake
/// is refused with its line and the callers in service stay.
#[tokio::test]
async fn callers_are_reloaded_from_the_auth_file_and_a_broken_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_auth(dir.path());
    let mut kept = None;
    let server = TestServer::start_with_state(
        |_| {},
        |s| {
            let s = AppState {
                auth: Arc::new(LiveAuth::from_file(&path, &s.rules).unwrap()),
                ..s
            };
            kept = Some(s.clone());
            s
        },
    )
    .await;
    let state = kept.unwrap();
    let mut client = QuoteServiceClient::new(server.channel().await);
    let mut price = async |api_key: &str| {
        let mut request = Request::new(PriceQuoteRequest {
            currency_code: "USD".into(),
            lines: vec![pb_line("LT-14-PRO", "1")],
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("x-api-key", api_key.parse().unwrap());
        client.price_quote(request).await.map(|_| ())
    };
    let new_key = "qc_test_key_of_the_new_rep";
    assert_eq!(
        price(new_key).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    price(&key("ana")).await.unwrap();

    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&key_hash(&key("ana")), &key_hash(new_key));
    std::fs::write(&path, &text).unwrap();
    assert!(reload_callers(&state).await.unwrap(), "the file was read");
    price(new_key).await.unwrap();
    assert_eq!(
        price(&key("ana")).await.unwrap_err().code(),
        Code::Unauthenticated,
        "a revoked key stops working"
    );

    let broken =
        format!("{text}\n[[principal]]\nname = \"x\"\ntenant = \"acme\"\nrole = \"boss\"\n");
    std::fs::write(&path, broken).unwrap();
    let refused = reload_callers(&state).await.unwrap_err().to_string();
    assert!(
        refused.contains("auth.toml:") && refused.contains("role `boss`"),
        "{refused}"
    );
    price(new_key).await.unwrap();
    server.stop().await;
}
