//! The generated services' codec: prost's encoding, with a request that
//! is not a valid protobuf message reported as INVALID_ARGUMENT (the
//! caller's fault) rather than prost's INTERNAL.
use std::marker::PhantomData;

use prost::Message;
use tonic::{
    Status,
    codec::{BufferSettings, Codec, DecodeBuf, Decoder},
};
use tonic_prost::{ProstCodec, ProstEncoder};

/// [`ProstCodec`] whose decoder calls undecodable bytes INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct StrictCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for StrictCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for StrictCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(PhantomData)
    }
}

/// The refusal of a request message that does not decode.
pub(crate) fn undecodable(e: prost::DecodeError) -> Status {
    Status::invalid_argument(format!("the message cannot be decoded: {e}"))
}

/// Decodes `U`; bytes that are not one are INVALID_ARGUMENT.
#[derive(Debug, Clone, Default)]
pub struct StrictDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(undecodable)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// Whether tonic refused a message for its size (it says OUT_OF_RANGE).
pub(crate) fn is_over_size(code: tonic::Code, message: &str) -> bool {
    code == tonic::Code::OutOfRange && message.contains("message length too large")
}

/// A status read from a client's stream, with a message too large for
/// the server said as RESOURCE_EXHAUSTED (gRPC's code for it).
pub(crate) fn inbound(status: Status) -> Status {
    if is_over_size(status.code(), status.message()) {
        Status::resource_exhausted(status.message().to_owned())
    } else {
        status
    }
}

/// The next message of a client's stream; a stream with no message for
/// `idle` is ended (DEADLINE_EXCEEDED): a peer that stalls halfway holds
/// nothing for long.
pub(crate) async fn next_message<T: prost::Message + Default>(
    incoming: &mut tonic::Streaming<T>,
    idle: std::time::Duration,
) -> Result<Option<T>, Status> {
    match tokio::time::timeout(idle, incoming.message()).await {
        Ok(message) => message.map_err(inbound),
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no data for {} s: the stream was ended",
            idle.as_secs()
        ))),
    }
}
