//! The stream side of counters (`counters.rs` is the arithmetic): reading the subject's
//! last message for an increment or a counter copy, and the size limits on the result.

use super::api::error::ApiError;
use super::api::headers::Headers;
use super::streams::Stream;

impl Stream {
    /// The message a counter increment (or a counter copy) stores on `subj`: its last
    /// message read and `counters::apply`'d, refused past `max_payload` or `max_msg_size`.
    pub(crate) fn counter_update(
        &self,
        subj: &[u8],
        hdr: &[u8],
        data: &[u8],
        incr: &num_bigint::BigInt,
        max_payload_bytes: usize,
    ) -> Result<super::counters::Update, ApiError> {
        let last = {
            let mut log = self.log.borrow_mut();
            match log.log().last_by_subject(subj) {
                Some(seq) => log
                    .fetch(seq)
                    .map_err(|e| ApiError::StoreFailed(e.to_string()))?,
                None => None,
            }
        };
        let last = last.as_ref().map(|m| super::counters::Last {
            hdr: &m.headers,
            payload: &m.payload,
        });
        let u = super::counters::apply(last, hdr, data, incr)?;
        let total = u.hdr.len() + u.payload.len();
        let max_msg = self.config.max_msg_size;
        if total > max_payload_bytes || (max_msg >= 0 && total > max_msg as usize) {
            return Err(ApiError::MessageExceedsMaximum);
        }
        Ok(u)
    }

    /// A sourced copy into this counter stream: its `Nats-Incr` (required) parsed, then
    /// [`Stream::counter_update`].
    pub(crate) fn counter_copy(
        &self,
        subj: &[u8],
        hdr: &[u8],
        data: &[u8],
        max_payload_bytes: usize,
    ) -> Result<super::counters::Update, ApiError> {
        let hdrs = if hdr.is_empty() {
            Headers::default()
        } else {
            Headers::parse(hdr).map_err(|_| ApiError::MessageIncrInvalid)?
        };
        let incr = super::counters::check_incr(true, hdr, &hdrs, data.len(), true)?
            .ok_or(ApiError::MessageIncrMissing)?;
        self.counter_update(subj, hdr, data, &incr, max_payload_bytes)
    }
}
