//! Shared fixtures for the simulated API's integration tests. Fixtures panic on setup
//! failures, as tests do.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod answers;
pub mod kubectl;
pub mod objects;
pub mod reflection;
