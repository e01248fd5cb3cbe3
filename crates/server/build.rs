//! Compiles `proto/quotecast/v1/*.proto` with protox (pure Rust; no system
//! protoc) and generates tonic clients and servers. The encoded descriptor
//! set is written next to the generated code for gRPC server reflection.
use std::{env, fs, io, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "quotecast/v1/money.proto",
    "quotecast/v1/catalog.proto",
    "quotecast/v1/quote.proto",
    "quotecast/v1/approval.proto",
    "quotecast/v1/order.proto",
    "quotecast/v1/configurator.proto",
    "quotecast/v1/forecast.proto",
    "quotecast/v1/demand.proto",
    "quotecast/v1/server.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }
    let descriptors = protox::compile(PROTOS, [&root])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("quotecast_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    git_revision();
    let mut builder = tonic_prost_build::configure();
    for (alias, shape) in shared_shapes() {
        same_fields(&descriptors, &alias, shape)?;
        builder = builder.extern_path(
            format!(".quotecast.v1.{alias}"),
            format!("crate::pb::{shape}"),
        );
    }
    builder
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::StrictCodec")
        .compile_fds(descriptors)
        .map_err(|e: io::Error| -> Box<dyn std::error::Error> { Box::new(e) })?;
    Ok(())
}

/// RPC messages that repeat a shared message's fields (each RPC has its
/// own request and response messages, as API style wants), paired with the
/// shared message: the Rust code reads and writes them all as the shared
/// one, so the server has one type per shape.
fn shared_shapes() -> Vec<(String, &'static str)> {
    let mut pairs = Vec::new();
    let actions = [
        "Submit",
        "Recall",
        "Approve",
        "Reject",
        "MarkSent",
        "MarkAccepted",
        "MarkLost",
    ];
    for action in actions {
        pairs.push((format!("{action}Request"), "QuoteActionRequest"));
        pairs.push((format!("{action}Response"), "QuoteActionResponse"));
    }
    for table in [
        "ComponentDemand",
        "PlannedOrders",
        "Capacity",
        "SafetyStock",
        "Cash",
    ] {
        pairs.push((format!("{table}Request"), "PlanTableRequest"));
        pairs.push((format!("{table}Response"), "PlanTableResponse"));
    }
    pairs.push(("PushReceiptsRequest".to_owned(), "PushInventoryRequest"));
    pairs.push(("PushReceiptsResponse".to_owned(), "PushInventoryResponse"));
    pairs.push(("SaveQuoteResponse".to_owned(), "StoredQuote"));
    pairs.push(("GetQuoteResponse".to_owned(), "StoredQuote"));
    pairs
}

/// Refuses the build when `alias` does not have exactly `shape`'s fields
/// (names, numbers, types, labels, JSON names, oneofs): decoding one as
/// the other would then lose or misread data.
fn same_fields(
    descriptors: &prost_types::FileDescriptorSet,
    alias: &str,
    shape: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let find = |name: &str| {
        descriptors
            .file
            .iter()
            .filter(|f| f.package() == "quotecast.v1")
            .flat_map(|f| &f.message_type)
            .find(|m| m.name() == name)
            .ok_or_else(|| format!("proto: message {name} is missing"))
    };
    let (a, s) = (find(alias)?, find(shape)?);
    let fields = |m: &prost_types::DescriptorProto| {
        m.field
            .iter()
            .map(|f| {
                (
                    f.name().to_owned(),
                    f.number(),
                    f.label,
                    f.r#type,
                    f.type_name().to_owned(),
                    f.json_name().to_owned(),
                    f.oneof_index,
                    f.proto3_optional,
                )
            })
            .collect::<Vec<_>>()
    };
    let oneofs = |m: &prost_types::DescriptorProto| {
        m.oneof_decl
            .iter()
            .map(|o| o.name().to_owned())
            .collect::<Vec<_>>()
    };
    if fields(a) != fields(s)
        || oneofs(a) != oneofs(s)
        || !a.nested_type.is_empty()
        || !a.enum_type.is_empty()
    {
        return Err(format!(
            "proto: {alias} must have exactly {shape}'s fields (the server reads it as {shape})"
        )
        .into());
    }
    Ok(())
}

/// The commit being built, for `GetServerInfo`: `QUOTECAST_GIT_REVISION`
/// when set (a container build without `.git`), else git's answer, else
/// "unknown".
fn git_revision() {
    println!("cargo:rerun-if-env-changed=QUOTECAST_GIT_REVISION");
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../..");
    for watched in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        let path = root.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let revision = env::var("QUOTECAST_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| {
            std::process::Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .current_dir(&root)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|r| r.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=QUOTECAST_GIT_REVISION={revision}");
}
