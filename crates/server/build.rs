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
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::StrictCodec")
        .compile_fds(descriptors)
        .map_err(|e: io::Error| -> Box<dyn std::error::Error> { Box::new(e) })?;
    Ok(())
}
