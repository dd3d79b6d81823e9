//! Builders and fixtures shared by the integration tests. Fixtures panic on setup failures,
//! as tests do.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod answers;
pub mod controller;
pub mod kubectl;
pub mod model;
pub mod objects;
pub mod readme;
pub mod reflection;
