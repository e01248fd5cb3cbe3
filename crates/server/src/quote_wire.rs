//! A priced quote as the bytes of a `PriceQuoteResponse`, written straight
//! from the domain result.
//!
//! This is the one mapping of a priced quote to the API. It does not build
//! the generated structs first: a fully explained 10-line quote is some 300
//! short strings, and allocating, encoding and freeing them cost twice the
//! pricing itself. Here every decimal and sentence is written once,
//! straight into the output, with a one-byte length kept ahead of it and
//! filled in after. Where a caller wants the generated message (the CLI's
//! tables), it decodes these bytes.
//!
//! Fields are written in tag order and left out when they hold the default
//! value, as prost writes them, so decoding and re-encoding gives back the
//! same bytes; `tests` checks that, and that every field of the response's
//! messages is written for a quote that uses them all.
use prost::{
    Message,
    encoding::{WireType, encode_varint, encoded_len_varint},
};
use quotecast_model::{Trimmed, push_date};
use quotecast_pricing::{ApprovalOutcome, ConfiguredBy, PricedLine, Totals, WaterfallStep};

use crate::{convert::QuoteResponse, pb};

/// Protobuf output, written in place: text lands straight in the message.
struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// A varint; almost every key and length here fits one byte.
    #[inline]
    fn varint(&mut self, value: u64) {
        if value < 0x80 {
            self.out.push(value as u8);
        } else {
            encode_varint(value, &mut self.out);
        }
    }

    #[inline]
    fn key(&mut self, tag: u32, wire_type: WireType) {
        self.varint(u64::from(tag << 3 | wire_type as u32));
    }

    fn string(&mut self, tag: u32, text: &str) {
        if text.is_empty() {
            return;
        }
        self.key(tag, WireType::LengthDelimited);
        self.varint(text.len() as u64);
        self.out.extend_from_slice(text.as_bytes());
    }

    /// A length-delimited field whose bytes `body` appends; returns their
    /// length. The length is known only once `body` has run, so one byte
    /// is kept for it and the body moved in the rare case it needs more.
    #[inline]
    fn delimited(&mut self, tag: u32, body: impl FnOnce(&mut Self)) -> usize {
        self.key(tag, WireType::LengthDelimited);
        let at = self.out.len();
        self.out.push(0);
        body(self);
        let len = self.out.len() - at - 1;
        if len < 0x80 {
            self.out[at] = len as u8;
        } else {
            let mut prefix = [0u8; 10];
            let width = encoded_len_varint(len as u64);
            encode_varint(len as u64, &mut &mut prefix[..]);
            self.out.splice(at..at + 1, prefix[..width].iter().copied());
        }
        len
    }

    /// A string field whose text `write` appends; left out when empty.
    #[inline]
    fn text(&mut self, tag: u32, write: impl FnOnce(&mut Vec<u8>)) {
        let before = self.out.len();
        if self.delimited(tag, |w| write(&mut w.out)) == 0 {
            self.out.truncate(before);
        }
    }

    #[inline]
    fn decimal(&mut self, tag: u32, value: Trimmed) {
        self.text(tag, |out| value.push_to(out));
    }

    /// A percentage with two decimals; empty when there is none.
    fn percent(&mut self, tag: u32, value: Option<rust_decimal::Decimal>) {
        if let Some(p) = value {
            self.decimal(tag, Trimmed(p, 2));
        }
    }

    fn enumeration(&mut self, tag: u32, value: i32) {
        if value != 0 {
            self.key(tag, WireType::Varint);
            self.varint(i64::from(value) as u64);
        }
    }

    /// A nested message (written even when empty, as prost does).
    fn message(&mut self, tag: u32, body: impl FnOnce(&mut Self)) {
        self.delimited(tag, body);
    }
}

/// Trailing zeros beyond the quote currency's scale are dropped
/// ("18096.000000" is sent as "18096.00"); the value is unchanged.
fn money(w: &mut Writer, scale: u32, tag: u32, amount: rust_decimal::Decimal) {
    w.decimal(tag, Trimmed(amount, scale));
}

