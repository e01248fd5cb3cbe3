//! The configurator over gRPC: a golden click-by-click session on the
//! example SRV-2U server (every expectation derived from
//! rules/configuration/servers.toml), and bad requests.
#![allow(clippy::unwrap_used)]

use quotecast_server::pb::{
    ConfigureRequest, ConfigureResponse, OptionChoice, OptionState, OptionStatus,
    configurator_service_client::ConfiguratorServiceClient,
};
use quotecast_tests::TestServer;
use tonic::Code;
use tonic_types::StatusExt;

fn pick(sku: &str, quantity: u32) -> OptionChoice {
    OptionChoice {
        sku: sku.into(),
        quantity,
    }
}

fn click(choices: &[(&str, u32)]) -> ConfigureRequest {
    ConfigureRequest {
        product_sku: "SRV-2U".into(),
        choices: choices.iter().map(|(s, q)| pick(s, *q)).collect(),
        skip_explanations: false,
        explain_skus: vec![],
    }
}

fn option<'r>(state: &'r ConfigureResponse, sku: &str) -> &'r OptionState {
    state.options.iter().find(|o| o.sku == sku).unwrap()
}

fn status(state: &ConfigureResponse, sku: &str) -> OptionStatus {
    OptionStatus::try_from(option(state, sku).status).unwrap()
}

fn rules_of(state: &ConfigureResponse, sku: &str) -> Vec<String> {
    let why = option(state, sku).explanation.as_ref().unwrap();
    why.rules.iter().map(|r| r.rule_id.clone()).collect()
}

