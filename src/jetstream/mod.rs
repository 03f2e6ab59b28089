//! JetStream: the `$JS.API` layer, streams and consumers. Everything under here is sans-io;
//! the shard owns the state and drives it with bytes and the time it read.

pub mod api;
pub mod batch;
pub mod batch_publish;
pub mod consumer;
pub mod consumer_backend;
pub mod consumer_events;
pub mod consumer_flow;
pub mod consumer_spec;
pub mod consumer_store;
pub mod consumer_view;
pub mod consumers;
pub mod counter_stream;
pub mod counters;
pub mod expiry;
pub mod markers;
pub mod republish;
pub mod schedules;
pub mod sourcing;
pub mod stream_backend;
pub mod streams;
#[cfg(test)]
pub(crate) mod test_api;
