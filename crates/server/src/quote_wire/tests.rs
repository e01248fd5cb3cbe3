//! The written bytes against prost's own encoding and the proto's fields.
use std::{collections::BTreeSet, path::Path};

use prost::{
    Message,
    encoding::{WireType, decode_key, decode_varint},
};
use prost_types::{FileDescriptorSet, field_descriptor_proto::Type};

use crate::{convert::QuoteResponse, pb};

/// Every example regression quote that prices, with both views, encoded.
fn encoded_examples() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let (rules, _) = quotecast_rules::load_dir(&dir).expect("example rules load");
    let (configurators, _) = quotecast_configurator::compile_all(&rules);
    let cases = quotecast_rules::load_cases(&dir.join("tests")).expect("cases load");
    let mut out = Vec::new();
    for case in &cases {
        let outcome = quotecast_rules::run_case(&rules, &configurators, case);
        let Some(priced) = &outcome.priced else {
            continue;
        };
        for view in [pb::PriceQuoteView::Full, pb::PriceQuoteView::Summary] {
            let bytes = QuoteResponse {
                quote: priced,
                view,
            }
            .to_bytes();
            out.push((format!("{} {view:?}", case.id), bytes));
        }
    }
    assert!(
        out.len() >= 10,
        "too few example quotes price: {}",
        out.len()
    );
    out
}

#[test]
fn decoding_and_re_encoding_with_prost_gives_back_the_same_bytes() {
    // Catches a wrong wire type (decoding fails), an unknown tag (prost
    // drops it) and fields out of tag order or written at their default.
    for (name, bytes) in encoded_examples() {
        let message = pb::PriceQuoteResponse::decode(bytes.as_slice())
            .unwrap_or_else(|e| panic!("{name}: does not decode: {e}"));
        assert_eq!(message.encode_to_vec(), bytes, "{name}");
        if name.ends_with("Summary") {
            assert!(
                message.lines.iter().all(|l| l.waterfall.is_empty()),
                "{name}"
            );
        } else {
            assert!(
                message.lines.iter().all(|l| !l.waterfall.is_empty()),
                "{name}"
            );
        }
    }
}

type Messages = std::collections::BTreeMap<String, Vec<prost_types::FieldDescriptorProto>>;

fn messages() -> Messages {
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut out = Messages::new();
    for file in set.file {
        for message in &file.message_type {
            out.insert(
                format!(".{}.{}", file.package(), message.name()),
                message.field.clone(),
            );
        }
    }
    out
}

/// Records `message.field` for every field present in `bytes`, descending
/// into nested messages.
fn fields_written(messages: &Messages, name: &str, mut bytes: &[u8], seen: &mut BTreeSet<String>) {
    let fields = &messages[name];
    while !bytes.is_empty() {
        let (tag, wire_type) = decode_key(&mut bytes).expect("key");
        let field = fields
            .iter()
            .find(|f| f.number() == tag as i32)
            .unwrap_or_else(|| panic!("{name} has no field {tag}"));
        seen.insert(format!("{name}.{}", field.name()));
        match wire_type {
            WireType::Varint => {
                decode_varint(&mut bytes).expect("varint");
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut bytes).expect("length") as usize;
                let (body, rest) = bytes.split_at(len);
                if field.r#type() == Type::Message {
                    fields_written(messages, field.type_name(), body, seen);
                }
                bytes = rest;
            }
            other => panic!("{name}.{}: unexpected wire type {other:?}", field.name()),
        }
    }
}

/// `message.field` for every field reachable from `name`.
fn fields_declared(messages: &Messages, name: &str, out: &mut BTreeSet<String>) {
    for field in &messages[name] {
        if out.insert(format!("{name}.{}", field.name())) && field.r#type() == Type::Message {
            fields_declared(messages, field.type_name(), out);
        }
    }
}

#[test]
fn the_example_quotes_together_write_every_field_of_the_response() {
    // A field added to the proto but not to the writer fails here.
    let messages = messages();
    let root = ".quotecast.v1.PriceQuoteResponse";
    let mut declared = BTreeSet::new();
    fields_declared(&messages, root, &mut declared);
    let mut written = BTreeSet::new();
    for (_, bytes) in encoded_examples() {
        fields_written(&messages, root, &bytes, &mut written);
    }
    let missing: Vec<_> = declared.difference(&written).collect();
    assert!(missing.is_empty(), "never written: {missing:?}");
}
