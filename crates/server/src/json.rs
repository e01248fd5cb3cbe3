//! The API's JSON: the canonical proto3 JSON mapping of its messages
//! (lowerCamelCase names, the proto names accepted too; 64-bit integers as
//! strings; enums by their full names; unknown fields refused), by the
//! API's own descriptors with prost-reflect. Connect's JSON and the
//! command line's quote files and `--json` output are the same JSON, so a
//! file that works with one works with any gRPC JSON client.
use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

use crate::ServerError;

/// The descriptors of the API, the health service and the Google error
/// model's details.
static POOL: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    let mut pool = DescriptorPool::new();
    for set in [
        crate::pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_types::pb::FILE_DESCRIPTOR_SET,
    ] {
        pool.decode_file_descriptor_set(set)
            .map_err(|e| format!("the API's descriptors: {e}"))?;
    }
    Ok(pool)
});

/// The API's descriptors.
pub fn pool() -> Result<&'static DescriptorPool, ServerError> {
    POOL.as_ref().map_err(|e| ServerError::Internal(e.clone()))
}

/// The descriptor of message `full_name` (`quotecast.v1.PriceQuoteRequest`).
pub fn descriptor(full_name: &str) -> Result<MessageDescriptor, ServerError> {
    pool()?
        .get_message_by_name(full_name)
        .ok_or_else(|| ServerError::Internal(format!("no message {full_name} in the API")))
}

/// A JSON message of `descriptor` as protobuf bytes (blank JSON is the
/// empty message).
pub fn json_to_bytes(descriptor: &MessageDescriptor, json: &[u8]) -> Result<Vec<u8>, ServerError> {
    let json: &[u8] = if json.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        json
    };
    let mut reader = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize(descriptor.clone(), &mut reader)
        .and_then(|m| reader.end().map(|()| m))
        .map_err(|e| ServerError::BadJson {
            message: descriptor.full_name().to_owned(),
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        })?;
    Ok(message.encode_to_vec())
}

/// Protobuf bytes of `descriptor` as JSON, indented when `pretty`.
pub fn bytes_to_json(
    descriptor: &MessageDescriptor,
    message: &[u8],
    pretty: bool,
) -> Result<Vec<u8>, ServerError> {
    let failed = |e: &dyn std::fmt::Display| {
        ServerError::Internal(format!("writing {} as JSON: {e}", descriptor.full_name()))
    };
    let message = DynamicMessage::decode(descriptor.clone(), message).map_err(|e| failed(&e))?;
    let mut out = Vec::with_capacity(message.encoded_len() * 2);
    let options = SerializeOptions::new();
    if pretty {
        let mut writer = serde_json::Serializer::pretty(&mut out);
        message.serialize_with_options(&mut writer, &options)
    } else {
        let mut writer = serde_json::Serializer::new(&mut out);
        message.serialize_with_options(&mut writer, &options)
    }
    .map_err(|e| failed(&e))?;
    Ok(out)
}

/// A message of the API read from JSON; `full_name` names its type.
pub fn from_json<M: Message + Default>(full_name: &str, json: &str) -> Result<M, ServerError> {
    let bytes = json_to_bytes(&descriptor(full_name)?, json.as_bytes())?;
    M::decode(&bytes[..]).map_err(|e| ServerError::Internal(format!("{full_name}: {e}")))
}

/// A message of the API as indented JSON; `full_name` names its type.
pub fn to_json_pretty<M: Message>(full_name: &str, message: &M) -> Result<String, ServerError> {
    let json = bytes_to_json(&descriptor(full_name)?, &message.encode_to_vec(), true)?;
    String::from_utf8(json).map_err(|e| ServerError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::pb;

    #[test]
    fn camel_case_and_proto_names_read_alike_and_unknown_fields_are_named() {
        let camel: pb::PriceQuoteRequest = from_json(
            "quotecast.v1.PriceQuoteRequest",
            r#"{"currencyCode": "USD", "lines": [{"lineId": "a", "sku": "X", "quantity": "2"}]}"#,
        )
        .unwrap();
        let snake: pb::PriceQuoteRequest = from_json(
            "quotecast.v1.PriceQuoteRequest",
            r#"{"currency_code": "USD", "lines": [{"line_id": "a", "sku": "X", "quantity": "2"}]}"#,
        )
        .unwrap();
        assert_eq!(camel, snake);
        assert_eq!(camel.lines[0].quantity, "2");
        let error = from_json::<pb::PriceQuoteRequest>(
            "quotecast.v1.PriceQuoteRequest",
            "{\n  \"currency\": \"USD\"\n}",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("line 2") && error.contains("currency"),
            "{error}"
        );
        let json = to_json_pretty("quotecast.v1.PriceQuoteRequest", &camel).unwrap();
        assert!(json.contains("\"currencyCode\": \"USD\""), "{json}");
    }
}