#[tokio::test]
async fn a_session_of_clicks_on_the_example_server() {
    let server = TestServer::start().await;
    let mut client = ConfiguratorServiceClient::new(server.channel().await);
    let clicks = vec![
        click(&[("SRV-CPU-64C", 1)]),
        click(&[("SRV-CPU-64C", 1), ("SRV-GPU-L4", 2)]),
        click(&[("SRV-CPU-64C", 1), ("SRV-GPU-L4", 2), ("SRV-HDD-8T", 1)]),
        click(&[("SRV-CPU-64C", 1), ("SRV-GPU-L4", 2), ("SRV-MEM-128", 8)]),
    ];
    let mut answers = client
        .configure_session(tokio_stream::iter(clicks.into_iter().map(Into::into)))
        .await
        .unwrap()
        .into_inner();
    let mut states = Vec::new();
    while let Some(state) = answers.message().await.unwrap() {
        states.push(ConfigureResponse::from(state));
    }
    assert_eq!(states.len(), 4);

    // 1. A 64-core CPU fits only the SP6 board (srv2u-cpu-board): SP5 is
    // excluded, SP6 added. The 32-core still fits SP6 as a second CPU; the
    // 16-core fits only SP5. Defaults fill memory (4 × 32 GB), drives
    // (2 × 960 GB) and power (2 × 1100 W, no GPU): 110 + 360 + 4 × 6 +
    // 2 × 8 = 510 W of 2200 W, so the proposal is complete.
    let s = &states[0];
    assert!(s.valid && s.complete);
    assert_eq!(status(s, "SRV-BRD-SP5"), OptionStatus::Excluded);
    assert_eq!(rules_of(s, "SRV-BRD-SP5"), ["srv2u-cpu-board"]);
    assert_eq!(status(s, "SRV-BRD-SP6"), OptionStatus::Added);
    assert_eq!(option(s, "SRV-CPU-32C").quantities, [0, 1]);
    assert_eq!(status(s, "SRV-CPU-16C"), OptionStatus::Excluded);
    assert_eq!(
        option(s, "SRV-MEM-32").default_rule_id,
        "srv2u-default-memory"
    );
    assert_eq!(option(s, "SRV-MEM-32").quantity, 4);
    assert_eq!(option(s, "SRV-PSU-1100").quantity, 2);
    // 16 DIMM slots on SP6, all memory one speed: up to 16 of any one size.
    assert_eq!(option(s, "SRV-MEM-128").quantities.last(), Some(&16));

    // 2. Two GPUs: each needs a riser (srv2u-gpu-riser), so 2 risers are
    // added; HDDs are excluded (srv2u-hdd-airflow); an 800 W supply can
    // only be the second one (srv2u-gpu-power); the GPU default proposes
    // 2 × 1600 W.
    let s = &states[1];
    assert!(s.valid && s.complete);
    assert_eq!(status(s, "SRV-RISER-X16"), OptionStatus::Added);
    assert_eq!(option(s, "SRV-RISER-X16").quantity, 2);
    assert_eq!(rules_of(s, "SRV-RISER-X16"), ["srv2u-gpu-riser"]);
    assert_eq!(status(s, "SRV-HDD-8T"), OptionStatus::Excluded);
    assert_eq!(rules_of(s, "SRV-HDD-8T"), ["srv2u-hdd-airflow"]);
    assert_eq!(option(s, "SRV-PSU-800").quantities, [0, 1]);
    assert_eq!(option(s, "SRV-PSU-1600").default_rule_id, "srv2u-gpu-psu");
    assert_eq!(option(s, "SRV-PSU-1600").quantity, 2);
    assert_eq!(option(s, "SRV-PSU-1100").quantity, 0);

    // 3. Insisting on an HDD: the conflict is exactly the HDD, the GPUs
    // and the airflow rule; dropping either choice repairs it; the HDD,
    // chosen last, is set aside.
    let s = &states[2];
    assert!(!s.valid && !s.complete);
    let conflict = s.conflict.as_ref().unwrap();
    let why = conflict.explanation.as_ref().unwrap();
    assert_eq!(why.choices, [pick("SRV-GPU-L4", 2), pick("SRV-HDD-8T", 1)]);
    let rules: Vec<&str> = why.rules.iter().map(|r| r.rule_id.as_str()).collect();
    assert_eq!(rules, ["srv2u-hdd-airflow"]);
    let repairs: Vec<Vec<OptionChoice>> = conflict.repairs.iter().map(|r| r.drop.clone()).collect();
    assert_eq!(
        repairs,
        [vec![pick("SRV-GPU-L4", 2)], vec![pick("SRV-HDD-8T", 1)]]
    );
    assert_eq!(conflict.set_aside, [pick("SRV-HDD-8T", 1)]);

    // 4. Eight 128 GB modules (5600) exclude the 4800 modules
    // (srv2u-memory-speed); the memory default no longer applies.
    let s = &states[3];
    assert!(s.valid && s.complete);
    assert_eq!(status(s, "SRV-MEM-32"), OptionStatus::Excluded);
    assert_eq!(rules_of(s, "SRV-MEM-32"), ["srv2u-memory-speed"]);
    assert_eq!(option(s, "SRV-MEM-32").quantity, 0);
    assert!(!s.groups.iter().any(|g| g.missing));
}

#[tokio::test]
async fn bad_configure_requests_name_the_field() {
    let server = TestServer::start().await;
    let mut client = ConfiguratorServiceClient::new(server.channel().await);
    let violations = |status: tonic::Status| -> Vec<String> {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect()
    };
    let bad = click(&[
        ("SRV-CPU-64C", 3),
        ("SRV-NOPE", 1),
        ("SRV-GPU-L4", 1),
        ("SRV-GPU-L4", 2),
    ]);
    let status = client.configure(bad).await.unwrap_err();
    assert_eq!(
        violations(status),
        ["choices[0].quantity", "choices[1].sku", "choices[3].sku"]
    );
    let mut empty = click(&[]);
    empty.product_sku = String::new();
    assert_eq!(
        violations(client.configure(empty).await.unwrap_err()),
        ["product_sku"]
    );
    let mut unknown = click(&[]);
    unknown.product_sku = "SRV-1U".into();
    let status = client.configure(unknown).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}
