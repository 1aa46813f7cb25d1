//! The one harness every HTTP test goes through: the service on a loopback port, problem+json
//! reading, log capture with the no-secret-in-logs check, and keys taken apart by their structure.

mod key_parts;
mod logs;
mod problem;
mod service;

pub use key_parts::KeyParts;
pub use logs::logs;
pub use problem::{challenges, problem};
pub use service::{Service, gate_builder};
