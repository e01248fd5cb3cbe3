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
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::StrictCodec")
        .compile_fds(descriptors)
        .map_err(|e: io::Error| -> Box<dyn std::error::Error> { Box::new(e) })?;
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
