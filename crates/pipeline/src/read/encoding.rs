//! CSV files not written in UTF-8: Excel's "Unicode Text" (UTF-16 with a
//! byte order mark, tab-separated) and exports in Windows-1252 (Latin-1
//! with the Windows additions such as `€`; what Excel and older CRM
//! exports write in Western Europe). Either is decoded whole into UTF-8
//! before it is read; a UTF-8 file, the usual case, is only checked, in
//! pieces, and read from disk as it is.
use std::{fs::File, io::Read, path::Path};

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};

use crate::PipelineError;

/// A file's text decoded into UTF-8, and the note that says how.
pub(crate) struct Transcoded {
    pub text: Vec<u8>,
    pub note: String,
}

/// The largest file decoded in memory: beyond it a file not in UTF-8 is
/// refused (an upload's check stays within bounded memory).
pub(crate) const DECODED_AT_MOST: u64 = 512 << 20;

/// The file at `path` in UTF-8 when it is written otherwise: UTF-16 when
/// it starts with that byte order mark, else Windows-1252 when its bytes
/// are not UTF-8. None for a UTF-8 file.
pub(crate) fn transcoded(path: &Path) -> Result<Option<Transcoded>, PipelineError> {
    transcoded_within(path, DECODED_AT_MOST)
}

/// [`transcoded`], refusing to decode a file larger than `at_most` bytes.
fn transcoded_within(path: &Path, at_most: u64) -> Result<Option<Transcoded>, PipelineError> {
    let io = |source| PipelineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let length = file.metadata().map_err(io)?.len();
    let mut start = Vec::with_capacity(2);
    (&mut file).take(2).read_to_end(&mut start).map_err(io)?;
    let encoding = match start.as_slice() {
        [0xFF, 0xFE] => UTF_16LE,
        [0xFE, 0xFF] => UTF_16BE,
        _ if is_utf8(start.as_slice().chain(file)).map_err(io)? => return Ok(None),
        _ => WINDOWS_1252,
    };
    if length > at_most {
        return Err(PipelineError::Format {
            path: path.to_path_buf(),
            message: format!(
                "its text is not UTF-8 (read as {}, it would be decoded in memory) and at {} MiB it is larger than the {} MiB decoded at most: save it as UTF-8 (Excel: \"CSV UTF-8\")",
                encoding.name(),
                length >> 20,
                at_most >> 20
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    Ok(Some(decode(&bytes, encoding)))
}

/// `bytes` in `encoding` (a byte order mark dropped) as UTF-8 text.
fn decode(bytes: &[u8], encoding: &'static Encoding) -> Transcoded {
    let (text, _, replaced) = encoding.decode(bytes);
    let how = match encoding == WINDOWS_1252 {
        true => "Windows-1252 (Latin-1), its bytes not being UTF-8".to_owned(),
        false => format!("{}, as its byte order mark says", encoding.name()),
    };
    let replaced = match replaced {
        true => "; bytes that are no character in it read as `\u{FFFD}`",
        false => "",
    };
    Transcoded {
        text: text.into_owned().into_bytes(),
        note: format!("the file's text was read as {how}{replaced}"),
    }
}

/// Whether everything `reader` holds is UTF-8, read a megabyte at a time.
fn is_utf8(mut reader: impl Read) -> std::io::Result<bool> {
    let mut buffer = vec![0u8; 1 << 20];
    // Bytes of a character the last piece cut, moved to the front.
    let mut carried = 0;
    loop {
        let read = reader.read(&mut buffer[carried..])?;
        if read == 0 {
            return Ok(carried == 0);
        }
        let filled = carried + read;
        carried = match std::str::from_utf8(&buffer[..filled]) {
            Ok(_) => 0,
            Err(e) if e.error_len().is_some() => return Ok(false),
            Err(e) => {
                let valid = e.valid_up_to();
                buffer.copy_within(valid..filled, 0);
                filled - valid
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_cut_anywhere_is_utf8_and_latin1_is_not() {
        let text = "Société Générale,€ 12,50\n".repeat(60_000);
        assert!(is_utf8(text.as_bytes()).unwrap());
        // A reader that hands out a few bytes at a time cuts characters.
        struct Drip<'a>(&'a [u8]);
        impl Read for Drip<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(3);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        assert!(is_utf8(Drip("é€é".as_bytes())).unwrap());
        assert!(!is_utf8(Drip(b"Soci\xe9t\xe9")).unwrap());
        assert!(!is_utf8(&b"ends cut \xe2\x82"[..]).unwrap());
    }

    #[test]
    fn a_file_not_in_utf8_beyond_the_decoding_limit_is_refused_and_a_utf8_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let latin = dir.path().join("latin.csv");
        std::fs::write(&latin, b"id,account\n1,Soci\xe9t\xe9\n").unwrap();
        let refused = transcoded_within(&latin, 8).err().unwrap().to_string();
        assert!(refused.contains("save it as UTF-8"), "{refused}");
        assert!(transcoded_within(&latin, 1 << 20).unwrap().is_some());
        let plain = dir.path().join("plain.csv");
        std::fs::write(&plain, "id,account\n1,Société\n").unwrap();
        assert!(transcoded_within(&plain, 8).unwrap().is_none());
    }

    #[test]
    fn windows_1252_and_utf16_decode_to_the_text_they_hold() {
        let latin = decode(b"Soci\xe9t\xe9;\x80 12,50\n", WINDOWS_1252);
        assert_eq!(String::from_utf8(latin.text).unwrap(), "Société;€ 12,50\n");
        assert!(latin.note.contains("Windows-1252"), "{}", latin.note);
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(
            "id\tamount\né\t1\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        let wide = decode(&utf16, UTF_16LE);
        assert_eq!(String::from_utf8(wide.text).unwrap(), "id\tamount\né\t1\n");
        assert!(wide.note.contains("UTF-16LE"), "{}", wide.note);
    }
}
