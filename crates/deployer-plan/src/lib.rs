//! `deployer-plan`: the pure planning core (issue 3).
//!
//! For now it holds the one quoting function through which every value reaches a
//! remote shell ([`shell::quote`]). The planner itself (config + command + hosts +
//! pinned revision → `Plan`) builds on it.
//!
//! Architecture invariant: this crate does no I/O, reads no clock and opens no
//! connection.

pub mod shell;