fn totals(w: &mut Writer, scale: u32, t: &Totals) {
    money(w, scale, 1, t.list);
    money(w, scale, 2, t.discount);
    money(w, scale, 3, t.net);
    money(w, scale, 4, t.cost);
    money(w, scale, 5, t.margin);
    w.percent(6, t.discount_percent_2dp());
    w.percent(7, t.margin_percent_2dp());
}

fn step(w: &mut Writer, scale: u32, s: &WaterfallStep<'_>) {
    w.enumeration(1, pb::WaterfallStepKind::from(s.step) as i32);
    w.string(2, s.rule_id);
    w.text(3, |out| s.push_explanation(out));
    money(w, scale, 4, s.amount);
    money(w, scale, 5, s.running_total);
}

fn line(w: &mut Writer, scale: u32, l: &PricedLine<'_>, waterfall: bool) {
    w.string(1, &l.line_id);
    w.string(2, l.sku);
    w.string(3, l.name);
    w.string(4, l.product_line);
    w.decimal(5, Trimmed(l.quantity, 0));
    money(w, scale, 6, l.list_unit_price);
    money(w, scale, 7, l.list_extended);
    money(w, scale, 8, l.net_unit_price);
    money(w, scale, 9, l.net_extended);
    money(w, scale, 10, l.cost_extended);
    w.percent(11, l.discount_percent());
    w.percent(12, l.margin_percent());
    if waterfall {
        for s in &l.waterfall {
            w.message(13, |w| step(w, scale, s));
        }
    }
    w.percent(14, l.rep_discount_percent());
    if let Some(part_of) = &l.part_of {
        w.string(15, &part_of.line_id);
        let configured_by = match &part_of.configured_by {
            ConfiguredBy::Chosen => pb::ConfiguredBy::Chosen,
            ConfiguredBy::Default(_) => pb::ConfiguredBy::Default,
            ConfiguredBy::Added => pb::ConfiguredBy::Added,
        };
        w.enumeration(16, configured_by as i32);
        if let ConfiguredBy::Default(rule) = &part_of.configured_by {
            w.string(17, rule);
        }
    }
}

fn approval(w: &mut Writer, a: &ApprovalOutcome) {
    w.string(1, &a.level);
    for t in &a.triggered {
        w.message(2, |w| {
            w.string(1, &t.rule_id);
            w.string(2, &t.level);
            w.string(3, &t.reason);
            if let Some(figure) = t.figure {
                w.string(4, &figure.to_string());
            }
        });
    }
}

impl QuoteResponse<'_, '_> {
    /// Room the encoded response is likely to need, in bytes.
    pub fn size_hint(&self) -> usize {
        let lines = self.quote.lines.len();
        let steps: usize = self.quote.lines.iter().map(|l| l.waterfall.len()).sum();
        256 + 160 * lines + 120 * steps
    }

    /// The encoded `PriceQuoteResponse`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write_to(&mut out);
        out
    }

    /// Appends the encoded `PriceQuoteResponse` to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let q = self.quote;
        let waterfall = self.view != pb::PriceQuoteView::Summary;
        let scale = q.currency_scale;
        let mut w = Writer {
            out: std::mem::take(out),
        };
        w.string(1, q.currency.as_str());
        w.text(2, |out| push_date(q.price_date, out));
        w.string(3, q.segment.as_deref().unwrap_or_default());
        w.string(4, q.region.as_deref().unwrap_or_default());
        for l in &q.lines {
            w.message(5, |w| line(w, scale, l, waterfall));
        }
        w.message(6, |w| totals(w, scale, &q.totals));
        for (product_line, t) in &q.subtotals {
            w.message(7, |w| {
                w.string(1, product_line);
                w.message(2, |w| totals(w, scale, t));
            });
        }
        w.message(8, |w| approval(w, &q.approval));
        w.string(9, q.price_book_id);
        w.string(10, q.rules_version);
        *out = w.out;
    }
}

/// The generated message, for callers that read the fields (the CLI).
impl TryFrom<QuoteResponse<'_, '_>> for pb::PriceQuoteResponse {
    type Error = prost::DecodeError;

    fn try_from(response: QuoteResponse<'_, '_>) -> Result<Self, Self::Error> {
        Self::decode(response.to_bytes().as_slice())
    }
}

#[cfg(test)]
mod tests;
