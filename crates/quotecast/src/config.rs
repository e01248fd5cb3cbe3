//! Service settings: flags win over environment variables, which win over
//! the config file, which wins over the defaults.
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

pub const DEFAULT_ADDR: &str = "127.0.0.1:50051";
pub const DEFAULT_RULES: &str = "rules";
pub const DEFAULT_DATA: &str = "data";

/// The optional config file (TOML).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub addr: Option<String>,
    pub metrics_addr: Option<String>,
    pub otlp_endpoint: Option<String>,
    pub cors_origins: Option<Vec<String>>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    pub rules: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub database: Option<String>,
    pub auth: Option<PathBuf>,
    pub sweep_every: Option<u64>,
    pub log_format: Option<String>,
    pub forecast_jobs: Option<usize>,
    pub shutdown_grace: Option<u64>,
    pub max_upload_bytes: Option<Size>,
    pub max_pipeline_bytes: Option<Size>,
    pub max_data_bytes: Option<Size>,
    pub max_trial_memory: Option<Size>,
}

/// A size in the config file: bytes, or text such as `"8GiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Written;
        impl serde::de::Visitor<'_> for Written {
            type Value = Size;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a size: bytes, or text such as \"8GiB\"")
            }

            fn visit_i64<E: serde::de::Error>(self, bytes: i64) -> Result<Size, E> {
                match u64::try_from(bytes) {
                    Ok(b) if b > 0 => Ok(Size(b)),
                    _ => Err(E::custom(format!(
                        "{bytes}: a size must be at least 1 byte"
                    ))),
                }
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Size, E> {
                quotecast_pipeline::quota::parse_size(text)
                    .map(Size)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(Written)
    }
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1)
                .unwrap_or(0);
            anyhow::anyhow!("{}:{line}: {}", path.display(), e.message().trim())
        })
    }
}

/// The rule set shipped inside the binary (the repository's `rules/`).
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));
}

/// Where the rules come from.
#[derive(Debug, Clone)]
pub enum RulesSource {
    Dir(PathBuf),
    Embedded,
}

impl RulesSource {
    /// `dir` if given; else `./rules` if it exists; else the embedded
    /// example rules.
    pub fn choose(explicit: Option<PathBuf>) -> Self {
        match explicit {
            Some(dir) => Self::Dir(dir),
            None if Path::new(DEFAULT_RULES).is_dir() => Self::Dir(DEFAULT_RULES.into()),
            None => Self::Embedded,
        }
    }

    pub fn load(
        &self,
    ) -> Result<(quotecast_model::RuleSet, quotecast_rules::LoadSummary), quotecast_rules::RulesError>
    {
        self.load_with(&quotecast_rules::Fresh)
            .map(|loaded| (loaded.rules, loaded.summary))
    }

    /// The rules with every configuration model compiled by `models`.
    pub fn load_with(
        &self,
        models: &dyn quotecast_rules::ModelCompiler,
    ) -> Result<quotecast_rules::Loaded, quotecast_rules::RulesError> {
        match self {
            Self::Dir(dir) => quotecast_rules::load_dir_with(dir, models),
            Self::Embedded => {
                let sources: Vec<quotecast_rules::Source> = embedded::EMBEDDED_RULES
                    .iter()
                    .filter(|(path, _)| !path.starts_with("tests/"))
                    .map(|(path, text)| quotecast_rules::Source {
                        path: PathBuf::from("<embedded>/rules").join(path),
                        text: (*text).to_owned(),
                    })
                    .collect();
                quotecast_rules::compile_sources_with(&sources, models)
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Dir(dir) => dir.display().to_string(),
            Self::Embedded => "embedded example rules".to_owned(),
        }
    }
}
