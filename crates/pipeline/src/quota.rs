//! How much an upload may store: per file, per pipeline (all its files)
//! and per data directory (everything under it: pipelines, inventory
//! versions, plans). An upload learns its allowance when it starts, from
//! what is stored then less the file it would replace, and is refused the
//! moment it would go over it, before anything stored is touched.
use std::path::Path;

use crate::PipelineError;

/// The byte limits of what the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// One uploaded file.
    pub file_bytes: u64,
    /// All files of one pipeline (snapshot and history).
    pub pipeline_bytes: u64,
    /// Everything under the data directory.
    pub data_bytes: u64,
}

impl Default for Quotas {
    /// 8 GiB a file, 32 GiB a pipeline, 256 GiB the data directory.
    fn default() -> Self {
        Quotas {
            file_bytes: 8 << 30,
            pipeline_bytes: 32 << 30,
            data_bytes: 256 << 30,
        }
    }
}

/// Which limit an upload ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    File,
    Pipeline,
    Data,
}

impl QuotaKind {
    /// The setting that raises it.
    pub fn setting(self) -> &'static str {
        match self {
            QuotaKind::File => "max_upload_bytes",
            QuotaKind::Pipeline => "max_pipeline_bytes",
            QuotaKind::Data => "max_data_bytes",
        }
    }

    fn what(self) -> &'static str {
        match self {
            QuotaKind::File => "one uploaded file",
            QuotaKind::Pipeline => "a pipeline's files together",
            QuotaKind::Data => "the data directory",
        }
    }
}

/// How many more bytes an upload may write, and which limit that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Allowance {
    pub bytes: u64,
    pub kind: QuotaKind,
    pub limit: u64,
}

impl Allowance {
    /// The allowance of a file under `quotas`, when its pipeline holds
    /// `pipeline_others` bytes besides the file it replaces and the data
    /// directory `data_others`.
    pub fn new(quotas: &Quotas, pipeline_others: u64, data_others: u64) -> Self {
        [
            (QuotaKind::File, quotas.file_bytes, 0),
            (QuotaKind::Pipeline, quotas.pipeline_bytes, pipeline_others),
            (QuotaKind::Data, quotas.data_bytes, data_others),
        ]
        .into_iter()
        .map(|(kind, limit, used)| Allowance {
            bytes: limit.saturating_sub(used),
            kind,
            limit,
        })
        .min_by_key(|a| a.bytes)
        .unwrap_or(Allowance {
            bytes: quotas.file_bytes,
            kind: QuotaKind::File,
            limit: quotas.file_bytes,
        })
    }

    /// Refuses `total` bytes when they are more than allowed.
    pub fn check(&self, total: u64) -> Result<(), PipelineError> {
        if total <= self.bytes {
            return Ok(());
        }
        let used = self.limit - self.bytes;
        Err(PipelineError::OverQuota {
            kind: self.kind,
            message: match self.kind {
                QuotaKind::File => format!(
                    "{} may hold at most {} ({})",
                    self.kind.what(),
                    shown(self.limit),
                    self.kind.setting()
                ),
                _ => format!(
                    "{} may hold at most {} ({}); {} of it is used by other files, so this upload may hold {}",
                    self.kind.what(),
                    shown(self.limit),
                    self.kind.setting(),
                    shown(used),
                    shown(self.bytes)
                ),
            },
        })
    }
}

/// The bytes of every file under `dir` (0 when it does not exist), not
/// following links; `except` files are left out.
pub(crate) fn bytes_under(dir: &Path, except: &[&Path]) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => bytes_under(&path, except),
                Ok(t) if t.is_file() && !except.contains(&path.as_path()) => {
                    entry.metadata().map_or(0, |m| m.len())
                }
                _ => 0,
            }
        })
        .sum()
}

/// A size as people write it: `1048576`, `512MiB`, `8GiB`, `2TB`, `1.5GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_bytes: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "tib" | "t" => 1 << 40,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{}` (bytes, or KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
                unit.trim()
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (such as 500MiB or 8GiB)"))?;
    let bytes = value * unit_bytes as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(format!(
            "`{text}`: a size must be at least 1 byte and below 16 EiB"
        ));
    }
    Ok(bytes as u64)
}

/// `bytes` for people: `8 GiB`, `512 MiB`, `1234 bytes`.
pub fn shown(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            let value = bytes as f64 / size as f64;
            return if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{value:.1} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_as_people_write_them() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("8 GiB"), Ok(8 << 30));
        assert_eq!(parse_size("2TB"), Ok(2_000_000_000_000));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert!(parse_size("8 GiBs").unwrap_err().contains("unknown unit"));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("99999999TiB").is_err());
    }

    #[test]
    fn the_tightest_limit_sets_the_allowance_and_names_itself() {
        let quotas = Quotas {
            file_bytes: 100,
            pipeline_bytes: 150,
            data_bytes: 1_000,
        };
        let a = Allowance::new(&quotas, 80, 500);
        assert_eq!((a.bytes, a.kind), (70, QuotaKind::Pipeline));
        assert!(a.check(70).is_ok());
        let refused = a.check(71).unwrap_err().to_string();
        assert!(refused.contains("max_pipeline_bytes"), "{refused}");
        assert!(
            refused.contains("this upload may hold 70 bytes"),
            "{refused}"
        );
        let full = Allowance::new(&quotas, 0, 1_200);
        assert_eq!((full.bytes, full.kind), (0, QuotaKind::Data));
        assert_eq!(Allowance::new(&quotas, 0, 0).kind, QuotaKind::File);
    }
}
