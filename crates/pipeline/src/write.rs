//! Writing tables as Parquet or CSV, chosen by the file's extension, in
//! batches so that a 10-million-opportunity pipeline never has to sit in
//! memory whole.
use std::{fs::File, path::Path, path::PathBuf};

use polars::prelude::*;

use crate::PipelineError;

/// Parquet row groups are cut at about this many rows: large enough for
/// fast scans, small enough to bound the writer's memory.
const ROW_GROUP_ROWS: usize = 512 * 1024;

/// The two file formats, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Parquet,
    Csv,
}

impl FileFormat {
    /// The format a file name's extension says, in any case: `.parquet`,
    /// or `.csv`, `.tsv` and `.txt` (a spreadsheet's "text, tab
    /// delimited") for CSV, whose separator is read from the file.
    pub fn of(path: &Path) -> Result<FileFormat, PipelineError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("parquet") => Ok(FileFormat::Parquet),
            Some("csv" | "tsv" | "txt") => Ok(FileFormat::Csv),
            _ => Err(PipelineError::Format {
                path: path.to_path_buf(),
                message: "the file name must end in .parquet, or .csv, .tsv or .txt (a spreadsheet, .xlsx, .xls or .ods, is read but not written)".into(),
            }),
        }
    }
}

/// The separator written to a CSV file: a tab in a `.tsv` or `.txt` file.
fn separator(path: &Path) -> u8 {
    let tabbed = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv") || e.eq_ignore_ascii_case("txt"));
    if tabbed { b'\t' } else { b',' }
}

enum Inner {
    Parquet(Box<polars::io::parquet::write::BatchedWriter<File>>),
    Csv(polars::io::csv::write::BatchedWriter<File>),
}

/// Writes one table batch by batch.
pub struct TableWriter {
    path: PathBuf,
    inner: Option<Inner>,
    format: FileFormat,
    /// Batches waiting to fill a row group.
    pending: Option<DataFrame>,
    rows: u64,
}

impl TableWriter {
    pub fn create(path: &Path) -> Result<TableWriter, PipelineError> {
        let format = FileFormat::of(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| PipelineError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(TableWriter {
            path: path.to_path_buf(),
            inner: None,
            format,
            pending: None,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &DataFrame) -> Result<(), PipelineError> {
        self.rows += batch.height() as u64;
        match &mut self.pending {
            Some(p) => {
                p.vstack_mut(batch)?;
            }
            None => self.pending = Some(batch.clone()),
        }
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.height() >= ROW_GROUP_ROWS)
        {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), PipelineError> {
        let Some(mut frame) = self.pending.take() else {
            return Ok(());
        };
        frame.rechunk_mut();
        if self.inner.is_none() {
            let file = File::create(&self.path).map_err(|source| PipelineError::Io {
                path: self.path.clone(),
                source,
            })?;
            let schema = frame.schema();
            self.inner = Some(match self.format {
                FileFormat::Parquet => {
                    Inner::Parquet(Box::new(ParquetWriter::new(file).batched(schema)?))
                }
                FileFormat::Csv => Inner::Csv(
                    CsvWriter::new(file)
                        .with_separator(separator(&self.path))
                        .batched(schema)?,
                ),
            });
        }
        match &mut self.inner {
            Some(Inner::Parquet(w)) => w.write_batch(&frame)?,
            Some(Inner::Csv(w)) => w.write_batch(&frame)?,
            None => {}
        }
        Ok(())
    }

    /// Writes what is pending and closes the file; returns the rows written.
    pub fn finish(mut self, empty_schema: Option<&DataFrame>) -> Result<u64, PipelineError> {
        if self.pending.is_none() && self.inner.is_none() {
            // Nothing was written: still leave a file with the columns.
            self.pending = empty_schema.map(|f| f.clear());
        }
        self.flush()?;
        match &mut self.inner {
            Some(Inner::Parquet(w)) => {
                w.finish()?;
            }
            Some(Inner::Csv(w)) => w.finish()?,
            None => {}
        }
        Ok(self.rows)
    }
}

/// Writes a whole table at once.
pub fn write_table(path: &Path, frame: &DataFrame) -> Result<u64, PipelineError> {
    let mut writer = TableWriter::create(path)?;
    writer.write(frame)?;
    writer.finish(Some(frame))
}
