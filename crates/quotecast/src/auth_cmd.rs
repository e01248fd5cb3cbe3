//! `quotecast auth new-key`: a fresh API key, and the line the auth file
//! keeps of it (its hash: the key itself is never stored).
use std::{io::Write, process::ExitCode};

use anyhow::Context;

/// Random bytes in a key: 256 bits.
const KEY_BYTES: usize = 32;

pub fn new_key() -> anyhow::Result<ExitCode> {
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = format!(
        "qc_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let hash = quotecast_server::auth::key_hash(&key);
    let mut out = std::io::stdout();
    writeln!(
        out,
        "API key (give it to the caller; it is not kept): {key}"
    )
    .context("cannot write the key")?;
    writeln!(
        out,
        "for the principal in the auth file:\napi_key_blake3 = [\"{hash}\"]"
    )?;
    Ok(ExitCode::SUCCESS)
}
