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
    auth::{Authenticator, Role, key_hash},
    auth_layer::PERMISSIONS,
    pb::{
        ManualDiscount, PriceQuoteRequest, QuoteActionRequest, QuoteActionResponse, QuoteStatus,
        SaveQuoteRequest, manual_discount, quote_service_client::QuoteServiceClient,
    },
};
use quotecast_tests::{TestServer, field_violations, pb_line, rules_dir};
use tonic::{Code, Request, Status, metadata::MetadataValue, transport::Channel};

const SECRET: &str = "a shared secret of the test CRM, 32+ bytes long";

/// The API key of each principal of the test's auth file.
fn key(name: &str) -> String {
    format!("qc_test_key_of_{name}")
}

/// An auth file: reps, approvers with limits, an admin, a service, a rep
/// of another tenant, and two token issuers.
fn write_auth(dir: &Path) -> std::path::PathBuf {
    let principals = [
        ("ana", "acme", "rep", None),
        ("ben", "acme", "rep", None),
        ("mia", "acme", "approver", Some("manager")),
        ("val", "acme", "approver", Some("vp")),
        ("ada", "acme", "admin", Some("vp")),
        ("erp", "acme", "service", None),
        ("zed", "globex", "rep", None),
    ];
    let mut text = String::from("# the test's callers\n");
    for (name, tenant, role, limit) in principals {
        text += &format!(
            "\n[[principal]]\nname = \"{name}\"\ntenant = \"{tenant}\"\nrole = \"{role}\"\n\
             api_key_blake3 = [\"{}\"]\n",
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
            auth: Arc::new(Authenticator::load(&path, &s.rules).unwrap()),
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
        "sub": sub,
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

/// DSP-24 × 10 at `discount` % off: 0 needs no approval, 12 a manager,
/// 22 a director (rules/approvals.toml).
fn quote(discount: &str) -> SaveQuoteRequest {
    let mut line = pb_line("DSP-24", "10");
    line.discount = Some(ManualDiscount {
        kind: Some(manual_discount::Kind::Percent(discount.into())),
    });
    SaveQuoteRequest {
        quote_number: 0,
        base_version: 0,
        quote: Some(PriceQuoteRequest {
            currency_code: "USD".into(),
            price_date: "2026-03-02".into(),
            account_id: "initech".into(),
            lines: vec![line],
            ..Default::default()
        }),
        valid_until: String::new(),
    }
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
    assert_eq!(saved.saved_by, "ana");
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
async fn a_quote_moves_from_draft_to_accepted_with_approvals_only_from_who_may_give_them() {
    let (server, _dir) = start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let (ana, mia, val, ada, zed) = (key("ana"), key("mia"), key("val"), key("ada"), key("zed"));

    // Ana saves a quote that needs a director.
    let saved = client
        .save_quote(as_(&ana, quote("22")))
        .await
        .unwrap()
        .into_inner();
    let n = saved.quote_number;
    assert_eq!(saved.saved_by, "ana");
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
    // A rep cannot approve; a manager's limit is too low; another tenant
    // does not see the quote; a rejection needs its reason.
    let rep = client
        .approve(as_(&key("ben"), act(n, 2, "")))
        .await
        .unwrap_err();
    assert_eq!(rep.code(), Code::PermissionDenied);
    let low = client
        .approve(as_(&mia, act(n, 2, "ok")))
        .await
        .unwrap_err();
    assert_eq!(low.code(), Code::PermissionDenied);
    assert!(low.message().contains("director"), "{}", low.message());
    let stranger = client.submit(as_(&zed, act(n, 2, ""))).await.unwrap_err();
    assert_eq!(stranger.code(), Code::NotFound);
    let silent = client.reject(as_(&val, act(n, 2, " "))).await.unwrap_err();
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
    // The VP approves; a second approval from the same version is stale.
    let approved = client
        .approve(as_(&val, act(n, 2, "strategic account")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&approved), QuoteStatus::Approved);
    let again = client
        .approve(as_(&ada, act(n, 2, "me too")))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Aborted, "{again:?}");
    // Sent, accepted; then nothing more.
    let sent = client
        .mark_sent(as_(&ana, act(n, 3, "")))
        .await
        .unwrap()
        .into_inner();
    let accepted = client
        .mark_accepted(as_(&ana, act(n, sent.version, "PO 4711")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(&accepted), QuoteStatus::Accepted);
    let closed = client
        .mark_lost(as_(&ana, act(n, accepted.version, "")))
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);
    // Each version says who did what, with the figures unchanged.
    let v3 = client.get_quote(get(&ana, 3)).await.unwrap().into_inner();
    assert_eq!(
        (v3.action.as_str(), v3.saved_by.as_str()),
        ("approve", "val")
    );
    assert_eq!(v3.comment, "strategic account");
    assert_eq!(v3.priced, saved.priced);

    // An admin does not approve a quote it submitted itself.
    let own = client
        .save_quote(as_(&ada, quote("12")))
        .await
        .unwrap()
        .into_inner();
    client
        .submit(as_(&ada, act(own.quote_number, 1, "")))
        .await
        .unwrap();
    let self_approval = client
        .approve(as_(&ada, act(own.quote_number, 2, "")))
        .await
        .unwrap_err();
    assert_eq!(self_approval.code(), Code::PermissionDenied);
    // Only the submitter (or an admin) recalls it; the manager approves.
    let recall = client
        .recall(as_(&ana, act(own.quote_number, 2, "")))
        .await
        .unwrap_err();
    assert_eq!(recall.code(), Code::PermissionDenied);
    let ok = client
        .approve(as_(&mia, act(own.quote_number, 2, "")))
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
    assert_eq!((check.entries, check.broken), (11, None));
    let entries = store.audit_entries(Some("acme"), 0, 100).await.unwrap();
    let trail: Vec<(&str, &str, &str)> = entries
        .iter()
        .take(5)
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.role.as_str()))
        .collect();
    assert_eq!(
        trail,
        [
            ("save", "ana", "rep"),
            ("submit", "ana", "rep"),
            ("approve", "val", "approver"),
            ("send", "ana", "rep"),
            ("accept", "ana", "rep"),
        ]
    );
}
